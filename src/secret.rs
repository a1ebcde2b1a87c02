//! A string that never prints itself. Passwords, tokens and the pepper travel in this wrapper so a
//! stray `{:?}` in a log line shows `[redacted]` instead of the secret.

use std::fmt;

use hkdf::Hkdf;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize;

#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The one deliberate way to read the secret; grep for it when auditing.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        // Best effort: copies made earlier (e.g. by serde) are not reached.
        self.0.zeroize();
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// Which key made a value (sealed it, signed it, peppered it): the first bytes of a digest of the key, never the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

/// Identifiers are this long: enough to tell a handful of keys apart, too short to say anything
/// about the key.
pub const KEY_ID_LEN: usize = 4;

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A 32-byte key derived from `secret` for one purpose (`info`, e.g. `outbox-seal-v1`), and the
/// identifier values made with it carry: the first bytes of a digest of the key under
/// `id_domain`, never the key itself. Keys rotate by secret; the identifier says which one.
#[must_use]
pub fn derive_key(secret: &SecretString, info: &[u8], id_domain: &[u8]) -> ([u8; 32], KeyId) {
    let hk = Hkdf::<Sha256>::new(Some(b"resetgate"), secret.expose().as_bytes());
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so expand cannot fail.
    hk.expand(info, &mut key).unwrap_or_default();
    let digest = Sha256::new_with_prefix(id_domain).chain_update(key).finalize();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    (key, KeyId(id))
}
