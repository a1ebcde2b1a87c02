//! The outbox on PostgreSQL: paced claims shared by every replica, and delivery bookkeeping.
//!
//! A claim is one transaction: lock the global bucket row, refill it by the time since its last
//! claim (database clock, so replicas with skewed clocks agree), claim at most that many due rows
//! with `FOR UPDATE SKIP LOCKED` (transactional mail first), charge each row's domain bucket
//! (rows over their domain's budget are pushed back, not sent), and write the buckets back.
//! Replicas thus draw from one budget; the bucket row lock is held for one short transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{db_error, PostgresStore};
use crate::i18n::Locale;
use crate::mail::pacing::{self, Pacing, GLOBAL_BUCKET};
use crate::reset::email::EmailAddress;
use crate::storage::store::{Claim, DeadMessage, MailKind, OutboxMessage, OutboxSummary, StoreError};

/// Each bucket's tokens refilled to now, and the database time "now" was: written back as the
/// bucket's `updated_at`, so the time between reading the clock and committing is credited to the
/// next claim instead of lost. (Stamping the write with a second, later reading lost that span on
/// every claim: two replicas on a 100/s budget delivered 96/s.)
type Refilled = (HashMap<String, f64>, HashMap<String, DateTime<Utc>>);

/// Locks (creating if needed) the buckets named, in key order so two claims never deadlock, and
/// returns each one's tokens refilled to now.
async fn take_buckets(
    tx: &tokio_postgres::Transaction<'_>,
    keys: &[String],
    rate_burst: impl Fn(&str) -> (f64, f64),
) -> Result<Refilled, StoreError> {
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    // A new bucket starts empty: a replica restart must not hand out a fresh burst.
    tx.execute(
        "INSERT INTO send_buckets (key, tokens, updated_at)
         SELECT k, 0, clock_timestamp() FROM unnest($1::text[]) AS k ON CONFLICT (key) DO NOTHING",
        &[&keys],
    )
    .await
    .map_err(db_error)?;
    let rows = tx
        .query(
            "SELECT key, tokens, updated_at, clock_timestamp()
             FROM send_buckets WHERE key = ANY($1) ORDER BY key FOR UPDATE",
            &[&keys],
        )
        .await
        .map_err(db_error)?;
    let (mut tokens, mut as_of) = (HashMap::new(), HashMap::new());
    for r in &rows {
        let key: String = r.get(0);
        let (rate, burst) = rate_burst(&key);
        let (last, now): (DateTime<Utc>, DateTime<Utc>) = (r.get(2), r.get(3));
        // Microseconds since the last refill: exact in f64 for centuries.
        #[allow(clippy::cast_precision_loss)]
        let elapsed = (now - last).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
        tokens.insert(key.clone(), pacing::refill(r.get(1), elapsed, rate, burst));
        // Never backwards: a clock read that raced the lock credits nothing and moves nothing.
        as_of.insert(key, now.max(last));
    }
    Ok((tokens, as_of))
}

async fn put_buckets(
    tx: &tokio_postgres::Transaction<'_>,
    buckets: &HashMap<String, f64>,
    as_of: &HashMap<String, DateTime<Utc>>,
) -> Result<(), StoreError> {
    let mut keys = Vec::with_capacity(buckets.len());
    let mut tokens = Vec::with_capacity(buckets.len());
    let mut stamps = Vec::with_capacity(buckets.len());
    for (k, t) in buckets {
        let Some(at) = as_of.get(k) else {
            return Err(StoreError::Internal(format!(
                "send bucket {k:?} written without being read"
            )));
        };
        keys.push(k.as_str());
        tokens.push(*t);
        stamps.push(*at);
    }
    tx.execute(
        "UPDATE send_buckets b SET tokens = u.tokens, updated_at = u.at
         FROM unnest($1::text[], $2::float8[], $3::timestamptz[]) AS u(key, tokens, at) WHERE b.key = u.key",
        &[&keys, &tokens, &stamps],
    )
    .await
    .map_err(db_error)?;
    Ok(())
}

#[allow(
    clippy::too_many_lines,
    reason = "one SQL statement (the fair claim across budgets), most of its lines are the query"
)]
pub(super) async fn claim(
    store: &PostgresStore,
    now: DateTime<Utc>,
    limit: usize,
    lease: chrono::Duration,
    pacing: &Pacing,
) -> Result<Claim, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_error)?;
    let (mut global, global_at) =
        take_buckets(&tx, &[GLOBAL_BUCKET.to_owned()], |_| (pacing.rate, pacing.burst)).await?;
    let available = global.get(GLOBAL_BUCKET).copied().unwrap_or(0.0);
    let want = pacing::grantable(available, limit);
    if want == 0 {
        put_buckets(&tx, &global, &global_at).await?;
        tx.commit().await.map_err(db_error)?;
        return Ok(Claim {
            messages: Vec::new(),
            budget_wait: Some(std::time::Duration::from_secs_f64(pacing::wait_for_token(
                available,
                pacing.rate,
            ))),
        });
    }
    let rows = tx
        .query(
            "SELECT id, kind, recipient, sealed_secret, attempts, domain, locale, created_at FROM outbox
             WHERE status = 'pending' AND available_at <= $1
             ORDER BY priority, fair_rank, available_at, id
             LIMIT $2
             FOR UPDATE SKIP LOCKED",
            &[&now, &i64::try_from(want).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(db_error)?;
    let domains: Vec<String> = rows.iter().map(|r| r.get::<_, String>(5)).collect();
    let limited: Vec<String> = domains
        .iter()
        .filter(|d| pacing.domain_rate(d).is_some())
        .map(|d| pacing::domain_bucket(d))
        .collect();
    let (mut domain_tokens, domain_at): (HashMap<String, f64>, _) = if limited.is_empty() {
        (HashMap::new(), HashMap::new())
    } else {
        let (tokens, at) = take_buckets(&tx, &limited, |key| {
            let rate = pacing
                .domain_rate(key.trim_start_matches("domain:"))
                .unwrap_or(pacing.rate);
            (rate, Pacing::domain_burst(rate))
        })
        .await?;
        let tokens = tokens
            .into_iter()
            .map(|(k, t)| (k.trim_start_matches("domain:").to_owned(), t))
            .collect();
        (tokens, at)
    };
    let decisions = pacing::grant_by_domain(
        &domains.iter().map(String::as_str).collect::<Vec<_>>(),
        pacing,
        &mut domain_tokens,
    );
    let mut granted = Vec::new();
    let (mut deferred_ids, mut deferred_until) = (Vec::new(), Vec::new());
    for (row, decision) in rows.iter().zip(&decisions) {
        let id: i64 = row.get(0);
        match decision {
            None => granted.push(row),
            Some(secs) => {
                // At most a second or so (one token at a domain's rate): far inside i64.
                #[allow(clippy::cast_possible_truncation)]
                let ms = (secs * 1000.0).ceil() as i64;
                deferred_ids.push(id);
                deferred_until.push(now + chrono::Duration::milliseconds(ms));
            }
        }
    }
    if !deferred_ids.is_empty() {
        tx.execute(
            "UPDATE outbox o SET available_at = u.at FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at)
             WHERE o.id = u.id",
            &[&deferred_ids, &deferred_until],
        )
        .await
        .map_err(db_error)?;
    }
    let granted_ids: Vec<i64> = granted.iter().map(|r| r.get(0)).collect();
    tx.execute(
        "UPDATE outbox SET available_at = $2 WHERE id = ANY($1)",
        &[&granted_ids, &(now + lease)],
    )
    .await
    .map_err(db_error)?;
    #[allow(clippy::cast_precision_loss)] // at most `limit` messages
    let spent = granted_ids.len() as f64;
    global.insert(GLOBAL_BUCKET.to_owned(), available - spent);
    put_buckets(&tx, &global, &global_at).await?;
    if !domain_tokens.is_empty() {
        let stored = domain_tokens
            .into_iter()
            .map(|(d, t)| (pacing::domain_bucket(&d), t))
            .collect();
        put_buckets(&tx, &stored, &domain_at).await?;
    }
    tx.commit().await.map_err(db_error)?;
    let messages = granted
        .into_iter()
        .map(|r| {
            let kind: String = r.get(1);
            let recipient: String = r.get(2);
            Ok(OutboxMessage {
                id: r.get(0),
                kind: MailKind::parse(&kind)
                    .ok_or_else(|| StoreError::Internal(format!("unknown outbox kind {kind}")))?,
                recipient: EmailAddress::parse(&recipient)
                    .map_err(|_| StoreError::Internal("stored recipient does not parse".into()))?,
                sealed_secret: r.get(3),
                attempts: r.get(4),
                locale: r.get::<_, Option<&str>>(6).and_then(Locale::parse),
                created_at: r.get(7),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // Fewer tokens than asked for: tell the dispatcher when the next one arrives.
    let budget_wait = (want < limit)
        .then(|| std::time::Duration::from_secs_f64(pacing::wait_for_token(available - spent, pacing.rate)));
    Ok(Claim {
        messages,
        budget_wait,
    })
}

pub(super) async fn sent(store: &PostgresStore, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    let client = store.client().await?;
    client
        .execute(
            "UPDATE outbox SET status = 'sent', sent_at = $2, sealed_secret = NULL WHERE id = $1",
            &[&id, &now],
        )
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(super) async fn failed(
    store: &PostgresStore,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let client = store.client().await?;
    // A row a pause held or a cancel dropped while it was being sent keeps that status.
    client
        .execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                 status = CASE WHEN status <> 'pending' THEN status
                               WHEN $3::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
                 available_at = COALESCE($3, available_at),
                 sealed_secret = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE sealed_secret END
             WHERE id = $1",
            &[&id, &error, &retry_at],
        )
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(super) async fn backlog(store: &PostgresStore) -> Result<i64, StoreError> {
    let client = store.client().await?;
    let row = client
        .query_one("SELECT count(*) FROM outbox WHERE status = 'pending'", &[])
        .await
        .map_err(db_error)?;
    Ok(row.get(0))
}

pub(super) async fn summary(store: &PostgresStore, dead_limit: i64) -> Result<OutboxSummary, StoreError> {
    let client = store.client().await?;
    // One literal status per query: a prepared `status = $1` gets a generic plan that cannot use
    // the partial indexes and scans every sent row.
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(sql, &[])
                .await
                .map(|r| r.get::<_, i64>(0))
                .map_err(db_error)
        }
    };
    let pending = count("SELECT count(*) FROM outbox WHERE status = 'pending'").await?;
    let held = count("SELECT count(*) FROM outbox WHERE status = 'held'").await?;
    let dead = count("SELECT count(*) FROM outbox WHERE status = 'dead'").await?;
    let dead_recent = client
        .query(
            "SELECT id, kind, domain, campaign_id, attempts, last_error, created_at FROM outbox
             WHERE status = 'dead' ORDER BY id DESC LIMIT $1",
            &[&dead_limit],
        )
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| {
            let kind: String = r.get(1);
            DeadMessage {
                id: r.get(0),
                kind: MailKind::parse(&kind).map_or("unknown", MailKind::as_str),
                domain: r.get(2),
                campaign_id: r.get(3),
                attempts: r.get(4),
                last_error: r.get(5),
                created_at: r.get(6),
            }
        })
        .collect();
    Ok(OutboxSummary {
        pending,
        held,
        dead,
        dead_recent,
    })
}
