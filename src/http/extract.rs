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
    // Refuse a declared oversize body before reading a byte of it.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge(limit));
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(Error::PayloadTooLarge(limit)),
        Err(_) => {
            return Err(Error::Rejected {
                code: ErrorCode::BodyReadFailed,
                detail: "could not read the request body".into(),
            })
        }
    };
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

fn is_json(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
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
