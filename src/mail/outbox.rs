//! The dispatcher: drains the outbox table into a [`Mailer`]. Rows are claimed with a lease, so a
//! dispatcher that dies mid-send leaves its rows to be retried (at-least-once delivery); failures
//! back off exponentially with jitter and give up after `max_attempts`, leaving a dead row.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio_util::sync::CancellationToken;

use super::seal::Sealer;
use super::templates::{Email, Templates};
use super::transport::{MailError, Mailer};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::storage::store::{MailKind, OutboxMessage, Store};

pub const DEFAULT_BATCH: usize = 32;
pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;
/// Long enough for any single send; a claimed row reappears after this if its dispatcher died.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
const MAX_BACKOFF_SECS: f64 = 3600.0;

pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub sealer: Sealer,
    pub templates: Templates,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub poll_interval: Duration,
    pub max_attempts: i32,
}

/// 2^attempts seconds, ±25 % jitter so a provider outage does not end in a synchronised retry storm.
fn backoff(attempts: i32) -> chrono::Duration {
    let base = 2f64.powi(attempts.clamp(0, 30)).min(MAX_BACKOFF_SECS);
    let jittered = base * rand::thread_rng().gen_range(0.75..=1.25);
    // At most 1.25 h in milliseconds: far inside i64.
    #[allow(clippy::cast_possible_truncation)]
    chrono::Duration::milliseconds((jittered * 1000.0).round() as i64)
}

impl Dispatcher {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let delivered = match self.tick().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox dispatch failed; will retry");
                    0
                }
            };
            if delivered == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(self.poll_interval) => {}
                }
            } else if shutdown.is_cancelled() {
                return;
            }
        }
    }

    /// Claims and sends one batch; returns how many rows it handled.
    ///
    /// # Errors
    /// When the store fails; messages already handled stay handled.
    pub async fn tick(&self) -> Result<usize, crate::storage::store::StoreError> {
        let batch = self
            .store
            .claim_outbox(self.clock.now(), DEFAULT_BATCH, LEASE)
            .await?;
        let n = batch.len();
        for msg in batch {
            self.deliver(msg).await?;
        }
        if let Ok(backlog) = self.store.outbox_backlog().await {
            self.metrics.outbox_backlog.set(backlog);
        }
        Ok(n)
    }

    fn render(&self, msg: &OutboxMessage) -> Result<Email, String> {
        match msg.kind {
            MailKind::PasswordReset => {
                let sealed = msg
                    .sealed_secret
                    .as_deref()
                    .ok_or("reset mail without a sealed token")?;
                let token = self
                    .sealer
                    .open(sealed, &msg.recipient)
                    .map_err(|e| e.to_string())?;
                Ok(self.templates.password_reset(msg.recipient.clone(), &token))
            }
            MailKind::PasswordChanged => Ok(self.templates.password_changed(msg.recipient.clone())),
        }
    }

    async fn deliver(&self, msg: OutboxMessage) -> Result<(), crate::storage::store::StoreError> {
        let email = match self.render(&msg) {
            Ok(e) => e,
            Err(reason) => {
                // Retrying cannot fix a message we cannot render.
                tracing::error!(id = msg.id, %reason, "outbox message cannot be rendered; marking dead");
                self.metrics.outbox_failed.with_label_values(&["dead"]).inc();
                return self.store.outbox_failed(msg.id, &reason, None).await;
            }
        };
        match self.mailer.send(&email).await {
            Ok(()) => {
                self.metrics.outbox_sent.inc();
                self.store.outbox_sent(msg.id, self.clock.now()).await
            }
            Err(e) => {
                let attempts = msg.attempts + 1;
                // A relay's permanent refusal of this message would only repeat: dead at once.
                let final_failure = matches!(e, MailError::Rejected(_)) || attempts >= self.max_attempts;
                let retry_at = (!final_failure).then(|| self.clock.now() + backoff(attempts));
                let outcome = if retry_at.is_some() { "retry" } else { "dead" };
                tracing::warn!(id = msg.id, attempts, outcome, error = %e, "mail send failed");
                self.metrics.outbox_failed.with_label_values(&[outcome]).inc();
                self.store.outbox_failed(msg.id, &e.to_string(), retry_at).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_grows_and_is_capped() {
        let one = backoff(1).num_milliseconds();
        assert!((1500..=2500).contains(&one), "{one}");
        let big = backoff(40).num_milliseconds();
        assert!(big <= 3_600_000 * 5 / 4, "{big}");
    }
}
