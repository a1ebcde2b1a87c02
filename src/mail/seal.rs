//! Sealing of the one secret the outbox must carry: the reset token for the email. The token is
//! encrypted (XChaCha20-Poly1305, key derived from the pepper with HKDF) and bound to the
//! recipient, so a database dump alone yields no usable reset link. The sealed bytes are cleared
//! once the message is sent.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use sha2::Sha256;

use crate::reset::email::EmailAddress;
use crate::secret::SecretString;

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("sealed secret cannot be opened (corrupt, or sealed under another pepper)")]
pub struct OpenError;

#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    digest_key: [u8; 32],
}

impl Sealer {
    #[must_use]
    pub fn new(pepper: &SecretString) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"resetgate"), pepper.expose().as_bytes());
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so expand cannot fail.
        hk.expand(b"outbox-seal-v1", &mut key).unwrap_or_default();
        let mut digest_key = [0u8; 32];
        hk.expand(b"email-digest-v1", &mut digest_key).unwrap_or_default();
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
            digest_key,
        }
    }

    /// A keyed digest of an address, for tables that must recognise an address without storing
    /// it (the per-address rate limit). Without the pepper, a dump cannot be matched against a
    /// list of addresses.
    #[must_use]
    pub fn email_digest(&self, email: &EmailAddress) -> [u8; 32] {
        use sha2::Digest as _;
        let mut h = Sha256::new();
        h.update(self.digest_key);
        h.update(email.as_str().as_bytes());
        h.finalize().into()
    }

    #[must_use]
    pub fn seal(&self, secret: &str, recipient: &EmailAddress) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        UnwrapErr(SysRng).fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: recipient.as_str().as_bytes(),
        };
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let ct = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// # Errors
    /// [`OpenError`] when the bytes were altered, sealed for another recipient, or under another pepper.
    pub fn open(&self, sealed: &[u8], recipient: &EmailAddress) -> Result<SecretString, OpenError> {
        if sealed.len() <= NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ct,
            aad: recipient.as_str().as_bytes(),
        };
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError)?;
        let pt = self.cipher.decrypt(&nonce, payload).map_err(|_| OpenError)?;
        String::from_utf8(pt)
            .map(SecretString::new)
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let s = Sealer::new(&SecretString::new("pepper-a".into()));
        let alice = EmailAddress::parse("alice@example.com").unwrap();
        let bob = EmailAddress::parse("bob@example.com").unwrap();
        let sealed = s.seal("the-token", &alice);
        assert!(!sealed.windows(9).any(|w| w == b"the-token"));
        assert_eq!(s.open(&sealed, &alice).unwrap().expose(), "the-token");
        assert_eq!(s.open(&sealed, &bob), Err(OpenError));
        let other = Sealer::new(&SecretString::new("pepper-b".into()));
        assert_eq!(other.open(&sealed, &alice), Err(OpenError));
        assert_eq!(s.open(&sealed[..10], &alice), Err(OpenError));
    }
}
