//! The production transport: a pooled SMTP client (lettre, rustls only) that hands each email to a
//! relay as `multipart/alternative` text + HTML. It tells the dispatcher whether a failure is worth
//! retrying ([`MailError::Transport`]) or final for this message ([`MailError::Rejected`]).

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Category;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use super::templates::Email;
use super::transport::{message_id_header, MailError, Mailer};
use crate::secret::SecretString;

// The relay's settings are defined here, where they are used, and built by `config::smtp` from
// `RESETGATE_SMTP_*`: mail sits below config, so it must not import config's types.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a trusted private network.
    None,
    /// STARTTLS, required: a relay that does not offer it is an error, never a silent downgrade.
    StartTls,
    /// Implicit TLS from the first byte (smtps).
    Tls,
}

impl SmtpTls {
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    pub username: String,
    pub password: SecretString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub auth: Option<SmtpAuth>,
    /// Most connections kept open to the relay.
    pub pool_size: u32,
    /// Bounds connecting and each command; a whole send is bounded by a multiple of it.
    pub timeout: Duration,
    /// A PEM file of extra roots to trust (a private relay's CA), besides the public web roots.
    pub ca_file: Option<PathBuf>,
}

/// lettre's timeout bounds connecting and each command; a whole send (connect, EHLO, STARTTLS,
/// AUTH, MAIL, RCPT, DATA) gets this many of them before it is abandoned and retried later. The
/// per-command timeout normally fires first; this bound only matters against a relay that answers
/// every command slowly, and keeps a send inside the outbox lease.
const SEND_DEADLINE_FACTOR: u32 = 3;

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    deadline: Duration,
    /// For log lines: which relay failed, never who was being mailed or what.
    relay: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: show only where mail goes.
        f.debug_struct("SmtpMailer")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

fn setup(what: &str, e: impl std::fmt::Display) -> MailError {
    MailError::Setup(format!("{what}: {e}"))
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, MailError> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|e| setup(&format!("reading {}", path.display()), e))?;
        let ca = Certificate::from_pem(&pem).map_err(|e| setup(&format!("parsing {}", path.display()), e))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build_rustls()
        .map_err(|e| setup("building the TLS configuration", e))
}

impl SmtpMailer {
    /// Builds the pooled client; no connection is made until the first send.
    ///
    /// # Errors
    /// [`MailError::Setup`] when the sender is not a mailbox or the CA file cannot be used.
    pub fn new(config: &SmtpConfig, from: &str) -> Result<Self, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| setup("RESETGATE_MAIL_FROM is not a mailbox", e))?;
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(config)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(config)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new().max_size(config.pool_size));
        if let Some(auth) = &config.auth {
            builder = builder.credentials(Credentials::new(
                auth.username.clone(),
                auth.password.expose().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            deadline: config.timeout * SEND_DEADLINE_FACTOR,
            relay: format!("{}:{}", config.host, config.port),
        })
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let message_id = email.message_id.as_deref().map(message_id_header).transpose()?;
        let to: Mailbox = email
            .to
            .as_str()
            .parse()
            .map_err(|e| MailError::Rejected(format!("recipient is not a mailbox: {e}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.as_str())
            .date_now()
            // `None` makes lettre generate `<random@hostname>`.
            .message_id(message_id)
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError::Rejected(format!("message cannot be built: {e}")))
    }
}

/// A 55x answer (mailbox unavailable, not local, over quota, name refused, transaction refused) is
/// about this message: final. Other 5xx are about the session (535 bad credentials, 530 auth
/// required, 50x syntax): the relay or our config is wrong and every message would fail alike, so
/// they are retried until an operator fixes it rather than dead-lettering the whole outbox.
fn classify(e: &lettre::transport::smtp::Error) -> MailError {
    match e.status() {
        Some(code) if e.is_permanent() && code.category == Category::MailSystem => {
            MailError::Rejected(format!("relay answered {code}: {e}"))
        }
        _ => MailError::Transport(e.to_string()),
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(MailError::Transport(format!(
                "no answer from {} within {:?}",
                self.relay, self.deadline
            ))),
        }
    }
}
