//! The second factor on PostgreSQL (see `storage::factors` for the contract). Every decision that
//! must hold across replicas is a single conditional statement: the database, not the replica,
//! says whether a step is new, a code unused, a challenge live.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{db_error, PostgresStore};
use crate::mfa::recovery::RecoveryDigest;
use crate::reset::token::TokenDigest;
use crate::storage::factors::{AttemptLimit, AuditEntry, FactorStore, StoredTotp};
use crate::storage::store::{AccountId, MailKind, StoreError};

#[async_trait]
impl FactorStore for PostgresStore {
    async fn begin_totp(
        &self,
        account: AccountId,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "INSERT INTO totp_factors (account_id, sealed_secret, confirmed_at, last_step, created_at)
                 VALUES ($1, $2, NULL, NULL, $3)
                 ON CONFLICT (account_id) DO UPDATE
                 SET sealed_secret = EXCLUDED.sealed_secret, created_at = EXCLUDED.created_at
                 WHERE totp_factors.confirmed_at IS NULL",
                &[&account, &sealed, &now],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn totp(&self, account: AccountId) -> Result<Option<StoredTotp>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT sealed_secret, confirmed_at, last_step FROM totp_factors WHERE account_id = $1",
                &[&account],
            )
            .await
            .map_err(db_error)?;
        Ok(row.map(|r| StoredTotp {
            sealed_secret: r.get(0),
            confirmed_at: r.get(1),
            last_step: r.get(2),
        }))
    }

    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery: &[RecoveryDigest],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let n = tx
            .execute(
                "UPDATE totp_factors SET confirmed_at = $2, last_step = $3
                 WHERE account_id = $1 AND confirmed_at IS NULL",
                &[&account, &now, &step],
            )
            .await
            .map_err(db_error)?;
        if n == 0 {
            return Ok(false);
        }
        replace_codes(&tx, account, recovery).await?;
        tx.execute(
            "UPDATE accounts SET mfa_enabled = true, two_step_required = false, updated_at = $2 WHERE id = $1",
            &[&account, &now],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn reseal_totp(&self, account: AccountId, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE totp_factors SET sealed_secret = $3 WHERE account_id = $1 AND sealed_secret = $2",
                &[&account, &old, &new],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn accept_totp_step(&self, account: AccountId, step: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE totp_factors SET last_step = $2
                 WHERE account_id = $1 AND confirmed_at IS NOT NULL
                   AND (last_step IS NULL OR last_step < $2)",
                &[&account, &step],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn remove_totp(&self, account: AccountId) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let n = tx
            .execute("DELETE FROM totp_factors WHERE account_id = $1", &[&account])
            .await
            .map_err(db_error)?;
        tx.execute("DELETE FROM recovery_codes WHERE account_id = $1", &[&account])
            .await
            .map_err(db_error)?;
        tx.execute(
            "UPDATE accounts SET mfa_enabled = false WHERE id = $1",
            &[&account],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(n == 1)
    }

    async fn use_recovery_code(
        &self,
        account: AccountId,
        code: &RecoveryDigest,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE recovery_codes SET used_at = $3
                 WHERE account_id = $1 AND digest = $2 AND used_at IS NULL",
                &[&account, &code.0.as_slice(), &now],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[RecoveryDigest],
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        replace_codes(&tx, account, codes).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn recovery_codes_left(&self, account: AccountId) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
                &[&account],
            )
            .await
            .map_err(db_error)?;
        Ok(row.get(0))
    }

    async fn factor_locked_until(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT locked_until FROM factor_failures WHERE account_id = $1 AND locked_until > $2",
                &[&account, &now],
            )
            .await
            .map_err(db_error)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn record_factor_failure(
        &self,
        account: AccountId,
        limit: AttemptLimit,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let client = self.client().await?;
        let window_open_since = now - limit.window;
        let lock_end = now + limit.lock_for;
        // One upsert counts the failure, restarts an expired window, and sets the lock when the
        // count reaches the limit, so concurrent wrong codes on several replicas all count.
        let row = client
            .query_one(
                "INSERT INTO factor_failures AS f (account_id, window_start, failures, locked_until)
                 VALUES ($1, $2, 1, CASE WHEN 1 >= $4::integer THEN $5::timestamptz END)
                 ON CONFLICT (account_id) DO UPDATE SET
                   window_start = CASE WHEN f.window_start <= $3 THEN $2 ELSE f.window_start END,
                   failures = CASE WHEN f.window_start <= $3 THEN 1 ELSE f.failures + 1 END,
                   locked_until = CASE
                     WHEN f.locked_until > $2 THEN f.locked_until
                     WHEN (CASE WHEN f.window_start <= $3 THEN 1 ELSE f.failures + 1 END) >= $4 THEN $5
                     ELSE NULL END
                 RETURNING locked_until",
                &[&account, &now, &window_open_since, &limit.max_failures, &lock_end],
            )
            .await
            .map_err(db_error)?;
        let locked: Option<DateTime<Utc>> = row.get(0);
        Ok(locked.filter(|t| *t > now))
    }

    async fn clear_factor_failures(&self, account: AccountId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM factor_failures WHERE account_id = $1 AND (locked_until IS NULL OR locked_until <= $2)",
                &[&account, &now],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn create_challenge(
        &self,
        digest: &TokenDigest,
        account: AccountId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO login_challenges (token_hash, account_id, expires_at, used_at) VALUES ($1, $2, $3, NULL)",
                &[&digest.as_bytes().as_slice(), &account, &expires_at],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn challenge_account(
        &self,
        digest: &TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountId>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT account_id FROM login_challenges
                 WHERE token_hash = $1 AND expires_at > $2 AND used_at IS NULL",
                &[&digest.as_bytes().as_slice(), &now],
            )
            .await
            .map_err(db_error)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn consume_challenge(&self, digest: &TokenDigest, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE login_challenges SET used_at = $2
                 WHERE token_hash = $1 AND expires_at > $2 AND used_at IS NULL",
                &[&digest.as_bytes().as_slice(), &now],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn audit(
        &self,
        account: AccountId,
        event: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO account_audit (account_id, event, actor, at) VALUES ($1, $2, $3, $4)",
                &[&account, &event, &actor, &now],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn enqueue_factor_notice(
        &self,
        account: AccountId,
        kind: MailKind,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        insert_notice(&client, account, kind, now).await
    }

    async fn audit_trail(&self, account: AccountId) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT event, actor, at FROM account_audit WHERE account_id = $1 ORDER BY id",
                &[&account],
            )
            .await
            .map_err(db_error)?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                account_id: account,
                event: r.get(0),
                actor: r.get(1),
                at: r.get(2),
            })
            .collect())
    }
}

async fn insert_notice(
    client: &deadpool_postgres::Object,
    account: AccountId,
    kind: MailKind,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // One statement: the address and language come from the account row as it is now.
    client
        .execute(
            "INSERT INTO outbox (kind, recipient, sealed_secret, created_at, available_at, priority, domain, locale)
             SELECT $2, email, NULL, $3, $3, 0, split_part(email, '@', 2), locale FROM accounts WHERE id = $1",
            &[&account, &kind.as_str(), &now],
        )
        .await
        .map_err(db_error)?;
    Ok(())
}

async fn replace_codes(
    tx: &deadpool_postgres::Transaction<'_>,
    account: AccountId,
    codes: &[RecoveryDigest],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM recovery_codes WHERE account_id = $1", &[&account])
        .await
        .map_err(db_error)?;
    let digests: Vec<&[u8]> = codes.iter().map(|c| c.0.as_slice()).collect();
    tx.execute(
        "INSERT INTO recovery_codes (account_id, digest, used_at) SELECT $1, d, NULL FROM unnest($2::bytea[]) AS d",
        &[&account, &digests],
    )
    .await
    .map_err(db_error)?;
    Ok(())
}
