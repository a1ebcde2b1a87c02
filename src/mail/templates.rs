//! Email bodies. Links are built from the configured public base URL only, never from a request's
//! Host header, so a forged Host cannot redirect a reset link to an attacker's site.

use std::fmt;

use url::Url;

use crate::reset::email::EmailAddress;
use crate::secret::SecretString;

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
}

impl Templates {
    #[must_use]
    pub fn new(base_url: Url, token_ttl_minutes: i64) -> Self {
        Self {
            base_url,
            token_ttl_minutes,
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

    /// The token goes in the query so that the reset page works without JavaScript. GET /reset
    /// only reads it (mail scanners fetch links before people do) and the page sends
    /// `Referrer-Policy: no-referrer`; the access log records the route, never the query.
    #[must_use]
    pub fn reset_link(&self, token: &SecretString) -> String {
        let mut url = self.page("reset");
        url.query_pairs_mut().clear().append_pair("token", token.expose());
        url.to_string()
    }

    #[must_use]
    pub fn password_reset(&self, to: EmailAddress, token: &SecretString) -> Email {
        let link = self.reset_link(token);
        let ttl = self.token_ttl_minutes;
        Email {
            to,
            subject: "Reset your password".into(),
            text: format!(
                "Someone asked to reset the password of this account.\n\n\
                 To choose a new password, open this link within {ttl} minutes:\n\n{link}\n\n\
                 The link works once. If you did not ask for this, ignore this email: \
                 your password has not changed.\n"
            ),
            html: format!(
                "<p>Someone asked to reset the password of this account.</p>\
                 <p>To choose a new password, open this link within {ttl} minutes:</p>\
                 <p><a href=\"{link}\">Reset your password</a></p>\
                 <p>The link works once. If you did not ask for this, ignore this email: \
                 your password has not changed.</p>"
            ),
            message_id: None,
        }
    }

    #[must_use]
    pub fn password_changed(&self, to: EmailAddress) -> Email {
        let forgot = self.page("forgot");
        Email {
            to,
            subject: "Your password was changed".into(),
            text: format!(
                "The password of this account was just changed.\n\n\
                 If this was not you, reset it now at {forgot} and contact support.\n"
            ),
            html: format!(
                "<p>The password of this account was just changed.</p>\
                 <p>If this was not you, <a href=\"{forgot}\">reset it now</a> and contact support.</p>"
            ),
            message_id: None,
        }
    }

    /// The breach-day notice. It carries no token: a mass mailing with live links would be a
    /// phishing template, and the links would expire before most people read it. It sends people
    /// to the reset page; logging in with the old password also mails them a personal link.
    #[must_use]
    pub fn campaign_notice(&self, to: EmailAddress) -> Email {
        let forgot = self.page("forgot");
        Email {
            to,
            subject: "Action required: choose a new password".into(),
            text: format!(
                "As a precaution after a security incident, the password of this account has been \
                 disabled.\n\n\
                 To keep using your account, choose a new password at {forgot}\n\n\
                 Type the address yourself if you prefer: we will never ask for your password by \
                 email. Consider turning on two-factor authentication once you are back in.\n"
            ),
            html: format!(
                "<p>As a precaution after a security incident, the password of this account has been \
                 disabled.</p>\
                 <p>To keep using your account, <a href=\"{forgot}\">choose a new password</a>.</p>\
                 <p>Type the address yourself if you prefer: we will never ask for your password by \
                 email. Consider turning on two-factor authentication once you are back in.</p>"
            ),
            message_id: None,
        }
    }
}
