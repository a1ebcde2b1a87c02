//! The two hashing engines a gateway under test runs on: resetgate's bounded pool (the product),
//! and the deliberately naive baseline the load report compares it with. The baseline lives here,
//! not in resetgate, so that no shipped build can be configured into it; it reaches the real
//! gateway through resetgate's one seam for it, `hashing::hasher::MakeEngine`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use resetgate::hashing::compute;
use resetgate::hashing::hasher::{self, EngineSpec, HashEngine, MakeEngine};
use resetgate::hashing::params::HashParams;
use resetgate::hashing::pepper::Peppers;
use resetgate::hashing::phc::HashError;
use resetgate::hashing::pool::{Done, Place, Pool, PoolError, Work};
use resetgate::metrics::Metrics;

/// How the gateway hashes: the product, or the baseline it is compared with.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The bounded worker pool with admission control (production).
    Pool,
    /// One `spawn_blocking` per hash, no admission: what a naive service does.
    Unbounded,
}

impl Mode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pool => "pool",
            Self::Unbounded => "unbounded",
        }
    }

    /// The engine a gateway in this mode is built with.
    #[must_use]
    pub fn engine(self) -> MakeEngine {
        match self {
            Self::Pool => hasher::pool_engine,
            Self::Unbounded => unbounded_engine,
        }
    }
}

/// Every job goes straight to `spawn_blocking` with fresh memory and no admission control: under
/// overload all of them run at once, sharing the cores and each holding its own m_cost of memory.
struct Unbounded {
    pepper: Peppers,
    params: HashParams,
    metrics: Arc<Metrics>,
}

/// Builds the baseline engine ([`MakeEngine`]).
///
/// # Errors
/// Never; the signature is the seam's.
#[allow(clippy::unnecessary_wraps, reason = "the MakeEngine signature")]
pub fn unbounded_engine(spec: EngineSpec) -> Result<Arc<dyn HashEngine>, HashError> {
    Ok(Arc::new(Unbounded {
        pepper: spec.pepper,
        params: spec.config.params,
        metrics: spec.metrics,
    }))
}

#[async_trait]
impl HashEngine for Unbounded {
    async fn run(&self, place: Place, work: Work) -> Result<Done, PoolError> {
        let lane = place.lane;
        let (pepper, params, metrics) = (self.pepper.clone(), self.params, Arc::clone(&self.metrics));
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut memory = compute::memory_for(params);
            let done = work.run(&mut memory, &pepper, params);
            // The gateway's own hash times are in the report for both engines.
            metrics
                .hash_duration
                .with_label_values(&[lane.as_str()])
                .observe(started.elapsed().as_secs_f64());
            done.map_err(PoolError::Hash)
        })
        .await
        .map_err(|e| PoolError::Hash(HashError::Worker(e.to_string())))?
    }

    /// Never refuses: no admission is what makes it the baseline.
    fn precheck(&self, _place: Place) -> Result<(), PoolError> {
        Ok(())
    }

    fn pool(&self) -> Option<&Pool> {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use resetgate::hashing::hasher::Hasher;
    use resetgate::hashing::pool::{Lane, PoolConfig};
    use resetgate::reset::email::EmailAddress;
    use resetgate::reset::password::{normalize, PasswordPolicy};
    use resetgate::secret::SecretString;

    use super::*;

    const PEPPER: &str = "pepper-one-is-long-enough-0123456789";

    fn hasher(mode: Mode) -> Hasher {
        let config = PoolConfig {
            workers: 1,
            queue_budget: Duration::from_secs(10),
            job_deadline: Duration::from_secs(10),
            params: HashParams::default(),
        };
        Hasher::start_with(
            SecretString::new(PEPPER.into()),
            config,
            Arc::new(Metrics::new()),
            mode.engine(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_unbounded_baseline_computes_the_same_hashes() {
        let baseline = hasher(Mode::Unbounded);
        assert!(baseline.pool().is_none());
        let policy = PasswordPolicy {
            min_chars: 15,
            min_chars_with_mfa: 8,
            max_chars: 64,
        };
        let email = EmailAddress::parse("x@example.com").unwrap();
        let password = policy.parse("quiet winter lighthouse", &email, false).unwrap();
        let phc = baseline.hash(password).await.unwrap();
        let pooled = hasher(Mode::Pool);
        assert!(pooled.pool().is_some());
        let stored = Some(resetgate::hashing::phc::StoredHash {
            phc: phc.clone(),
            peppered: true,
        });
        assert!(pooled
            .verify(Lane::Login, normalize("quiet winter lighthouse"), stored.clone())
            .await
            .unwrap());
        assert!(!pooled
            .verify(Lane::Login, normalize("quiet winter lighthousf"), stored)
            .await
            .unwrap());
    }
}
