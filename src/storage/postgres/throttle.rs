//! The login throttle's rows (see `reset::throttle` for the rules). The common case, an address
//! with no recent failure, is one indexed read; only a subject with a row takes its lock.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::{db_error, PostgresStore};
use crate::reset::throttle::{Gate, LoginThrottle, ThrottleState};
use crate::storage::store::StoreError;

const READ: &str = "SELECT failures, last_failure_at, not_before FROM login_throttle WHERE subject = $1";
/// The same, holding the row until the transaction ends. Both spelled out: this runs on every
/// login, so no SQL is assembled per call.
const READ_LOCKED: &str =
    "SELECT failures, last_failure_at, not_before FROM login_throttle WHERE subject = $1 FOR UPDATE";

async fn state<C: GenericClient>(
    client: &C,
    subject: &[u8; 32],
    lock: bool,
) -> Result<Option<ThrottleState>, StoreError> {
    let sql = if lock { READ_LOCKED } else { READ };
    let row = client
        .query_opt(sql, &[&subject.as_slice()])
        .await
        .map_err(db_error)?;
    Ok(row.map(|r| ThrottleState {
        failures: u32::try_from(r.get::<_, i32>(0)).unwrap_or(0),
        last_failure_at: r.get(1),
        not_before: r.get(2),
    }))
}

pub(super) async fn gate(
    store: &PostgresStore,
    subject: &[u8; 32],
    now: DateTime<Utc>,
    throttle: &LoginThrottle,
) -> Result<Gate, StoreError> {
    let mut client = store.client().await?;
    if state(&client, subject, false).await?.is_none() {
        return Ok(throttle.gate(None, now));
    }
    let tx = client.transaction().await.map_err(db_error)?;
    let current = state(&tx, subject, true).await?;
    let gate = throttle.gate(current, now);
    match gate {
        Gate::Open { forget: true, .. } => {
            tx.execute(
                "DELETE FROM login_throttle WHERE subject = $1",
                &[&subject.as_slice()],
            )
            .await
            .map_err(db_error)?;
        }
        Gate::Open {
            reserve_until: Some(until),
            ..
        } => {
            tx.execute(
                "UPDATE login_throttle SET not_before = $2 WHERE subject = $1",
                &[&subject.as_slice(), &until],
            )
            .await
            .map_err(db_error)?;
        }
        _ => {}
    }
    tx.commit().await.map_err(db_error)?;
    Ok(gate)
}

pub(super) async fn failed(
    store: &PostgresStore,
    subject: &[u8; 32],
    now: DateTime<Utc>,
    throttle: &LoginThrottle,
) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_error)?;
    let current = state(&tx, subject, true).await?;
    let next = throttle.after_failure(current, now);
    let failures = i32::try_from(next.failures).unwrap_or(i32::MAX);
    if current.is_some() {
        tx.execute(
            "UPDATE login_throttle SET failures = $2, last_failure_at = $3, not_before = $4
             WHERE subject = $1",
            &[
                &subject.as_slice(),
                &failures,
                &next.last_failure_at,
                &next.not_before,
            ],
        )
        .await
        .map_err(db_error)?;
    } else {
        // No row to lock yet: two first failures at once both insert, and the one that finds
        // the other's row counts itself on top of it.
        tx.execute(
            "INSERT INTO login_throttle AS t (subject, failures, last_failure_at, not_before)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (subject) DO UPDATE
             SET failures = t.failures + 1, last_failure_at = EXCLUDED.last_failure_at,
                 not_before = GREATEST(t.not_before, EXCLUDED.not_before)",
            &[
                &subject.as_slice(),
                &failures,
                &next.last_failure_at,
                &next.not_before,
            ],
        )
        .await
        .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

pub(super) async fn cleared(store: &PostgresStore, subject: &[u8; 32]) -> Result<(), StoreError> {
    let client = store.client().await?;
    client
        .execute(
            "DELETE FROM login_throttle WHERE subject = $1",
            &[&subject.as_slice()],
        )
        .await
        .map_err(db_error)?;
    Ok(())
}
