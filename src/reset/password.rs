//! The new-password policy of NIST SP 800-63B: length only, no composition rules, and a blocklist.
//! Length counts Unicode characters after NFKC normalisation, so "ﬁ" and "fi" are the same password
//! and a user is not punished for how their keyboard encodes a character.

use unicode_normalization::UnicodeNormalization;

use super::blocklist;
use super::email::EmailAddress;
use crate::secret::SecretString;

/// Hard cap in bytes, before and after normalisation: it bounds the cost of hashing whatever an
/// attacker sends, independent of the configurable character maximum.
pub const HARD_MAX_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("password must be at least {min} characters")]
    TooShort { min: usize },
    #[error("password must be at most {max} characters")]
    TooLong { max: usize },
    #[error("password is too common; it appears in lists of breached passwords")]
    Blocklisted,
    #[error("password must not be your email address")]
    MatchesEmail,
}

impl PolicyViolation {
    /// Stable machine-readable code for clients.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort { .. } => "password_too_short",
            Self::TooLong { .. } => "password_too_long",
            Self::Blocklisted => "password_blocklisted",
            Self::MatchesEmail => "password_matches_email",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub min_chars_with_mfa: usize,
    pub max_chars: usize,
}

/// A password that satisfied the policy, in normalised form. Only [`PasswordPolicy::parse`] makes one.
#[derive(Debug)]
pub struct NewPassword(SecretString);

impl NewPassword {
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// NFKC form of a password; login normalises the same way so both sides hash the same bytes.
#[must_use]
pub fn normalize(raw: &str) -> SecretString {
    SecretString::new(raw.nfkc().collect())
}

impl PasswordPolicy {
    /// # Errors
    /// The first [`PolicyViolation`] found, cheapest check first.
    pub fn parse(
        &self,
        raw: &str,
        email: &EmailAddress,
        mfa_enabled: bool,
    ) -> Result<NewPassword, PolicyViolation> {
        if raw.len() > HARD_MAX_BYTES {
            return Err(PolicyViolation::TooLong { max: self.max_chars });
        }
        let normalized = normalize(raw);
        let pw = normalized.expose();
        let chars = pw.chars().count();
        let min = if mfa_enabled {
            self.min_chars_with_mfa
        } else {
            self.min_chars
        };
        if chars < min {
            return Err(PolicyViolation::TooShort { min });
        }
        if chars > self.max_chars || pw.len() > HARD_MAX_BYTES {
            return Err(PolicyViolation::TooLong { max: self.max_chars });
        }
        let lower = pw.to_lowercase();
        if lower == email.as_str() || lower == email.local_part() {
            return Err(PolicyViolation::MatchesEmail);
        }
        if blocklist::contains(pw) {
            return Err(PolicyViolation::Blocklisted);
        }
        Ok(NewPassword(normalized))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_chars: 15,
        min_chars_with_mfa: 8,
        max_chars: 64,
    };

    fn email() -> EmailAddress {
        EmailAddress::parse("averylongname@example.com").unwrap()
    }

    #[test]
    fn length_counts_characters_after_nfkc() {
        // 15 ligature characters that NFKC expands to 30: counted after normalisation.
        let ligatures = "ﬁ".repeat(8);
        assert!(POLICY.parse(&ligatures, &email(), false).is_ok());
        // 15 four-byte emoji are 15 characters, not 60.
        assert!(POLICY.parse(&"🦀".repeat(15), &email(), false).is_ok());
        assert_eq!(
            POLICY.parse(&"🦀".repeat(14), &email(), false).unwrap_err(),
            PolicyViolation::TooShort { min: 15 }
        );
    }

    #[test]
    fn mfa_lowers_the_minimum() {
        assert!(POLICY.parse("tangerine-owl", &email(), true).is_ok());
        assert!(POLICY.parse("tangerine-owl", &email(), false).is_err());
    }

    #[test]
    fn too_long_by_chars_or_bytes() {
        assert_eq!(
            POLICY.parse(&"x".repeat(65), &email(), false).unwrap_err().code(),
            "password_too_long"
        );
        assert_eq!(
            POLICY
                .parse(&"x".repeat(5000), &email(), false)
                .unwrap_err()
                .code(),
            "password_too_long"
        );
    }

    #[test]
    fn no_composition_rules() {
        assert!(POLICY.parse("all lowercase words here", &email(), false).is_ok());
    }

    #[test]
    fn blocklist_and_email_are_refused() {
        assert_eq!(
            POLICY.parse("PasswordPassword", &email(), false).unwrap_err(),
            PolicyViolation::Blocklisted
        );
        assert_eq!(
            POLICY
                .parse("AveryLongName@example.com", &email(), false)
                .unwrap_err(),
            PolicyViolation::MatchesEmail
        );
        assert_eq!(
            POLICY.parse("averylongname", &email(), true).unwrap_err(),
            PolicyViolation::MatchesEmail
        );
    }
}
