//! Common and breached passwords that are refused whatever their length (NIST SP 800-63B 3.1.1.2).
//!
//! Source: the `passwords` list of the npm package `@zxcvbn-ts/language-common` 4.1.3 (MIT; see
//! data/common-passwords.LICENSE), 49 233 entries drawn from public breach corpora. It is compiled
//! into the binary and loaded once into a hash set, so a check is one O(1) lookup.

use std::collections::HashSet;
use std::sync::LazyLock;

static RAW: &str = include_str!("../../data/common-passwords.txt");

static BLOCKLIST: LazyLock<HashSet<String>> = LazyLock::new(|| {
    RAW.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_lowercase)
        .collect()
});

/// Case-insensitive membership; `candidate` should already be NFKC-normalised.
#[must_use]
pub fn contains(candidate: &str) -> bool {
    BLOCKLIST.contains(&candidate.to_lowercase())
}

/// Number of distinct entries, reported at startup so operators can see the list loaded.
#[must_use]
pub fn len() -> usize {
    BLOCKLIST.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_large_and_case_insensitive() {
        assert!(len() >= 20_000, "blocklist has only {} entries", len());
        assert!(contains("password"));
        assert!(contains("PassWordPassWord"));
        assert!(!contains("correct horse battery staple zebra"));
    }
}
