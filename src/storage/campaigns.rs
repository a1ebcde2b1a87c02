//! The storage side of campaigns. PostgreSQL only: a campaign exists to survive crashes and to be
//! shared by every replica, which an in-process store cannot do (the demo answers 501).
//!
//! The trait lives with storage, not with `campaign`, because [`super::store::Store::campaigns`]
//! hands it out and `storage::postgres` implements it: storage must not reach up into the campaign
//! runner's module. The values it takes and returns are domain types from `campaign::model`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::store::StoreError;
use crate::campaign::model::{Action, CampaignId, NewCampaign, Progress, State};

#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub id: CampaignId,
    pub accounts_total: i64,
    /// List entries that matched no account (ids or emails), so the operator can check their list.
    pub unmatched: i64,
}

/// One committed batch of a runner step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub campaign: CampaignId,
    /// Accounts marked (or notifications enqueued) by this batch.
    pub rows: u64,
    /// Sessions deleted by this batch (marking only).
    pub sessions_revoked: u64,
    /// The stage finished with this batch.
    pub finished: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such campaign")]
    NotFound,
    #[error("a {0:?} campaign cannot be changed that way")]
    NotAllowed(State),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait CampaignStore: Send + Sync + 'static {
    /// Creates a running campaign: resolves list scopes to account ids and fixes the set of
    /// accounts in scope, in one transaction.
    async fn create_campaign(&self, new: &NewCampaign, now: DateTime<Utc>) -> Result<Created, StoreError>;

    async fn campaign(&self, id: CampaignId, now: DateTime<Utc>) -> Result<Option<Progress>, StoreError>;

    /// The most recent campaigns, newest first.
    async fn campaigns(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<Progress>, StoreError>;

    /// Pause, resume or cancel. Pausing holds the campaign's unsent mail; cancelling drops it.
    async fn change_campaign(
        &self,
        id: CampaignId,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<State, ChangeError>;

    /// Marks the next batch of accounts of a running campaign as must-reset (and revokes their
    /// sessions if asked), advancing its cursor in the same transaction. `None`: nothing to mark.
    async fn mark_batch(&self, size: i64, now: DateTime<Utc>) -> Result<Option<Batch>, StoreError>;

    /// Enqueues the next batch of notifications of a running campaign whose unsent mail is below
    /// `window`, keyed by (campaign, account) so a redone batch cannot enqueue twice.
    async fn enqueue_batch(
        &self,
        size: i64,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Batch>, StoreError>;
}
