//! The HTML pages behind the emailed links (/forgot, /reset): askama templates, checked at
//! compile time and escaped automatically, in the browser's language (Fluent, `locales/`), one
//! stylesheet compiled into the binary plus the operator's optional brand stylesheet, and the
//! headers every page sends. docs/pages.md says what each page does and why.

pub mod remembered_email;
pub mod session_cookie;
mod site;
mod views;

use bytes::Bytes;
use http::header::{
    HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ORIGIN, REFERER,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;
use url::Url;

pub use self::site::{requested_locale, BrandCss, Site, Ui, MAX_BRAND_CSS_BYTES};
pub use self::views::{
    policy_text, violation_text, CodeField, Forgot, ForgotSent, InLine, Message, Page, Reset, ResetDone,
    ResetExpired, SignIn, SignInCode, TwoStep, TwoStepOn,
};
use super::errors::HttpResponse;

/// Nothing but our own stylesheets and our own form targets: no script can run, no third party is
/// contacted, and no other site may frame the page (clickjacking a password form).
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../../assets/style.css");

/// Relative, so the pages work under a base URL with a path (`https://example.com/account/`).
/// The version in the query changes the URL on every release, so the long cache never serves an
/// old stylesheet to a new page.
pub const STYLESHEET_HREF: &str = concat!("assets/style.css?v=", env!("CARGO_PKG_VERSION"));

const YEAR_IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Renders a page with the headers every page sends.
#[must_use]
pub fn html(status: StatusCode, page: &impl Page) -> HttpResponse {
    // The templates only interpolate strings and numbers into static text; askama's own error
    // (a failing `Display`) cannot happen. Should it, an empty 500 beats a panic.
    let (status, body) = match page.render() {
        Ok(body) => (status, body),
        Err(e) => {
            tracing::error!(error = %e, "page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, String::new())
        }
    };
    for e in page.ui().take_errors() {
        // Cannot happen with the shipped catalogs (the unit tests render every page in every
        // language); the page went out with the reference wording where a message was missing.
        tracing::error!(error = %e, "page message did not format");
    }
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Pages hold tokens (the reset form) and account addresses: no cache may keep them.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(h);
    resp
}

/// `303 See Other` to `location` (absolute, from the public base URL), optionally setting the
/// session cookie: where a form post lands when it succeeds.
#[must_use]
pub fn see_other(location: &Url, set_cookie: Option<&str>) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location.as_str()) {
        h.insert(http::header::LOCATION, v);
    }
    if let Some(v) = set_cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(http::header::SET_COOKIE, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(h);
    resp
}

/// The headers of every page and of the stylesheets.
fn secure(h: &mut HeaderMap) {
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // The reset page's URL holds the token: no link or subresource may carry it elsewhere.
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

fn css(body: Bytes) -> HttpResponse {
    let mut resp = Response::new(Full::new(body));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(YEAR_IMMUTABLE));
    secure(h);
    resp
}

/// GET /assets/style.css: the one stylesheet, cached for a year (its URL changes per release).
#[must_use]
pub fn stylesheet() -> HttpResponse {
    css(Bytes::from_static(STYLESHEET.as_bytes()))
}

/// GET /assets/brand.css: the operator's stylesheet, read at start, cached for a year (its URL
/// carries its hash). Without one, an empty stylesheet that no cache keeps: pages do not link it
/// then, and the route answers the same way on every deployment.
#[must_use]
pub fn brand_stylesheet(site: &Site) -> HttpResponse {
    if let Some(c) = &site.brand_css {
        return css(c.body.clone());
    }
    let mut resp = css(Bytes::new());
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Whether the client would rather read HTML than JSON: a browser's `Accept` ranks `text/html`
/// above any range a JSON answer would match; API clients send `application/json`, `*/*` or
/// nothing. Other types do not compete: Chromium's navigations also accept `image/avif`,
/// `image/webp` and `image/apng` at q=1 (found by the Chromium tests, tests/api/browser/), and
/// an image is no alternative to a page.
#[must_use]
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut html = 0.0_f32;
    let mut other = 0.0_f32;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        // Compared in place: this runs on every request, sheds included, so it allocates nothing.
        let media = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if media.eq_ignore_ascii_case("text/html") || media.eq_ignore_ascii_case("application/xhtml+xml") {
            html = html.max(q);
        } else if [
            "application/json",
            "application/problem+json",
            "application/*",
            "*/*",
        ]
        .iter()
        .any(|json| media.eq_ignore_ascii_case(json))
        {
            other = other.max(q);
        }
    }
    html > 0.0 && html > other
}

/// The CSRF defence of the form POSTs: a strict same-origin check.
///
/// Why not a cookie-bound form token: nobody is signed in on these pages, so there is no session
/// for a token to bind to, and a token minted per form view would be a cookie we issue to every
/// scanner and visitor on breach day. A browser says where a form was posted from in `Origin`,
/// except that under our own `Referrer-Policy: no-referrer` the Fetch standard has it send
/// `Origin: null` for every POST, ours included (found by the Chromium tests, tests/api/browser/).
/// Then `Sec-Fetch-Site` decides: browsers set it themselves (no page script can), and only
/// `same-origin` means one of our pages sent the form. Older browsers without it fall back to
/// `Referer`. A request that proves none of this cannot be told from a forged one, so it is
/// refused. The expected origin is `RESETGATE_PUBLIC_BASE_URL`'s, never the Host header.
#[must_use]
pub fn same_origin(headers: &HeaderMap, base: &Url) -> bool {
    let expected = base.origin().ascii_serialization();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header(ORIGIN.as_str()) {
        Some("null") | None => {}
        Some(origin) => return origin == expected,
    }
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin";
    }
    header(REFERER.as_str())
        .and_then(|r| Url::parse(r).ok())
        .is_some_and(|r| r.origin().ascii_serialization() == expected)
}

#[cfg(test)]
mod tests {
    use http::header::HeaderName;

    use super::*;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn browsers_prefer_html_and_api_clients_do_not() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(&headers(&[(ACCEPT, browser)])));
        assert!(!prefers_html(&headers(&[(ACCEPT, "*/*")])));
        assert!(!prefers_html(&headers(&[(ACCEPT, "application/json")])));
        assert!(!prefers_html(&headers(&[(
            ACCEPT,
            "application/json, text/html;q=0.5"
        )])));
        assert!(!prefers_html(&headers(&[(ACCEPT, "text/html;q=0")])));
        assert!(!prefers_html(&HeaderMap::new()));
        // Chromium's navigations, images at q=1 included.
        assert!(prefers_html(&headers(&[(
            ACCEPT,
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,\
             application/signed-exchange;v=b3;q=0.7"
        )])));
        assert!(!prefers_html(&headers(&[(ACCEPT, "text/html, */*")])));
        assert!(!prefers_html(&headers(&[(ACCEPT, "image/webp")])));
        // Media types are case-insensitive (RFC 9110).
        assert!(prefers_html(&headers(&[(ACCEPT, "Text/HTML")])));
    }

    #[test]
    fn only_our_own_origin_may_post() {
        let base = Url::parse("https://example.com/account/").unwrap();
        assert!(same_origin(&headers(&[(ORIGIN, "https://example.com")]), &base));
        assert!(!same_origin(&headers(&[(ORIGIN, "https://evil.example")]), &base));
        assert!(!same_origin(&headers(&[(ORIGIN, "null")]), &base));
        assert!(!same_origin(&headers(&[(ORIGIN, "http://example.com")]), &base));
        // Origin decides when present, whatever Referer says.
        assert!(!same_origin(
            &headers(&[
                (ORIGIN, "https://evil.example"),
                (REFERER, "https://example.com/account/forgot")
            ]),
            &base
        ));
        assert!(same_origin(
            &headers(&[(REFERER, "https://example.com/account/forgot")]),
            &base
        ));
        assert!(!same_origin(
            &headers(&[(REFERER, "https://example.com.evil.example/")]),
            &base
        ));
        assert!(!same_origin(&HeaderMap::new(), &base));
        // What a browser sends from a page with `Referrer-Policy: no-referrer`: the origin is
        // hidden, and the browser's own Sec-Fetch-Site says whose page the form was on.
        let fetch_site = HeaderName::from_static("sec-fetch-site");
        assert!(same_origin(
            &headers(&[(ORIGIN, "null"), (fetch_site.clone(), "same-origin")]),
            &base
        ));
        for site in ["cross-site", "same-site", "none"] {
            assert!(
                !same_origin(&headers(&[(ORIGIN, "null"), (fetch_site.clone(), site)]), &base),
                "{site}"
            );
        }
        // A real origin decides, whatever Sec-Fetch-Site says.
        assert!(!same_origin(
            &headers(&[(ORIGIN, "https://evil.example"), (fetch_site, "same-origin")]),
            &base
        ));
    }
}
