//! The hashing service the flows use: argon2id with the pepper as argon2's secret input, run on the
//! bounded worker pool ([`super::pool`]) in a priority lane. Also knows the dummy hash that unknown
//! accounts verify against, and when a stored hash deserves an upgrade.
//!
//! `HashMode::Unbounded` exists only as the load report's baseline: every job goes straight to
//! `spawn_blocking` with fresh memory and no admission control, which is what a naive service does.

use std::sync::Arc;
use std::time::Instant;

use argon2::password_hash::phc::PasswordHash;
use argon2::Algorithm;

use super::compute;
use super::params::HashParams;
use super::phc::{HashError, PhcString, StoredHash};
use super::pool::{Done, Lane, Pool, PoolConfig, PoolError, Work};
use crate::metrics::Metrics;
use crate::reset::password::NewPassword;
use crate::secret::SecretString;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMode {
    /// The bounded pool with admission, deadlines and lanes (production).
    Pool,
    /// Unbounded `spawn_blocking`, no admission: the baseline the load report compares against.
    Unbounded,
}

#[derive(Clone)]
pub struct Hasher {
    engine: Engine,
    params: HashParams,
    /// Verified against when an account does not exist, so an unknown email costs a full hash.
    dummy: PhcString,
}

#[derive(Clone)]
enum Engine {
    Pool(Pool),
    Unbounded {
        pepper: SecretString,
        metrics: Arc<Metrics>,
    },
}

impl Hasher {
    /// Computes the dummy hash on the calling thread (startup only); its duration seeds the pool's
    /// hash-time estimate.
    ///
    /// # Errors
    /// When argon2 rejects the pepper or a worker thread cannot start.
    pub fn start(
        pepper: SecretString,
        config: PoolConfig,
        mode: HashMode,
        metrics: Arc<Metrics>,
    ) -> Result<Self, HashError> {
        let mut memory = compute::memory_for(config.params);
        let started = Instant::now();
        let dummy = compute::hash(
            &mut memory,
            &pepper,
            config.params,
            "resetgate dummy password for unknown accounts",
        )?;
        let measured = started.elapsed();
        drop(memory);
        let engine = match mode {
            HashMode::Pool => Engine::Pool(
                Pool::start(config, pepper, measured, metrics)
                    .map_err(|e| HashError::Worker(e.to_string()))?,
            ),
            HashMode::Unbounded => Engine::Unbounded { pepper, metrics },
        };
        Ok(Self {
            engine,
            params: config.params,
            dummy,
        })
    }

    #[must_use]
    pub fn pool(&self) -> Option<&Pool> {
        match &self.engine {
            Engine::Pool(p) => Some(p),
            Engine::Unbounded { .. } => None,
        }
    }

    async fn run(&self, lane: Lane, work: Work) -> Result<Done, PoolError> {
        match &self.engine {
            Engine::Pool(pool) => pool.run(lane, work).await,
            Engine::Unbounded { pepper, metrics } => {
                let (pepper, params, metrics) = (pepper.clone(), self.params, Arc::clone(metrics));
                tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let mut memory = compute::memory_for(params);
                    let done = work.run(&mut memory, &pepper, params);
                    metrics
                        .hash_duration
                        .with_label_values(&[lane.as_str()])
                        .observe(started.elapsed().as_secs_f64());
                    done.map_err(PoolError::Hash)
                })
                .await
                .map_err(|e| PoolError::Hash(HashError::Worker(e.to_string())))?
            }
        }
    }

    /// Refuses at once if a job in `lane` could not be admitted now (see [`Pool::precheck`]).
    ///
    /// # Errors
    /// [`PoolError::Shed`].
    pub fn precheck(&self, lane: Lane) -> Result<(), PoolError> {
        match &self.engine {
            Engine::Pool(pool) => pool.precheck(lane),
            Engine::Unbounded { .. } => Ok(()),
        }
    }

    /// Hashes a new password (confirm lane).
    ///
    /// # Errors
    /// When the pool sheds or expires the job, or argon2 fails.
    pub async fn hash(&self, password: NewPassword) -> Result<PhcString, PoolError> {
        let work = Work::Hash {
            password: SecretString::new(password.expose().to_owned()),
        };
        match self.run(Lane::Confirm, work).await? {
            Done::Hash(phc) => Ok(phc),
            Done::Verify(_) => Err(PoolError::Hash(HashError::Worker("wrong result kind".into()))),
        }
    }

    /// Hashes a password that was just verified against an outdated hash (see
    /// [`Hasher::needs_upgrade`]), in the background lane. No policy check: it is the user's
    /// current password, and policy applies when a password is chosen.
    ///
    /// # Errors
    /// When the pool sheds or expires the job, or argon2 fails.
    pub async fn rehash_verified(&self, normalized: SecretString) -> Result<PhcString, PoolError> {
        match self
            .run(Lane::Background, Work::Hash { password: normalized })
            .await?
        {
            Done::Hash(phc) => Ok(phc),
            Done::Verify(_) => Err(PoolError::Hash(HashError::Worker("wrong result kind".into()))),
        }
    }

    /// Verifies a normalised password against a stored hash, or against the dummy hash when there
    /// is none, so both cases cost one full argon2 computation.
    ///
    /// # Errors
    /// When the pool sheds or expires the job, or the stored hash is corrupt.
    pub async fn verify(
        &self,
        lane: Lane,
        password: SecretString,
        stored: Option<StoredHash>,
    ) -> Result<bool, PoolError> {
        let real = stored.is_some();
        let (phc, peppered) = match stored {
            Some(s) => (s.phc, s.peppered),
            None => (self.dummy.clone(), true),
        };
        match self
            .run(
                lane,
                Work::Verify {
                    password,
                    phc,
                    peppered,
                },
            )
            .await?
        {
            Done::Verify(ok) => Ok(ok && real),
            Done::Hash(_) => Err(PoolError::Hash(HashError::Worker("wrong result kind".into()))),
        }
    }

    /// Whether a stored hash should be replaced after the next successful login: it lacks our
    /// pepper, or any of its costs is below the configured ones.
    #[must_use]
    pub fn needs_upgrade(&self, stored: &StoredHash) -> bool {
        if !stored.peppered {
            return true;
        }
        let Ok(parsed) = PasswordHash::new(stored.phc.as_str()) else {
            return false;
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else {
            return false;
        };
        let want = self.params;
        parsed.algorithm != Algorithm::Argon2id.ident()
            || params.m_cost() < want.m_kib
            || params.t_cost() < want.t
            || params.p_cost() < want.p
    }
}

#[cfg(test)]
#[allow(clippy::unnecessary_wraps)] // `peppered` matches `verify`'s argument type
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::reset::email::EmailAddress;
    use crate::reset::password::{normalize, PasswordPolicy};

    fn hasher(pepper: &str) -> Hasher {
        let config = PoolConfig {
            workers: 2,
            queue_budget: Duration::from_secs(10),
            job_deadline: Duration::from_secs(10),
            params: HashParams::default(),
        };
        Hasher::start(
            SecretString::new(pepper.into()),
            config,
            HashMode::Pool,
            Arc::new(Metrics::new()),
        )
        .unwrap()
    }

    fn pw(raw: &str) -> NewPassword {
        let policy = PasswordPolicy {
            min_chars: 15,
            min_chars_with_mfa: 8,
            max_chars: 64,
        };
        policy
            .parse(raw, &EmailAddress::parse("x@example.com").unwrap(), false)
            .unwrap()
    }

    fn peppered(phc: &PhcString) -> Option<StoredHash> {
        Some(stored(phc))
    }

    fn stored(phc: &PhcString) -> StoredHash {
        StoredHash {
            phc: phc.clone(),
            peppered: true,
        }
    }

    #[tokio::test]
    async fn hash_verifies_with_the_pepper_only() {
        let h = hasher("pepper-one-is-long-enough-0123456789");
        let phc = h.hash(pw("quiet winter lighthouse")).await.unwrap();
        assert!(phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h
            .verify(Lane::Login, normalize("quiet winter lighthouse"), peppered(&phc))
            .await
            .unwrap());
        assert!(!h
            .verify(Lane::Login, normalize("quiet winter lighthousf"), peppered(&phc))
            .await
            .unwrap());
        let other = hasher("pepper-two-is-long-enough-0123456789");
        assert!(!other
            .verify(Lane::Login, normalize("quiet winter lighthouse"), peppered(&phc))
            .await
            .unwrap());
        assert!(!h.needs_upgrade(&stored(&phc)));
    }

    #[tokio::test]
    async fn unknown_accounts_verify_against_the_dummy_and_fail() {
        let h = hasher("pepper-one-is-long-enough-0123456789");
        let dummy_password = normalize("resetgate dummy password for unknown accounts");
        assert!(!h.verify(Lane::Login, dummy_password, None).await.unwrap());
        assert_eq!(
            h.pool().unwrap().computed(),
            1,
            "the unknown account still cost one hash"
        );
    }

    #[tokio::test]
    async fn legacy_unpeppered_hashes_verify_and_need_upgrade() {
        use argon2::password_hash::PasswordHasher as _;
        let h = hasher("pepper-one-is-long-enough-0123456789");
        let legacy = argon2::Argon2::new(
            Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8192, 3, 1, None).unwrap(),
        )
        .hash_password(b"quiet winter lighthouse")
        .unwrap()
        .to_string();
        let legacy = StoredHash {
            phc: PhcString::parse(&legacy).unwrap(),
            peppered: false,
        };
        assert!(h
            .verify(
                Lane::Login,
                normalize("quiet winter lighthouse"),
                Some(legacy.clone())
            )
            .await
            .unwrap());
        assert!(h.needs_upgrade(&legacy));
        let marked_peppered = StoredHash {
            peppered: true,
            ..legacy
        };
        assert!(!h
            .verify(
                Lane::Login,
                normalize("quiet winter lighthouse"),
                Some(marked_peppered.clone())
            )
            .await
            .unwrap());
        assert!(
            h.needs_upgrade(&marked_peppered),
            "m=8192 is below the configured 19456"
        );
        let fresh = h
            .rehash_verified(normalize("quiet winter lighthouse"))
            .await
            .unwrap();
        assert!(!h.needs_upgrade(&stored(&fresh)));
    }

    #[tokio::test]
    async fn the_unbounded_baseline_computes_the_same_hashes() {
        let config = PoolConfig {
            workers: 1,
            queue_budget: Duration::from_millis(1),
            job_deadline: Duration::from_millis(1),
            params: HashParams::default(),
        };
        let pepper = "pepper-one-is-long-enough-0123456789";
        let baseline = Hasher::start(
            SecretString::new(pepper.into()),
            config,
            HashMode::Unbounded,
            Arc::new(Metrics::new()),
        )
        .unwrap();
        assert!(baseline.pool().is_none());
        let phc = baseline.hash(pw("quiet winter lighthouse")).await.unwrap();
        let pooled = hasher(pepper);
        assert!(pooled
            .verify(Lane::Login, normalize("quiet winter lighthouse"), peppered(&phc))
            .await
            .unwrap());
    }
}
