//! Liveness, readiness and metrics.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::http::errors::{json_response, Error, HttpResponse};
use crate::http::state::AppState;

/// The process is up and serving; says nothing about dependencies (a restart would not fix them).
#[must_use]
pub fn livez() -> HttpResponse {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

/// Ready for new traffic: not draining and the store answers.
pub async fn readyz(state: Arc<AppState>) -> Result<HttpResponse, Error> {
    if state.shutdown.is_cancelled() {
        return Err(Error::NotReady("draining"));
    }
    if let Err(e) = state.service.store.ping().await {
        tracing::warn!(error = %e, "readiness: store unreachable");
        return Err(Error::NotReady("database_unreachable"));
    }
    Ok(json_response(StatusCode::OK, &json!({ "status": "ready" })))
}

pub fn metrics(state: &AppState) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from(state.metrics.render())));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
