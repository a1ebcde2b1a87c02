//! The production store: PostgreSQL through a deadpool pool. Pool waits and connects are bounded by
//! the acquire timeout, so an outage turns into a fast `Unavailable` (503) instead of a hang.
//!
//! Accounts and sessions are here; the reset flow (`postgres/resets.rs`), the outbox and campaigns
//! each have a file of their own.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

mod campaigns;
mod factors;
mod outbox;
mod resets;
mod throttle;
pub mod tls;

use super::store::{
    Account, AccountId, Claim, Completed, CompletedReset, Issued, NewAccount, NewMail, NewSession, NewToken,
    OutboxSummary, PoolStatus, SessionInfo, Store, StoreError, RESET_LIMIT_WINDOW,
};
use crate::hashing::phc::PhcString;
use crate::i18n::Locale;
use crate::mail::pacing::Pacing;
use crate::reset::email::EmailAddress;
use crate::reset::throttle::{Gate, LoginThrottle, FORGET_AFTER};
use crate::reset::token::TokenDigest;

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

pub(crate) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => db_error(e),
        // Timeouts, closed pool, failed connect: all mean "try again later".
        other => StoreError::Unavailable(other.to_string()),
    }
}

#[allow(clippy::needless_pass_by_value)] // shaped for `.map_err(db_error)`
pub(crate) fn db_error(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return StoreError::AccountExists;
    }
    // No SQLSTATE means the failure was in the connection, not the statement.
    if e.is_closed() || e.code().is_none() {
        return StoreError::Unavailable(e.to_string());
    }
    match e.code() {
        // 08: connection trouble; 57: operator intervention, including 57014 (statement timeout).
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57") => {
            StoreError::Unavailable(e.to_string())
        }
        // tokio-postgres prints only "db error"; the server's message is what an operator needs.
        _ => StoreError::Internal(e.as_db_error().map_or_else(
            || e.to_string(),
            |d| format!("{}: {}", d.code().code(), d.message()),
        )),
    }
}

fn account_from_row(row: &Row) -> Result<Account, StoreError> {
    let email: String = row.get("email");
    let hash: Option<String> = row.get("password_hash");
    Ok(Account {
        id: row.get("id"),
        email: EmailAddress::parse(&email)
            .map_err(|_| StoreError::Internal("stored email does not parse".into()))?,
        password_hash: hash
            .map(|h| PhcString::parse(&h))
            .transpose()
            .map_err(|_| StoreError::Internal("stored password hash does not parse".into()))?,
        password_peppered: row.get("password_peppered"),
        mfa_enabled: row.get("mfa_enabled"),
        session_epoch: row.get("session_epoch"),
        must_reset: row.get("must_reset"),
        two_step_required: row.get("two_step_required"),
        locale: row.get::<_, Option<&str>>("locale").and_then(Locale::parse),
    })
}

const ACCOUNT_COLUMNS: &str = "a.id, a.email, a.password_hash, a.password_peppered, a.mfa_enabled,
     a.session_epoch, a.locale, a.two_step_required, EXISTS (SELECT 1 FROM forced_resets f WHERE f.account_id = a.id) AS must_reset";

impl PostgresStore {
    /// Builds the pool without connecting; the first query (or readiness probe) connects.
    ///
    /// # Errors
    /// When the URL does not parse.
    pub fn connect(
        url: &str,
        tls: &tls::DbTls,
        max_size: usize,
        acquire_timeout: Duration,
        statement_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Internal(format!("invalid database URL: {e}")))?;
        config.connect_timeout(acquire_timeout);
        config.application_name("resetgate");
        // A statement stuck on a lock must not hold a pooled connection (and its request) for
        // ever: the server cancels it, the request gets a 503, the connection returns to the pool.
        config.options(format!("-c statement_timeout={}", statement_timeout.as_millis()));
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let connector = tls
            .connector()
            .map_err(|e| StoreError::Internal(format!("database TLS: {e}")))?;
        let manager = match connector {
            None => Manager::from_config(config, NoTls, recycling),
            Some(rustls) => {
                // The connector decides what is verified; tokio-postgres must only insist on TLS.
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                Manager::from_config(config, rustls, recycling)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(acquire_timeout))
            .create_timeout(Some(acquire_timeout))
            .recycle_timeout(Some(acquire_timeout))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build pool: {e}")))?;
        Ok(Self { pool })
    }

    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn factors(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn super::factors::FactorStore> {
        self
    }

    fn campaigns(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn super::campaigns::CampaignStore>> {
        Some(self)
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let s = self.pool.status();
        Some(PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn create_account(&self, new: NewAccount, now: DateTime<Utc>) -> Result<AccountId, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO accounts (email, password_hash, password_peppered, mfa_enabled, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                &[
                    &new.email.as_str(),
                    &new.password_hash.as_ref().map(PhcString::as_str),
                    &new.password_peppered,
                    &new.mfa_enabled,
                    &now,
                ],
            )
            .await
            .map_err(db_error)?;
        Ok(row.get(0))
    }

    async fn account_by_email(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.email = $1"),
                &[&email.as_str()],
            )
            .await
            .map_err(db_error)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1"),
                &[&id],
            )
            .await
            .map_err(db_error)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn issue_reset_token(
        &self,
        token: NewToken<'_>,
        mail: NewMail,
        record_locale: Option<Locale>,
        now: DateTime<Utc>,
    ) -> Result<Issued, StoreError> {
        resets::issue_token(self, token, mail, record_locale, now).await
    }

    async fn account_for_reset_token(
        &self,
        token: &TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>, StoreError> {
        resets::account_for_token(self, token, now).await
    }

    async fn complete_reset(&self, reset: CompletedReset<'_>) -> Result<Option<Completed>, StoreError> {
        resets::complete(self, reset).await
    }

    async fn upgrade_password_hash(
        &self,
        account_id: AccountId,
        old: &PhcString,
        new: &PhcString,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE accounts SET password_hash = $3, password_peppered = true, updated_at = $4
                 WHERE id = $1 AND password_hash = $2",
                &[&account_id, &old.as_str(), &new.as_str(), &now],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn create_session(&self, s: NewSession<'_>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // One login at a time per account, so two at once cannot both stay under the cap. No key
        // update: the sessions' foreign key checks still pass alongside it.
        let epoch: Option<i64> = tx
            .query_opt(
                "SELECT session_epoch FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
                &[&s.account_id],
            )
            .await
            .map_err(db_error)?
            .map(|r| r.get(0));
        let Some(epoch) = epoch else {
            return Err(StoreError::Internal(format!(
                "session for account {} that does not exist",
                s.account_id
            )));
        };
        tx.execute(
            "INSERT INTO sessions (token_hash, account_id, epoch, created_at, expires_at, idle_expires_at, amr, aal)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &s.digest.as_bytes().as_slice(),
                &s.account_id,
                &s.epoch,
                &s.now,
                &s.expires_at,
                &s.idle_expires_at,
                &s.authn.as_stored(),
                &s.authn.aal(),
            ],
        )
        .await
        .map_err(db_error)?;
        // Dead sessions first (they count for nothing), then the oldest live ones past the cap.
        tx.execute(
            "DELETE FROM sessions
             WHERE account_id = $1 AND (expires_at <= $2 OR idle_expires_at <= $2 OR epoch <> $3)",
            &[&s.account_id, &s.now, &epoch],
        )
        .await
        .map_err(db_error)?;
        tx.execute(
            "DELETE FROM sessions WHERE token_hash IN (
                 SELECT token_hash FROM sessions WHERE account_id = $1
                 ORDER BY created_at DESC, token_hash OFFSET $2)",
            &[&s.account_id, &i64::from(s.keep_at_most)],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn live_session(
        &self,
        digest: &TokenDigest,
        now: DateTime<Utc>,
        idle_until: DateTime<Utc>,
    ) -> Result<Option<SessionInfo>, StoreError> {
        let client = self.client().await?;
        // The check and the use in one statement: a session is read and its idle end moved, or
        // it is not live.
        let row = client
            .query_opt(
                "UPDATE sessions s SET idle_expires_at = LEAST($3, s.expires_at)
                 FROM accounts a
                 WHERE a.id = s.account_id AND s.token_hash = $1
                   AND s.expires_at > $2 AND s.idle_expires_at > $2 AND s.epoch = a.session_epoch
                   AND NOT EXISTS (SELECT 1 FROM forced_resets f
                                   WHERE f.account_id = s.account_id AND f.revoke_sessions)
                 RETURNING s.account_id, s.expires_at, s.idle_expires_at, s.amr, a.two_step_required",
                &[&digest.as_bytes().as_slice(), &now, &idle_until],
            )
            .await
            .map_err(db_error)?;
        Ok(row.map(|r| SessionInfo {
            account_id: r.get(0),
            expires_at: r.get(1),
            idle_expires_at: r.get(2),
            authn: super::store::Authn::from_stored(r.get(3)),
            two_step_required: r.get(4),
        }))
    }

    async fn end_session(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM sessions WHERE token_hash = $1",
                &[&digest.as_bytes().as_slice()],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    async fn login_gate(
        &self,
        subject: &[u8; 32],
        now: DateTime<Utc>,
        throttle: &LoginThrottle,
    ) -> Result<Gate, StoreError> {
        throttle::gate(self, subject, now, throttle).await
    }

    async fn login_failed(
        &self,
        subject: &[u8; 32],
        now: DateTime<Utc>,
        throttle: &LoginThrottle,
    ) -> Result<(), StoreError> {
        throttle::failed(self, subject, now, throttle).await
    }

    async fn login_cleared(&self, subject: &[u8; 32]) -> Result<(), StoreError> {
        throttle::cleared(self, subject).await
    }

    async fn count_reset_request(
        &self,
        email_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(u32, DateTime<Utc>), StoreError> {
        resets::count_request(self, email_digest, now).await
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::Duration,
        pacing: &Pacing,
    ) -> Result<Claim, StoreError> {
        outbox::claim(self, now, limit, lease, pacing).await
    }

    async fn outbox_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        outbox::sent(self, id, now).await
    }

    async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        outbox::failed(self, id, error, retry_at).await
    }

    async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        outbox::backlog(self).await
    }

    async fn outbox_summary(&self, dead_limit: i64) -> Result<OutboxSummary, StoreError> {
        outbox::summary(self, dead_limit).await
    }

    async fn purge_expired(&self, now: DateTime<Utc>, sent_before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let sessions = client
            .execute(
                "DELETE FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1",
                &[&now],
            )
            .await
            .map_err(db_error)?;
        let tokens = client
            .execute(
                "DELETE FROM reset_tokens WHERE expires_at <= $1 OR used_at IS NOT NULL",
                &[&now],
            )
            .await
            .map_err(db_error)?;
        let mail = client
            .execute(
                "DELETE FROM outbox WHERE status = 'sent' AND sent_at < $1",
                &[&sent_before],
            )
            .await
            .map_err(db_error)?;
        let counts = client
            .execute(
                "DELETE FROM reset_request_counts WHERE window_start <= $1",
                &[&(now - RESET_LIMIT_WINDOW)],
            )
            .await
            .map_err(db_error)?;
        // A domain bucket idle for an hour is full again anyway; dropping it keeps the table to the
        // domains being mailed now.
        let buckets = client
            .execute(
                "DELETE FROM send_buckets WHERE key <> '' AND updated_at < clock_timestamp() - interval '1 hour'",
                &[],
            )
            .await
            .map_err(db_error)?;
        let forget = crate::clock::chrono_duration(FORGET_AFTER);
        let throttled = client
            .execute(
                "DELETE FROM login_throttle WHERE last_failure_at <= $1",
                &[&(now - forget)],
            )
            .await
            .map_err(db_error)?;
        Ok(sessions + tokens + mail + counts + buckets + throttled)
    }
}
