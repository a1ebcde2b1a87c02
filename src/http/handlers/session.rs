//! POST /v1/login and GET /v1/session.

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use crate::http::errors::{json_response, Error, HttpResponse};
use crate::http::extract;
use crate::http::state::AppState;
use crate::secret::SecretString;

#[derive(Deserialize)]
struct Login {
    email: String,
    password: SecretString,
}

pub async fn login(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let body: Login = extract::json(req, state.body_limit).await?;
    let email = extract::email(&body.email)?;
    let session = state.service.login(&email, &body.password).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "session_token": session.expose(), "token_type": "Bearer" }),
    ))
}

pub async fn current(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let token = extract::bearer(&req)?;
    let info = state.service.session(&token).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "account_id": info.account_id, "expires_at": info.expires_at.to_rfc3339() }),
    ))
}
