//! The second factor for a signed-in session: POST /v1/mfa/totp starts enrolment, POST
//! /v1/mfa/totp/confirm finishes it with the first code and returns the recovery codes (once),
//! DELETE /v1/mfa/totp removes it with a code, POST /v1/mfa/recovery-codes replaces the set.
//! Also the code fields every second-factor request shares (`code` or `recovery_code`).

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use crate::error_code::ErrorCode;
use crate::http::errors::{json_response, Error, HttpResponse};
use crate::http::extract;
use crate::http::state::AppState;
use crate::mfa::recovery::{MalformedRecoveryCode, RecoveryCode};
use crate::mfa::totp::{MalformedCode, TotpCode};
use crate::reset::factor::Proof;
use crate::secret::SecretString;
use crate::storage::store::Account;

/// `code` (six digits from the app) or `recovery_code`: exactly one.
#[derive(Deserialize)]
pub struct ProofFields {
    code: Option<SecretString>,
    recovery_code: Option<SecretString>,
}

fn invalid(detail: String) -> Error {
    Error::Rejected {
        code: ErrorCode::InvalidRequest,
        detail,
    }
}

impl ProofFields {
    /// Whether the request carries any proof (reset confirm takes one only for enrolled accounts).
    #[must_use]
    pub const fn present(&self) -> bool {
        self.code.is_some() || self.recovery_code.is_some()
    }
}

/// # Errors
/// `400 invalid_request` unless exactly one well-formed proof is present.
pub fn proof(fields: &ProofFields) -> Result<Proof, Error> {
    match (&fields.code, &fields.recovery_code) {
        (Some(code), None) => TotpCode::parse(code.expose())
            .map(Proof::Totp)
            .map_err(|e: MalformedCode| invalid(format!("code: {e}"))),
        (None, Some(code)) => RecoveryCode::parse(code.expose())
            .map(Proof::Recovery)
            .map_err(|e: MalformedRecoveryCode| invalid(format!("recovery_code: {e}"))),
        _ => Err(invalid("send either `code` or `recovery_code`".into())),
    }
}

/// The account of the request's session.
async fn signed_in<B>(state: &AppState, req: &Request<B>) -> Result<Account, Error> {
    let token = extract::bearer(req)?;
    let info = state.service.session(&token).await?;
    state
        .service
        .store
        .account_by_id(info.account_id)
        .await?
        .ok_or(Error::SessionInvalid)
}

fn codes_body(codes: &[RecoveryCode]) -> serde_json::Value {
    let shown: Vec<String> = codes.iter().map(|c| c.display().to_string()).collect();
    json!({ "recovery_codes": shown })
}

pub async fn begin(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let account = signed_in(&state, &req).await?;
    let e = state
        .service
        .factors
        .begin_enrolment(account.id, &account.email)
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "secret": e.secret_grouped.expose(),
            "otpauth_uri": e.otpauth_uri.expose(),
            "qr_svg": e.qr_svg.expose(),
        }),
    ))
}

#[derive(Deserialize)]
struct Confirm {
    code: SecretString,
}

pub async fn confirm(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let account = signed_in(&state, &req).await?;
    let body: Confirm = extract::json(req, state.body_limit).await?;
    let code = TotpCode::parse(body.code.expose()).map_err(|e| invalid(format!("code: {e}")))?;
    let codes = state.service.factors.confirm_enrolment(account.id, &code).await?;
    Ok(json_response(StatusCode::OK, &codes_body(&codes)))
}

pub async fn remove(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let account = signed_in(&state, &req).await?;
    let body: ProofFields = extract::json(req, state.body_limit).await?;
    state.service.factors.remove(account.id, &proof(&body)?).await?;
    Ok(json_response(StatusCode::OK, &json!({ "status": "removed" })))
}

pub async fn regenerate(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let account = signed_in(&state, &req).await?;
    let body: ProofFields = extract::json(req, state.body_limit).await?;
    let codes = state
        .service
        .factors
        .regenerate_recovery_codes(account.id, &proof(&body)?)
        .await?;
    Ok(json_response(StatusCode::OK, &codes_body(&codes)))
}
