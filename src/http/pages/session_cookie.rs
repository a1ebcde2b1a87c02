//! The account pages' session cookie: the same session token the API hands out, kept where no
//! script can read it (`HttpOnly`), sent only on requests from our own site (`SameSite=Strict`,
//! which with the Origin check on every form post keeps other sites from acting with it), scoped
//! to the public base URL's path, and `Secure` whenever the site is served over https.
//!
//! Parsed by hand: one name in one header needs no cookie crate (RFC 6265 section 5.4: pairs
//! separated by `; `).

use http::header::COOKIE;
use http::HeaderMap;
use url::Url;

use crate::reset::token::BearerToken;

pub const NAME: &str = "rg_session";

/// The `Set-Cookie` value that keeps `token` for `max_age_secs`.
#[must_use]
pub fn set(token: &BearerToken, base: &Url, max_age_secs: u64) -> String {
    let secure = if base.scheme() == "https" { "; Secure" } else { "" };
    format!(
        "{NAME}={}; Path={}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}",
        token.expose(),
        base.path()
    )
}

/// The `Set-Cookie` value that makes the browser drop the cookie at once (same name, path and
/// flags, so it replaces the one `set` made).
#[must_use]
pub fn clear(base: &Url) -> String {
    let secure = if base.scheme() == "https" { "; Secure" } else { "" };
    format!(
        "{NAME}=; Path={}; Max-Age=0; HttpOnly; SameSite=Strict{secure}",
        base.path()
    )
}

/// The session token of the request's cookie, when it has one of the right shape.
#[must_use]
pub fn read(headers: &HeaderMap) -> Option<BearerToken> {
    value(headers, NAME).and_then(|v| BearerToken::parse(v).ok())
}

/// The value of the request's cookie `name` (trimmed), the first when it is sent twice. Every
/// cookie this service reads goes through here.
#[must_use]
pub fn value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_cookie_is_strict_scoped_and_secure_on_https() {
        let t = BearerToken::generate();
        let https = set(&t, &Url::parse("https://example.com/account/").unwrap(), 60);
        assert!(
            https.ends_with("; Path=/account/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"),
            "{https}"
        );
        let http = set(&t, &Url::parse("http://127.0.0.1:8080/").unwrap(), 60);
        assert!(!http.contains("Secure"), "{http}");
        let gone = clear(&Url::parse("https://example.com/account/").unwrap());
        assert_eq!(
            gone,
            "rg_session=; Path=/account/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
        );

        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; {NAME}={}; c=d", t.expose())).unwrap(),
        );
        assert_eq!(read(&h).map(|r| r.digest().ct_eq(&t.digest())), Some(true));
        for junk in [
            "",
            "rg_session=",
            "rg_session=short",
            "other=x",
            "rg_sessionx=abc",
        ] {
            let mut h = HeaderMap::new();
            h.insert(COOKIE, HeaderValue::from_str(junk).unwrap());
            assert!(read(&h).is_none(), "{junk:?}");
        }
    }
}
