//! The two batch steps the campaign worker runs on PostgreSQL: mark the next batch of accounts
//! (revoking their sessions), and enqueue the next range of their notices into the outbox.

use chrono::{DateTime, Utc};

use crate::storage::campaigns::Batch;
use crate::storage::postgres::{db_error, PostgresStore};
use crate::storage::store::StoreError;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) async fn mark(
    store: &PostgresStore,
    size: i64,
    now: DateTime<Utc>,
) -> Result<Option<Batch>, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_error)?;
    let Some(c) = tx
        .query_opt(
            "SELECT id, scope_kind, created_before, revoke_sessions, upper_id, mark_cursor, require_two_step
             FROM campaigns
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
    let two_step: bool = c.get(6);
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
                     INSERT INTO forced_resets (account_id, campaign_id, revoke_sessions, marked_at, require_two_step)
                     SELECT id, $1, $5, $7, $8 FROM batch
                     ON CONFLICT (account_id) DO UPDATE SET campaign_id = EXCLUDED.campaign_id,
                         revoke_sessions = forced_resets.revoke_sessions OR EXCLUDED.revoke_sessions,
                         require_two_step = forced_resets.require_two_step OR EXCLUDED.require_two_step,
                         marked_at = EXCLUDED.marked_at
                     RETURNING 1),
                 revoked AS (
                     DELETE FROM sessions s USING batch WHERE $5 AND s.account_id = batch.id RETURNING 1)
                 SELECT (SELECT max(id) FROM batch), (SELECT count(*) FROM marked), (SELECT count(*) FROM revoked)"
            ),
            &[&id, &cursor, &upper, &size, &revoke, &created_before, &now, &two_step],
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

pub(super) async fn enqueue(
    store: &PostgresStore,
    size: i64,
    window: i64,
    now: DateTime<Utc>,
) -> Result<Option<Batch>, StoreError> {
    let mut client = store.client().await?;
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
                 SELECT f.account_id AS id, a.email, a.locale FROM forced_resets f
                 JOIN accounts a ON a.id = f.account_id
                 WHERE f.account_id > $2 AND f.account_id <= $3 AND f.campaign_id = $1),
             queued AS (
                 INSERT INTO outbox (kind, recipient, created_at, available_at, priority, campaign_id,
                                     account_id, domain, locale)
                 SELECT 'campaign_notice', email, $4, $4, 1, $1, id, split_part(email, '@', 2), locale
                 FROM batch
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
