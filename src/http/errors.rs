//! The one place errors become responses. Clients get a stable machine-readable `code` and a short
//! message; internal detail is logged here, once, and never sent.

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::reset::password::PolicyViolation;
use crate::reset::service;
use crate::storage::store::StoreError;

pub type HttpResponse = Response<Full<Bytes>>;

/// The stable code of an error response, left in its extensions so the observe layer can count
/// errors by code (a fixed set of static strings, so the metric label stays bounded) without
/// parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

/// Codes that mean the gateway refused work to protect itself (load shedding), as opposed to
/// failing at it. Dashboards and alerts tell the two apart with these.
pub const SHED_CODES: [&str; 3] = ["hashing_overloaded", "overloaded", "timeout"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("no such endpoint")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error(transparent)]
    Policy(PolicyViolation),
    #[error("reset token is invalid, used or expired")]
    TokenInvalid,
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("this password must be changed: a reset link has been sent to the account's email")]
    PasswordResetRequired,
    /// The admin API without a valid admin token. Says nothing about why.
    #[error("authentication required")]
    Unauthorized,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    NotFoundCode { code: &'static str, message: String },
    #[error("{message}")]
    NotImplemented { code: &'static str, message: String },
    #[error("session is invalid or expired")]
    SessionInvalid,
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
    #[error("internal error")]
    Internal,
}

impl Error {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Policy(v) => (StatusCode::UNPROCESSABLE_ENTITY, v.code()),
            Self::TokenInvalid => (StatusCode::BAD_REQUEST, "token_invalid_or_expired"),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Self::PasswordResetRequired => (StatusCode::FORBIDDEN, "password_reset_required"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::NotFoundCode { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::NotImplemented { code, .. } => (StatusCode::NOT_IMPLEMENTED, code),
            Self::SessionInvalid => (StatusCode::UNAUTHORIZED, "session_invalid"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Self::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            Self::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            Self::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::HashingOverloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "hashing_overloaded"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    #[must_use]
    pub fn into_response(self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let mut body = json!({ "error": { "code": code, "message": self.to_string() } });
        match &self {
            Self::NotReady(reason) => body["error"]["reason"] = json!(reason),
            Self::RateLimited { limiter, .. } => body["error"]["limiter"] = json!(limiter),
            _ => {}
        }
        let mut resp = json_response(status, &body);
        resp.extensions_mut().insert(ErrorCode(code));
        let h = resp.headers_mut();
        match self {
            Self::Unavailable | Self::Timeout | Self::Overloaded | Self::NotReady(_) => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::HashingOverloaded { retry_after_secs } | Self::RateLimited { retry_after_secs, .. } => {
                h.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
            }
            Self::MethodNotAllowed(allow) => {
                h.insert(ALLOW, HeaderValue::from_static(allow));
            }
            Self::InvalidCredentials | Self::SessionInvalid | Self::Unauthorized => {
                h.insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp
    }
}

/// A JSON response that no cache may keep: these bodies carry session tokens and account state.
#[must_use]
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
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
            service::Error::PasswordResetRequired => Self::PasswordResetRequired,
            service::Error::SessionInvalid => Self::SessionInvalid,
            service::Error::Store(e) => e.into(),
            service::Error::RateLimited { retry_after } => Self::RateLimited {
                limiter: "email",
                retry_after_secs: retry_after.as_secs() + 1,
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

/// Errors raised by the middleware layers (timeout, load shed) rather than by handlers.
///
/// # Errors
/// Never: the error type stays `BoxError` only because `MapResult::poll_ready` converts with `From`.
#[allow(clippy::needless_pass_by_value, clippy::unnecessary_wraps)] // signature fixed by `map_result`
pub fn from_middleware(
    result: Result<HttpResponse, tower::BoxError>,
) -> Result<HttpResponse, tower::BoxError> {
    Ok(result.unwrap_or_else(|e| {
        if e.is::<tower::timeout::error::Elapsed>() {
            Error::Timeout.into_response()
        } else if e.is::<tower::load_shed::error::Overloaded>() {
            Error::Overloaded.into_response()
        } else {
            tracing::error!(error = %e, "middleware error");
            Error::Internal.into_response()
        }
    }))
}
