//! The second factor (issue #14): TOTP secrets and codes (`totp`) and single-use recovery codes
//! (`recovery`). Pure values and checks, below storage: remembering the last accepted step,
//! counting wrong codes and sealing secrets at rest are the callers' part, so that they hold
//! across replicas (docs/security-and-policy.md, "Second factor").

pub mod assurance;
pub mod recovery;
pub mod totp;

use zeroize::Zeroizing;

/// Splits an ASCII secret into groups of four joined by `sep`, the form people read and type.
fn grouped(ascii: &str, sep: &str) -> Zeroizing<String> {
    let groups: Vec<&str> = ascii
        .as_bytes()
        .chunks(4)
        // Callers pass base32, which is ASCII, so every chunk is valid UTF-8.
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Zeroizing::new(groups.join(sep))
}
