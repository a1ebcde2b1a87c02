//! The address typed on the sign-in form, kept while its owner waits in line, so that the form
//! the "You're in line" page refreshes to already holds it and only the password is typed again
//! (the password is never kept anywhere).
//!
//! Kept in a cookie sealed with the service's AEAD key (XChaCha20-Poly1305 via
//! [`Sealer::seal_bytes`], bound to this purpose): the browser holds it, so no replica needs to
//! remember anyone, yet the address is readable neither by a script (`HttpOnly`) nor on the
//! wire or in a proxy's log should the cookie leak, and a cookie that was tampered with, or sealed
//! for another purpose, is simply no address. It lives as long as the ticket and is cleared once
//! the sign-in goes through.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderMap;
use url::Url;

use super::session_cookie;
use crate::mail::seal::Sealer;
use crate::reset::email::EmailAddress;

pub const NAME: &str = "rg_sign_in_email";
/// What the sealed value is for: a sealed outbox secret is not an address to show on a form.
const PURPOSE: &[u8] = b"resetgate sign-in email v1";

/// The `Set-Cookie` value that keeps `email` for `max_age_secs`.
#[must_use]
pub fn set(sealer: &Sealer, email: &EmailAddress, base: &Url, max_age_secs: u64) -> String {
    let value = URL_SAFE_NO_PAD.encode(sealer.seal_bytes(email.as_str().as_bytes(), PURPOSE));
    cookie(&value, base, max_age_secs)
}

/// The `Set-Cookie` value that forgets it.
#[must_use]
pub fn clear(base: &Url) -> String {
    cookie("", base, 0)
}

fn cookie(value: &str, base: &Url, max_age_secs: u64) -> String {
    let secure = if base.scheme() == "https" { "; Secure" } else { "" };
    format!(
        "{NAME}={value}; Path={}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}",
        base.path()
    )
}

/// The remembered address, when the request carries a cookie this service sealed for it.
#[must_use]
pub fn read(sealer: &Sealer, headers: &HeaderMap) -> Option<EmailAddress> {
    let bytes = URL_SAFE_NO_PAD
        .decode(session_cookie::value(headers, NAME)?)
        .ok()?;
    let plain = sealer.open_bytes(&bytes, PURPOSE).ok()?;
    EmailAddress::parse(std::str::from_utf8(&plain).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use http::header::COOKIE;
    use http::HeaderValue;

    use super::*;
    use crate::secret::SecretString;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn the_address_comes_back_only_from_our_own_sealed_cookie() {
        let sealer = Sealer::new(&SecretString::new("pepper-a".into()));
        let other = Sealer::new(&SecretString::new("pepper-b".into()));
        let base = Url::parse("https://example.com/account/").unwrap();
        let email = EmailAddress::parse("Ann@Example.com").unwrap();
        let set = set(&sealer, &email, &base, 120);
        assert!(
            set.ends_with("; Path=/account/; Max-Age=120; HttpOnly; SameSite=Strict; Secure"),
            "{set}"
        );
        assert!(!set.to_lowercase().contains("ann"), "sealed, not readable: {set}");
        let value = set.split(';').next().unwrap();
        let back = read(&sealer, &headers(&format!("a=b; {value}"))).unwrap();
        assert_eq!(back.as_str(), email.as_str());

        assert!(read(&other, &headers(value)).is_none(), "another key");
        let (name, encoded) = value.split_once('=').unwrap();
        let mut flipped = encoded.to_owned().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{name}={}", String::from_utf8(flipped).unwrap());
        for junk in [
            flipped.as_str(),
            "rg_sign_in_email=",
            "rg_sign_in_email=!!!",
            "rg_sign_in_email=aGVsbG8",
        ] {
            assert!(read(&sealer, &headers(junk)).is_none(), "{junk:?}");
        }
        // Sealed for another purpose: not an address.
        let foreign = URL_SAFE_NO_PAD.encode(sealer.seal_bytes(b"ann@example.com", b"other"));
        assert!(read(&sealer, &headers(&format!("{NAME}={foreign}"))).is_none());
        assert!(clear(&base).contains("Max-Age=0"));
    }
}
