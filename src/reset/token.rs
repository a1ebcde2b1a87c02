//! Bearer tokens: the reset link secret and the session secret. Both are 256 bits from the OS
//! CSPRNG, handed out once as URL-safe base64, and stored only as their SHA-256 digest. A fast hash
//! is right here (unlike passwords): the input already has 256 bits of entropy, so there is nothing
//! to brute-force, and lookups must stay cheap.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::SecretString;

/// Random bytes per token: 256 bits, as OWASP asks for reset tokens.
pub const TOKEN_BYTES: usize = 32;
/// Length of the URL-safe, unpadded base64 form of [`TOKEN_BYTES`].
pub const TOKEN_CHARS: usize = 43;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("token is not {TOKEN_CHARS} URL-safe base64 characters")]
pub struct MalformedToken;

/// A token as the user holds it. Only exists once it has the right shape.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(SecretString);

impl BearerToken {
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        UnwrapErr(SysRng).fill_bytes(&mut bytes);
        Self(SecretString::new(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// # Errors
    /// [`MalformedToken`] when the input cannot be a token we issued.
    pub fn parse(raw: &str) -> Result<Self, MalformedToken> {
        if raw.len() != TOKEN_CHARS {
            return Err(MalformedToken);
        }
        match URL_SAFE_NO_PAD.decode(raw) {
            Ok(bytes) if bytes.len() == TOKEN_BYTES => Ok(Self(SecretString::new(raw.to_owned()))),
            _ => Err(MalformedToken),
        }
    }

    #[must_use]
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.0.expose().as_bytes()).into())
    }

    /// The secret itself, for the one place that must show it: the email to the user.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

/// SHA-256 of a token: the only form the store ever sees.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Compare in constant time, so a store that scans digests leaks nothing about how many leading
    /// bytes matched.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not the secret, but a short prefix is all a reader needs to correlate.
        write!(f, "TokenDigest({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = BearerToken::generate();
        let b = BearerToken::generate();
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert_eq!(BearerToken::parse(a.expose()).unwrap(), a);
        assert_ne!(a, b);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in ["", "short", &"A".repeat(44), &"!".repeat(43), &"A".repeat(42)] {
            assert_eq!(BearerToken::parse(bad), Err(MalformedToken), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = BearerToken::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn digest_compare_is_exact() {
        let t = BearerToken::generate();
        assert!(t.digest().ct_eq(&t.digest()));
        assert!(!t.digest().ct_eq(&BearerToken::generate().digest()));
    }
}
