//! RFC 6238 time-based one-time passwords, exactly as authenticator apps expect them: HMAC-SHA1,
//! 6 digits, 30-second steps, one step either side accepted for clock skew. The arithmetic is
//! totp-rs's; what this module adds is the policy around it: secrets from our CSPRNG that never
//! print, codes that parse, and replay refusal by step.

use std::fmt;

use qrcode::{EcLevel, QrCode};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use totp_rs::{Algorithm, Secret, Totp};
use zeroize::Zeroizing;

/// 160 bits, the length RFC 4226 recommends (and what every authenticator app handles).
pub const SECRET_BYTES: usize = 20;
pub const DIGITS: u8 = 6;
pub const STEP_SECS: u64 = 30;
/// Steps accepted either side of the current one (RFC 6238 section 5.2 recommends at most one).
pub const SKEW_STEPS: u16 = 1;

/// A TOTP shared secret. Only ever shown once, at enrolment; at rest it is sealed by the caller.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        UnwrapErr(SysRng).fill_bytes(&mut bytes);
        Self(Zeroizing::new(bytes))
    }

    /// # Errors
    /// [`MalformedSecret`] when the bytes (e.g. opened from storage) are not a secret we issued.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MalformedSecret> {
        if bytes.len() == SECRET_BYTES {
            Ok(Self(Zeroizing::new(bytes.to_vec())))
        } else {
            Err(MalformedSecret)
        }
    }

    /// The raw bytes, for the one place that seals them for storage.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, the form authenticator apps accept when typed.
    #[must_use]
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(Secret::from(self.0.to_vec()).to_base32())
    }

    /// The base32 form in groups of four, for a person typing it into an app.
    #[must_use]
    pub fn base32_grouped(&self) -> Zeroizing<String> {
        super::grouped(&self.base32(), " ")
    }

    /// Skew is ours (see `verify`), so totp-rs checks one step at a time.
    fn totp(&self, label: Option<(&Issuer, &str)>) -> Result<Totp, totp_rs::TotpError> {
        let (issuer, account) = label.map_or((None, String::new()), |(issuer, account)| {
            (Some(issuer.0.clone()), account.replace(':', " "))
        });
        totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(0)
            .with_step_duration(STEP_SECS)
            .with_secret(self.0.to_vec())
            .with_issuer(issuer)
            .with_account_name(account)
            .build()
    }

    /// The `otpauth://totp/...` URI of the key-uri format: what the QR code holds.
    #[must_use]
    pub fn otpauth_uri(&self, issuer: &Issuer, account: &str) -> Zeroizing<String> {
        // The secret has the right length, the issuer has no ':' and the account's ':' are
        // replaced, so totp-rs has nothing to refuse; an empty URI beats a panic should it.
        Zeroizing::new(
            self.totp(Some((issuer, account)))
                .and_then(|t| t.to_url())
                .unwrap_or_default(),
        )
    }

    /// The QR code of the URI as an inline SVG document (no image to host or fetch).
    #[must_use]
    pub fn qr_svg(&self, issuer: &Issuer, account: &str) -> Zeroizing<String> {
        let uri = self.otpauth_uri(issuer, account);
        Zeroizing::new(
            QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
                .map(|code| compact_svg(&code))
                .unwrap_or_default(),
        )
    }

    /// Checks `code` at `unix_secs`. `last_step` is the step of the last code this account had
    /// accepted: a code for that step or an earlier one is a replay, even if it is otherwise
    /// right (RFC 6238 section 5.2: a code is accepted at most once).
    ///
    /// # Errors
    /// [`CodeRejected::Wrong`] or [`CodeRejected::Replayed`].
    pub fn verify(
        &self,
        code: &TotpCode,
        unix_secs: u64,
        last_step: Option<u64>,
    ) -> Result<u64, CodeRejected> {
        let totp = self.totp(None).map_err(|_| CodeRejected::Wrong)?;
        let now = unix_secs / STEP_SECS;
        // Every step of the window is checked, not only the first match, so that the newest
        // matching step wins and a replay is told from a wrong code.
        let mut newest = None;
        for step in now.saturating_sub(SKEW_STEPS.into())..=now + u64::from(SKEW_STEPS) {
            // totp-rs compares in constant time.
            if totp.check(code.0.as_str(), step * STEP_SECS).is_some() {
                newest = Some(step);
            }
        }
        match (newest, last_step) {
            (None, _) => Err(CodeRejected::Wrong),
            (Some(step), Some(last)) if step <= last => Err(CodeRejected::Replayed),
            (Some(step), _) => Ok(step),
        }
    }

    /// The code for `unix_secs`: for tests and for the enrolment self-check.
    #[must_use]
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.totp(None)
            .map(|t| t.generate(unix_secs).to_string())
            .unwrap_or_default()
    }
}

/// The QR code as a small SVG document: one path of horizontal runs in module units, scaled by
/// the viewBox. qrcode's own SVG renderer draws every module at pixel size, which made the
/// enrolment page several times the 30 KB budget on its own; this is about a fifth of it.
fn compact_svg(code: &QrCode) -> String {
    use std::fmt::Write as _;
    const QUIET: usize = 4;
    let width = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] == qrcode::Color::Dark {
                let start = x;
                while x < width && row[x] == qrcode::Color::Dark {
                    x += 1;
                }
                // Writing to a String cannot fail.
                let _ = write!(
                    path,
                    "M{},{}h{}v1h-{}z",
                    start + QUIET,
                    y + QUIET,
                    x - start,
                    x - start
                );
            } else {
                x += 1;
            }
        }
    }
    let size = width + 2 * QUIET;
    format!(
        "<?xml version=\"1.0\" standalone=\"yes\"?><svg xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {size} {size}\" width=\"240\" height=\"240\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    )
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("stored second-factor secret has the wrong length")]
pub struct MalformedSecret;

/// The issuer shown in the authenticator app ("Example: someone@example.com"). The key-uri
/// format forbids ':' in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadIssuer {
    #[error("must not be empty")]
    Empty,
    #[error("must not contain ':' (the otpauth URI uses it to separate issuer and account)")]
    Colon,
    #[error("must be at most 64 characters")]
    TooLong,
}

impl Issuer {
    /// # Errors
    /// [`BadIssuer`] for an empty, over-long or colon-bearing name.
    pub fn parse(raw: &str) -> Result<Self, BadIssuer> {
        let name = raw.trim();
        if name.is_empty() {
            Err(BadIssuer::Empty)
        } else if name.contains(':') {
            Err(BadIssuer::Colon)
        } else if name.chars().count() > 64 {
            Err(BadIssuer::TooLong)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Six digits as a person typed them: spaces and dashes (apps show "123 456") are dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(Zeroizing<String>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a code is {DIGITS} digits")]
pub struct MalformedCode;

impl TotpCode {
    /// # Errors
    /// [`MalformedCode`] unless exactly six ASCII digits remain after dropping separators.
    pub fn parse(raw: &str) -> Result<Self, MalformedCode> {
        let digits: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
            .collect();
        if digits.len() == usize::from(DIGITS) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(Zeroizing::new(digits)))
        } else {
            Err(MalformedCode)
        }
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode([redacted])")
    }
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum CodeRejected {
    #[error("wrong code")]
    Wrong,
    #[error("code already used")]
    Replayed,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6238 appendix B key for HMAC-SHA1.
    const RFC_KEY: &[u8; 20] = b"12345678901234567890";

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(RFC_KEY).unwrap()
    }

    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        // Appendix B, SHA1 column. The RFC prints 8 digits; 6-digit codes are the last six,
        // because both are the same truncated value modulo 10^8 and 10^6.
        let vectors: [(u64, &str); 6] = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let eight = totp_rs::Builder::new()
            .with_digits(8)
            .with_secret(RFC_KEY.to_vec())
            .build()
            .unwrap();
        for (t, want) in vectors {
            assert_eq!(eight.generate(t).to_string(), want, "8 digits at T={t}");
            assert_eq!(rfc_secret().code_at(t), want[2..], "6 digits at T={t}");
            let code = TotpCode::parse(&want[2..]).unwrap();
            assert_eq!(rfc_secret().verify(&code, t, None), Ok(t / STEP_SECS));
        }
    }

    #[test]
    fn one_step_of_skew_either_side_and_no_more() {
        let s = rfc_secret();
        let t = 1_234_567_890;
        let code = TotpCode::parse(&s.code_at(t)).unwrap();
        assert!(s.verify(&code, t + STEP_SECS, None).is_ok(), "one step late");
        assert!(s.verify(&code, t - STEP_SECS, None).is_ok(), "one step early");
        assert_eq!(s.verify(&code, t + 2 * STEP_SECS, None), Err(CodeRejected::Wrong));
        assert_eq!(s.verify(&code, t - 2 * STEP_SECS, None), Err(CodeRejected::Wrong));
    }

    #[test]
    fn a_code_is_accepted_once() {
        let s = rfc_secret();
        let t = 1_234_567_890;
        let code = TotpCode::parse(&s.code_at(t)).unwrap();
        let step = s.verify(&code, t, None).unwrap();
        assert_eq!(s.verify(&code, t, Some(step)), Err(CodeRejected::Replayed));
        // Still a replay seconds later, inside the skew window.
        assert_eq!(s.verify(&code, t + 20, Some(step)), Err(CodeRejected::Replayed));
        // The next step's code is fresh.
        let next = TotpCode::parse(&s.code_at(t + STEP_SECS)).unwrap();
        assert_eq!(s.verify(&next, t + STEP_SECS, Some(step)), Ok(step + 1));
    }

    #[test]
    fn codes_parse_as_people_type_them() {
        assert!(TotpCode::parse("123 456").is_ok());
        assert!(TotpCode::parse(" 123-456 ").is_ok());
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "123\n456x"] {
            assert_eq!(TotpCode::parse(bad), Err(MalformedCode), "{bad:?}");
        }
        assert_eq!(
            format!("{:?}", TotpCode::parse("123456").unwrap()),
            "TotpCode([redacted])"
        );
    }

    #[test]
    fn secrets_are_random_sized_and_never_print() {
        let a = TotpSecret::generate();
        assert_ne!(a, TotpSecret::generate());
        assert_eq!(a.expose().len(), SECRET_BYTES);
        assert_eq!(a.base32().len(), 32, "160 bits is 32 base32 characters");
        assert_eq!(a.base32_grouped().split(' ').count(), 8);
        assert!(!format!("{a:?}").contains(a.base32().as_str()));
        assert_eq!(TotpSecret::from_bytes(&[0; 19]), Err(MalformedSecret));
    }

    #[test]
    fn the_compact_svg_draws_exactly_the_dark_modules() {
        let code =
            QrCode::with_error_correction_level(b"otpauth://totp/Example:a@b.c?secret=ABC", EcLevel::M)
                .unwrap();
        let svg = compact_svg(&code);
        let path = svg.split("d=\"").nth(1).unwrap().split('"').next().unwrap();
        let width = code.width();
        let mut drawn = vec![qrcode::Color::Light; width * width];
        for run in path.split('M').filter(|r| !r.is_empty()) {
            // M{x},{y}h{n}v1h-{n}z
            let (xy, rest) = run.split_once('h').unwrap();
            let (x, y) = xy.split_once(',').unwrap();
            let n: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            let (x, y): (usize, usize) = (x.parse::<usize>().unwrap() - 4, y.parse::<usize>().unwrap() - 4);
            for dx in 0..n {
                drawn[y * width + x + dx] = qrcode::Color::Dark;
            }
        }
        assert_eq!(drawn, code.to_colors());
        assert!(svg.contains(&format!("viewBox=\"0 0 {s} {s}\"", s = width + 8)));
    }

    #[test]
    fn the_uri_and_qr_code_name_issuer_and_account() {
        let s = rfc_secret();
        let issuer = Issuer::parse("Example Co").unwrap();
        let uri = s.otpauth_uri(&issuer, "someone@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Example%20Co:someone%40example.com?"),
            "{}",
            *uri
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{}",
            *uri
        );
        assert!(uri.contains("issuer=Example%20Co"), "{}", *uri);
        let svg = s.qr_svg(&issuer, "someone@example.com");
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{}", &svg[..60]);
        assert_eq!(Issuer::parse("a:b"), Err(BadIssuer::Colon));
        assert_eq!(Issuer::parse("  "), Err(BadIssuer::Empty));
    }
}
