//! POST /v1/login, POST /v1/login/mfa, GET /v1/session and POST /v1/logout.

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::mfa::{proof, ProofFields};
use crate::hashing::pool::Lane;
use crate::http::errors::{json_response, no_content, Error, HttpResponse};
use crate::http::extract;
use crate::http::state::AppState;
use crate::http::waiting;
use crate::reset::service::Login;
use crate::reset::token::BearerToken;
use crate::secret::SecretString;

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: SecretString,
}

#[derive(Deserialize)]
struct SecondStep {
    challenge: SecretString,
    #[serde(flatten)]
    proof: ProofFields,
}

/// `two_step_required`: the session serves enrolment only (`POST /v1/mfa/totp` and its
/// confirm) until a factor is on; `GET /v1/session` refuses it until then.
fn signed_in(session: &BearerToken, two_step_required: bool) -> HttpResponse {
    json_response(
        StatusCode::OK,
        &json!({
            "session_token": session.expose(),
            "token_type": "Bearer",
            "two_step_required": two_step_required,
        }),
    )
}

/// A right password for an enrolled account answers `401 mfa_required` with a challenge: no
/// session exists until the code arrives at /v1/login/mfa.
pub async fn login(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    // Only the ticket, not a copy of every header: this is the path a surge takes.
    let ticket = waiting::presented(req.headers(), Lane::Login);
    let body: LoginBody = extract::json(req, state.body_limit).await?;
    let email = extract::email(&body.email)?;
    let subject = email.as_str().as_bytes();
    let arrival = waiting::arrive(&state, ticket.as_deref(), Lane::Login, subject);
    let result = state.service.login(&email, &body.password, arrival.place()).await;
    match waiting::settle(&state, &arrival, subject, result).map_err(Error::InLine)?? {
        Login::Session {
            token,
            two_step_required,
        } => Ok(signed_in(&token, two_step_required)),
        Login::SecondFactor {
            challenge,
            expires_in,
        } => Err(Error::MfaRequired {
            challenge: Some(SecretString::new(challenge.expose().to_owned())),
            expires_in_secs: expires_in.as_secs(),
        }),
    }
}

pub async fn login_second_factor(
    state: Arc<AppState>,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    let body: SecondStep = extract::json(req, state.body_limit).await?;
    let challenge = BearerToken::parse(body.challenge.expose()).map_err(|_| Error::MfaChallengeInvalid)?;
    let proof = proof(&body.proof)?;
    let session = state.service.login_second_factor(&challenge, &proof).await?;
    // A factor is on, so nothing is owed.
    Ok(signed_in(&session, false))
}

pub async fn current(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let token = extract::bearer(&req)?;
    let info = state.service.session(&token).await?;
    if info.two_step_required {
        // Like Ory Kratos's `session_aal2_required` from whoami: the applications that trust
        // this answer hold the owner at enrolment, which the same session can do.
        return Err(Error::TwoStepSetupRequired);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "account_id": info.account_id,
            "expires_at": info.expires_at.to_rfc3339(),
            "idle_expires_at": info.idle_expires_at.to_rfc3339(),
            "amr": info.authn.amr(),
            "aal": info.authn.aal(),
        }),
    ))
}

/// Ends the bearer's session on the server. 204 whether or not it was live: the caller is signed
/// out either way, and a different answer would only confirm which tokens were once real.
pub async fn logout(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let token = extract::bearer(&req)?;
    state.service.end_session(&token).await?;
    Ok(no_content())
}
