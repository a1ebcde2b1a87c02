//! POST /v1/password-reset/request and /v1/password-reset/confirm.

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::mfa::{proof, ProofFields};
use crate::hashing::pool::Lane;
use crate::http::errors::{json_response, Error, HttpResponse};
use crate::http::extract;
use crate::http::pages::requested_locale;
use crate::http::state::AppState;
use crate::http::waiting;
use crate::reset::token::BearerToken;
use crate::secret::SecretString;

#[derive(Deserialize)]
struct ResetRequest {
    email: String,
}

#[derive(Deserialize)]
struct ResetConfirm {
    token: String,
    new_password: SecretString,
    /// Signing out everywhere is the safe default after a reset: whoever knew the old password
    /// may hold a session.
    #[serde(default = "yes")]
    sign_out_everywhere: bool,
    /// Required when the account has a second factor.
    #[serde(flatten)]
    proof: ProofFields,
}

fn yes() -> bool {
    true
}

/// The same status and body whether or not the account exists.
pub async fn request(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    // An API client that names a language of ours gets the mail in it (and the account keeps
    // it); without one the stored language stands.
    let locale = requested_locale(req.headers());
    let network = state.limits.client_network(&req);
    let body: ResetRequest = extract::json(req, state.body_limit).await?;
    let email = extract::email(&body.email)?;
    state.service.request_reset(&email, locale, network).await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({
            "status": "accepted",
            "message": "If an account exists for this address, a reset link is on its way."
        }),
    ))
}

pub async fn confirm(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    // Only the ticket, not a copy of every header: this is the path a surge takes.
    let ticket = waiting::presented(req.headers(), Lane::Confirm);
    let body: ResetConfirm = extract::json(req, state.body_limit).await?;
    let token = BearerToken::parse(&body.token).map_err(|_| Error::TokenInvalid)?;
    let proof = body.proof.present().then(|| proof(&body.proof)).transpose()?;
    let digest = token.digest();
    let subject = digest.as_bytes().as_slice();
    let arrival = waiting::arrive(&state, ticket.as_deref(), Lane::Confirm, subject);
    let result = state
        .service
        .confirm_reset(
            &token,
            &body.new_password,
            body.sign_out_everywhere,
            proof.as_ref(),
            arrival.place(),
        )
        .await;
    let done = waiting::settle(&state, &arrival, subject, result).map_err(Error::InLine)??;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "status": "password_changed",
            "signed_out_everywhere": done.signed_out,
            "two_step": done.two_step.as_str(),
        }),
    ))
}
