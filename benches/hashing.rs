//! Argon2id cost and the hashing pool's throughput: the numbers the gateway's capacity rests on.
//!
//! - `argon2id/hash_default_params`: one `compute::hash` at `HashParams::default()` (m=19 MiB, t=2,
//!   p=1) on one core, reusing one memory block as a pool worker does. Its time is the per-core
//!   cost of a hash; the reported throughput (elem/s) is the per-core capacity, and the gateway's
//!   capacity is C = W workers / hash time. Every reset confirm and login spends one of these.
//! - `argon2id/verify_default_params`: the same for a verify (what a login costs).
//! - `pool/throughput_w`: a batch of N = 8 × W hash jobs through a `Pool` of W = available cores
//!   workers, all awaited; elem/s is jobs per second and should approach C.
//! - `spawn_blocking/throughput_unbounded`: the naive baseline, the same N hashes as
//!   `tokio::task::spawn_blocking` closures that each allocate fresh memory. Compare its elem/s with
//!   `pool/throughput_w`: the pool must not lose throughput to buy its bounded memory (W × m
//!   instead of N × m) and its admission control.
//!
//! Run: `cargo bench --bench hashing` (add `-- --quick` for a fast check).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use resetgate::hashing::compute;
use resetgate::hashing::params::HashParams;
use resetgate::hashing::pool::{Done, Lane, Pool, PoolConfig, Work};
use resetgate::metrics::Metrics;
use resetgate::secret::SecretString;

/// Jobs per worker in one throughput batch: enough that every worker stays busy for several hashes
/// and the batch's ramp-up and tail are a small part of it.
const JOBS_PER_WORKER: usize = 8;

fn pepper() -> SecretString {
    SecretString::new("bench pepper, not a secret, 0123456789abcdef".into())
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn elements(n: usize) -> Throughput {
    Throughput::Elements(u64::try_from(n).expect("job count fits in u64"))
}

fn argon2id(c: &mut Criterion) {
    let params = HashParams::default();
    let pepper = pepper();
    let mut memory = compute::memory_for(params);

    let mut group = c.benchmark_group("argon2id");
    // Each iteration is tens of milliseconds: few, flat samples keep the run to seconds.
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        // One hash per iteration: elem/s reads as hashes per second per core.
        .throughput(Throughput::Elements(1));

    group.bench_function("hash_default_params", |b| {
        b.iter(|| {
            compute::hash(
                &mut memory,
                &pepper,
                params,
                black_box("correct horse battery staple"),
            )
            .expect("hash")
        });
    });

    let phc = compute::hash(&mut memory, &pepper, params, "correct horse battery staple").expect("hash");
    group.bench_function("verify_default_params", |b| {
        b.iter(|| {
            let ok = compute::verify(
                &mut memory,
                Some(&pepper),
                black_box("correct horse battery staple"),
                &phc,
            )
            .expect("verify");
            assert!(ok, "the password must verify");
        });
    });
    group.finish();
}

async fn pool_batch(pool: &Pool, n: usize) {
    let jobs: Vec<_> = (0..n)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let work = Work::Hash {
                    password: SecretString::new(format!("pool bench password {i}")),
                };
                pool.run(Lane::Confirm, work).await
            })
        })
        .collect();
    for job in jobs {
        let done = job.await.expect("job task");
        assert!(matches!(done, Ok(Done::Hash(_))), "{done:?}");
    }
}

async fn unbounded_batch(pepper: &Arc<SecretString>, params: HashParams, n: usize) {
    let jobs: Vec<_> = (0..n)
        .map(|i| {
            let pepper = Arc::clone(pepper);
            tokio::task::spawn_blocking(move || {
                // Fresh memory per hash, as a handler calling spawn_blocking directly would do.
                let mut memory = compute::memory_for(params);
                compute::hash(&mut memory, &pepper, params, &format!("pool bench password {i}"))
            })
        })
        .collect();
    for job in jobs {
        job.await.expect("blocking task").expect("hash");
    }
}

fn throughput(c: &mut Criterion) {
    let params = HashParams::default();
    let w = workers();
    let n = JOBS_PER_WORKER * w;
    let rt = runtime();

    // Seed the pool's service-time estimate with a real measurement, as the binary does at start.
    let mut memory = compute::memory_for(params);
    let started = Instant::now();
    compute::hash(&mut memory, &pepper(), params, "warm up").expect("hash");
    let hash_time = started.elapsed();
    drop(memory);
    eprintln!("throughput benches: W = {w} workers, N = {n} hash jobs per iteration");

    // Budget and deadline far above a batch's duration: every job is admitted and hashed.
    let pool = Pool::start(
        PoolConfig {
            workers: w,
            queue_budget: Duration::from_secs(600),
            job_deadline: Duration::from_secs(600),
            params,
        },
        pepper(),
        hash_time,
        Arc::new(Metrics::new()),
    )
    .expect("start pool");

    let mut group = c.benchmark_group("pool");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(elements(n));
    group.bench_function("throughput_w", |b| b.iter(|| rt.block_on(pool_batch(&pool, n))));
    group.finish();
    drop(pool);

    let pepper = Arc::new(pepper());
    let mut group = c.benchmark_group("spawn_blocking");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(elements(n));
    group.bench_function("throughput_unbounded", |b| {
        b.iter(|| rt.block_on(unbounded_batch(&pepper, params, n)));
    });
    group.finish();
}

criterion_group!(benches, argon2id, throughput);
criterion_main!(benches);
