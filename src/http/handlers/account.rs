//! The account pages: sign in (password, then the code for an enrolled account) and turn on
//! two-step verification (QR code and typed key, confirm with the first code, recovery codes
//! shown once). They run the same service calls as the JSON API (`login`, `login_second_factor`,
//! `factors`), so the same limits, lanes, lock and audit apply; the session travels in a
//! cookie (`pages::session_cookie`) instead of a bearer header.

use std::sync::Arc;

use http::header::SET_COOKIE;
use http::{HeaderValue, Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::hashing::pool::Lane;
use crate::http::errors::{Error, HttpResponse};
use crate::http::extract;
use crate::http::pages::{
    self, html, remembered_email, session_cookie, SignIn, SignInCode, TwoStep, TwoStepOn,
};
use crate::http::state::AppState;
use crate::http::waiting;
use crate::i18n::Locale;
use crate::mfa::totp::TotpCode;
use crate::reset::factor::{self, Proof};
use crate::reset::service::{self, Login};
use crate::reset::token::BearerToken;
use crate::secret::SecretString;
use crate::storage::store::Account;

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    password: Option<SecretString>,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    challenge: String,
    code: Option<SecretString>,
}

use super::pages::parse_proof;

fn sign_in_page(
    state: &AppState,
    locale: Locale,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
) -> HttpResponse {
    let ui = state.site.ui(locale);
    html(
        status,
        &SignIn {
            ui: &ui,
            email,
            error: error.map(|key| ui.t(key)),
            notice: None,
        },
    )
}

/// Where a finished form post lands; links are built from the public base URL only.
fn page_url(state: &AppState, path: &str) -> url::Url {
    state
        .public_base_url
        .join(path)
        .unwrap_or_else(|_| state.public_base_url.clone())
}

/// Signed in: the cookie, and on to the two-step page.
fn signed_in(state: &AppState, session: &BearerToken) -> HttpResponse {
    let cookie = session_cookie::set(
        session,
        &state.public_base_url,
        state.service.sessions.lifetime.as_secs(),
    );
    pages::see_other(&page_url(state, "two-step"), Some(&cookie))
}

/// GET /sign-in: empty, or with the address its owner typed before waiting in line.
#[must_use]
pub fn sign_in_form(state: &AppState, locale: Locale, headers: &http::HeaderMap) -> HttpResponse {
    let remembered = remembered_email::read(&state.service.sealer, headers);
    let email = remembered.as_ref().map_or("", |e| e.as_str());
    sign_in_page(state, locale, StatusCode::OK, email, None)
}

/// Adds `cookie` (when there is one) to `resp` beside the ones it sets already.
fn also_set(mut resp: HttpResponse, cookie: &str) -> HttpResponse {
    if cookie.is_empty() {
        return resp;
    }
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    resp
}

pub async fn sign_in_submit(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    // Only the ticket, not a copy of every header: this is the path a surge takes.
    let ticket = waiting::presented(req.headers(), Lane::Login);
    let remembered = session_cookie::value(req.headers(), remembered_email::NAME).is_some();
    let form: SignInForm = extract::form(req, state.body_limit).await?;
    let wrong = |state: &AppState| {
        sign_in_page(
            state,
            locale,
            StatusCode::UNAUTHORIZED,
            form.email.trim(),
            Some("sign-in-wrong"),
        )
    };
    let (Ok(email), Some(password)) = (extract::email(&form.email), form.password.as_ref()) else {
        return Ok(wrong(&state));
    };
    let subject = email.as_str().as_bytes();
    let arrival = waiting::arrive(&state, ticket.as_deref(), Lane::Login, subject);
    let result = state.service.login(&email, password, arrival.place()).await;
    let result = match waiting::settle(&state, &arrival, subject, result) {
        Ok(result) => result,
        Err(turn) => {
            // The form it refreshes to holds the address again; the password is typed again.
            let page = super::pages::in_line(&state, locale, Lane::Login, &turn, "sign-in");
            let keep = remembered_email::set(
                &state.service.sealer,
                &email,
                &state.public_base_url,
                waiting::cookie_max_age(&turn),
            );
            return Ok(also_set(page, &keep));
        }
    };
    // Past the password: nothing to remember any more (said only to a browser that holds it).
    let forget = if remembered {
        remembered_email::clear(&state.public_base_url)
    } else {
        String::new()
    };
    match result {
        Ok(Login::Session { token, .. }) => Ok(also_set(signed_in(&state, &token), &forget)),
        Ok(Login::SecondFactor { challenge, .. }) => {
            let ui = state.site.ui(locale);
            let page = html(
                StatusCode::OK,
                &SignInCode {
                    ui: &ui,
                    challenge: challenge.expose(),
                    error: None,
                },
            );
            Ok(also_set(page, &forget))
        }
        Err(service::Error::InvalidCredentials) => Ok(wrong(&state)),
        Err(e) => Err(e.into()),
    }
}

/// The code form again, for the same challenge, with the reason.
fn code_again(
    state: &AppState,
    locale: Locale,
    challenge: &str,
    key: &str,
    status: StatusCode,
) -> HttpResponse {
    let ui = state.site.ui(locale);
    html(
        status,
        &SignInCode {
            ui: &ui,
            challenge,
            error: Some(ui.t(key)),
        },
    )
}

fn typed_proof(code: Option<&SecretString>) -> Option<Proof> {
    let typed = code.map(|c| c.expose().trim()).filter(|c| !c.is_empty())?;
    parse_proof(typed).ok()
}

pub async fn sign_in_code(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    let form: CodeForm = extract::form(req, state.body_limit).await?;
    let Ok(challenge) = BearerToken::parse(&form.challenge) else {
        return Ok(sign_in_page(
            &state,
            locale,
            StatusCode::UNAUTHORIZED,
            "",
            Some("sign-in-expired"),
        ));
    };
    let Some(proof) = typed_proof(form.code.as_ref()) else {
        return Ok(code_again(
            &state,
            locale,
            &form.challenge,
            "code-malformed",
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    match state.service.login_second_factor(&challenge, &proof).await {
        Ok(session) => Ok(signed_in(&state, &session)),
        Err(service::Error::ChallengeInvalid) => Ok(sign_in_page(
            &state,
            locale,
            StatusCode::UNAUTHORIZED,
            "",
            Some("sign-in-expired"),
        )),
        Err(service::Error::Factor(factor::Error::Wrong | factor::Error::Replayed)) => Ok(code_again(
            &state,
            locale,
            &form.challenge,
            "code-wrong",
            StatusCode::UNAUTHORIZED,
        )),
        Err(service::Error::Factor(factor::Error::Locked { .. })) => Ok(code_again(
            &state,
            locale,
            &form.challenge,
            "code-locked",
            StatusCode::TOO_MANY_REQUESTS,
        )),
        Err(e) => Err(e.into()),
    }
}

/// The account behind the request's session cookie, or where to send a browser without one.
async fn signed_in_account<B>(
    state: &AppState,
    req: &Request<B>,
) -> Result<Result<Account, HttpResponse>, Error> {
    let to_sign_in = || pages::see_other(&page_url(state, "sign-in"), None);
    let Some(token) = session_cookie::read(req.headers()) else {
        return Ok(Err(to_sign_in()));
    };
    let info = match state.service.session(&token).await {
        Ok(info) => info,
        Err(service::Error::SessionInvalid) => return Ok(Err(to_sign_in())),
        Err(e) => return Err(e.into()),
    };
    Ok(state
        .service
        .store
        .account_by_id(info.account_id)
        .await?
        .ok_or_else(to_sign_in))
}

/// Our SVG document, ready to sit inside a page: without the XML declaration HTML does not take.
fn inline_svg(document: &str) -> &str {
    document.find("<svg").map_or("", |i| &document[i..])
}

fn enrolment_page(
    state: &AppState,
    locale: Locale,
    account: &Account,
    enrolment: &factor::Enrolment,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let ui = state.site.ui(locale);
    html(
        status,
        &TwoStep {
            ui: &ui,
            qr_svg: inline_svg(enrolment.qr_svg.expose()),
            secret: enrolment.secret_grouped.expose(),
            required: account.two_step_required,
            error: error.map(|key| ui.t(key)),
        },
    )
}

/// GET /two-step: the enrolment page, or "it is on" for an enrolled account.
pub async fn two_step_page(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    let account = match signed_in_account(&state, &req).await? {
        Ok(account) => account,
        Err(redirect) => return Ok(redirect),
    };
    match state
        .service
        .factors
        .begin_enrolment(account.id, &account.email)
        .await
    {
        Ok(enrolment) => Ok(enrolment_page(
            &state,
            locale,
            &account,
            &enrolment,
            None,
            StatusCode::OK,
        )),
        Err(factor::Error::AlreadyEnrolled) => {
            let ui = state.site.ui(locale);
            Ok(html(
                StatusCode::OK,
                &TwoStepOn {
                    ui: &ui,
                    codes: Vec::new(),
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    code: Option<SecretString>,
}

/// POST /two-step: the first code turns it on; the recovery codes are shown once.
pub async fn two_step_confirm(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    let account = match signed_in_account(&state, &req).await? {
        Ok(account) => account,
        Err(redirect) => return Ok(redirect),
    };
    let form: ConfirmForm = extract::form(req, state.body_limit).await?;
    let again = |key: &str, status: StatusCode| {
        let state = Arc::clone(&state);
        let key = key.to_owned();
        let account = account.clone();
        async move {
            match state
                .service
                .factors
                .pending_enrolment(account.id, &account.email)
                .await?
            {
                Some(e) => Ok(enrolment_page(&state, locale, &account, &e, Some(&key), status)),
                None => Ok(pages::see_other(&page_url(&state, "two-step"), None)),
            }
        }
    };
    let code = form.code.as_ref().and_then(|c| TotpCode::parse(c.expose()).ok());
    let Some(code) = code else {
        return again("code-malformed", StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    match state.service.factors.confirm_enrolment(account.id, &code).await {
        Ok(codes) => {
            let ui = state.site.ui(locale);
            let codes = codes.iter().map(|c| c.display().to_string()).collect();
            Ok(html(StatusCode::OK, &TwoStepOn { ui: &ui, codes }))
        }
        Err(factor::Error::Wrong | factor::Error::Replayed) => {
            again("code-wrong", StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(factor::Error::Locked { .. }) => again("code-locked", StatusCode::TOO_MANY_REQUESTS).await,
        Err(factor::Error::NotEnrolling) => Ok(pages::see_other(&page_url(&state, "two-step"), None)),
        Err(e) => Err(e.into()),
    }
}

/// POST /sign-out: ends the cookie's session on the server (not only in this browser), forgets
/// the cookie, and says so on the sign-in page. Without a live session it says the same: the
/// visitor is signed out either way.
pub async fn sign_out(
    state: Arc<AppState>,
    locale: Locale,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    if let Some(token) = session_cookie::read(req.headers()) {
        state.service.end_session(&token).await?;
    }
    let ui = state.site.ui(locale);
    let mut resp = html(
        StatusCode::OK,
        &SignIn {
            ui: &ui,
            email: "",
            error: None,
            notice: Some(ui.t("signed-out")),
        },
    );
    if let Ok(v) = HeaderValue::from_str(&session_cookie::clear(&state.public_base_url)) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    Ok(resp)
}
