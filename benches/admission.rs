//! The cost of the gateway's cheap decisions: the ones it makes for every request, and the ones it
//! makes instead of hashing when it is overloaded.
//!
//! - `token/generate_and_digest`: a reset token (256 bits from the OS CSPRNG, base64) and its
//!   SHA-256 digest, the work of issuing one; `token/digest` is the lookup side alone.
//! - `admission/queue_admit_shed`: `Pool::run` refusing a job because the one worker is busy and
//!   the queue budget is 0. Shedding is how the gateway survives load beyond its capacity
//!   C = workers / hash time, so this path must cost microseconds, not a hash (tens of ms).
//! - `admission/governor_keyed_check`: a governor keyed limiter's `check_key` over 10 000
//!   rotating client IPs (the per-IP limit), and `admission/governor_direct_check`: an unkeyed
//!   limiter's `check` (the global limit). Both run before any work, on every request, so they
//!   must stay in nanoseconds. `admission/governor_keyed_check_denied` is the keyed check when
//!   every bucket is empty, the common case under a flood.
//!
//! Run: `cargo bench --bench admission` (add `-- --quick` for a fast check).

use std::cell::Cell;
use std::future::Future as _;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use governor::{Quota, RateLimiter};
use resetgate::hashing::params::HashParams;
use resetgate::hashing::pool::{Lane, Pool, PoolConfig, PoolError, Work};
use resetgate::metrics::Metrics;
use resetgate::reset::token::BearerToken;
use resetgate::secret::SecretString;

/// Distinct client addresses the keyed limiter rotates through.
const CLIENTS: usize = 10_000;

fn token(c: &mut Criterion) {
    let mut group = c.benchmark_group("token");
    group.bench_function("generate_and_digest", |b| {
        b.iter(|| BearerToken::generate().digest());
    });
    let t = BearerToken::generate();
    group.bench_function("digest", |b| b.iter(|| black_box(&t).digest()));
    group.finish();
}

fn work(tag: &str) -> Work {
    Work::Hash {
        password: SecretString::new(format!("admission bench password {tag}")),
    }
}

/// Polls `Pool::run` once. Shedding is decided before the first `.await`, so a shed job is `Ready`
/// here; `None` means the job was admitted (dropping the future abandons it, and the worker
/// discards it without hashing).
fn run_once(pool: &Pool, work: Work) -> Option<Duration> {
    let mut run = pin!(pool.run(Lane::Background, work));
    match run.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Err(PoolError::Shed { retry_after })) => Some(retry_after),
        Poll::Ready(other) => panic!("expected a shed or a queued job, got {other:?}"),
        Poll::Pending => None,
    }
}

fn queue_admit_shed(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let metrics = Arc::new(Metrics::new());
    // One worker, zero queue budget: while the worker hashes, every new job is refused.
    let pool = Pool::start(
        PoolConfig {
            workers: 1,
            queue_budget: Duration::ZERO,
            job_deadline: Duration::from_secs(60),
            // Far costlier than production (seconds per hash), so the blocker is rarely between jobs.
            params: HashParams::new(64 * 1024, 64, 1).expect("valid params"),
        },
        SecretString::new("admission bench pepper, 0123456789abcdef".into()),
        Duration::from_secs(1),
        Arc::clone(&metrics),
    )
    .expect("start pool");

    // Keep the worker busy for the whole bench: a new blocker as soon as the last one finishes.
    let blocker_pool = pool.clone();
    rt.spawn(async move {
        loop {
            match blocker_pool.run(Lane::Confirm, work("blocker")).await {
                // A measured job slipped in between two blockers and is running; try again shortly.
                Err(PoolError::Shed { .. }) => tokio::time::sleep(Duration::from_millis(1)).await,
                Err(PoolError::Closed) => break,
                _ => {}
            }
        }
    });
    while metrics.hash_in_flight.get() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }

    let (mut shed, mut admitted) = (0u64, 0u64);
    let mut group = c.benchmark_group("admission");
    group.bench_function("queue_admit_shed", |b| {
        b.iter_batched(
            || work("measured"),
            |w| {
                if let Some(retry_after) = run_once(&pool, w) {
                    shed += 1;
                    retry_after
                } else {
                    admitted += 1;
                    Duration::ZERO
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
    eprintln!(
        "queue_admit_shed: {shed} shed, {admitted} admitted in the gaps between blockers \
         (admitted calls only queue a job, so they are not slower)"
    );
    assert!(shed > 0, "the shed path was never taken");
    drop(pool);
    // Dropping the runtime cancels the blocker loop and its pool handle; the worker then stops.
    drop(rt);
}

fn clients() -> Vec<IpAddr> {
    (0..CLIENTS)
        .map(|i| {
            let i = u32::try_from(i).expect("client index fits in u32");
            if i % 4 == 0 {
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    0,
                    u16::try_from(i / 4).expect("fits"),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i))
            }
        })
        .collect()
}

fn governor_checks(c: &mut Criterion) {
    let per_second = NonZeroU32::new(1000).expect("nonzero");
    let mut group = c.benchmark_group("admission");

    let keyed = RateLimiter::keyed(Quota::per_second(per_second));
    let ips = clients();
    // Every key is already tracked, as in steady state; the bench measures lookups, not inserts.
    for ip in &ips {
        let _ = keyed.check_key(ip);
    }
    let next = Cell::new(0usize);
    group.bench_function("governor_keyed_check", |b| {
        b.iter(|| {
            let i = next.get();
            next.set(if i + 1 == ips.len() { 0 } else { i + 1 });
            keyed.check_key(black_box(&ips[i])).is_ok()
        });
    });

    // Under a flood the refusal is the common case: every key's bucket is already empty.
    let drained = RateLimiter::keyed(Quota::per_hour(NonZeroU32::MIN));
    for ip in &ips {
        let _ = drained.check_key(ip);
    }
    group.bench_function("governor_keyed_check_denied", |b| {
        b.iter(|| {
            let i = next.get();
            next.set(if i + 1 == ips.len() { 0 } else { i + 1 });
            drained.check_key(black_box(&ips[i])).is_err()
        });
    });

    let direct = RateLimiter::direct(Quota::per_second(per_second));
    group.bench_function("governor_direct_check", |b| b.iter(|| direct.check().is_ok()));
    group.finish();
}

criterion_group!(benches, token, queue_admit_shed, governor_checks);
criterion_main!(benches);
