//! Measures argon2 cost on this machine: the per-hash time on one core and the throughput of W
//! threads hashing at once (the capacity C the load report is normalised by). Each thread reuses
//! one memory block, exactly like a pool worker.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hashing::compute;
use crate::hashing::params::HashParams;
use crate::hashing::phc::HashError;
use crate::secret::SecretString;

#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    pub workers: usize,
    /// Mean time of one hash on one otherwise idle core.
    pub hash_time: Duration,
    /// Hashes per second with `workers` threads hashing at once.
    pub hashes_per_sec: f64,
}

impl Capacity {
    /// The queue budget to suggest: a few hash times of waiting, never under 100 ms (below that,
    /// normal jitter alone would shed).
    #[must_use]
    pub fn suggested_queue_budget(&self) -> Duration {
        (self.hash_time * 4).max(Duration::from_millis(100))
    }
}

/// Hashes on `workers` threads for `duration` and reports the rate, after timing single hashes.
///
/// # Errors
/// When argon2 rejects the parameters.
pub fn measure(params: HashParams, workers: usize, duration: Duration) -> Result<Capacity, HashError> {
    let pepper = SecretString::new("calibration pepper, not a secret 0123456789".into());
    let mut memory = compute::memory_for(params);
    compute::hash(&mut memory, &pepper, params, "warm-up")?;
    let samples = 5;
    let started = Instant::now();
    for _ in 0..samples {
        compute::hash(&mut memory, &pepper, params, "calibration password")?;
    }
    let hash_time = started.elapsed() / samples;
    drop(memory);

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (stop, done, pepper) = (Arc::clone(&stop), Arc::clone(&done), pepper.clone());
            std::thread::spawn(move || -> Result<(), HashError> {
                let mut memory = compute::memory_for(params);
                while !stop.load(Ordering::Relaxed) {
                    compute::hash(&mut memory, &pepper, params, "calibration password")?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join()
            .map_err(|_| HashError::Worker("calibration thread panicked".into()))??;
    }
    // Counted to the moment the last in-progress hash finished, so partial work is not lost.
    let elapsed = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let hashes_per_sec = done.load(Ordering::Relaxed) as f64 / elapsed;
    Ok(Capacity {
        workers,
        hash_time,
        hashes_per_sec,
    })
}
