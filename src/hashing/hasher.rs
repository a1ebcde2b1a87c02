//! Password hashing and verification with argon2id, the pepper as argon2's secret input.
//!
//! Hashing is CPU- and memory-heavy (~19 MiB per hash), so it never runs on the async runtime's
//! threads: each job goes to `spawn_blocking`, and a semaphore caps how many run at once so a burst
//! cannot allocate unbounded memory. (The dedicated worker pool with deadlines and shedding replaces
//! this in the load-resilience work.)

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

use super::params::HashParams;
use crate::reset::password::NewPassword;
use crate::secret::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("stored password hash is not a valid PHC string: {0}")]
    BadStoredHash(argon2::password_hash::Error),
    #[error("argon2 failed: {0}")]
    Argon2(argon2::password_hash::Error),
    #[error("hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("hashing pool closed")]
    Closed,
}

/// A stored hash and whether it was computed with our pepper.
#[derive(Debug, Clone)]
pub struct StoredHash {
    pub phc: PhcString,
    pub peppered: bool,
}

/// Upper bounds on the cost of a stored hash we will verify: 1 GiB, 64 passes.
const MAX_STORED_M_KIB: u32 = 1024 * 1024;
const MAX_STORED_T: u32 = 64;

/// A PHC string (`$argon2id$v=19$m=...`), the only form in which passwords are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhcString(String);

impl PhcString {
    /// Accepts only argon2 PHC strings, so an import cannot smuggle in a weaker algorithm.
    ///
    /// # Errors
    /// When the string is not an argon2 PHC string.
    pub fn parse(raw: &str) -> Result<Self, HashError> {
        let parsed = PasswordHash::new(raw).map_err(HashError::BadStoredHash)?;
        if Algorithm::try_from(parsed.algorithm).is_err() || parsed.hash.is_none() {
            return Err(HashError::BadStoredHash(argon2::password_hash::Error::Algorithm));
        }
        // Verification runs at the stored cost, so an absurd imported cost would be a memory or
        // CPU bomb on every login: bound it.
        let params = argon2::Params::try_from(&parsed).map_err(HashError::BadStoredHash)?;
        if params.m_cost() > MAX_STORED_M_KIB || params.t_cost() > MAX_STORED_T || params.p_cost() > 16 {
            return Err(HashError::BadStoredHash(
                argon2::password_hash::Error::ParamValueInvalid(
                    argon2::password_hash::errors::InvalidValue::TooLong,
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    pepper: SecretString,
    params: HashParams,
    permits: Semaphore,
    /// Verified against when an account does not exist, so an unknown email costs a full hash.
    dummy: String,
}

/// `pepper = None` verifies a legacy hash computed without one.
fn argon2(pepper: Option<&SecretString>, params: HashParams) -> Result<Argon2<'_>, HashError> {
    match pepper {
        Some(p) => Argon2::new_with_secret(
            p.expose().as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            params.to_argon2(),
        )
        .map_err(|e| HashError::Argon2(e.into())),
        None => Ok(Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params.to_argon2(),
        )),
    }
}

fn hash_blocking(pepper: &SecretString, params: HashParams, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2(Some(pepper), params)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(HashError::Argon2)?;
    Ok(hash.to_string())
}

fn verify_blocking(
    pepper: Option<&SecretString>,
    params: HashParams,
    password: &str,
    phc: &str,
) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(phc).map_err(HashError::BadStoredHash)?;
    // The verifier takes m/t/p from the PHC string; `params` only seeds the secret-bearing instance.
    match argon2(pepper, params)?.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(HashError::Argon2(e)),
    }
}

impl Hasher {
    /// Computes the dummy hash once, on the calling thread (startup only).
    ///
    /// # Errors
    /// When argon2 rejects the pepper or parameters.
    pub fn new(pepper: SecretString, params: HashParams, max_concurrent: usize) -> Result<Self, HashError> {
        let dummy = hash_blocking(&pepper, params, "resetgate dummy password for unknown accounts")?;
        Ok(Self {
            inner: Arc::new(Inner {
                pepper,
                params,
                permits: Semaphore::new(max_concurrent.max(1)),
                dummy,
            }),
        })
    }

    #[must_use]
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// # Errors
    /// When the blocking task fails.
    pub async fn hash(&self, password: NewPassword) -> Result<PhcString, HashError> {
        self.hash_secret(SecretString::new(password.expose().to_owned()))
            .await
    }

    /// Hashes a password that was just verified against an outdated hash (see
    /// [`Hasher::needs_upgrade`]). No policy check: it is the user's current password, and policy
    /// applies when a password is chosen.
    ///
    /// # Errors
    /// When the blocking task fails.
    pub async fn rehash_verified(&self, normalized: SecretString) -> Result<PhcString, HashError> {
        self.hash_secret(normalized).await
    }

    async fn hash_secret(&self, password: SecretString) -> Result<PhcString, HashError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let inner = Arc::clone(&self.inner);
        let phc = tokio::task::spawn_blocking(move || {
            hash_blocking(&inner.pepper, inner.params, password.expose())
        })
        .await??;
        Ok(PhcString(phc))
    }

    /// Verifies a normalised password against a stored hash, or against the dummy hash when there
    /// is no account, so both cases take one full argon2 computation.
    ///
    /// # Errors
    /// When the stored hash is corrupt or the blocking task fails.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<StoredHash>,
    ) -> Result<bool, HashError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let (phc, pepper, real) = match &stored {
                Some(s) => (s.phc.as_str(), s.peppered.then_some(&inner.pepper), true),
                None => (inner.dummy.as_str(), Some(&inner.pepper), false),
            };
            let ok = verify_blocking(pepper, inner.params, password.expose(), phc)?;
            Ok(ok && real)
        })
        .await?
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
        let want = self.inner.params;
        parsed.algorithm != Algorithm::Argon2id.ident()
            || params.m_cost() < want.m_kib
            || params.t_cost() < want.t
            || params.p_cost() < want.p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reset::email::EmailAddress;
    use crate::reset::password::{normalize, PasswordPolicy};

    fn hasher(pepper: &str) -> Hasher {
        Hasher::new(SecretString::new(pepper.into()), HashParams::default(), 2).unwrap()
    }

    fn stored(phc: &PhcString) -> StoredHash {
        StoredHash {
            phc: phc.clone(),
            peppered: true,
        }
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

    #[tokio::test]
    async fn hash_verifies_and_uses_configured_params() {
        let h = hasher("pepper-one-is-long-enough-0123456789");
        let phc = h.hash(pw("quiet winter lighthouse")).await.unwrap();
        assert!(phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h
            .verify(normalize("quiet winter lighthouse"), Some(stored(&phc)))
            .await
            .unwrap());
        assert!(!h
            .verify(normalize("quiet winter lighthousf"), Some(stored(&phc)))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn pepper_is_part_of_the_hash() {
        let phc = hasher("pepper-one-is-long-enough-0123456789")
            .hash(pw("quiet winter lighthouse"))
            .await
            .unwrap();
        let other = hasher("pepper-two-is-long-enough-0123456789");
        assert!(!other
            .verify(normalize("quiet winter lighthouse"), Some(stored(&phc)))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        let h = hasher("pepper-one-is-long-enough-0123456789");
        assert!(!h
            .verify(normalize("resetgate dummy password for unknown accounts"), None)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn legacy_unpeppered_hashes_verify_and_need_upgrade() {
        use argon2::password_hash::PasswordHasher as _;
        let h = hasher("pepper-one-is-long-enough-0123456789");
        let salt = SaltString::generate(&mut OsRng);
        // A hash from another system: argon2id, weaker memory, no pepper.
        let legacy = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            argon2::Params::new(8192, 3, 1, None).unwrap(),
        )
        .hash_password(b"quiet winter lighthouse", &salt)
        .unwrap()
        .to_string();
        let legacy = StoredHash {
            phc: PhcString::parse(&legacy).unwrap(),
            peppered: false,
        };
        assert!(h
            .verify(normalize("quiet winter lighthouse"), Some(legacy.clone()))
            .await
            .unwrap());
        assert!(!h
            .verify(normalize("quiet winter lighthousf"), Some(legacy.clone()))
            .await
            .unwrap());
        assert!(h.needs_upgrade(&legacy));
        // Marked peppered, the same hash does not verify: the pepper is part of the input.
        let wrongly_marked = StoredHash {
            peppered: true,
            ..legacy
        };
        assert!(!h
            .verify(normalize("quiet winter lighthouse"), Some(wrongly_marked.clone()))
            .await
            .unwrap());
        assert!(
            h.needs_upgrade(&wrongly_marked),
            "m=8192 is below the configured 19456"
        );

        let fresh = h
            .rehash_verified(normalize("quiet winter lighthouse"))
            .await
            .unwrap();
        assert!(!h.needs_upgrade(&stored(&fresh)));
    }

    #[test]
    fn phc_import_accepts_argon2_only() {
        assert!(PhcString::parse(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0n6bVVmTsbh7XoeQ2ptJZQzzsDtXxXqCoFCkqAq8EPg"
        )
        .is_ok());
        assert!(PhcString::parse("$2b$12$abcdefghijklmnopqrstuuJr3QJcMsm2.7M6vRpGm0cvEI4aN9TQW").is_err());
        assert!(PhcString::parse("plaintext").is_err());
        assert!(PhcString::parse(
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$0n6bVVmTsbh7XoeQ2ptJZQzzsDtXxXqCoFCkqAq8EPg"
        )
        .is_err());
    }
}
