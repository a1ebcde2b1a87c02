//! The pages of the reset journey: GET/POST /forgot, GET/POST /reset, and the stylesheet. They
//! run the same `reset::service` calls as the JSON API (same limits, hashing lanes and timing
//! floor); only the input (a form) and the output (a page) differ.

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;

use http::header::{HeaderValue, RETRY_AFTER, SET_COOKIE};

use crate::error_code::ErrorCode;
use crate::hashing::pool::Lane;
use crate::http::errors::{Error, HttpResponse};
use crate::http::extract;
use crate::http::pages::{
    self, html, policy_text, violation_text, CodeField, Forgot, ForgotSent, InLine, Message, Reset,
    ResetDone, ResetExpired,
};
use crate::http::state::AppState;
use crate::http::waiting;
use crate::i18n::Locale;
use crate::mfa::recovery::RecoveryCode;
use crate::mfa::totp::TotpCode;
use crate::reset::factor::{self, Proof};
use crate::reset::password::PolicyViolation;
use crate::reset::service;
use crate::reset::token::BearerToken;
use crate::secret::SecretString;
use crate::waiting::room::Turn;

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    new_password: Option<SecretString>,
    /// A checkbox: present when checked, absent otherwise. The form checks it by default.
    sign_out_everywhere: Option<String>,
    /// The second factor's code or a recovery code, for accounts that have one.
    #[serde(default)]
    code: Option<SecretString>,
}

#[derive(Deserialize)]
struct ResetQuery {
    #[serde(default)]
    token: String,
}

/// A small 403 page for a form posted from another origin: the router answers every page form
/// with it when `pages::same_origin` says no.
#[must_use]
pub fn refused(state: &AppState, locale: Locale) -> HttpResponse {
    let ui = state.site.ui(locale);
    html(
        StatusCode::FORBIDDEN,
        &Message::new(&ui, "refused-title", "refused-body", None),
    )
}

fn expired(state: &AppState, locale: Locale, status: StatusCode) -> HttpResponse {
    html(
        status,
        &ResetExpired {
            ui: &state.site.ui(locale),
        },
    )
}

#[must_use]
pub fn forgot_form(state: &AppState, locale: Locale) -> HttpResponse {
    html(
        StatusCode::OK,
        &Forgot {
            ui: &state.site.ui(locale),
            email: "",
            error: None,
        },
    )
}

/// The same page at the same status for known and unknown addresses, after the same service call
/// and its timing floor. The browser's language goes with the request: the mail is written in it
/// and a known account keeps it (see `ResetService::request_reset`).
pub async fn forgot_submit(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    // Only a language the browser named is recorded; the default it fell back to is not a choice.
    let requested = pages::requested_locale(req.headers());
    let network = state.limits.client_network(&req);
    let form: ForgotForm = extract::form(req, state.body_limit).await?;
    let Ok(email) = extract::email(&form.email) else {
        let ui = state.site.ui(locale);
        return Ok(html(
            StatusCode::BAD_REQUEST,
            &Forgot {
                ui: &ui,
                email: form.email.trim(),
                error: Some(ui.t("invalid-email")),
            },
        ));
    };
    state.service.request_reset(&email, requested, network).await?;
    Ok(html(
        StatusCode::OK,
        &ForgotSent {
            ui: &state.site.ui(locale),
        },
    ))
}

/// Reads the token and never consumes it: mail scanners and link previewers fetch the link
/// before the person does, and the link must still work after they have.
pub async fn reset_form(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    let query: ResetQuery = serde_urlencoded::from_str(req.uri().query().unwrap_or_default())
        .unwrap_or(ResetQuery { token: String::new() });
    form_for(&state, locale, &query.token, true, None, StatusCode::OK).await
}

/// The new-password form for a live token, or the expired page.
async fn form_for(
    state: &AppState,
    locale: Locale,
    raw_token: &str,
    sign_out: bool,
    error: Option<Refusal>,
    status: StatusCode,
) -> Result<HttpResponse, Error> {
    let holder = match BearerToken::parse(raw_token) {
        Ok(token) => state.service.reset_token_holder(&token).await?,
        Err(_) => None,
    };
    let Some(holder) = holder else {
        return Ok(expired(state, locale, StatusCode::OK));
    };
    let ui = state.site.ui(locale);
    let (password_error, code_error) = match error {
        Some(Refusal::Password(v)) => (Some(violation_text(&ui, v)), None),
        Some(Refusal::Code(key)) => (None, Some(ui.t(key))),
        None => (None, None),
    };
    Ok(html(
        status,
        &Reset {
            ui: &ui,
            policy: policy_text(&ui, &state.service.policy, holder.min_chars),
            token: raw_token,
            username: holder.email.as_str(),
            sign_out,
            error: password_error,
            code: holder
                .needs_second_factor
                .then_some(CodeField { error: code_error }),
        },
    ))
}

/// Consumes the token through the same confirm path as the JSON API.
pub async fn reset_submit(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    // Only the ticket, not a copy of every header: this is the path a surge takes.
    let ticket = waiting::presented(req.headers(), Lane::Confirm);
    let form: ResetForm = extract::form(req, state.body_limit).await?;
    let sign_out = form.sign_out_everywhere.is_some();
    let password = form
        .new_password
        .unwrap_or_else(|| SecretString::new(String::new()));
    let Ok(token) = BearerToken::parse(&form.token) else {
        return Ok(expired(&state, locale, StatusCode::BAD_REQUEST));
    };
    let typed = form
        .code
        .as_ref()
        .map(|c| c.expose().trim())
        .filter(|c| !c.is_empty());
    let proof = match typed.map(parse_proof) {
        Some(Ok(proof)) => Some(proof),
        Some(Err(())) => {
            let refusal = Some(Refusal::Code("code-malformed"));
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return form_for(&state, locale, &form.token, sign_out, refusal, status).await;
        }
        None => None,
    };
    let again = |refusal: Refusal, status: StatusCode| {
        // The token is still live: the form again, with the reason, keeping the token.
        form_for(&state, locale, &form.token, sign_out, Some(refusal), status)
    };
    let digest = token.digest();
    let subject = digest.as_bytes().as_slice();
    let arrival = waiting::arrive(&state, ticket.as_deref(), Lane::Confirm, subject);
    let result = state
        .service
        .confirm_reset(&token, &password, sign_out, proof.as_ref(), arrival.place())
        .await;
    let result = match waiting::settle(&state, &arrival, subject, result) {
        Ok(result) => result,
        Err(turn) => {
            // Back to the form with the token only: the new password is not kept in the page.
            let again = format!("reset?token={}", token.expose());
            return Ok(in_line(&state, locale, Lane::Confirm, &turn, &again));
        }
    };
    match result {
        Ok(done) => Ok(html(
            StatusCode::OK,
            &ResetDone {
                ui: &state.site.ui(locale),
                signed_out: done.signed_out,
                two_step: done.two_step,
            },
        )),
        Err(service::Error::TokenInvalid) => Ok(expired(&state, locale, StatusCode::BAD_REQUEST)),
        Err(service::Error::Policy(v)) => again(Refusal::Password(v), StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(service::Error::SecondFactorRequired) => {
            again(Refusal::Code("code-missing"), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(service::Error::Factor(factor::Error::Wrong | factor::Error::Replayed)) => {
            again(Refusal::Code("code-wrong"), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(service::Error::Factor(factor::Error::Locked { .. })) => {
            again(Refusal::Code("code-locked"), StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(e) => Err(e.into()),
    }
}

/// "You're in line" (503 with Retry-After): the place and the wait in words, the ticket in the
/// lane's cookie, and a refresh back to the form (`again`) when the turn should have come. The
/// form asks again for what was typed: a password is never kept in a page.
pub(super) fn in_line(
    state: &AppState,
    locale: Locale,
    lane: Lane,
    turn: &Turn,
    again: &str,
) -> HttpResponse {
    let asks_again = match lane {
        Lane::Confirm => "in-line-asks-again",
        _ => "in-line-asks-password",
    };
    let ui = state.site.ui(locale);
    let secs = turn.retry_after.as_secs().max(1);
    let mut resp = html(
        StatusCode::SERVICE_UNAVAILABLE,
        &InLine::new(&ui, secs, turn.ahead, again, asks_again),
    );
    // Counted as the shed it is (http_errors_total{code="hashing_overloaded"}).
    resp.extensions_mut().insert(ErrorCode::HashingOverloaded);
    let h = resp.headers_mut();
    h.insert(RETRY_AFTER, HeaderValue::from(secs));
    let base = &state.public_base_url;
    let secure = if base.scheme() == "https" { "; Secure" } else { "" };
    let max_age = waiting::cookie_max_age(turn);
    let cookie = format!(
        "{}={}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        waiting::ticket_cookie(lane),
        turn.ticket,
        base.path()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(SET_COOKIE, v);
    }
    resp
}

/// Why the reset form comes back: the password, or the second factor (a message id).
enum Refusal {
    Password(PolicyViolation),
    Code(&'static str),
}

/// What was typed in the code field: six digits from the app, or a recovery code.
pub(super) fn parse_proof(typed: &str) -> Result<Proof, ()> {
    TotpCode::parse(typed)
        .map(Proof::Totp)
        .or_else(|_| RecoveryCode::parse(typed).map(Proof::Recovery))
        .map_err(|_| ())
}

/// GET /assets/brand.css.
#[must_use]
pub fn brand_stylesheet(state: &AppState) -> HttpResponse {
    pages::brand_stylesheet(&state.site)
}
