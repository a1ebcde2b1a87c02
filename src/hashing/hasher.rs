//! The hashing service the flows use: argon2id with the pepper as argon2's secret input, run on the
//! bounded worker pool ([`super::pool`]) in a priority lane. Also knows the dummy hash that unknown
//! accounts verify against, and when a stored hash deserves an upgrade.
//!
//! The pool sits behind [`HashEngine`], the one seam through which a gateway can be built on
//! another engine. The product only ever uses [`pool_engine`]; tools/bench plugs its deliberately
//! naive baseline in there, so that the load report measures the real gateway around both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::Algorithm;
use async_trait::async_trait;

use super::compute;
use super::params::HashParams;
use super::pepper::{stored_id, Peppers};
use super::phc::{HashError, PhcString, StoredHash};
use super::pool::{Done, Lane, Place, Pool, PoolConfig, PoolError, Work};
use crate::metrics::Metrics;
use crate::reset::password::NewPassword;
use crate::secret::KeyId;
use crate::secret::SecretString;

/// Runs hashing jobs for the [`Hasher`].
#[async_trait]
pub trait HashEngine: Send + Sync {
    /// Runs one job at `place` (its lane and arrival).
    async fn run(&self, place: Place, work: Work) -> Result<Done, PoolError>;

    /// Refuses at once if a job at `place` could not be admitted now.
    ///
    /// # Errors
    /// [`PoolError::Shed`].
    fn precheck(&self, place: Place) -> Result<(), PoolError>;

    /// The pool behind the engine, whose gauges /metrics publishes; `None` when there is none.
    fn pool(&self) -> Option<&Pool>;
}

#[async_trait]
impl HashEngine for Pool {
    async fn run(&self, place: Place, work: Work) -> Result<Done, PoolError> {
        Pool::run(self, place, work).await
    }

    fn precheck(&self, place: Place) -> Result<(), PoolError> {
        Pool::precheck(self, place)
    }

    fn pool(&self) -> Option<&Pool> {
        Some(self)
    }
}

/// What an engine is built from, once the gateway's metrics exist.
pub struct EngineSpec {
    pub pepper: Peppers,
    pub config: PoolConfig,
    /// How long the dummy hash took at startup: the pool's first hash-time estimate.
    pub hash_time: Duration,
    pub metrics: Arc<Metrics>,
}

/// Builds the engine a gateway hashes on (see [`crate::app::start_with_engine`]).
pub type MakeEngine = fn(EngineSpec) -> Result<Arc<dyn HashEngine>, HashError>;

/// The product's engine: the bounded pool with admission, deadlines and lanes.
///
/// # Errors
/// When a worker thread cannot start.
pub fn pool_engine(spec: EngineSpec) -> Result<Arc<dyn HashEngine>, HashError> {
    let pool = Pool::start(spec.config, spec.pepper, spec.hash_time, spec.metrics)
        .map_err(|e| HashError::Worker(e.to_string()))?;
    Ok(Arc::new(pool))
}

#[derive(Clone)]
pub struct Hasher {
    engine: Arc<dyn HashEngine>,
    params: HashParams,
    /// What new hashes are made with; a hash naming another pepper is upgraded at login.
    pepper_id: KeyId,
    /// Verified against when an account does not exist, so an unknown email costs a full hash.
    dummy: PhcString,
}

impl Hasher {
    /// Starts the hasher on the bounded pool. Computes the dummy hash on the calling thread
    /// (startup only); its duration seeds the pool's hash-time estimate.
    ///
    /// # Errors
    /// When argon2 rejects the pepper or a worker thread cannot start.
    pub fn start(
        pepper: impl Into<Peppers>,
        config: PoolConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, HashError> {
        Self::start_with(pepper, config, metrics, pool_engine)
    }

    /// As [`Hasher::start`], on the engine `make` builds.
    ///
    /// # Errors
    /// When argon2 rejects the pepper or the engine cannot be built.
    pub fn start_with(
        pepper: impl Into<Peppers>,
        config: PoolConfig,
        metrics: Arc<Metrics>,
        make: MakeEngine,
    ) -> Result<Self, HashError> {
        let pepper: Peppers = pepper.into();
        let pepper_id = pepper.current_id();
        let mut memory = compute::memory_for(config.params);
        let started = Instant::now();
        let dummy = compute::hash(
            &mut memory,
            pepper.current(),
            config.params,
            "resetgate dummy password for unknown accounts",
        )?;
        let hash_time = started.elapsed();
        drop(memory);
        let engine = make(EngineSpec {
            pepper,
            config,
            hash_time,
            metrics,
        })?;
        Ok(Self {
            engine,
            params: config.params,
            pepper_id,
            dummy,
        })
    }

    #[must_use]
    pub fn pool(&self) -> Option<&Pool> {
        self.engine.pool()
    }

    async fn run(&self, place: impl Into<Place>, work: Work) -> Result<Done, PoolError> {
        self.engine.run(place.into(), work).await
    }

    /// Refuses at once if a job in `lane` could not be admitted now (see [`Pool::precheck`]).
    ///
    /// # Errors
    /// [`PoolError::Shed`].
    pub fn precheck(&self, place: impl Into<Place>) -> Result<(), PoolError> {
        self.engine.precheck(place.into())
    }

    /// Hashes a new password (confirm lane).
    ///
    /// # Errors
    /// When the pool sheds or expires the job, or argon2 fails.
    pub async fn hash(&self, password: NewPassword) -> Result<PhcString, PoolError> {
        self.hash_at(Lane::Confirm, password).await
    }

    /// Hashes a new password at `place` (the confirm lane, with the client's arrival).
    ///
    /// # Errors
    /// When the pool sheds or expires the job, or argon2 fails.
    pub async fn hash_at(
        &self,
        place: impl Into<Place>,
        password: NewPassword,
    ) -> Result<PhcString, PoolError> {
        let work = Work::Hash {
            password: SecretString::new(password.expose().to_owned()),
        };
        match self.run(place, work).await? {
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
        place: impl Into<Place>,
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
                place,
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
    /// pepper or names another (retired, or none from before identifiers), or any of its costs is
    /// below the configured ones.
    #[must_use]
    pub fn needs_upgrade(&self, stored: &StoredHash) -> bool {
        if !stored.peppered || stored_id(&stored.phc) != Some(self.pepper_id) {
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
        Hasher::start(SecretString::new(pepper.into()), config, Arc::new(Metrics::new())).unwrap()
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
        assert!(phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid="));
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
}
