//! The campaign runner: a task in every replica that advances running campaigns a batch at a time
//! (mark, then enqueue notifications) and publishes their progress as metrics. Replicas share the
//! work through row locks in the store; any of them can die at any point without losing a batch.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::model::{Phase, Progress};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::storage::campaigns::CampaignStore;
use crate::storage::store::Store;

/// How often progress metrics are refreshed (each refresh counts outbox rows per campaign).
const PUBLISH_INTERVAL: Duration = Duration::from_secs(5);
/// Campaigns whose progress is exported: the most recent ones.
const PUBLISHED: i64 = 20;

#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// Accounts per marking transaction.
    pub mark_batch: i64,
    /// Notifications per enqueue transaction.
    pub enqueue_batch: i64,
    /// Most unsent notifications a campaign keeps in the outbox; the rest wait in the campaign.
    pub outbox_window: i64,
    pub poll_interval: Duration,
}

pub struct Runner {
    pub campaigns: Arc<dyn CampaignStore>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub config: RunnerConfig,
}

impl Runner {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_publish = tokio::time::Instant::now() - PUBLISH_INTERVAL;
        loop {
            let busy = match self.step().await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "campaign step failed; will retry");
                    false
                }
            };
            if last_publish.elapsed() >= PUBLISH_INTERVAL {
                self.publish().await;
                last_publish = tokio::time::Instant::now();
            }
            if busy {
                if shutdown.is_cancelled() {
                    return;
                }
                // Let the request path have the database between batches.
                tokio::task::yield_now().await;
            } else {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }

    /// One marking batch, or, when no campaign has marking left, one enqueue batch; `true` when
    /// either found work. Marking goes first: it is what stops the leaked passwords from working,
    /// and notices can wait the few seconds a million accounts take.
    ///
    /// # Errors
    /// When the store fails; committed batches stay committed.
    pub async fn step(&self) -> Result<bool, crate::storage::store::StoreError> {
        let now = self.clock.now();
        let marked = self.campaigns.mark_batch(self.config.mark_batch, now).await?;
        if let Some(b) = marked {
            self.metrics.campaign_marked.inc_by(b.rows);
            self.metrics.campaign_sessions_revoked.inc_by(b.sessions_revoked);
            if b.finished {
                tracing::info!(campaign = b.campaign, "campaign marking finished");
            }
        }
        if marked.is_some() {
            return Ok(true);
        }
        let queued = self
            .campaigns
            .enqueue_batch(self.config.enqueue_batch, self.config.outbox_window, now)
            .await?;
        if let Some(b) = queued {
            if b.finished {
                tracing::info!(campaign = b.campaign, "campaign notifications all enqueued");
            }
        }
        Ok(queued.is_some())
    }

    /// Exports the progress of recent campaigns and the outbox counts.
    pub async fn publish(&self) {
        match self.campaigns.campaigns(PUBLISHED, self.clock.now()).await {
            Ok(list) => publish_progress(&self.metrics, &list),
            Err(e) => tracing::debug!(error = %e, "campaign progress not published"),
        }
        if let Ok(s) = self.store.outbox_summary(0).await {
            let m = &self.metrics.outbox_messages;
            m.with_label_values(&["pending"]).set(s.pending);
            m.with_label_values(&["held"]).set(s.held);
            m.with_label_values(&["dead"]).set(s.dead);
        }
    }
}

fn publish_progress(metrics: &Metrics, list: &[Progress]) {
    // Replace every series, so a campaign that fell off the list does not linger at old values.
    metrics.campaign_accounts.reset();
    metrics.campaign_emails.reset();
    metrics.campaign_send_rate.reset();
    metrics.campaign_eta.reset();
    metrics.campaign_phase.reset();
    for p in list {
        let id = p.id.to_string();
        let id = id.as_str();
        let accounts = &metrics.campaign_accounts;
        accounts.with_label_values(&[id, "total"]).set(p.accounts_total);
        accounts.with_label_values(&[id, "marked"]).set(p.marked);
        accounts.with_label_values(&[id, "notified"]).set(p.notified);
        let emails = &metrics.campaign_emails;
        emails.with_label_values(&[id, "sent"]).set(p.emails.sent);
        emails.with_label_values(&[id, "failed"]).set(p.emails.failed);
        emails.with_label_values(&[id, "pending"]).set(p.emails.pending);
        emails
            .with_label_values(&[id, "cancelled"])
            .set(p.emails.cancelled);
        metrics
            .campaign_send_rate
            .with_label_values(&[id])
            .set(p.send_rate_per_sec);
        metrics
            .campaign_eta
            .with_label_values(&[id])
            .set(p.eta_seconds.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX)));
        for (phase, name) in [
            (Phase::Marking, "marking"),
            (Phase::Notifying, "notifying"),
            (Phase::Completed, "completed"),
            (Phase::Paused, "paused"),
            (Phase::Cancelled, "cancelled"),
        ] {
            metrics
                .campaign_phase
                .with_label_values(&[id, name])
                .set(i64::from(p.phase == phase));
        }
    }
}
