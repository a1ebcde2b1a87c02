//! The outermost layer: gives every request an id (kept from `x-request-id` when sane, else a new
//! UUID), runs it inside a tracing span, echoes the id in the response, and records HTTP metrics.
//! Outermost so that even shed and timed-out requests are counted and traceable.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::HeaderValue;
use http::Request;
use tower::{Layer, Service};
use tracing::Instrument as _;

use super::errors::HttpResponse;
use super::router::route_label;
use crate::error_code::ErrorCode;
use crate::metrics::Metrics;

const REQUEST_ID: &str = "x-request-id";

#[derive(Clone)]
pub struct ObserveLayer {
    pub metrics: Arc<Metrics>,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// An incoming id is kept only if it is short printable ASCII, and not empty: it lands in logs and
/// headers, and an empty one would identify nothing.
fn request_id<B>(req: &Request<B>) -> HeaderValue {
    req.headers()
        .get(REQUEST_ID)
        .filter(|v| (1..=64).contains(&v.len()) && v.as_bytes().iter().all(u8::is_ascii_graphic))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("invalid"))
        })
}

/// The security headers of every response on every listener, where the handler set none of its
/// own: pages set a stricter policy of their own (`http::pages`), the stylesheets their caching.
/// A JSON answer is never a document to render, frame or cache: it may hold a session token.
fn harden(h: &mut http::HeaderMap) {
    use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
    for (name, value) in [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (CACHE_CONTROL, "no-store"),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
}

fn status_class(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = Arc::clone(&self.metrics);
        let id = request_id(&req);
        let route = route_label(req.uri().path());
        let span = tracing::info_span!(
            "request",
            id = id.to_str().unwrap_or("-"),
            method = %req.method(),
            route,
        );
        Box::pin(
            async move {
                let started = Instant::now();
                let mut resp = inner.call(req).await?;
                let elapsed = started.elapsed();
                let status = resp.status();
                metrics
                    .http_requests
                    .with_label_values(&[route, status_class(status)])
                    .inc();
                if let Some(code) = resp.extensions().get::<ErrorCode>() {
                    metrics.http_errors.with_label_values(&[code.as_str()]).inc();
                }
                metrics
                    .http_duration
                    .with_label_values(&[route])
                    .observe(elapsed.as_secs_f64());
                tracing::info!(
                    status = status.as_u16(),
                    ms = elapsed.as_secs_f64() * 1e3,
                    "served"
                );
                harden(resp.headers_mut());
                resp.headers_mut().insert(REQUEST_ID, id);
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_for(incoming: &str) -> HeaderValue {
        let mut req = Request::new(());
        req.headers_mut()
            .insert(REQUEST_ID, HeaderValue::from_str(incoming).unwrap());
        request_id(&req)
    }

    #[test]
    fn only_sane_request_ids_are_kept() {
        assert_eq!(id_for("abc-123"), "abc-123");
        let longest = "x".repeat(64);
        assert_eq!(id_for(&longest), longest.as_str());
        for bad in [String::new(), "has space".into(), "x".repeat(65)] {
            let id = id_for(&bad);
            assert!(
                uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok(),
                "{bad:?} -> {id:?}"
            );
        }
    }
}
