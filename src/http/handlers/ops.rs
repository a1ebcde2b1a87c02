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
