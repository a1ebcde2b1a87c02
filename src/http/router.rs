//! Method + path dispatch. Hand-written: a fixed table of routes needs no routing crate, and the
//! same table gives the bounded `route` label for metrics and is what docs/openapi.json must
//! describe, operation for operation (tests/api/openapi.rs holds the two equal).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use hyper::body::Incoming;

use super::errors::{Error, HttpResponse};
use super::handlers::{account, admin, mfa, ops, pages, reset, session};
use super::state::AppState;
use crate::campaign::model::Action;

/// Which listener a router serves: the public API, the ops listener (metrics, probes, the API
/// document), or the admin listener (the admin API, behind its token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Public,
    Ops,
    Admin,
}

impl Listener {
    /// The listener's name, also the OpenAPI tag of the operations it serves.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Ops => "ops",
            Self::Admin => "admin",
        }
    }
}

/// What a route runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    ResetRequest,
    ResetConfirm,
    Login,
    LoginSecondFactor,
    Session,
    Logout,
    MfaBegin,
    MfaConfirm,
    MfaRemove,
    MfaRecoveryCodes,
    Livez,
    Readyz,
    Metrics,
    OpenApi,
    ListCampaigns,
    CreateCampaign,
    ShowCampaign,
    ChangeCampaign(Action),
    ClearFactor,
    Outbox,
    ForgotForm,
    SignInForm,
    SignInSubmit,
    SignInCode,
    TwoStepPage,
    TwoStepConfirm,
    SignOut,
    ForgotSubmit,
    ResetForm,
    ResetSubmit,
    Stylesheet,
    BrandStylesheet,
}

/// One operation: a method on a path template, on the listeners that serve it.
#[derive(Debug)]
pub struct Route {
    pub method: &'static str,
    /// As OpenAPI writes it; `{id}` matches one path segment (a positive campaign id).
    pub path: &'static str,
    /// The `route` label of the HTTP metrics.
    pub label: &'static str,
    pub listeners: &'static [Listener],
    op: Op,
}

use Listener::{Admin, Ops, Public};

const fn route(
    method: &'static str,
    path: &'static str,
    label: &'static str,
    listeners: &'static [Listener],
    op: Op,
) -> Route {
    Route {
        method,
        path,
        label,
        listeners,
        op,
    }
}

/// Every operation the gateway serves. /metrics only on ops (it would reveal, e.g., how many
/// reset emails went out, which a public caller could correlate with its own requests); the API
/// only on public; the admin API only on admin. Liveness answers everywhere, so each listener can
/// be probed on its own. Where a path takes several methods, their order here is the `Allow`
/// header's.
pub const ROUTES: &[Route] = &[
    route(
        "POST",
        "/v1/password-reset/request",
        "reset_request",
        &[Public],
        Op::ResetRequest,
    ),
    route(
        "POST",
        "/v1/password-reset/confirm",
        "reset_confirm",
        &[Public],
        Op::ResetConfirm,
    ),
    route("POST", "/v1/login", "login", &[Public], Op::Login),
    route(
        "POST",
        "/v1/login/mfa",
        "login_mfa",
        &[Public],
        Op::LoginSecondFactor,
    ),
    route("GET", "/v1/session", "session", &[Public], Op::Session),
    route("POST", "/v1/logout", "session", &[Public], Op::Logout),
    route("POST", "/v1/mfa/totp", "mfa", &[Public], Op::MfaBegin),
    route("DELETE", "/v1/mfa/totp", "mfa", &[Public], Op::MfaRemove),
    route("POST", "/v1/mfa/totp/confirm", "mfa", &[Public], Op::MfaConfirm),
    route(
        "POST",
        "/v1/mfa/recovery-codes",
        "mfa",
        &[Public],
        Op::MfaRecoveryCodes,
    ),
    route("GET", "/forgot", "forgot", &[Public], Op::ForgotForm),
    route("POST", "/forgot", "forgot", &[Public], Op::ForgotSubmit),
    route("GET", "/reset", "reset_page", &[Public], Op::ResetForm),
    route("POST", "/reset", "reset_page", &[Public], Op::ResetSubmit),
    route("GET", "/sign-in", "sign_in", &[Public], Op::SignInForm),
    route("POST", "/sign-in", "sign_in", &[Public], Op::SignInSubmit),
    route("POST", "/sign-in-code", "sign_in", &[Public], Op::SignInCode),
    route("GET", "/two-step", "two_step", &[Public], Op::TwoStepPage),
    route("POST", "/two-step", "two_step", &[Public], Op::TwoStepConfirm),
    route("POST", "/sign-out", "sign_in", &[Public], Op::SignOut),
    route("GET", "/assets/style.css", "assets", &[Public], Op::Stylesheet),
    route(
        "GET",
        "/assets/brand.css",
        "assets",
        &[Public],
        Op::BrandStylesheet,
    ),
    route("GET", "/livez", "livez", &[Public, Ops, Admin], Op::Livez),
    route("GET", "/readyz", "readyz", &[Public, Ops], Op::Readyz),
    route("GET", "/metrics", "metrics", &[Ops], Op::Metrics),
    route("GET", "/openapi.json", "openapi", &[Ops], Op::OpenApi),
    route("GET", "/admin/v1/campaigns", "admin", &[Admin], Op::ListCampaigns),
    route(
        "POST",
        "/admin/v1/campaigns",
        "admin",
        &[Admin],
        Op::CreateCampaign,
    ),
    route(
        "GET",
        "/admin/v1/campaigns/{id}",
        "admin",
        &[Admin],
        Op::ShowCampaign,
    ),
    route(
        "POST",
        "/admin/v1/campaigns/{id}/pause",
        "admin",
        &[Admin],
        Op::ChangeCampaign(Action::Pause),
    ),
    route(
        "POST",
        "/admin/v1/campaigns/{id}/resume",
        "admin",
        &[Admin],
        Op::ChangeCampaign(Action::Resume),
    ),
    route(
        "POST",
        "/admin/v1/campaigns/{id}/cancel",
        "admin",
        &[Admin],
        Op::ChangeCampaign(Action::Cancel),
    ),
    route("GET", "/admin/v1/outbox", "admin", &[Admin], Op::Outbox),
    route(
        "POST",
        "/admin/v1/accounts/{id}/mfa/clear",
        "admin",
        &[Admin],
        Op::ClearFactor,
    ),
];

/// A path that fits a route's template.
#[derive(Debug, PartialEq, Eq)]
struct Matched<'p> {
    /// The `{id}` segment, for templates that have one.
    id: Option<&'p str>,
}

impl Route {
    fn matches<'p>(&self, path: &'p str) -> Option<Matched<'p>> {
        let mut id = None;
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(Matched { id }),
                (Some("{id}"), Some(seg)) if !seg.is_empty() => id = Some(seg),
                (Some(w), Some(g)) if w == g => {}
                _ => return None,
            }
        }
    }
}

/// Admin paths are matched without a trailing slash, as they always were; the public API's paths
/// are exact.
fn normalise(path: &str) -> &str {
    if path.starts_with("/admin/") {
        path.trim_end_matches('/')
    } else {
        path
    }
}

/// Route names for metrics and logs; anything else is "unmatched", so labels stay bounded.
#[must_use]
pub fn route_label(path: &str) -> &'static str {
    let path = normalise(path);
    if let Some(r) = ROUTES.iter().find(|r| r.matches(path).is_some()) {
        return r.label;
    }
    if path.starts_with("/admin/") {
        "admin"
    } else {
        "unmatched"
    }
}

/// Probes, metrics and the API document: served outside the admission layers (see `stack.rs`).
#[must_use]
pub fn is_operational(path: &str) -> bool {
    // The stylesheet is a constant compiled into the binary: serving it costs less than refusing
    // it, and the busy page a shed browser gets needs it.
    matches!(
        route_label(path),
        "livez" | "readyz" | "metrics" | "openapi" | "assets"
    )
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

/// An `{id}` segment (a campaign or an account): a positive integer, or nothing it names can exist.
fn path_id(segment: Option<&str>) -> Result<i64, Error> {
    segment
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or(Error::NotFound)
}

async fn dispatch(
    state: Arc<AppState>,
    listener: Listener,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    // The admin token is checked before the path, so a caller without it learns nothing, not even
    // which admin paths exist.
    if listener == Listener::Admin && req.uri().path().starts_with("/admin/") {
        admin::authorize(&state, &req)?;
    }
    let path = normalise(req.uri().path());
    let mut allow: Vec<&str> = Vec::new();
    let mut found = None;
    for r in ROUTES.iter().filter(|r| r.listeners.contains(&listener)) {
        if let Some(m) = r.matches(path) {
            if r.method == req.method().as_str() {
                found = Some((r.op, m.id.map(str::to_owned)));
                break;
            }
            allow.push(r.method);
        }
    }
    let Some((op, id)) = found else {
        return Err(if allow.is_empty() {
            Error::NotFound
        } else {
            Error::MethodNotAllowed(allow.join(", "))
        });
    };
    let id = id.as_deref();
    match op {
        Op::ResetRequest => reset::request(state, req).await,
        Op::ResetConfirm => reset::confirm(state, req).await,
        Op::Login => session::login(state, req).await,
        Op::LoginSecondFactor => session::login_second_factor(state, req).await,
        Op::Session => session::current(state, req).await,
        Op::Logout => session::logout(state, req).await,
        Op::MfaBegin => mfa::begin(state, req).await,
        Op::MfaConfirm => mfa::confirm(state, req).await,
        Op::MfaRemove => mfa::remove(state, req).await,
        Op::MfaRecoveryCodes => mfa::regenerate(state, req).await,
        Op::Livez => Ok(ops::livez()),
        Op::Readyz => ops::readyz(state).await,
        Op::Metrics => Ok(ops::metrics(&state)),
        Op::OpenApi => Ok(ops::openapi()),
        Op::ListCampaigns => admin::list(state).await,
        Op::CreateCampaign => admin::create(state, req).await,
        Op::ShowCampaign => admin::show(state, path_id(id)?).await,
        Op::ChangeCampaign(action) => admin::change(state, path_id(id)?, action).await,
        Op::Outbox => admin::outbox(state).await,
        Op::ClearFactor => admin::clear_factor(state, path_id(id)?, req).await,
        Op::ForgotForm => Ok(pages::forgot_form(&state, state.site.locale_for(req.headers()))),
        // A page's errors are pages too, whatever the Accept header says, in the page's language.
        Op::SignInForm => Ok(account::sign_in_form(
            &state,
            state.site.locale_for(req.headers()),
            req.headers(),
        )),
        Op::ForgotSubmit
        | Op::ResetForm
        | Op::ResetSubmit
        | Op::SignInSubmit
        | Op::SignInCode
        | Op::TwoStepPage
        | Op::TwoStepConfirm
        | Op::SignOut => {
            let locale = state.site.locale_for(req.headers());
            // The CSRF defence of every page form, in one place (`pages::same_origin` says why
            // an Origin check): refused before the body is read or anything is looked up.
            if req.method() == http::Method::POST
                && !crate::http::pages::same_origin(req.headers(), &state.public_base_url)
            {
                return Ok(pages::refused(&state, locale));
            }
            let site = Arc::clone(&state.site);
            let page = match op {
                Op::ForgotSubmit => pages::forgot_submit(state, locale, req).await,
                Op::ResetForm => pages::reset_form(state, locale, req).await,
                Op::SignInSubmit => account::sign_in_submit(state, locale, req).await,
                Op::SignInCode => account::sign_in_code(state, locale, req).await,
                Op::TwoStepPage => account::two_step_page(state, locale, req).await,
                Op::TwoStepConfirm => account::two_step_confirm(state, locale, req).await,
                Op::SignOut => account::sign_out(state, locale, req).await,
                _ => pages::reset_submit(state, locale, req).await,
            };
            Ok(page.unwrap_or_else(|e| e.into_page(&site, locale)))
        }
        Op::Stylesheet => Ok(crate::http::pages::stylesheet()),
        Op::BrandStylesheet => Ok(pages::brand_stylesheet(&state)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(route_label("/v1/login"), "login");
        assert_eq!(route_label("/v1/login/"), "unmatched");
        assert_eq!(route_label("/admin/v1/campaigns/7/pause/"), "admin");
        assert_eq!(route_label("/admin/v1/anything"), "admin");
        assert_eq!(route_label("/openapi.json"), "openapi");
        assert_eq!(route_label("/nope"), "unmatched");
    }

    #[test]
    fn every_route_label_is_a_declared_metric_label_value() {
        // The metrics declare the label's values (docs/metrics.md lists them); a route added here
        // without them would export an undeclared value.
        let mut labels: Vec<&str> = ROUTES.iter().map(|r| r.label).collect();
        labels.push("unmatched");
        labels.sort_unstable();
        labels.dedup();
        let mut declared = crate::metrics::ROUTE_LABELS.to_vec();
        declared.sort_unstable();
        assert_eq!(labels, declared);
    }

    #[test]
    fn templates_match_whole_segments() {
        let show = ROUTES.iter().find(|r| r.op == Op::ShowCampaign).unwrap();
        assert_eq!(
            show.matches("/admin/v1/campaigns/42"),
            Some(Matched { id: Some("42") })
        );
        assert_eq!(show.matches("/admin/v1/campaigns/"), None);
        assert_eq!(show.matches("/admin/v1/campaigns/42/pause"), None);
        assert_eq!(show.matches("/admin/v1/campaign/42"), None);
    }

    #[test]
    fn each_method_and_path_is_routed_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!((a.method, a.path) != (b.method, b.path), "{a:?} twice");
            }
        }
    }
}
