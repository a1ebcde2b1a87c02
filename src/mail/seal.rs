//! Sealing of the secrets resetgate must keep readable: the reset token the outbox mails, and
//! (issue #14) second-factor secrets. Each is encrypted with XChaCha20-Poly1305 and bound to what
//! it belongs to (the recipient's address, an account id) as associated data, so a database dump
//! alone yields no usable secret and a sealed value cannot be moved to another row.
//!
//! Sealed values carry the identifier of the key that sealed them, so keys can rotate: a
//! [`Sealer`] seals with its current key and opens with the current or any retired one, and
//! [`Sealer::needs_reseal`] tells which stored values to rewrite. Keys are derived with HKDF from a
//! key secret (today the pepper). Values sealed before identifiers existed (24-byte nonce, then
//! ciphertext) still open with the current key.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

use crate::reset::email::EmailAddress;
use crate::secret::SecretString;

const NONCE_LEN: usize = 24;
/// The first byte of a sealed value with a key identifier.
const FORMAT_V1: u8 = 1;
use crate::secret::KEY_ID_LEN;
const HEADER_LEN: usize = 1 + KEY_ID_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "sealed secret cannot be opened (corrupt, bound to another row, or sealed under a key we no longer hold)"
)]
pub struct OpenError;

pub use crate::secret::{derive_key, KeyId};

#[derive(Clone)]
struct SealKey {
    id: KeyId,
    cipher: XChaCha20Poly1305,
}

impl SealKey {
    fn derive(secret: &SecretString) -> Self {
        let (key, id) = derive_key(secret, b"outbox-seal-v1", b"resetgate-key-id-v1");
        Self {
            id,
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }
}

#[derive(Clone)]
pub struct Sealer {
    current: SealKey,
    retired: Vec<SealKey>,
    digest_key: [u8; 32],
    /// The retired secrets' digest keys: recovery codes stored under them must still match.
    retired_digest_keys: Vec<[u8; 32]>,
}

fn digest_key_of(secret: &SecretString) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(b"resetgate"), secret.expose().as_bytes());
    let mut digest_key = [0u8; 32];
    hk.expand(b"email-digest-v1", &mut digest_key).unwrap_or_default();
    digest_key
}

fn recovery_key_of(digest_key: &[u8; 32]) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(b"resetgate"), digest_key);
    let mut key = [0u8; 32];
    hk.expand(b"recovery-code-v1", &mut key).unwrap_or_default();
    key
}

impl Sealer {
    #[must_use]
    pub fn new(pepper: &SecretString) -> Self {
        Self::with_retired(pepper, &[])
    }

    /// Seals with `pepper`'s key; also opens what the `retired` secrets' keys sealed.
    #[must_use]
    pub fn with_retired(pepper: &SecretString, retired: &[SecretString]) -> Self {
        Self {
            current: SealKey::derive(pepper),
            retired: retired.iter().map(SealKey::derive).collect(),
            digest_key: digest_key_of(pepper),
            retired_digest_keys: retired.iter().map(digest_key_of).collect(),
        }
    }

    /// The HMAC key of recovery-code digests (`mfa::recovery`), derived from the pepper like the
    /// address digest key, so a dump alone cannot test guesses.
    #[must_use]
    pub fn recovery_key(&self) -> [u8; 32] {
        recovery_key_of(&self.digest_key)
    }

    /// Every key a stored recovery-code digest may be under: the current one first, then the
    /// retired secrets' (codes issued before a rotation stay valid).
    #[must_use]
    pub fn recovery_keys(&self) -> Vec<[u8; 32]> {
        std::iter::once(&self.digest_key)
            .chain(&self.retired_digest_keys)
            .map(recovery_key_of)
            .collect()
    }

    /// The identifier sealed values carry today.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.current.id
    }

    /// A keyed digest of an address, for tables that must recognise an address without storing
    /// it (the per-address rate limit). Without the pepper, a dump cannot be matched against a
    /// list of addresses.
    #[must_use]
    pub fn email_digest(&self, email: &EmailAddress) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.digest_key);
        h.update(email.as_str().as_bytes());
        h.finalize().into()
    }

    /// A keyed digest of a client network (see `admission::client_ip::network_key`): the outbox
    /// orders and caps reset mail by who asked without storing anyone's address.
    #[must_use]
    pub fn network_digest(&self, network: std::net::IpAddr) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.digest_key);
        h.update(b"network\0");
        match network {
            std::net::IpAddr::V4(v4) => h.update(v4.octets()),
            std::net::IpAddr::V6(v6) => h.update(v6.octets()),
        }
        h.finalize().into()
    }

    /// Seals a reset token for the outbox, bound to its recipient.
    #[must_use]
    pub fn seal(&self, secret: &str, recipient: &EmailAddress) -> Vec<u8> {
        self.seal_bytes(secret.as_bytes(), recipient.as_str().as_bytes())
    }

    /// # Errors
    /// [`OpenError`] when the bytes were altered, sealed for another recipient, or under a key
    /// this sealer does not hold.
    pub fn open(&self, sealed: &[u8], recipient: &EmailAddress) -> Result<SecretString, OpenError> {
        let pt = self.open_bytes(sealed, recipient.as_str().as_bytes())?;
        String::from_utf8(pt.to_vec())
            .map(SecretString::new)
            .map_err(|_| OpenError)
    }

    /// Seals `secret`, bound to `context` (what the value belongs to: it must be given again to
    /// open it).
    #[must_use]
    pub fn seal_bytes(&self, secret: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        UnwrapErr(SysRng).fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret,
            aad: context,
        };
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let ct = self
            .current
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.current.id.0);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// # Errors
    /// [`OpenError`] when the bytes were altered, bound to another context, or sealed under a
    /// key this sealer does not hold.
    pub fn open_bytes(
        &self,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, OpenError> {
        if let Some(key) = self.key_for(sealed) {
            if let Ok(pt) = decrypt(&key.cipher, &sealed[HEADER_LEN..], context) {
                return Ok(pt);
            }
        }
        // Sealed before key identifiers: nonce and ciphertext only, under the current key. (A
        // legacy value whose random first bytes happen to look like a header lands here too.)
        decrypt(&self.current.cipher, sealed, context)
    }

    /// Whether `sealed` should be rewritten under the current key (sealed by a retired key, or
    /// before key identifiers).
    #[must_use]
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        self.key_for(sealed).is_none_or(|k| k.id != self.current.id)
    }

    fn key_for(&self, sealed: &[u8]) -> Option<&SealKey> {
        let (&format, rest) = sealed.split_first()?;
        if format != FORMAT_V1 || rest.len() < KEY_ID_LEN {
            return None;
        }
        let id = &rest[..KEY_ID_LEN];
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id.0 == id)
    }
}

fn decrypt(
    cipher: &XChaCha20Poly1305,
    nonce_and_ct: &[u8],
    context: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, OpenError> {
    if nonce_and_ct.len() <= NONCE_LEN {
        return Err(OpenError);
    }
    let (nonce, ct) = nonce_and_ct.split_at(NONCE_LEN);
    let nonce = XNonce::try_from(nonce).map_err(|_| OpenError)?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ct,
                aad: context,
            },
        )
        .map(zeroize::Zeroizing::new)
        .map_err(|_| OpenError)
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

    #[test]
    fn sealed_values_name_their_key_and_keys_rotate() {
        let (old, new) = (
            SecretString::new("the old key secret".into()),
            SecretString::new("the new key secret".into()),
        );
        let before = Sealer::new(&old);
        let sealed = before.seal_bytes(b"totp secret", b"account:7");
        assert_eq!(sealed[0], FORMAT_V1);
        assert_eq!(sealed[1..HEADER_LEN], before.key_id().0);
        assert!(!before.needs_reseal(&sealed));

        let after = Sealer::with_retired(&new, &[old]);
        assert_ne!(after.key_id(), before.key_id());
        assert_eq!(*after.open_bytes(&sealed, b"account:7").unwrap(), b"totp secret");
        assert!(after.needs_reseal(&sealed), "sealed by a retired key");
        assert_eq!(
            after.open_bytes(&sealed, b"account:8"),
            Err(OpenError),
            "bound to its row"
        );
        let resealed = after.seal_bytes(b"totp secret", b"account:7");
        assert!(!after.needs_reseal(&resealed));
        // Once the old key is dropped, what it sealed no longer opens.
        assert_eq!(
            Sealer::new(&new).open_bytes(&sealed, b"account:7"),
            Err(OpenError)
        );
        // The identifier is not the key: printing it shows 8 hex digits.
        assert_eq!(after.key_id().to_string().len(), 8);
    }

    #[test]
    fn values_sealed_before_key_ids_still_open() {
        let pepper = SecretString::new("pepper-a".into());
        let s = Sealer::new(&pepper);
        let alice = EmailAddress::parse("alice@example.com").unwrap();
        // The earlier format: nonce then ciphertext, under the same derived key.
        let nonce = [7u8; NONCE_LEN];
        let ct = s
            .current
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: b"the-token",
                    aad: alice.as_str().as_bytes(),
                },
            )
            .unwrap();
        let legacy = [nonce.as_slice(), &ct].concat();
        assert_eq!(s.open(&legacy, &alice).unwrap().expose(), "the-token");
        assert!(s.needs_reseal(&legacy));
    }
}
