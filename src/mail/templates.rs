//! Email bodies, in the recipient's language (Fluent messages, `locales/<tag>/mail.ftl`). Links
//! are built from the configured public base URL only, never from a request's Host header, so a
//! forged Host cannot redirect a reset link to an attacker's site; they are never part of a
//! message, so no translation can change where they point.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use fluent_bundle::{FluentArgs, FluentValue};
use url::Url;

use crate::brand::Brand;
use crate::i18n::Locale;
use crate::reset::email::EmailAddress;
use crate::secret::SecretString;
use crate::storage::store::MailKind;

pub struct Email {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Written as the Message-ID header when set. The dispatcher derives it from the outbox row,
    /// so a retried send carries the same id and a relay or inbox can recognise the duplicate.
    pub message_id: Option<String>,
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body may hold a reset link: never print it.
        f.debug_struct("Email")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct Templates {
    base_url: Url,
    token_ttl_minutes: i64,
    brand: Brand,
    /// For accounts without a stored locale (`RESETGATE_DEFAULT_LOCALE`).
    default_locale: Locale,
}

/// Escapes text for the HTML part (the messages and the product name are text, not markup).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One message being written, as its text and its HTML part side by side, so both say the same.
struct Writer<'a> {
    locale: Locale,
    args: FluentArgs<'a>,
    text: String,
    html: String,
    errors: Vec<String>,
}

impl<'a> Writer<'a> {
    fn new(locale: Locale, brand: &'a Brand) -> Self {
        let mut args = FluentArgs::new();
        args.set("product", FluentValue::from(brand.product.as_str()));
        Self {
            locale,
            args,
            text: String::new(),
            html: String::new(),
            errors: Vec::new(),
        }
    }

    fn message(&mut self, id: &str) -> Cow<'static, str> {
        self.locale.message(id, Some(&self.args), &mut self.errors)
    }

    /// A paragraph.
    fn para(&mut self, id: &str) {
        let m = self.message(id);
        let _ = write!(self.text, "{m}\n\n");
        let _ = write!(self.html, "<p>{}</p>", escape(&m));
    }

    /// A line that introduces a link, then the link: on its own line in the text part, under the
    /// words of `label` in the HTML part.
    fn link(&mut self, intro: &str, href: &str, label: &str) {
        let (intro, label) = (self.message(intro), self.message(label));
        let _ = write!(self.text, "{intro}\n\n{href}\n\n");
        let href = escape(href);
        let _ = write!(
            self.html,
            "<p>{}</p><p><a href=\"{href}\">{}</a></p>",
            escape(&intro),
            escape(&label)
        );
    }

    /// The support contact after the line that introduces it; nothing when none is configured.
    fn support(&mut self, intro: &str, brand: &Brand) {
        let Some(support) = &brand.support else {
            return;
        };
        let intro = self.message(intro);
        let text = support.text();
        let _ = write!(self.text, "{intro} {text}\n\n");
        let _ = write!(
            self.html,
            "<p>{} <a href=\"{}\">{}</a></p>",
            escape(&intro),
            escape(&support.href()),
            escape(&text)
        );
    }

    fn finish(mut self, to: EmailAddress, subject: &str) -> Rendered {
        let subject = self.message(subject).into_owned();
        let text = self.text.trim_end().to_owned() + "\n";
        Rendered {
            email: Email {
                to,
                subject,
                text,
                html: self.html,
                message_id: None,
            },
            errors: self.errors,
        }
    }
}

/// A mail and the Fluent errors met while writing it (the tests require none).
struct Rendered {
    email: Email,
    errors: Vec<String>,
}

impl Rendered {
    fn email(self) -> Email {
        for e in &self.errors {
            // Cannot happen with the shipped catalogs (the tests render every mail in every
            // language); the mail still goes out, with the reference wording where one was missing.
            tracing::error!(error = %e, "mail message did not format");
        }
        self.email
    }
}

impl Templates {
    #[must_use]
    pub fn new(base_url: Url, token_ttl_minutes: i64, brand: Brand, default_locale: Locale) -> Self {
        Self {
            base_url,
            token_ttl_minutes,
            brand,
            default_locale,
        }
    }

    /// A page of the public site; links never come from anything but the configured base URL.
    fn page(&self, path: &str) -> url::Url {
        self.base_url.join(path).unwrap_or_else(|_| self.base_url.clone())
    }

    /// The public host: the right-hand side of our Message-IDs.
    #[must_use]
    pub fn host(&self) -> &str {
        self.base_url.host_str().unwrap_or("resetgate.invalid")
    }

    fn writer(&self, locale: Option<Locale>) -> Writer<'_> {
        Writer::new(locale.unwrap_or(self.default_locale), &self.brand)
    }

    /// The token goes in the query so that the reset page works without JavaScript. GET /reset
    /// only reads it (mail scanners fetch links before people do) and the page sends
    /// `Referrer-Policy: no-referrer`; the access log records the route, never the query.
    #[must_use]
    pub fn reset_link(&self, token: &SecretString) -> String {
        let mut url = self.page("reset");
        url.query_pairs_mut().clear().append_pair("token", token.expose());
        url.to_string()
    }

    /// The reset link, in `locale` (`None`: the default language).
    #[must_use]
    pub fn password_reset(&self, to: EmailAddress, locale: Option<Locale>, token: &SecretString) -> Email {
        self.reset_rendered(to, locale, token).email()
    }

    fn reset_rendered(&self, to: EmailAddress, locale: Option<Locale>, token: &SecretString) -> Rendered {
        let link = self.reset_link(token);
        let mut w = self.writer(locale);
        w.args.set("minutes", self.token_ttl_minutes);
        w.para("reset-intro");
        w.link("reset-open", &link, "reset-link");
        w.para("reset-ignore");
        w.finish(to, "reset-subject")
    }

    #[must_use]
    pub fn password_changed(&self, to: EmailAddress, locale: Option<Locale>) -> Email {
        self.changed_rendered(to, locale).email()
    }

    fn changed_rendered(&self, to: EmailAddress, locale: Option<Locale>) -> Rendered {
        let forgot = self.page("forgot");
        let mut w = self.writer(locale);
        w.para("changed-body");
        w.link("changed-not-you", forgot.as_str(), "changed-link");
        w.support("changed-support", &self.brand);
        w.finish(to, "changed-subject")
    }

    /// The breach-day notice. It carries no token: a mass mailing with live links would be a
    /// phishing template, and the links would expire before most people read it. It sends people
    /// to the reset page; logging in with the old password also mails them a personal link.
    #[must_use]
    pub fn campaign_notice(&self, to: EmailAddress, locale: Option<Locale>) -> Email {
        self.notice_rendered(to, locale).email()
    }

    /// A change to the account's second factor. It says what happened and, as every security
    /// notice should, what to do if it was not the owner; it carries no link that signs anyone in.
    #[must_use]
    pub fn factor_notice(&self, kind: MailKind, to: EmailAddress, locale: Option<Locale>) -> Email {
        self.factor_rendered(kind, to, locale).email()
    }

    fn factor_rendered(&self, kind: MailKind, to: EmailAddress, locale: Option<Locale>) -> Rendered {
        let prefix = match kind {
            MailKind::MfaEnabled => "mfa-enabled",
            MailKind::MfaRemoved => "mfa-removed",
            _ => "recovery-used",
        };
        let forgot = self.page("forgot");
        let mut w = self.writer(locale);
        w.para(&format!("{prefix}-body"));
        w.link("factor-not-you", forgot.as_str(), "changed-link");
        w.support("changed-support", &self.brand);
        w.finish(to, &format!("{prefix}-subject"))
    }

    fn notice_rendered(&self, to: EmailAddress, locale: Option<Locale>) -> Rendered {
        let forgot = self.page("forgot");
        let mut w = self.writer(locale);
        w.para("notice-body");
        w.link("notice-open", forgot.as_str(), "notice-link");
        w.para("notice-safety");
        w.support("notice-support", &self.brand);
        w.finish(to, "notice-subject")
    }
}

#[cfg(test)]
mod tests;
