//! Reading request input. The body limit lives here rather than in a tower layer so that an
//! oversize body gets the same problem document as every other bad input.

use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::Request;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use super::errors::Error;
use crate::error_code::ErrorCode;
use crate::reset::email::EmailAddress;
use crate::reset::token::BearerToken;

/// Parses a JSON body of at most `limit` bytes into `T`.
///
/// # Errors
/// 415 without a JSON content type, 413 past the limit, 400 for bad JSON or missing fields.
pub async fn json<T: DeserializeOwned>(req: Request<Incoming>, limit: usize) -> Result<T, Error> {
    let (parts, body) = req.into_parts();
    if !is_json(&parts) {
        return Err(Error::UnsupportedMediaType);
    }
    let bytes = read_body(&parts, body, limit).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let code = if e.is_data() {
            ErrorCode::InvalidRequest
        } else {
            ErrorCode::MalformedJson
        };
        // serde's message names the field and position, never server internals.
        Error::Rejected {
            code,
            detail: e.to_string(),
        }
    })
}

/// Parses an HTML form's body (`application/x-www-form-urlencoded`) of at most `limit` bytes.
///
/// # Errors
/// 415 for another content type, 413 past the limit, 400 when the fields do not fit `T`.
pub async fn form<T: DeserializeOwned>(req: Request<Incoming>, limit: usize) -> Result<T, Error> {
    let (parts, body) = req.into_parts();
    if !has_media_type(&parts, "application/x-www-form-urlencoded") {
        return Err(Error::Rejected {
            code: ErrorCode::UnsupportedMediaType,
            detail: "a form must be sent as application/x-www-form-urlencoded".into(),
        });
    }
    let bytes = read_body(&parts, body, limit).await?;
    serde_urlencoded::from_bytes(&bytes).map_err(|e| Error::Rejected {
        code: ErrorCode::InvalidRequest,
        detail: e.to_string(),
    })
}

async fn read_body(parts: &Parts, body: Incoming, limit: usize) -> Result<bytes::Bytes, Error> {
    // Refuse a declared oversize body before reading a byte of it.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Error::PayloadTooLarge(limit)),
        Err(_) => Err(Error::Rejected {
            code: ErrorCode::BodyReadFailed,
            detail: "could not read the request body".into(),
        }),
    }
}

fn is_json(parts: &Parts) -> bool {
    has_media_type(parts, "application/json")
}

fn has_media_type(parts: &Parts, want: &str) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(want))
}

/// The bearer token of an `Authorization: Bearer ...` header.
///
/// # Errors
/// [`Error::SessionInvalid`] when the header is missing or not a token we could have issued.
pub fn bearer<B>(req: &Request<B>) -> Result<BearerToken, Error> {
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::SessionInvalid)?;
    let (scheme, token) = value.split_once(' ').ok_or(Error::SessionInvalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::SessionInvalid);
    }
    BearerToken::parse(token.trim()).map_err(|_| Error::SessionInvalid)
}

/// An email address from a request body.
///
/// # Errors
/// `400 invalid_email` when it cannot be an address (this says nothing about accounts).
pub fn email(raw: &str) -> Result<EmailAddress, Error> {
    EmailAddress::parse(raw).map_err(|e| Error::Rejected {
        code: ErrorCode::InvalidEmail,
        detail: e.to_string(),
    })
}
