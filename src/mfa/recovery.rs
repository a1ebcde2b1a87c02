//! Recovery codes: ten single-use look-up secrets (NIST SP 800-63B 5.1.2), shown once at
//! enrolment, for the day the phone is lost.
//!
//! Each code is 80 bits from the OS CSPRNG, written as 16 characters of Crockford's base32 in
//! groups of four (`7hq2-m9xd-...`): no vowels to spell words, no 0/O or 1/I/L to confuse, and
//! typing is forgiving (case, separators and those look-alikes are folded). At rest only an
//! HMAC-SHA256 of the code is kept, keyed from the pepper. A fast keyed hash is enough here, unlike
//! for passwords: 80 random bits cannot be guessed offline without the key, and online guessing is
//! held back by the second-factor attempt limit. Argon2 would make each check cost a hash per stored
//! code.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Codes per set; a new set voids the old one.
pub const CODES_PER_SET: usize = 10;
const CHARS: usize = 16;
/// Crockford's base32 alphabet, lower case.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A recovery code as the person holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(Zeroizing<String>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a recovery code is 16 letters and digits")]
pub struct MalformedRecoveryCode;

impl RecoveryCode {
    #[must_use]
    pub fn generate() -> Self {
        // 16 characters of 5 bits each: 80 bits, from 10 random bytes.
        let mut bytes = Zeroizing::new([0u8; 10]);
        UnwrapErr(SysRng).fill_bytes(bytes.as_mut());
        let mut bits: u128 = 0;
        for b in bytes.iter() {
            bits = (bits << 8) | u128::from(*b);
        }
        let code: String = (0..CHARS)
            .map(|i| {
                let index = (bits >> (5 * (CHARS - 1 - i))) & 0x1f;
                // index < 32 by the mask.
                char::from(ALPHABET[usize::try_from(index).unwrap_or_default()])
            })
            .collect();
        Self(Zeroizing::new(code))
    }

    /// A set of [`CODES_PER_SET`] distinct codes.
    #[must_use]
    pub fn generate_set() -> Vec<Self> {
        let mut set: Vec<Self> = Vec::with_capacity(CODES_PER_SET);
        while set.len() < CODES_PER_SET {
            let code = Self::generate();
            // A collision of 80-bit values does not happen; the check costs nothing.
            if !set.contains(&code) {
                set.push(code);
            }
        }
        set
    }

    /// # Errors
    /// [`MalformedRecoveryCode`] unless 16 base32 characters remain once separators are dropped.
    pub fn parse(raw: &str) -> Result<Self, MalformedRecoveryCode> {
        let mut code = Zeroizing::new(String::with_capacity(CHARS));
        for c in raw.chars() {
            let c = match c.to_ascii_lowercase() {
                ' ' | '-' | '\u{a0}' => continue,
                // Crockford's decoding folds the look-alikes.
                'o' => '0',
                'i' | 'l' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return Err(MalformedRecoveryCode),
            };
            code.push(c);
        }
        if code.len() == CHARS {
            Ok(Self(code))
        } else {
            Err(MalformedRecoveryCode)
        }
    }

    /// `xxxx-xxxx-xxxx-xxxx`, the form shown to the person.
    #[must_use]
    pub fn display(&self) -> Zeroizing<String> {
        super::grouped(&self.0, "-")
    }

    /// The keyed digest kept at rest. `key` is derived from the pepper by the caller.
    #[must_use]
    pub fn digest(&self, key: &[u8; 32]) -> RecoveryDigest {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            // HMAC takes keys of any length.
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(self.0.as_bytes());
        RecoveryDigest(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

/// What storage keeps of a recovery code.
#[derive(Clone, Copy, Eq)]
pub struct RecoveryDigest(pub [u8; 32]);

impl PartialEq for RecoveryDigest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for RecoveryDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryDigest(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_80_bit_codes() {
        let set = RecoveryCode::generate_set();
        assert_eq!(set.len(), CODES_PER_SET);
        for (i, a) in set.iter().enumerate() {
            assert_eq!(a.0.len(), CHARS);
            assert!(set[i + 1..].iter().all(|b| b != a));
        }
        // Every alphabet character turns up over many codes: no bias that drops one.
        let seen: std::collections::HashSet<char> = (0..200)
            .flat_map(|_| RecoveryCode::generate().0.chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn typing_is_forgiving_and_strict_about_length() {
        let code = RecoveryCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), CHARS + 3);
        assert_eq!(RecoveryCode::parse(&shown).unwrap(), code);
        assert_eq!(RecoveryCode::parse(&shown.to_uppercase()).unwrap(), code);
        assert_eq!(
            RecoveryCode::parse("O1IL 0000 0000 0000").unwrap(),
            RecoveryCode::parse("0111-0000-0000-0000").unwrap()
        );
        for bad in [
            "",
            "0000-0000-0000-000",
            "0000-0000-0000-00000",
            "0000-0000-0000-000u",
            "ｏ000000000000000",
        ] {
            assert_eq!(RecoveryCode::parse(bad), Err(MalformedRecoveryCode), "{bad:?}");
        }
    }

    #[test]
    fn digests_depend_on_code_and_key_and_never_print_the_code() {
        let code = RecoveryCode::generate();
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        assert_eq!(code.digest(&k1), code.digest(&k1));
        assert_ne!(code.digest(&k1), code.digest(&k2));
        assert_ne!(code.digest(&k1), RecoveryCode::generate().digest(&k1));
        assert!(!format!("{code:?}").contains(code.0.as_str()));
    }
}
