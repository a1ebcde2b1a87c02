//! Campaigns on PostgreSQL. Every step is set-based SQL over one batch of account ids, in one
//! transaction with the cursor it advances; the campaign row is locked `FOR UPDATE SKIP LOCKED`,
//! so replicas take turns on a campaign instead of doing its batches twice.
//!
//! Here: what the admin API does (create, read progress, steer). The batch steps the campaign
//! worker runs are in `campaigns/batches.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{db_error, PostgresStore};
use crate::campaign::model::{Action, CampaignId, EmailCounts, NewCampaign, Phase, Progress, Scope, State};
use crate::storage::campaigns::{Batch, CampaignStore, ChangeError, Created};
use crate::storage::store::StoreError;

mod batches;

/// The window over which the send rate (and so the ETA) is measured.
const RATE_WINDOW_SECS: i64 = 60;

const PROGRESS_COLUMNS: &str =
    "id, reason, scope_kind, revoke_sessions, notify, require_two_step, state, accounts_total,
     marked, notified, created_at, marked_at, enqueued_at";

async fn progress_of(
    client: &impl tokio_postgres::GenericClient,
    row: &Row,
    now: DateTime<Utc>,
) -> Result<Progress, StoreError> {
    let id: i64 = row.get("id");
    let state: String = row.get("state");
    let scope: String = row.get("scope_kind");
    // Only the small statuses are counted; sent is what remains of the notices enqueued. Counting
    // a million sent rows on every progress read slowed a running campaign's own sending.
    let small = |sql: &'static str| async move {
        client
            .query_one(sql, &[&id])
            .await
            .map(|r| r.get::<_, i64>(0))
            .map_err(db_error)
    };
    let pending =
        small("SELECT count(*) FROM outbox WHERE campaign_id = $1 AND status IN ('pending', 'held')").await?;
    let failed = small("SELECT count(*) FROM outbox WHERE campaign_id = $1 AND status = 'dead'").await?;
    let cancelled =
        small("SELECT count(*) FROM outbox WHERE campaign_id = $1 AND status = 'cancelled'").await?;
    let notified: i64 = row.get("notified");
    let emails = EmailCounts {
        sent: (notified - pending - failed - cancelled).max(0),
        failed,
        pending,
        cancelled,
    };
    let recent: i64 = client
        .query_one(
            "SELECT count(*) FROM outbox WHERE campaign_id = $1 AND status = 'sent' AND sent_at > $2",
            &[&id, &(now - chrono::Duration::seconds(RATE_WINDOW_SECS))],
        )
        .await
        .map_err(db_error)?
        .get(0);
    let enqueued_at: Option<DateTime<Utc>> = row.get("enqueued_at");
    #[allow(clippy::cast_precision_loss)] // a count per minute: exact in f64
    let rate = recent as f64 / RATE_WINDOW_SECS as f64;
    let mut p = Progress {
        id,
        reason: row.get("reason"),
        scope: match scope.as_str() {
            "all" => "all",
            "account_ids" => "account_ids",
            "emails" => "emails",
            _ => "created_before",
        },
        revoke_sessions: row.get("revoke_sessions"),
        notify: row.get("notify"),
        require_two_step: row.get("require_two_step"),
        state: State::parse(&state)
            .ok_or_else(|| StoreError::Internal(format!("bad campaign state {state}")))?,
        phase: Phase::Marking,
        accounts_total: row.get("accounts_total"),
        marked: row.get("marked"),
        notified: row.get("notified"),
        emails,
        send_rate_per_sec: rate,
        eta_seconds: None,
        created_at: row.get("created_at"),
        marked_at: row.get("marked_at"),
    };
    p.derive(enqueued_at.is_some());
    Ok(p)
}

#[async_trait]
impl CampaignStore for PostgresStore {
    async fn create_campaign(&self, new: &NewCampaign, now: DateTime<Utc>) -> Result<Created, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let created_before = match &new.scope {
            Scope::CreatedBefore(t) => Some(*t),
            _ => None,
        };
        let row = tx
            .query_one(
                "INSERT INTO campaigns (reason, scope_kind, created_before, revoke_sessions, notify,
                     require_two_step, upper_id, accounts_total, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $7, (SELECT COALESCE(max(id), 0) FROM accounts), 0, $6, $6)
                 RETURNING id, upper_id",
                &[
                    &new.reason.as_str(),
                    &new.scope.kind(),
                    &created_before,
                    &new.revoke_sessions,
                    &new.notify,
                    &now,
                    &new.require_two_step,
                ],
            )
            .await
            .map_err(db_error)?;
        let id: i64 = row.get(0);
        let upper: i64 = row.get(1);
        let (total, listed): (i64, i64) = match &new.scope {
            Scope::All => {
                let n: i64 = tx
                    .query_one("SELECT count(*) FROM accounts WHERE id <= $1", &[&upper])
                    .await
                    .map_err(db_error)?
                    .get(0);
                (n, n)
            }
            Scope::CreatedBefore(t) => {
                let n: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM accounts WHERE id <= $1 AND created_at < $2",
                        &[&upper, t],
                    )
                    .await
                    .map_err(db_error)?
                    .get(0);
                (n, n)
            }
            Scope::AccountIds(ids) => {
                let mut ids = ids.clone();
                ids.sort_unstable();
                ids.dedup();
                let n = tx
                    .execute(
                        "INSERT INTO campaign_targets (campaign_id, account_id)
                         SELECT $1, a.id FROM unnest($2::bigint[]) AS t(id) JOIN accounts a ON a.id = t.id",
                        &[&id, &ids],
                    )
                    .await
                    .map_err(db_error)?;
                (
                    i64::try_from(n).unwrap_or(i64::MAX),
                    i64::try_from(ids.len()).unwrap_or(i64::MAX),
                )
            }
            Scope::Emails(emails) => {
                let mut list: Vec<&str> = emails
                    .iter()
                    .map(crate::reset::email::EmailAddress::as_str)
                    .collect();
                list.sort_unstable();
                list.dedup();
                let n = tx
                    .execute(
                        "INSERT INTO campaign_targets (campaign_id, account_id)
                         SELECT $1, a.id FROM unnest($2::text[]) AS t(email) JOIN accounts a ON a.email = t.email
                         ON CONFLICT DO NOTHING",
                        &[&id, &list],
                    )
                    .await
                    .map_err(db_error)?;
                (
                    i64::try_from(n).unwrap_or(i64::MAX),
                    i64::try_from(list.len()).unwrap_or(i64::MAX),
                )
            }
        };
        // A campaign over nobody is finished as soon as it exists.
        tx.execute(
            "UPDATE campaigns SET accounts_total = $2::bigint,
                 marked_at = CASE WHEN $2::bigint = 0 THEN $3::timestamptz END,
                 enqueued_at = CASE WHEN $2::bigint = 0 OR NOT notify THEN $3::timestamptz END
             WHERE id = $1",
            &[&id, &total, &now],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Created {
            id,
            accounts_total: total,
            unmatched: (listed - total).max(0),
        })
    }

    async fn campaign(&self, id: CampaignId, now: DateTime<Utc>) -> Result<Option<Progress>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {PROGRESS_COLUMNS} FROM campaigns WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(db_error)?;
        match row {
            Some(r) => progress_of(&**client, &r, now).await.map(Some),
            None => Ok(None),
        }
    }

    async fn campaigns(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<Progress>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {PROGRESS_COLUMNS} FROM campaigns ORDER BY id DESC LIMIT $1"),
                &[&limit],
            )
            .await
            .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(progress_of(&**client, r, now).await?);
        }
        Ok(out)
    }

    async fn change_campaign(
        &self,
        id: CampaignId,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<State, ChangeError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let Some(row) = tx
            .query_opt("SELECT state FROM campaigns WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(db_error)?
        else {
            return Err(ChangeError::NotFound);
        };
        let current: String = row.get(0);
        let current = State::parse(&current)
            .ok_or_else(|| StoreError::Internal(format!("bad campaign state {current}")))?;
        let next = action.apply(current).ok_or(ChangeError::NotAllowed(current))?;
        tx.execute(
            "UPDATE campaigns SET state = $2, updated_at = $3 WHERE id = $1",
            &[&id, &next.as_str(), &now],
        )
        .await
        .map_err(db_error)?;
        // Mail already claimed by a dispatcher may still go out: its send is under way.
        let outbox = match next {
            State::Paused => {
                "UPDATE outbox SET status = 'held' WHERE campaign_id = $1 AND status = 'pending'"
            }
            State::Running => {
                "UPDATE outbox SET status = 'pending' WHERE campaign_id = $1 AND status = 'held'"
            }
            State::Cancelled => {
                "UPDATE outbox SET status = 'cancelled', sealed_secret = NULL
                 WHERE campaign_id = $1 AND status IN ('pending', 'held')"
            }
        };
        tx.execute(outbox, &[&id]).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(next)
    }

    async fn mark_batch(&self, size: i64, now: DateTime<Utc>) -> Result<Option<Batch>, StoreError> {
        batches::mark(self, size, now).await
    }

    async fn enqueue_batch(
        &self,
        size: i64,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Batch>, StoreError> {
        batches::enqueue(self, size, window, now).await
    }
}
