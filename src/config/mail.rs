//! Which transport carries the mail, and who it is from. The relay's own settings are in
//! [`super::smtp`], the outbox dispatcher's pacing and retries in [`super::outbox`].

use std::path::PathBuf;
use std::time::Duration;

use super::env::Env;
use super::setting::{choices, Group, Range, Setting, Unset};
use super::smtp;
use super::{err, ConfigError, Mode};
use crate::mail::smtp::SmtpConfig;

pub const DEFAULT_MAIL_FROM: &str = "resetgate <no-reply@localhost>";
pub const DEFAULT_MAIL_POLL_MS: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Log,
    File,
    Smtp,
}

choices!(TransportKind {
    TransportKind::Smtp => "smtp",
    TransportKind::File => "file",
    TransportKind::Log => "log",
});

pub static MAIL_TRANSPORT: Setting<TransportKind> = Setting {
    name: "RESETGATE_MAIL_TRANSPORT",
    doc: "`smtp`: through a relay (`RESETGATE_SMTP_*`); `file`: appended to an mbox file; `log`: printed to stdout.",
    unset: Unset::Means("required by `serve`; `log` otherwise"),
    bounds: (),
    secret: false,
};
pub static MAIL_FILE: Setting<PathBuf> = Setting {
    name: "RESETGATE_MAIL_FILE",
    doc: "The mbox file of the `file` transport.",
    unset: Unset::Means("required when the transport is `file`"),
    bounds: (),
    secret: false,
};
pub static MAIL_FROM: Setting<String> = Setting {
    name: "RESETGATE_MAIL_FROM",
    doc: "`From:` header (`smtp`, `file`), with `smtp` also the envelope sender; a mailbox such as `Example <no-reply@example.com>`.",
    unset: Unset::DefaultText(DEFAULT_MAIL_FROM),
    bounds: (),
    secret: false,
};
pub static MAIL_POLL_MS: Setting<u64> = Setting {
    name: "RESETGATE_MAIL_POLL_MS",
    doc: "How often an idle outbox dispatcher looks for mail.",
    unset: Unset::Default(DEFAULT_MAIL_POLL_MS),
    bounds: Range::above(0),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Mail",
    about: "`serve` must name its transport: a silent default of `log` would print reset links to stdout.",
    settings: &[&MAIL_TRANSPORT, &MAIL_FILE, &MAIL_FROM, &MAIL_POLL_MS],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    Log,
    File(PathBuf),
    Smtp(SmtpConfig),
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub from: String,
    pub poll_interval: Duration,
}

pub(super) fn parse(env: &Env<'_>, mode: Mode) -> Result<MailConfig, ConfigError> {
    let kind =
        match env.opt(&MAIL_TRANSPORT)? {
            Some(kind) => kind,
            None if mode.is_production() => return Err(err(
                MAIL_TRANSPORT.name,
                "required by `serve`: `smtp` (with RESETGATE_SMTP_HOST), `file` (with RESETGATE_MAIL_FILE) \
                 or `log` (prints reset links to stdout)",
            )),
            None => {
                env.show(&MAIL_TRANSPORT, &TransportKind::Log);
                TransportKind::Log
            }
        };
    let transport = match kind {
        TransportKind::Log => MailTransport::Log,
        TransportKind::File => MailTransport::File(
            env.opt(&MAIL_FILE)?
                .ok_or_else(|| err(MAIL_FILE.name, "required when RESETGATE_MAIL_TRANSPORT=file"))?,
        ),
        TransportKind::Smtp => MailTransport::Smtp(smtp::parse(env)?),
    };
    let from = env.get(&MAIL_FROM)?;
    // Parsed here so a bad sender fails at start, not on every send.
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(err(
            MAIL_FROM.name,
            format!("not a mailbox (e.g. `Example <no-reply@example.com>`): {from:?}"),
        ));
    }
    Ok(MailConfig {
        transport,
        from,
        poll_interval: Duration::from_millis(env.get(&MAIL_POLL_MS)?),
    })
}
