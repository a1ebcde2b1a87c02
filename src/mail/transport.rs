//! Where rendered emails go. `log` prints them to stdout for the demo; `file` appends them to an
//! mbox file that tests (and operators debugging a staging box) read; `smtp` (in smtp.rs) talks to
//! a real relay.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Mutex;

use super::templates::Email;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying: the relay was unreachable, timed out, or answered 4xx.
    #[error("mail transport failed: {0}")]
    Transport(String),
    /// Permanent for this message (the relay answered 5xx about it): retrying sends the same
    /// message into the same refusal, so the dispatcher gives up at once.
    #[error("mail rejected: {0}")]
    Rejected(String),
    /// The transport cannot be built from its configuration (e.g. an unusable CA file).
    #[error("mail transport cannot be set up: {0}")]
    Setup(String),
}

/// The Message-ID header value for `id`: wrapped in angle brackets as RFC 5322 wants. An id that
/// could break out of its header line (or is not one token) is refused; retrying cannot fix it.
///
/// # Errors
/// [`MailError::Rejected`] for an empty id, or one with whitespace, control characters, angle
/// brackets inside, or non-ASCII.
pub fn message_id_header(id: &str) -> Result<String, MailError> {
    let inner = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id);
    if inner.is_empty()
        || !inner
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(MailError::Rejected(format!(
            "unusable Message-ID {:?}",
            id.escape_debug().to_string()
        )));
    }
    Ok(format!("<{inner}>"))
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

/// Demo transport: the whole message on stdout, clearly marked, so a newcomer can copy the link.
/// It prints reset links, which is why `serve` warns loudly when it is configured.
#[derive(Debug, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message_id = match &email.message_id {
            Some(id) => format!("Message-ID: {}\n", message_id_header(id)?),
            None => String::new(),
        };
        let block = format!(
            "\n===== resetgate mail (log transport: demo only) =====\nTo: {}\nSubject: {}\n{message_id}\n{}=====================================================\n",
            email.to, email.subject, email.text
        );
        let mut out = tokio::io::stdout();
        out.write_all(block.as_bytes())
            .await
            .map_err(|e| MailError::Transport(e.to_string()))?;
        out.flush().await.map_err(|e| MailError::Transport(e.to_string()))
    }
}

/// Appends messages to an mbox file (one `From ` line per message, body lines starting with
/// "From " quoted as mboxrd does).
#[derive(Debug)]
pub struct FileMailer {
    path: PathBuf,
    from: String,
    lock: Mutex<()>,
}

impl FileMailer {
    #[must_use]
    pub fn new(path: PathBuf, from: String) -> Self {
        Self {
            path,
            from,
            lock: Mutex::new(()),
        }
    }
}

fn mbox_quote(body: &str) -> String {
    body.lines()
        .map(|l| {
            if l.trim_start_matches('>').starts_with("From ") {
                format!(">{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let now = Utc::now();
        let message_id = match &email.message_id {
            Some(id) => format!("Message-ID: {}\n", message_id_header(id)?),
            None => String::new(),
        };
        let message = format!(
            "From resetgate {}\nFrom: {}\nTo: {}\nSubject: {}\nDate: {}\n{message_id}Content-Type: text/plain; charset=utf-8\n\n{}\n",
            now.format("%a %b %e %H:%M:%S %Y"),
            self.from,
            email.to,
            email.subject,
            now.to_rfc2822(),
            mbox_quote(&email.text)
        );
        // One writer at a time so concurrent sends never interleave inside a message.
        let _guard = self.lock.lock().await;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| MailError::Transport(format!("open {}: {e}", self.path.display())))?;
        file.write_all(message.as_bytes())
            .await
            .map_err(|e| MailError::Transport(e.to_string()))?;
        file.sync_data()
            .await
            .map_err(|e| MailError::Transport(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_bracketed_and_header_safe() {
        assert_eq!(
            message_id_header("outbox-42@resetgate").unwrap(),
            "<outbox-42@resetgate>"
        );
        assert_eq!(message_id_header("<a@b>").unwrap(), "<a@b>");
        for bad in ["", "<>", "a b@c", "a@b\r\nBcc: x@y", "a<b@c", "é@x"] {
            assert!(
                matches!(message_id_header(bad), Err(MailError::Rejected(_))),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn file_transport_writes_the_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mail.mbox");
        let mailer = FileMailer::new(path.clone(), "resetgate <no-reply@localhost>".into());
        let email = Email {
            to: crate::reset::email::EmailAddress::parse("alice@example.com").unwrap(),
            subject: "s".into(),
            text: "t".into(),
            html: "<p>t</p>".into(),
            message_id: Some("outbox-7@resetgate".into()),
        };
        mailer.send(&email).await.unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(
            written.contains("\nMessage-ID: <outbox-7@resetgate>\n"),
            "{written}"
        );
    }
}
