//! The one place errors become responses: RFC 9457 problem documents
//! (`application/problem+json`) with the stable [`ErrorCode`] as the `code` extension member and a
//! short `detail` for people. Internal detail is logged here, once, and never sent.
//!
//! Deliberately one file, a little past the usual size: every error of every layer meets its
//! status, code, headers and log line here, so a reviewer audits what clients can see in one place.

use crate::http::waiting::TICKET_HEADER;
use crate::waiting::room::Turn;
use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use super::pages::{self, Site};
use crate::admission::rate_limit::Rejection;
use crate::error_code::ErrorCode;
use crate::i18n::Locale;
use crate::reset::password::PolicyViolation;
use crate::reset::{factor, service};
use crate::secret::SecretString;
use crate::storage::store::StoreError;

pub type HttpResponse = Response<Full<Bytes>>;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Problem type URIs are `TYPE_PREFIX` + code. A tag URI (RFC 4151): an identifier that clients
/// compare, not a link to fetch, so it stays valid wherever the docs live.
pub const TYPE_PREFIX: &str = "tag:resetgate,2026:problem/";

/// The body of every error response, members in the RFC's order, extensions last.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'static str,
    status: u16,
    detail: String,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    limiter: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// `mfa_required` on login: the single-use challenge to send with the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_expires_in: Option<u64>,
    /// `hashing_overloaded` with a place in line: the ticket to retry with (also in the
    /// `Resetgate-Ticket` header) and how many are ahead.
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ahead: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Refused input or an admin-API refusal that its code describes; `detail` is for people and
    /// holds nothing internal (e.g. serde's field and position, or which scope forms exist).
    #[error("{detail}")]
    Rejected { code: ErrorCode, detail: String },
    #[error("request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("no such endpoint")]
    NotFound,
    /// The methods the path does take, for the `Allow` header.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    #[error(transparent)]
    Policy(PolicyViolation),
    #[error("reset token is invalid, used or expired")]
    TokenInvalid,
    #[error("email or password is wrong")]
    InvalidCredentials,
    /// A session that may only enrol a second factor (a campaign requires one).
    #[error("this account must turn on two-step verification before the session can be used")]
    TwoStepSetupRequired,
    /// The admin API without a valid admin token. Says nothing about why.
    #[error("authentication required")]
    Unauthorized,
    #[error("session is invalid or expired")]
    SessionInvalid,
    /// The password was right; a code must follow with `challenge` (`None` where the code goes
    /// in the same request, as on reset confirm).
    #[error("a second-factor code is required")]
    MfaRequired {
        challenge: Option<SecretString>,
        expires_in_secs: u64,
    },
    #[error("the code is wrong or was already used")]
    MfaCodeInvalid,
    #[error("the sign-in challenge is invalid, used or expired: sign in again")]
    MfaChallengeInvalid,
    #[error("too many wrong codes: try again later, or use a recovery code then")]
    MfaLocked { retry_after_secs: u64 },
    #[error("a second factor is already enrolled")]
    MfaAlreadyEnrolled,
    #[error("no enrolment is in progress: start one first")]
    MfaNotEnrolling,
    #[error("no second factor is enrolled")]
    MfaNotEnrolled,
    #[error("service temporarily unavailable, retry shortly")]
    Unavailable,
    #[error("not ready")]
    NotReady(&'static str),
    #[error("request took too long")]
    Timeout,
    #[error("server is overloaded, retry shortly")]
    Overloaded,
    /// A rate limiter refused the request; `limiter` names which (global, ip, email).
    #[error("too many requests, retry later")]
    RateLimited {
        limiter: &'static str,
        retry_after_secs: u64,
    },
    /// Hashing capacity is exhausted; retry after the given number of seconds.
    #[error("too many password operations right now, retry shortly")]
    HashingOverloaded { retry_after_secs: u64 },
    /// Hashing capacity is exhausted and the client has a place in line: come back after
    /// `Retry-After` with the ticket.
    #[error("too many password operations right now: you have a place in line, retry after Retry-After with the ticket")]
    InLine(Turn),
    #[error("internal error")]
    Internal,
}

/// The status every response with this code has: one status per code, so a client may branch on
/// either.
#[must_use]
pub const fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::MalformedJson
        | C::InvalidRequest
        | C::BodyReadFailed
        | C::InvalidEmail
        | C::TokenInvalidOrExpired
        | C::InvalidScope
        | C::InvalidReason => StatusCode::BAD_REQUEST,
        C::InvalidCredentials
        | C::SessionInvalid
        | C::Unauthorized
        | C::MfaRequired
        | C::MfaCodeInvalid
        | C::MfaChallengeInvalid => StatusCode::UNAUTHORIZED,
        C::TwoStepSetupRequired => StatusCode::FORBIDDEN,
        C::NotFound | C::CampaignNotFound | C::AccountNotFound => StatusCode::NOT_FOUND,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::InvalidTransition | C::MfaAlreadyEnrolled | C::MfaNotEnrolling | C::MfaNotEnrolled => {
            StatusCode::CONFLICT
        }
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::PasswordTooShort | C::PasswordTooLong | C::PasswordBlocklisted | C::PasswordMatchesEmail => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        C::RateLimited | C::MfaLocked => StatusCode::TOO_MANY_REQUESTS,
        C::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        C::CampaignsNeedPostgres => StatusCode::NOT_IMPLEMENTED,
        C::ServiceUnavailable | C::Overloaded | C::HashingOverloaded | C::Timeout | C::NotReady => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// The problem type's title: the same for every occurrence of the code (RFC 9457 §3.1.3), while
/// `detail` speaks of this occurrence.
#[must_use]
pub const fn title_of(code: ErrorCode) -> &'static str {
    use ErrorCode as C;
    match code {
        C::MalformedJson => "Malformed JSON",
        C::InvalidRequest => "Invalid request",
        C::BodyReadFailed => "Unreadable request body",
        C::InvalidEmail => "Invalid email address",
        C::TokenInvalidOrExpired => "Reset token invalid or expired",
        C::InvalidScope => "Invalid campaign scope",
        C::InvalidReason => "Invalid campaign reason",
        C::InvalidCredentials => "Invalid credentials",
        C::SessionInvalid => "Session invalid",
        C::Unauthorized => "Unauthorized",
        C::TwoStepSetupRequired => "Two-step verification setup required",
        C::NotFound => "Not found",
        C::CampaignNotFound => "Campaign not found",
        C::AccountNotFound => "Account not found",
        C::MethodNotAllowed => "Method not allowed",
        C::InvalidTransition => "Invalid campaign transition",
        C::PayloadTooLarge => "Payload too large",
        C::UnsupportedMediaType => "Unsupported media type",
        C::PasswordTooShort => "Password too short",
        C::PasswordTooLong => "Password too long",
        C::PasswordBlocklisted => "Password too common",
        C::PasswordMatchesEmail => "Password matches the email address",
        C::MfaRequired => "Second factor required",
        C::MfaCodeInvalid => "Second-factor code invalid",
        C::MfaChallengeInvalid => "Sign-in challenge invalid or expired",
        C::MfaLocked => "Second factor locked",
        C::MfaAlreadyEnrolled => "Second factor already enrolled",
        C::MfaNotEnrolling => "No enrolment in progress",
        C::MfaNotEnrolled => "No second factor enrolled",
        C::RateLimited => "Too many requests",
        C::InternalError => "Internal error",
        C::CampaignsNeedPostgres => "Campaigns need PostgreSQL",
        C::ServiceUnavailable => "Service unavailable",
        C::Overloaded => "Overloaded",
        C::HashingOverloaded => "Hashing overloaded",
        C::Timeout => "Request timed out",
        C::NotReady => "Not ready",
    }
}

/// The code of a password-policy refusal. The domain keeps its own spelling for the CLI; a unit
/// test holds the two equal.
const fn policy_code(v: PolicyViolation) -> ErrorCode {
    match v {
        PolicyViolation::TooShort { .. } => ErrorCode::PasswordTooShort,
        PolicyViolation::TooLong { .. } => ErrorCode::PasswordTooLong,
        PolicyViolation::Blocklisted => ErrorCode::PasswordBlocklisted,
        PolicyViolation::MatchesEmail => ErrorCode::PasswordMatchesEmail,
    }
}

impl Error {
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected { code, .. } => *code,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::NotFound => ErrorCode::NotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::Policy(v) => policy_code(*v),
            Self::TokenInvalid => ErrorCode::TokenInvalidOrExpired,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::TwoStepSetupRequired => ErrorCode::TwoStepSetupRequired,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::SessionInvalid => ErrorCode::SessionInvalid,
            Self::MfaRequired { .. } => ErrorCode::MfaRequired,
            Self::MfaCodeInvalid => ErrorCode::MfaCodeInvalid,
            Self::MfaChallengeInvalid => ErrorCode::MfaChallengeInvalid,
            Self::MfaLocked { .. } => ErrorCode::MfaLocked,
            Self::MfaAlreadyEnrolled => ErrorCode::MfaAlreadyEnrolled,
            Self::MfaNotEnrolling => ErrorCode::MfaNotEnrolling,
            Self::MfaNotEnrolled => ErrorCode::MfaNotEnrolled,
            Self::Unavailable => ErrorCode::ServiceUnavailable,
            Self::NotReady(_) => ErrorCode::NotReady,
            Self::Timeout => ErrorCode::Timeout,
            Self::Overloaded => ErrorCode::Overloaded,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::HashingOverloaded { .. } | Self::InLine(_) => ErrorCode::HashingOverloaded,
            Self::Internal => ErrorCode::InternalError,
        }
    }

    #[must_use]
    pub fn into_response(self) -> HttpResponse {
        let code = self.code();
        let status = status_of(code);
        let body = Problem {
            type_uri: format!("{TYPE_PREFIX}{code}"),
            title: title_of(code),
            status: status.as_u16(),
            detail: self.to_string(),
            code: code.as_str(),
            limiter: match &self {
                Self::RateLimited { limiter, .. } => Some(limiter),
                _ => None,
            },
            reason: match &self {
                Self::NotReady(reason) => Some(reason),
                _ => None,
            },
            challenge: match &self {
                Self::MfaRequired { challenge, .. } => challenge.as_ref().map(SecretString::expose),
                _ => None,
            },
            challenge_expires_in: match &self {
                Self::MfaRequired {
                    challenge: Some(_),
                    expires_in_secs,
                } => Some(*expires_in_secs),
                _ => None,
            },
            ticket: match &self {
                Self::InLine(turn) => Some(turn.ticket.as_str()),
                _ => None,
            },
            ahead: match &self {
                Self::InLine(turn) => Some(turn.ahead),
                _ => None,
            },
        };
        // Serialising a struct of strings and an integer cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = body_response(status, PROBLEM_JSON, body);
        // Left for the observe layer, which counts errors by code without parsing the body.
        resp.extensions_mut().insert(code);
        let h = resp.headers_mut();
        match self {
            Self::Unavailable | Self::Timeout | Self::Overloaded | Self::NotReady(_) => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::HashingOverloaded { retry_after_secs }
            | Self::RateLimited { retry_after_secs, .. }
            | Self::MfaLocked { retry_after_secs } => {
                h.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
            }
            Self::InLine(turn) => {
                h.insert(RETRY_AFTER, HeaderValue::from(turn.retry_after.as_secs().max(1)));
                // Base64url: always a valid header value.
                if let Ok(v) = HeaderValue::from_str(&turn.ticket) {
                    h.insert(TICKET_HEADER, v);
                }
            }
            Self::MethodNotAllowed(allow) => {
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    h.insert(ALLOW, v);
                }
            }
            Self::InvalidCredentials
            | Self::SessionInvalid
            | Self::Unauthorized
            | Self::MfaRequired { .. }
            | Self::MfaCodeInvalid
            | Self::MfaChallengeInvalid => {
                h.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp
    }
}

impl Error {
    /// The same error as a small page, for a browser: what happened and, when the server said when
    /// to retry, a `<meta http-equiv="refresh">` that retries by itself.
    #[must_use]
    pub fn into_page(self, site: &Site, locale: Locale) -> HttpResponse {
        as_page(self.into_response(), site, locale)
    }
}

/// Re-renders a problem response as a page in `locale`, keeping its status, code and headers
/// (`Retry-After`, `Allow`, ...). Anything that is not an error response passes through unchanged.
#[must_use]
pub fn as_page(resp: HttpResponse, site: &Site, locale: Locale) -> HttpResponse {
    let Some(code) = resp.extensions().get::<ErrorCode>().copied() else {
        return resp;
    };
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (title, body, refresh) = match status {
        StatusCode::TOO_MANY_REQUESTS => ("limited-title", "limited-body", retry_after),
        StatusCode::SERVICE_UNAVAILABLE => ("busy-title", "busy-body", retry_after),
        _ => ("error-title", "error-body", None),
    };
    let ui = site.ui(locale);
    let mut page = pages::html(status, &pages::Message::new(&ui, title, body, refresh));
    page.extensions_mut().insert(code);
    for name in [RETRY_AFTER, ALLOW, WWW_AUTHENTICATE] {
        if let Some(v) = resp.headers().get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    page
}

/// What a browser gets when it is shed or rate limited: a page in its language rather than a
/// JSON blob. `page` is `None` for a client that prefers JSON; every other response, and every
/// response to such a client, is left as it is.
#[must_use]
pub fn for_client(resp: HttpResponse, page: Option<(&Site, Locale)>) -> HttpResponse {
    let shed_or_limited = matches!(
        resp.status(),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    );
    // A page already (the waiting room's "you're in line") stays as it is.
    let is_page = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    match page {
        Some((site, locale)) if shed_or_limited && !is_page => as_page(resp, site, locale),
        _ => resp,
    }
}

/// A JSON response that no cache may keep: these bodies carry session tokens and account state.
#[must_use]
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    body_response(status, "application/json", body.to_string().into_bytes())
}

/// 204: done, nothing to say.
#[must_use]
pub fn no_content() -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn body_response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "store unavailable");
                Self::Unavailable
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::Internal
            }
        }
    }
}

impl From<service::Error> for Error {
    fn from(e: service::Error) -> Self {
        match e {
            service::Error::TokenInvalid => Self::TokenInvalid,
            service::Error::Policy(v) => Self::Policy(v),
            service::Error::InvalidCredentials => Self::InvalidCredentials,
            service::Error::SessionInvalid => Self::SessionInvalid,
            service::Error::ChallengeInvalid => Self::MfaChallengeInvalid,
            service::Error::SecondFactorRequired => Self::MfaRequired {
                challenge: None,
                expires_in_secs: 0,
            },
            service::Error::Factor(e) => e.into(),
            service::Error::Store(e) => e.into(),
            service::Error::RateLimited { retry_after } => Self::RateLimited {
                limiter: "email",
                retry_after_secs: retry_after.as_secs() + 1,
            },
            // Rounded up, not padded: a guesser told the exact slot gains nothing, and an owner
            // who waits as told is let in.
            service::Error::LoginThrottled { retry_after } => Self::RateLimited {
                limiter: "account",
                retry_after_secs: (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1),
            },
            service::Error::Overloaded { retry_after } => Self::HashingOverloaded {
                retry_after_secs: retry_after.as_secs().max(1),
            },
            service::Error::Hash(e) => {
                tracing::error!(error = %e, "hashing failed");
                Self::Internal
            }
        }
    }
}

impl From<factor::Error> for Error {
    fn from(e: factor::Error) -> Self {
        match e {
            factor::Error::Wrong | factor::Error::Replayed => Self::MfaCodeInvalid,
            factor::Error::Locked { retry_after_secs } => Self::MfaLocked { retry_after_secs },
            factor::Error::AlreadyEnrolled => Self::MfaAlreadyEnrolled,
            factor::Error::NotEnrolling => Self::MfaNotEnrolling,
            factor::Error::NotEnrolled => Self::MfaNotEnrolled,
            factor::Error::Unreadable => {
                tracing::error!("a stored second-factor secret does not open (tampered, or its key is gone)");
                Self::Internal
            }
            factor::Error::Store(e) => e.into(),
        }
    }
}

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Self {
        Self::RateLimited {
            limiter: r.limiter,
            // Rounded up: retrying at the truncated second would be refused again.
            retry_after_secs: r.retry_after.as_secs() + 1,
        }
    }
}

/// Errors raised by the middleware layers (timeout, load shed, rate limits) rather than by
/// handlers.
///
/// # Errors
/// Never: the error type stays `BoxError` only because `MapResult::poll_ready` converts with `From`.
#[allow(clippy::needless_pass_by_value, clippy::unnecessary_wraps)] // signature fixed by `map_result`
pub fn from_middleware(
    result: Result<HttpResponse, tower::BoxError>,
) -> Result<HttpResponse, tower::BoxError> {
    Ok(result.unwrap_or_else(|e| {
        if let Some(r) = e.downcast_ref::<Rejection>() {
            Error::from(*r).into_response()
        } else if e.is::<tower::timeout::error::Elapsed>() {
            Error::Timeout.into_response()
        } else if e.is::<tower::load_shed::error::Overloaded>() {
            Error::Overloaded.into_response()
        } else {
            tracing::error!(error = %e, "middleware error");
            Error::Internal.into_response()
        }
    }))
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use serde_json::json;

    use super::*;

    async fn body(resp: HttpResponse) -> serde_json::Value {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn errors_are_problem_documents_with_the_code_as_extension() {
        let resp = Error::RateLimited {
            limiter: "ip",
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(resp.headers()[RETRY_AFTER], "7");
        assert_eq!(
            resp.extensions().get::<ErrorCode>(),
            Some(&ErrorCode::RateLimited)
        );
        assert_eq!(
            body(resp).await,
            json!({
                "type": "tag:resetgate,2026:problem/rate_limited",
                "title": "Too many requests",
                "status": 429,
                "detail": "too many requests, retry later",
                "code": "rate_limited",
                "limiter": "ip",
            })
        );
    }

    #[tokio::test]
    async fn internal_errors_say_nothing_internal() {
        let resp = Error::from(StoreError::Unavailable("password=hunter2 host=db".into())).into_response();
        assert_eq!(resp.status(), 503);
        let text = body(resp).await.to_string();
        assert!(!text.contains("hunter2") && !text.contains("host=db"), "{text}");
    }

    #[test]
    fn policy_codes_match_the_domain_spelling() {
        for v in [
            PolicyViolation::TooShort { min: 15 },
            PolicyViolation::TooLong { max: 64 },
            PolicyViolation::Blocklisted,
            PolicyViolation::MatchesEmail,
        ] {
            assert_eq!(policy_code(v).as_str(), v.code());
        }
    }

    #[test]
    fn a_rejection_rounds_its_wait_up() {
        let e = Error::from(Rejection {
            limiter: "global",
            retry_after: std::time::Duration::from_millis(300),
        });
        assert!(matches!(
            e,
            Error::RateLimited {
                limiter: "global",
                retry_after_secs: 1
            }
        ));
    }
}
