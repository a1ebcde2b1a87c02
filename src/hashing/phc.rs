//! Stored password hashes: argon2 PHC strings, checked on the way in.

use argon2::password_hash::phc::PasswordHash;
use argon2::Algorithm;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("stored password hash is not a valid PHC string: {0}")]
    BadStoredHash(argon2::password_hash::Error),
    #[error("argon2 failed: {0}")]
    Argon2(argon2::password_hash::Error),
    #[error("hashing worker failed: {0}")]
    Worker(String),
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
        let parsed = PasswordHash::new(raw).map_err(|e| HashError::BadStoredHash(e.into()))?;
        if Algorithm::try_from(parsed.algorithm.as_str()).is_err() || parsed.hash.is_none() {
            return Err(HashError::BadStoredHash(argon2::password_hash::Error::Algorithm));
        }
        // Verification runs at the stored cost, so an absurd imported cost would be a memory or
        // CPU bomb on every login: bound it.
        let params = argon2::Params::try_from(&parsed).map_err(HashError::BadStoredHash)?;
        if params.m_cost() > MAX_STORED_M_KIB || params.t_cost() > MAX_STORED_T || params.p_cost() > 16 {
            return Err(HashError::BadStoredHash(
                argon2::password_hash::Error::ParamsInvalid,
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// For strings this crate just produced.
    pub(crate) fn from_trusted(phc: String) -> Self {
        Self(phc)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
