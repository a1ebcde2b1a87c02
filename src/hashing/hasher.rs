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

fn argon2(pepper: &SecretString, params: HashParams) -> Result<Argon2<'_>, HashError> {
    Argon2::new_with_secret(
        pepper.expose().as_bytes(),
        Algorithm::Argon2id,
        Version::V0x13,
        params.to_argon2(),
    )
    .map_err(|e| HashError::Argon2(e.into()))
}

fn hash_blocking(pepper: &SecretString, params: HashParams, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2(pepper, params)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(HashError::Argon2)?;
    Ok(hash.to_string())
}

fn verify_blocking(
    pepper: &SecretString,
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
    pub async fn verify(&self, password: SecretString, stored: Option<PhcString>) -> Result<bool, HashError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let (phc, real) = match &stored {
                Some(p) => (p.as_str(), true),
                None => (inner.dummy.as_str(), false),
            };
            let ok = verify_blocking(&inner.pepper, inner.params, password.expose(), phc)?;
            Ok(ok && real)
        })
        .await?
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
            .verify(normalize("quiet winter lighthouse"), Some(phc.clone()))
            .await
            .unwrap());
        assert!(!h
            .verify(normalize("quiet winter lighthousf"), Some(phc))
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
            .verify(normalize("quiet winter lighthouse"), Some(phc))
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
