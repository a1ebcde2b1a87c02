//! Reading what the file transport delivered: the test app's mbox, split into messages.

use std::time::Duration;

use super::TestApp;

/// One message from the mbox file.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mail {
    /// The reset token from the link in the body.
    pub fn token(&self) -> String {
        let at = self.body.find("?token=").expect("mail has a reset link") + "?token=".len();
        self.body[at..at + 43].to_owned()
    }
}

impl TestApp {
    /// Every message delivered so far.
    pub fn mails(&self) -> Vec<Mail> {
        let Ok(raw) = std::fs::read_to_string(&self.mbox) else {
            return Vec::new();
        };
        raw.split("\nFrom resetgate ")
            .filter(|chunk| chunk.contains("Subject: "))
            .map(|chunk| {
                let (headers, body) = chunk.split_once("\n\n").unwrap_or((chunk, ""));
                let header = |name: &str| {
                    headers
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                };
                Mail {
                    to: header("To: "),
                    subject: header("Subject: "),
                    body: body.to_owned(),
                }
            })
            .collect()
    }

    /// Waits (up to 10 s) until `n` messages to `to` have been delivered; returns them in order.
    pub async fn wait_for_mails(&self, to: &str, n: usize) -> Vec<Mail> {
        for _ in 0..500 {
            let got: Vec<Mail> = self.mails().into_iter().filter(|m| m.to == to).collect();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} mail(s) to {to}; mailbox holds {:?}", self.mails());
    }

    /// Requests a reset and returns the token from the newest reset mail.
    pub async fn reset_token(&self, email: &str) -> String {
        let before = self
            .mails()
            .iter()
            .filter(|m| m.to == email && m.subject == "Reset your password")
            .count();
        assert_eq!(self.request_reset(email).await.status(), 202);
        for _ in 0..500 {
            let resets: Vec<Mail> = self
                .mails()
                .into_iter()
                .filter(|m| m.to == email && m.subject == "Reset your password")
                .collect();
            if resets.len() > before {
                return resets.last().expect("mail").token();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no reset mail to {email}");
    }
}
