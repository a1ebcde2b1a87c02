//! Where rendered emails go. `log` prints them to stdout for the demo; `file` appends them to an
//! mbox file that tests (and operators debugging a staging box) read. SMTP arrives later.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Mutex;

use super::templates::Email;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail transport failed: {0}")]
    Transport(String),
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
        let block = format!(
            "\n===== resetgate mail (log transport: demo only) =====\nTo: {}\nSubject: {}\n\n{}=====================================================\n",
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
        let message = format!(
            "From resetgate {}\nFrom: {}\nTo: {}\nSubject: {}\nDate: {}\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
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
