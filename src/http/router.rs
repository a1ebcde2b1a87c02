//! Method + path dispatch. Hand-written: seven fixed routes need no routing crate, and the same
//! table gives the bounded `route` label for metrics.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request};
use hyper::body::Incoming;

use super::errors::{Error, HttpResponse};
use super::handlers::{admin, ops, reset, session};
use super::state::AppState;
use crate::campaign::model::Action;

/// Route names for metrics and logs; anything else is "unmatched", so labels stay bounded.
#[must_use]
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/password-reset/request" => "reset_request",
        "/v1/password-reset/confirm" => "reset_confirm",
        "/v1/login" => "login",
        "/v1/session" => "session",
        "/livez" => "livez",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        p if p.starts_with("/admin/") => "admin",
        _ => "unmatched",
    }
}

/// Probes and metrics: served outside the admission layers (see `stack.rs`).
#[must_use]
pub fn is_operational(path: &str) -> bool {
    matches!(route_label(path), "livez" | "readyz" | "metrics")
}

/// Which listener a router serves: the public API, the ops listener (metrics and probes), or the
/// admin listener (the admin API, behind its token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Public,
    Ops,
    Admin,
}

#[derive(Clone)]
pub struct Router {
    state: Arc<AppState>,
    listener: Listener,
}

impl Router {
    #[must_use]
    pub fn new(state: Arc<AppState>, listener: Listener) -> Self {
        Self { state, listener }
    }
}

/// Routes a listener serves: /metrics only on ops (it would reveal, e.g., how many reset emails
/// went out, which a public caller could correlate with its own requests); the API only on public.
fn served(listener: Listener, route: &str) -> bool {
    match listener {
        Listener::Public => !matches!(route, "metrics" | "admin"),
        Listener::Ops => matches!(route, "livez" | "readyz" | "metrics"),
        Listener::Admin => matches!(route, "admin" | "livez"),
    }
}

/// The admin API. The token is checked before the path, so a caller without it learns nothing,
/// not even which paths exist.
async fn dispatch_admin(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    admin::authorize(&state, &req)?;
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path
        .strip_prefix("/admin/v1/")
        .ok_or(Error::NotFound)?
        .split('/')
        .collect();
    let id = |s: &str| s.parse::<i64>().ok().filter(|id| *id > 0).ok_or(Error::NotFound);
    match (segments.as_slice(), &method) {
        (["campaigns"], &Method::POST) => admin::create(state, req).await,
        (["campaigns"], &Method::GET) => admin::list(state).await,
        (["campaigns"], _) => Err(Error::MethodNotAllowed("GET, POST".into())),
        (["campaigns", n], &Method::GET) => admin::show(state, id(n)?).await,
        (["outbox"], &Method::GET) => admin::outbox(state).await,
        (["campaigns", _] | ["outbox"], _) => Err(Error::MethodNotAllowed("GET".into())),
        (["campaigns", n, action], m) => {
            let action = Action::parse(action).ok_or(Error::NotFound)?;
            if m != Method::POST {
                return Err(Error::MethodNotAllowed("POST".into()));
            }
            admin::change(state, id(n)?, action).await
        }
        _ => Err(Error::NotFound),
    }
}

async fn dispatch(
    state: Arc<AppState>,
    listener: Listener,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    let method = req.method().clone();
    let route = route_label(req.uri().path());
    if !served(listener, route) {
        return Err(Error::NotFound);
    }
    if route == "admin" {
        return dispatch_admin(state, req).await;
    }
    let allow = match route {
        "reset_request" if method == Method::POST => return reset::request(state, req).await,
        "reset_confirm" if method == Method::POST => return reset::confirm(state, req).await,
        "login" if method == Method::POST => return session::login(state, req).await,
        "session" if method == Method::GET => return session::current(state, req).await,
        "livez" if method == Method::GET => return Ok(ops::livez()),
        "readyz" if method == Method::GET => return ops::readyz(state).await,
        "metrics" if method == Method::GET => return Ok(ops::metrics(&state)),
        "reset_request" | "reset_confirm" | "login" => "POST",
        "session" | "livez" | "readyz" | "metrics" => "GET",
        _ => return Err(Error::NotFound),
    };
    Err(Error::MethodNotAllowed(allow.into()))
}

impl tower::Service<Request<Incoming>> for Router {
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let state = Arc::clone(&self.state);
        let listener = self.listener;
        Box::pin(async move {
            Ok(dispatch(state, listener, req)
                .await
                .unwrap_or_else(Error::into_response))
        })
    }
}
