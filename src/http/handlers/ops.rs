//! Liveness, readiness, metrics and the API document.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
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
    if !state.readiness.store_ok(state.service.store.as_ref()).await {
        return Err(Error::NotReady("database_unreachable"));
    }
    Ok(json_response(StatusCode::OK, &json!({ "status": "ready" })))
}

/// Gauges that are cheaper to read at scrape time than to keep current.
fn refresh(state: &AppState) {
    let m = &state.metrics;
    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    if let Some(p) = state.service.store.pool_status() {
        m.db_pool_max.set(gauge(p.max_size));
        m.db_pool_size.set(gauge(p.size));
        m.db_pool_available.set(gauge(p.available));
        m.db_pool_waiting.set(gauge(p.waiting));
    }
    state.limits.publish_keys();
    if let Some(pool) = state.service.hasher.pool() {
        let workers = pool.config().workers;
        m.hash_workers.set(gauge(workers));
        m.hash_queue_budget.set(pool.config().queue_budget.as_secs_f64());
        let secs = pool.hash_time().as_secs_f64();
        if secs > 0.0 {
            #[allow(clippy::cast_precision_loss)]
            m.hash_capacity.set(workers as f64 / secs);
        }
    }
}

pub fn metrics(state: &AppState) -> HttpResponse {
    refresh(state);
    let mut resp = Response::new(Full::new(Bytes::from(state.metrics.render())));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// The API contract. docs/openapi.json is the one source: compiled in, so the document served is
/// byte for byte the one checked in and reviewed.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

#[must_use]
pub fn openapi() -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from_static(OPENAPI_JSON.as_bytes())));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Changes only with the binary; a client may keep it but should ask again after a deploy.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
