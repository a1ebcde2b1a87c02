//! The tower stack, outermost first. Each layer's position is deliberate:
//!
//! 1. observe: request id, trace span, HTTP metrics — outermost, so shed and timed-out requests
//!    are still counted and carry an id.
//! 2. split: probes and metrics (/livez, /readyz, /metrics) go straight to the router. They must
//!    answer when the API is saturated: an orchestrator that sees a shed liveness probe restarts a
//!    healthy pod in the middle of the surge it was built for.
//! 3. map_result: turns the errors of the layers below (timeout, shed, rate limits) into problem
//!    responses, through `errors::from_middleware`: no layer builds a response of its own.
//! 4. timeout: bounds a request's total time, including time spent waiting below.
//! 5. load_shed: answers 503 at once when the layer below is not ready, instead of queueing.
//! 6. rate limits (per client address, then global): a 429 costs two atomic operations and is
//!    decided before any database or hashing work. Below load_shed so that a saturated process
//!    sheds without touching limiter state.
//! 7. concurrency_limit: caps requests in flight. Below load_shed, so a full limit sheds rather
//!    than waits (a `ConcurrencyLimit` alone would queue without bound).
//! 8. router.
//!
//! Below observe, a client whose `Accept` prefers HTML (a browser) that is shed or rate limited
//! gets a small page in its language that retries by itself (`errors::for_client`); the JSON API
//! is unchanged.
//!
//! The body limit is applied where bodies are read (`extract::json`), so an oversize body gets the
//! same problem document as all other bad input. The per-address limit on reset emails needs the
//! body and must hold across replicas, so the reset flow enforces it in the store.
//!
//! The ops listener (/metrics and probes) gets only the observe layer: nothing there is
//! expensive, and a scrape must work when the API is saturated.

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryFutureExt as _;
use http::Request;
use hyper::body::Incoming;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt as _};

use super::errors::{self, HttpResponse};
use super::observe::ObserveLayer;
use super::pages::prefers_html;
use super::router::{is_operational, Listener, Router};
use super::state::AppState;
use crate::admission::rate_limit::RateLimitLayer;

pub type HttpService = BoxCloneSyncService<Request<Incoming>, HttpResponse, tower::BoxError>;

#[must_use]
pub fn build(state: Arc<AppState>, request_timeout: Duration, max_in_flight: usize) -> HttpService {
    let metrics = Arc::clone(&state.metrics);
    let limits = Arc::clone(&state.limits);
    let site = Arc::clone(&state.site);
    let router = Router::new(state, Listener::Public);
    let api: HttpService = BoxCloneSyncService::new(
        ServiceBuilder::new()
            .map_result(errors::from_middleware)
            .timeout(request_timeout)
            .load_shed()
            .layer(RateLimitLayer { limits })
            .concurrency_limit(max_in_flight)
            .service(router.clone()),
    );
    let ops: HttpService = BoxCloneSyncService::new(router.map_err(tower::BoxError::from));
    let split = tower::service_fn(move |req: Request<Incoming>| {
        let target = if is_operational(req.uri().path()) {
            ops.clone()
        } else {
            api.clone()
        };
        // A browser's language is negotiated here, before the limits, so its busy page speaks it.
        let page = prefers_html(req.headers()).then(|| (Arc::clone(&site), site.locale_for(req.headers())));
        target.oneshot(req).map_ok(move |resp| {
            errors::for_client(resp, page.as_ref().map(|(site, locale)| (&**site, *locale)))
        })
    });
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(ObserveLayer { metrics })
            .service(split),
    )
}

/// The ops listener's service (metrics and probes) or the admin listener's: observed but never
/// limited. The admin API is authenticated and used by a handful of operators; on breach day it
/// must answer while the public API sheds.
#[must_use]
pub fn build_internal(state: Arc<AppState>, listener: Listener) -> HttpService {
    let metrics = Arc::clone(&state.metrics);
    let router = Router::new(state, listener).map_err(tower::BoxError::from);
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(ObserveLayer { metrics })
            .service(router),
    )
}
