//! The reset flow on PostgreSQL: a token issued with its email in one transaction, looked up,
//! consumed together with the password change it authorises, and the per-address request count.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{account_from_row, db_error, PostgresStore, ACCOUNT_COLUMNS};
use crate::i18n::Locale;
use crate::reset::token::TokenDigest;
use crate::storage::store::{
    Account, Completed, CompletedReset, Issued, NewMail, NewToken, StoreError, RESET_LIMIT_WINDOW,
};

fn digest_from_row(row: &Row, column: &str) -> Result<TokenDigest, StoreError> {
    let bytes: Vec<u8> = row.get(column);
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Internal("stored digest is not 32 bytes".into()))?;
    Ok(TokenDigest::from_bytes(arr))
}

/// Transactional mail: priority 0, ahead of every campaign notice.
const INSERT_OUTBOX: &str = "INSERT INTO outbox
     (kind, recipient, sealed_secret, created_at, available_at, priority, domain, locale, requester, fair_rank)
     VALUES ($1, $2, $3, $4, $4, 0, split_part($2, '@', 2), $5, $6, $7)";

pub(super) async fn issue_token(
    store: &PostgresStore,
    token: NewToken<'_>,
    mail: NewMail,
    record_locale: Option<Locale>,
    now: DateTime<Utc>,
) -> Result<Issued, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_error)?;
    // The conditional upsert is the cooldown: a fresh live token (young, or its mail not yet sent)
    // is left alone and zero rows change. One statement, so concurrent requests on any replica
    // agree on which of them issued the token.
    let issued = tx
        .execute(
            "INSERT INTO reset_tokens AS t (account_id, token_hash, created_at, expires_at, used_at)
             VALUES ($1, $2, $3, $4, NULL)
             ON CONFLICT (account_id) DO UPDATE
             SET token_hash = EXCLUDED.token_hash, created_at = EXCLUDED.created_at,
                 expires_at = EXCLUDED.expires_at, used_at = NULL
             WHERE NOT ($5::timestamptz IS NOT NULL AND t.used_at IS NULL AND t.expires_at > $3
                        AND (t.created_at > $5 OR EXISTS (
                            SELECT 1 FROM outbox o
                            WHERE o.recipient = $6 AND o.kind = $7 AND o.status = 'pending')))",
            &[
                &token.account_id,
                &token.digest.as_bytes().as_slice(),
                &now,
                &token.expires_at,
                &token.fresh_after,
                &mail.recipient.as_str(),
                &mail.kind.as_str(),
            ],
        )
        .await
        .map_err(db_error)?;
    if issued == 0 {
        tx.rollback().await.map_err(db_error)?;
        return Ok(Issued::Cooldown);
    }
    let rank = match &token.requester {
        None => 0,
        Some(r) => {
            // Counted up to the cap only, so a network's flood costs this count no more than that.
            let cap = i64::from(r.max_pending);
            let waiting: i64 = tx
                .query_one(
                    "SELECT count(*) FROM (SELECT 1 FROM outbox
                     WHERE requester = $1 AND kind = $2 AND status = 'pending' LIMIT $3) w",
                    &[&r.digest.as_slice(), &mail.kind.as_str(), &cap],
                )
                .await
                .map_err(db_error)?
                .get(0);
            if waiting >= cap {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Issued::NetworkBacklogFull);
            }
            i32::try_from(waiting).unwrap_or(i32::MAX)
        }
    };
    if let Some(locale) = record_locale {
        tx.execute(
            "UPDATE accounts SET locale = $2 WHERE id = $1",
            &[&token.account_id, &locale.tag()],
        )
        .await
        .map_err(db_error)?;
    }
    // The replaced token's unsent email would carry a dead link: drop it.
    tx.execute(
        "DELETE FROM outbox WHERE recipient = $1 AND kind = $2 AND status = 'pending'",
        &[&mail.recipient.as_str(), &mail.kind.as_str()],
    )
    .await
    .map_err(db_error)?;
    tx.execute(
        INSERT_OUTBOX,
        &[
            &mail.kind.as_str(),
            &mail.recipient.as_str(),
            &mail.sealed_secret,
            &now,
            &mail.locale.map(Locale::tag),
            &token.requester.as_ref().map(|r| r.digest.as_slice()),
            &rank,
        ],
    )
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(Issued::Issued)
}

pub(super) async fn account_for_token(
    store: &PostgresStore,
    token: &TokenDigest,
    now: DateTime<Utc>,
) -> Result<Option<Account>, StoreError> {
    let client = store.client().await?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {ACCOUNT_COLUMNS}, t.token_hash FROM reset_tokens t
                 JOIN accounts a ON a.id = t.account_id
                 WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2"
            ),
            &[&token.as_bytes().as_slice(), &now],
        )
        .await
        .map_err(db_error)?;
    let Some(row) = row else { return Ok(None) };
    // The index lookup already matched; the constant-time compare is defence in depth against
    // a future query change (e.g. a prefix match) silently weakening the check.
    if !digest_from_row(&row, "token_hash")?.ct_eq(token) {
        return Ok(None);
    }
    account_from_row(&row).map(Some)
}

pub(super) async fn complete(
    store: &PostgresStore,
    reset: CompletedReset<'_>,
) -> Result<Option<Completed>, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_error)?;
    let consumed = tx
        .execute(
            "UPDATE reset_tokens SET used_at = $2
             WHERE token_hash = $1 AND account_id = $3 AND used_at IS NULL AND expires_at > $2",
            &[&reset.token.as_bytes().as_slice(), &reset.now, &reset.account_id],
        )
        .await
        .map_err(db_error)?;
    if consumed != 1 {
        // Lost a race with another confirm, or expired while we hashed: change nothing.
        tx.rollback().await.map_err(db_error)?;
        return Ok(None);
    }
    // A forced reset is satisfied now. If it revoked sessions, a session a racing login made
    // after the campaign's sweep must not come back to life with the marker gone.
    let (forced_revoke, forced_two_step) = tx
        .query_opt(
            "DELETE FROM forced_resets WHERE account_id = $1 RETURNING revoke_sessions, require_two_step",
            &[&reset.account_id],
        )
        .await
        .map_err(db_error)?
        .map_or((false, false), |r| (r.get(0), r.get(1)));
    let sign_out = reset.sign_out_everywhere || forced_revoke;
    // The campaign's demand for a second factor moves onto the account, unless one is already
    // confirmed (that owner has nothing left to do).
    let two_step_required: bool = tx
        .query_one(
            "UPDATE accounts SET password_hash = $1, password_peppered = true, updated_at = $2,
                 session_epoch = session_epoch + CASE WHEN $3 THEN 1 ELSE 0 END,
                 two_step_required = two_step_required OR ($5 AND NOT EXISTS (
                     SELECT 1 FROM totp_factors t WHERE t.account_id = $4 AND t.confirmed_at IS NOT NULL))
             WHERE id = $4
             RETURNING two_step_required",
            &[
                &reset.new_hash.as_str(),
                &reset.now,
                &sign_out,
                &reset.account_id,
                &forced_two_step,
            ],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if sign_out {
        // The epoch bump already invalidates them; deleting keeps the table small.
        tx.execute("DELETE FROM sessions WHERE account_id = $1", &[&reset.account_id])
            .await
            .map_err(db_error)?;
    }
    let n = reset.notice;
    tx.execute(
        INSERT_OUTBOX,
        &[
            &n.kind.as_str(),
            &n.recipient.as_str(),
            &n.sealed_secret,
            &reset.now,
            &n.locale.map(Locale::tag),
            &None::<&[u8]>,
            &0i32,
        ],
    )
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(Some(Completed {
        signed_out: sign_out,
        two_step_required,
    }))
}

pub(super) async fn count_request(
    store: &PostgresStore,
    email_digest: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<(u32, DateTime<Utc>), StoreError> {
    let client = store.client().await?;
    // One atomic upsert: concurrent requests on any replica each get a distinct count.
    let row = client
        .query_one(
            "INSERT INTO reset_request_counts AS c (email_digest, window_start, count)
             VALUES ($1, $2, 1)
             ON CONFLICT (email_digest) DO UPDATE SET
                 count = CASE WHEN c.window_start <= $3 THEN 1 ELSE c.count + 1 END,
                 window_start = CASE WHEN c.window_start <= $3 THEN $2 ELSE c.window_start END
             RETURNING count, window_start",
            &[&email_digest.as_slice(), &now, &(now - RESET_LIMIT_WINDOW)],
        )
        .await
        .map_err(db_error)?;
    let count: i32 = row.get(0);
    let start: DateTime<Utc> = row.get(1);
    Ok((u32::try_from(count).unwrap_or(0), start + RESET_LIMIT_WINDOW))
}
