//! The peppers: argon2's secret input, each named by a key identifier so the pepper can rotate.
//!
//! A new hash carries the current pepper's identifier in its PHC string (argon2's own `keyid`
//! parameter, which is not an input to the hash). A stored hash is verified with the pepper its
//! identifier names, current or retired, and one made with a retired pepper is rehashed with the
//! current one at the owner's next successful login ([`super::hasher::Hasher::needs_upgrade`]).
//! Hashes from before identifiers existed carry none: they were made with the pepper of that time,
//! which is the oldest one configured (the last retired one, or the current one before any
//! rotation).

use argon2::password_hash::phc::PasswordHash;

use super::phc::PhcString;
use crate::secret::SecretString;
use crate::secret::{derive_key, KeyId};

/// The identifier a pepper's hashes carry: 4 bytes of a digest of a key derived from it, never the
/// pepper itself.
#[must_use]
pub fn pepper_id(pepper: &SecretString) -> KeyId {
    derive_key(pepper, b"argon2-pepper-id-v1", b"resetgate-pepper-id-v1").1
}

/// The key identifier a stored hash names, if any.
#[must_use]
pub fn stored_id(phc: &PhcString) -> Option<KeyId> {
    let parsed = PasswordHash::new(phc.as_str()).ok()?;
    let params = argon2::Params::try_from(&parsed).ok()?;
    <[u8; 4]>::try_from(params.keyid()).ok().map(KeyId)
}

#[derive(Clone)]
pub struct Peppers {
    current: (KeyId, SecretString),
    /// Newest first.
    retired: Vec<(KeyId, SecretString)>,
}

impl From<SecretString> for Peppers {
    fn from(current: SecretString) -> Self {
        Self::new(current, Vec::new())
    }
}

impl Peppers {
    #[must_use]
    pub fn new(current: SecretString, retired: Vec<SecretString>) -> Self {
        Self {
            current: (pepper_id(&current), current),
            retired: retired.into_iter().map(|p| (pepper_id(&p), p)).collect(),
        }
    }

    /// What new hashes are made with.
    #[must_use]
    pub fn current(&self) -> &SecretString {
        &self.current.1
    }

    #[must_use]
    pub fn current_id(&self) -> KeyId {
        self.current.0
    }

    /// The pepper `phc` was made with, when this process holds it. `None` names a pepper dropped
    /// from the configuration: the caller verifies with the current one (which fails), so such a
    /// login costs what any other does.
    #[must_use]
    pub fn for_hash(&self, phc: &PhcString) -> Option<&SecretString> {
        match stored_id(phc) {
            Some(id) => std::iter::once(&self.current)
                .chain(&self.retired)
                .find(|(k, _)| *k == id)
                .map(|(_, p)| p),
            None => Some(self.retired.last().map_or(&self.current.1, |(_, p)| p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::compute;
    use crate::hashing::params::HashParams;

    fn s(v: &str) -> SecretString {
        SecretString::new(v.to_owned())
    }

    #[test]
    fn hashes_name_their_pepper_and_are_verified_with_it() {
        let params = HashParams::new(19 * 1024, 2, 1).unwrap();
        let mut mem = compute::memory_for(params);
        let old = s("the pepper before the rotation, 32+ bytes");
        let new = s("the pepper after the rotation, also 32+ bytes");
        let phc = compute::hash(&mut mem, &old, params, "a password").unwrap();
        assert_eq!(stored_id(&phc), Some(pepper_id(&old)));
        assert!(phc.as_str().contains(",keyid="), "{}", phc.as_str());

        let rotated = Peppers::new(new.clone(), vec![old.clone()]);
        let chosen = rotated.for_hash(&phc).unwrap();
        assert!(compute::verify(&mut mem, Some(chosen), "a password", &phc).unwrap());
        assert_ne!(rotated.current_id(), pepper_id(&old));

        // Dropped too soon: no pepper for it.
        assert!(Peppers::from(new).for_hash(&phc).is_none());
        // The identifier is not the pepper, nor any part of it.
        assert_ne!(pepper_id(&old).0.as_slice(), &old.expose().as_bytes()[..4]);
    }

    /// The PHC string as it was before identifiers: the same hash (the identifier is not an
    /// input), without `keyid`.
    pub(crate) fn without_id(phc: &PhcString) -> PhcString {
        let raw = phc.as_str();
        let start = raw.find(",keyid=").expect("a keyed hash");
        let end = start + raw[start..].find('$').expect("more after the params");
        PhcString::parse(&format!("{}{}", &raw[..start], &raw[end..])).unwrap()
    }

    #[test]
    fn a_hash_without_an_identifier_is_from_the_oldest_pepper() {
        let params = HashParams::new(19 * 1024, 2, 1).unwrap();
        let mut mem = compute::memory_for(params);
        let first = s("the very first pepper, long enough here");
        let phc = without_id(&compute::hash(&mut mem, &first, params, "pw").unwrap());
        assert_eq!(stored_id(&phc), None);
        assert!(compute::verify(&mut mem, Some(&first), "pw", &phc).unwrap());
        let never_rotated = Peppers::from(first.clone());
        assert_eq!(never_rotated.for_hash(&phc).unwrap().expose(), first.expose());
        let twice = Peppers::new(
            s("third pepper, long enough for a test"),
            vec![s("second pepper, long enough for a test"), first.clone()],
        );
        assert_eq!(twice.for_hash(&phc).unwrap().expose(), first.expose());
    }
}
