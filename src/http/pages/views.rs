//! The page templates (askama, under `templates/`): one struct per page, each holding the
//! request's [`Ui`] for its words.

use std::borrow::Cow;

use askama::Template;

use super::site::Ui;
use crate::reset::password::{PasswordPolicy, PolicyViolation};
pub use crate::reset::service::TwoStepAfterReset;

/// A page: a template that speaks through a [`Ui`].
pub trait Page: Template {
    fn ui(&self) -> &Ui<'_>;
}

macro_rules! pages {
    ($($page:ident),*) => {$(
        impl Page for $page<'_> {
            fn ui(&self) -> &Ui<'_> {
                self.ui
            }
        }
    )*};
}

pages!(
    InLine,
    Forgot,
    ForgotSent,
    Reset,
    ResetExpired,
    ResetDone,
    Message,
    SignIn,
    SignInCode,
    TwoStep,
    TwoStepOn
);

/// The sign-in form (email and password), for the account pages.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignIn<'a> {
    pub ui: &'a Ui<'a>,
    pub email: &'a str,
    pub error: Option<Cow<'static, str>>,
    /// Good news to confirm (signed out), announced politely rather than as an alert.
    pub notice: Option<Cow<'static, str>>,
}

/// The second step of signing in: the code for the challenge a right password earned.
#[derive(Template)]
#[template(path = "sign_in_code.html")]
pub struct SignInCode<'a> {
    pub ui: &'a Ui<'a>,
    pub challenge: &'a str,
    pub error: Option<Cow<'static, str>>,
}

/// Enrolment: the QR code, the secret in groups for typing, and the confirm form.
#[derive(Template)]
#[template(path = "two_step.html")]
pub struct TwoStep<'a> {
    pub ui: &'a Ui<'a>,
    /// Our own SVG document (from `mfa::totp`), without its XML declaration.
    pub qr_svg: &'a str,
    pub secret: &'a str,
    /// A campaign requires it: say so, so the owner knows why the app sent them here.
    pub required: bool,
    pub error: Option<Cow<'static, str>>,
}

/// Two-step verification is on; right after confirming, with the recovery codes (shown once).
#[derive(Template)]
#[template(path = "two_step_on.html")]
pub struct TwoStepOn<'a> {
    pub ui: &'a Ui<'a>,
    pub codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct Forgot<'a> {
    pub ui: &'a Ui<'a>,
    pub email: &'a str,
    pub error: Option<Cow<'static, str>>,
}

#[derive(Template)]
#[template(path = "forgot_sent.html")]
pub struct ForgotSent<'a> {
    pub ui: &'a Ui<'a>,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct Reset<'a> {
    pub ui: &'a Ui<'a>,
    pub policy: Cow<'static, str>,
    pub token: &'a str,
    pub username: &'a str,
    pub sign_out: bool,
    pub error: Option<Cow<'static, str>>,
    /// The account has a second factor: the form asks for its code (or a recovery code).
    pub code: Option<CodeField>,
}

/// The second-factor field of the reset form, and why the last code was refused.
#[derive(Debug, Clone, Default)]
pub struct CodeField {
    pub error: Option<Cow<'static, str>>,
}

#[derive(Template)]
#[template(path = "reset_expired.html")]
pub struct ResetExpired<'a> {
    pub ui: &'a Ui<'a>,
}

#[derive(Template)]
#[template(path = "reset_done.html")]
pub struct ResetDone<'a> {
    pub ui: &'a Ui<'a>,
    pub signed_out: bool,
    pub two_step: TwoStepAfterReset,
}

/// "You're in line": the wait, the place, and a refresh that comes back with the ticket (in its
/// cookie) when the turn should have come.
#[derive(Template)]
#[template(path = "in_line.html")]
pub struct InLine<'a> {
    pub ui: &'a Ui<'a>,
    pub wait: Cow<'static, str>,
    pub ahead: Cow<'static, str>,
    pub retry: Cow<'static, str>,
    pub refresh_secs: u64,
    /// Where the refresh goes: the form again (relative, like every link of ours).
    pub again: &'a str,
    /// What the form will ask again (a message id): we do not keep a password in the page.
    pub asks_again: &'static str,
}

impl<'a> InLine<'a> {
    #[must_use]
    pub fn new(
        ui: &'a Ui<'a>,
        refresh_secs: u64,
        ahead: u64,
        again: &'a str,
        asks_again: &'static str,
    ) -> Self {
        let minutes = refresh_secs.div_ceil(60);
        Self {
            ui,
            wait: if refresh_secs < 60 {
                ui.t("in-line-wait-seconds")
            } else {
                ui.t_with("in-line-wait-minutes", &[("minutes", minutes)])
            },
            ahead: ui.t_with("in-line-ahead", &[("ahead", ahead)]),
            retry: ui.t_with("retry", &[("secs", refresh_secs)]),
            refresh_secs,
            again,
            asks_again,
        }
    }
}

/// A page that only says what happened: refused, busy, rate limited, failed. With
/// `refresh_secs` the browser retries by itself when the server said it could.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message<'a> {
    pub ui: &'a Ui<'a>,
    /// Message ids of the heading and the paragraph.
    pub title: &'static str,
    pub body: &'static str,
    pub retry: Cow<'static, str>,
    pub refresh_secs: Option<u64>,
}

impl<'a> Message<'a> {
    #[must_use]
    pub fn new(ui: &'a Ui<'a>, title: &'static str, body: &'static str, refresh_secs: Option<u64>) -> Self {
        Self {
            ui,
            title,
            body,
            retry: refresh_secs
                .map(|s| ui.t_with("retry", &[("secs", s)]))
                .unwrap_or_default(),
            refresh_secs,
        }
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The policy in plain words, shown before the user types.
#[must_use]
pub fn policy_text(ui: &Ui<'_>, policy: &PasswordPolicy, min: usize) -> Cow<'static, str> {
    ui.t_with("policy", &[("min", count(min)), ("max", count(policy.max_chars))])
}

/// Why a password was refused, in the page's words.
#[must_use]
pub fn violation_text(ui: &Ui<'_>, v: PolicyViolation) -> Cow<'static, str> {
    match v {
        PolicyViolation::TooShort { min } => ui.t_with("too-short", &[("min", count(min))]),
        PolicyViolation::TooLong { max } => ui.t_with("too-long", &[("max", count(max))]),
        PolicyViolation::Blocklisted => ui.t("blocklisted"),
        PolicyViolation::MatchesEmail => ui.t("matches-email"),
    }
}

#[cfg(test)]
mod tests;
