//! Campaigns on PostgreSQL. Every step is set-based SQL over one batch of account ids, in one
//! transaction with the cursor it advances; the campaign row is locked `FOR UPDATE SKIP LOCKED`,
//! so replicas take turns on a campaign instead of doing its batches twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{db_error, PostgresStore};
use crate::campaign::model::{Action, CampaignId, EmailCounts, NewCampaign, Phase, Progress, Scope, State};
use crate::storage::campaigns::{Batch, CampaignStore, ChangeError, Created};
use crate::storage::store::StoreError;

/// The window over which the send rate (and so the ETA) is measured.
const RATE_WINDOW_SECS: i64 = 60;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

const PROGRESS_COLUMNS: &str = "id, reason, scope_kind, revoke_sessions, notify, state, accounts_total,
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
                     upper_id, accounts_total, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(max(id), 0) FROM accounts), 0, $6, $6)
                 RETURNING id, upper_id",
                &[
                    &new.reason.as_str(),
                    &new.scope.kind(),
                    &created_before,
                    &new.revoke_sessions,
                    &new.notify,
                    &now,
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let Some(c) = tx
            .query_opt(
                "SELECT id, scope_kind, created_before, revoke_sessions, upper_id, mark_cursor FROM campaigns
                 WHERE state = 'running' AND marked_at IS NULL
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let id: i64 = c.get(0);
        let scope: String = c.get(1);
        let created_before: Option<DateTime<Utc>> = c.get(2);
        let revoke: bool = c.get(3);
        let upper: i64 = c.get(4);
        let cursor: i64 = c.get(5);
        let batch = if scope == "account_ids" || scope == "emails" {
            "SELECT account_id AS id FROM campaign_targets
             WHERE campaign_id = $1 AND account_id > $2 AND account_id <= $3
               AND $6::timestamptz IS NULL -- always true for list scopes; keeps one parameter list
             ORDER BY account_id LIMIT $4"
        } else {
            "SELECT id FROM accounts
             WHERE id > $2 AND id <= $3 AND ($6::timestamptz IS NULL OR created_at < $6)
             ORDER BY id LIMIT $4"
        };
        // One statement: pick the batch, mark it, delete its sessions. A re-mark by a later
        // campaign takes the row over (its notification is then the later campaign's).
        let row = tx
            .query_one(
                &format!(
                    "WITH batch AS ({batch}),
                     marked AS (
                         INSERT INTO forced_resets (account_id, campaign_id, revoke_sessions, marked_at)
                         SELECT id, $1, $5, $7 FROM batch
                         ON CONFLICT (account_id) DO UPDATE SET campaign_id = EXCLUDED.campaign_id,
                             revoke_sessions = forced_resets.revoke_sessions OR EXCLUDED.revoke_sessions,
                             marked_at = EXCLUDED.marked_at
                         RETURNING 1),
                     revoked AS (
                         DELETE FROM sessions s USING batch WHERE $5 AND s.account_id = batch.id RETURNING 1)
                     SELECT (SELECT max(id) FROM batch), (SELECT count(*) FROM marked), (SELECT count(*) FROM revoked)"
                ),
                &[&id, &cursor, &upper, &size, &revoke, &created_before, &now],
            )
            .await
            .map_err(db_error)?;
        let last: Option<i64> = row.get(0);
        let marked: i64 = row.get(1);
        let revoked: i64 = row.get(2);
        match last {
            Some(last) => tx
                .execute(
                    "UPDATE campaigns SET mark_cursor = $2, marked = marked + $3, updated_at = $4 WHERE id = $1",
                    &[&id, &last, &marked, &now],
                )
                .await
                .map_err(db_error)?,
            None => tx
                .execute(
                    "UPDATE campaigns SET marked_at = $2, updated_at = $2 WHERE id = $1",
                    &[&id, &now],
                )
                .await
                .map_err(db_error)?,
        };
        tx.commit().await.map_err(db_error)?;
        Ok(Some(Batch {
            campaign: id,
            rows: count(marked),
            sessions_revoked: count(revoked),
            finished: last.is_none(),
        }))
    }

    async fn enqueue_batch(
        &self,
        size: i64,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Batch>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // The oldest running campaign with notifications left whose unsent mail is below the
        // window: the outbox holds a window per campaign, not a million rows.
        let Some(c) = tx
            .query_opt(
                "SELECT c.id, c.notify_cursor, c.mark_cursor, c.marked_at IS NOT NULL FROM campaigns c
                 WHERE c.state = 'running' AND c.notify AND c.enqueued_at IS NULL
                   AND (SELECT count(*) FROM outbox o WHERE o.campaign_id = c.id AND o.status = 'pending') < $1
                 ORDER BY c.id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&window],
            )
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let id: i64 = c.get(0);
        let cursor: i64 = c.get(1);
        let mark_cursor: i64 = c.get(2);
        let marking_done: bool = c.get(3);
        // The next range of account ids, not the next N rows: a range bounds the work of a batch
        // whatever the planner thinks of the table (right after marking, its statistics still
        // say forced_resets is nearly empty, and a LIMIT query was planned as a scan of every
        // remaining row). Only accounts this campaign marked and that have not reset since: someone
        // who already chose a new password needs no notice.
        let until = mark_cursor.min(cursor.saturating_add(size));
        if until <= cursor {
            if marking_done {
                tx.execute(
                    "UPDATE campaigns SET enqueued_at = $2, updated_at = $2 WHERE id = $1",
                    &[&id, &now],
                )
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                return Ok(Some(Batch {
                    campaign: id,
                    rows: 0,
                    sessions_revoked: 0,
                    finished: true,
                }));
            }
            // Caught up with marking: nothing to do until it moves on.
            return Ok(None);
        }
        let queued: i64 = tx
            .query_one(
                "WITH batch AS (
                     SELECT f.account_id AS id, a.email FROM forced_resets f
                     JOIN accounts a ON a.id = f.account_id
                     WHERE f.account_id > $2 AND f.account_id <= $3 AND f.campaign_id = $1),
                 queued AS (
                     INSERT INTO outbox (kind, recipient, created_at, available_at, priority, campaign_id,
                                         account_id, domain)
                     SELECT 'campaign_notice', email, $4, $4, 1, $1, id, split_part(email, '@', 2) FROM batch
                     ON CONFLICT (campaign_id, account_id) WHERE campaign_id IS NOT NULL DO NOTHING
                     RETURNING 1)
                 SELECT count(*) FROM queued",
                &[&id, &cursor, &until, &now],
            )
            .await
            .map_err(db_error)?
            .get(0);
        tx.execute(
            "UPDATE campaigns SET notify_cursor = $2, notified = notified + $3, updated_at = $4 WHERE id = $1",
            &[&id, &until, &queued, &now],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(Batch {
            campaign: id,
            rows: count(queued),
            sessions_revoked: 0,
            finished: false,
        }))
    }
}
