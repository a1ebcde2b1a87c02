//! The dispatcher: drains the outbox table into a [`Mailer`]. Rows are claimed with a lease, so a
//! dispatcher that dies mid-send leaves its rows to be retried; failures back off exponentially
//! with jitter and give up after `max_attempts`, leaving a dead row. Claims draw from the shared
//! send budget ([`Pacing`]), transactional mail first.
//!
//! Delivery is at-least-once, and the window for a duplicate is one message per dispatcher: each
//! row is marked sent the moment the server accepts it, so only a crash between the server's
//! "250 OK" and that update can resend it. The Message-ID is derived from the row id, so the copy
//! carries the same id as the original (receivers and mail filters can fold it).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use rand::RngExt as _;
use tokio_util::sync::CancellationToken;

use super::pacing::Pacing;
use super::seal::Sealer;
use super::templates::{Email, Templates};
use super::transport::{MailError, Mailer};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::storage::store::{MailKind, OutboxMessage, Store, StoreError};

/// Shortest sleep while the send budget is dry: claims come in batches, not one per token.
const PACE_TICK: Duration = Duration::from_millis(20);
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
    pub pacing: Pacing,
    /// Messages in flight at once (at most the SMTP pool size is useful).
    pub concurrency: usize,
    /// The first retry waits about this long; each further one doubles it.
    pub retry_base: Duration,
    /// A claimed row reappears after this if its dispatcher died; longer than any one send.
    pub lease: Duration,
    /// How long a reset link lives: a reset mail queued longer ago than this carries a dead link.
    pub reset_link_ttl: Duration,
}

/// What one tick did, and when the next should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub handled: usize,
    pub budget_wait: Option<Duration>,
}

/// base × 2^(attempts-1), ±25 % jitter so a provider outage does not end in a synchronised retry
/// storm; at most an hour.
fn backoff(base: Duration, attempts: i32) -> chrono::Duration {
    let base = (base.as_secs_f64() * 2f64.powi((attempts - 1).clamp(0, 30))).min(MAX_BACKOFF_SECS);
    let jittered = base * rand::rng().random_range(0.75..=1.25);
    // At most 1.25 h in milliseconds: far inside i64.
    #[allow(clippy::cast_possible_truncation)]
    chrono::Duration::milliseconds((jittered * 1000.0).round() as i64)
}

impl Dispatcher {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.tick().await {
                Ok(Tick {
                    budget_wait: Some(wait),
                    ..
                }) => Some(wait.max(PACE_TICK)),
                Ok(Tick { handled: 0, .. }) => Some(self.poll_interval),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox dispatch failed; will retry");
                    Some(self.poll_interval)
                }
            };
            match pause {
                Some(pause) => tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                },
                None if shutdown.is_cancelled() => return,
                None => {}
            }
        }
    }

    /// Claims and sends one batch; returns how many rows it handled.
    ///
    /// # Errors
    /// When the store fails; messages already handled stay handled.
    pub async fn tick(&self) -> Result<Tick, StoreError> {
        let claim = self
            .store
            // One claim is one round of sends: every claimed message starts at once, so each ends
            // within one send of its claim, inside the lease. (A bigger batch sent in rounds could
            // outlive its lease and be claimed again by another replica.)
            .claim_outbox(
                self.clock.now(),
                self.concurrency.max(1),
                chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX),
                &self.pacing,
            )
            .await?;
        let handled = claim.messages.len();
        // Each message is marked as soon as it is sent, whatever happens to its neighbours.
        let results: Vec<Result<(), StoreError>> = futures_util::stream::iter(claim.messages)
            .map(|msg| self.deliver(msg))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect::<Result<(), StoreError>>()?;
        if let Ok(backlog) = self.store.outbox_backlog().await {
            self.metrics.outbox_backlog.set(backlog);
        }
        Ok(Tick {
            handled,
            budget_wait: claim.budget_wait,
        })
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
                Ok(self
                    .templates
                    .password_reset(msg.recipient.clone(), msg.locale, &token))
            }
            MailKind::PasswordChanged => {
                Ok(self.templates.password_changed(msg.recipient.clone(), msg.locale))
            }
            MailKind::CampaignNotice => Ok(self.templates.campaign_notice(msg.recipient.clone(), msg.locale)),
            kind @ (MailKind::MfaEnabled | MailKind::MfaRemoved | MailKind::RecoveryCodeUsed) => Ok(self
                .templates
                .factor_notice(kind, msg.recipient.clone(), msg.locale)),
        }
    }

    fn link_expired(&self, msg: &OutboxMessage) -> bool {
        let ttl = chrono::Duration::from_std(self.reset_link_ttl).unwrap_or(chrono::Duration::MAX);
        msg.created_at
            .checked_add_signed(ttl)
            .is_some_and(|end| end <= self.clock.now())
    }

    async fn deliver(&self, msg: OutboxMessage) -> Result<(), StoreError> {
        if msg.kind == MailKind::PasswordReset && self.link_expired(&msg) {
            // Sending it would only hand its owner a link that says "expired", and spend budget
            // that a live link is waiting for. Kept as dead so ops can see it.
            tracing::warn!(
                id = msg.id,
                "reset mail not sent: its link expired while it waited"
            );
            self.metrics.outbox_failed.with_label_values(&["expired"]).inc();
            return self
                .store
                .outbox_failed(msg.id, "reset link expired before it could be sent", None)
                .await;
        }
        let email = match self.render(&msg) {
            // The row id is the idempotency key: a resend after a crash carries the same id.
            Ok(mut e) => {
                e.message_id = Some(format!("outbox-{}@{}", msg.id, self.templates.host()));
                e
            }
            Err(reason) => {
                // Retrying cannot fix a message we cannot render.
                tracing::error!(id = msg.id, %reason, "outbox message cannot be rendered; marking dead");
                self.metrics.outbox_failed.with_label_values(&["dead"]).inc();
                return self.store.outbox_failed(msg.id, &reason, None).await;
            }
        };
        match self.mailer.send(&email).await {
            Ok(()) => {
                self.metrics
                    .outbox_sent
                    .with_label_values(&[msg.kind.as_str()])
                    .inc();
                self.store.outbox_sent(msg.id, self.clock.now()).await
            }
            Err(e) => {
                let attempts = msg.attempts + 1;
                // A relay's permanent refusal of this message would only repeat: dead at once.
                let final_failure = matches!(e, MailError::Rejected(_)) || attempts >= self.max_attempts;
                let retry_at =
                    (!final_failure).then(|| self.clock.now() + backoff(self.retry_base, attempts));
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
        let base = std::time::Duration::from_secs(1);
        let one = backoff(base, 1).num_milliseconds();
        assert!((750..=1250).contains(&one), "{one}");
        let three = backoff(base, 3).num_milliseconds();
        assert!((3000..=5000).contains(&three), "{three}");
        let big = backoff(base, 40).num_milliseconds();
        assert!(big <= 3_600_000 * 5 / 4, "{big}");
    }
}
