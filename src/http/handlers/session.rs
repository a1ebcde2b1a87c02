//! POST /v1/login, POST /v1/login/mfa and GET /v1/session.

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::mfa::{proof, ProofFields};
use crate::http::errors::{json_response, Error, HttpResponse};
use crate::http::extract;
use crate::http::state::AppState;
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

fn signed_in(session: &BearerToken) -> HttpResponse {
    json_response(
        StatusCode::OK,
        &json!({ "session_token": session.expose(), "token_type": "Bearer" }),
    )
}

/// A right password for an enrolled account answers `401 mfa_required` with a challenge: no
/// session exists until the code arrives at /v1/login/mfa.
pub async fn login(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let body: LoginBody = extract::json(req, state.body_limit).await?;
    let email = extract::email(&body.email)?;
    match state.service.login(&email, &body.password).await? {
        Login::Session(session) => Ok(signed_in(&session)),
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
    Ok(signed_in(&session))
}

pub async fn current(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let token = extract::bearer(&req)?;
    let info = state.service.session(&token).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "account_id": info.account_id,
            "expires_at": info.expires_at.to_rfc3339(),
            "amr": info.authn.amr(),
            "aal": info.authn.aal(),
        }),
    ))
}
