//! The storage side of the second factor (issue #14): a TOTP factor per account (sealed secret,
//! pending until confirmed, and the last accepted step), its recovery codes (digests only), the
//! wrong-code counter behind the attempt limit, login challenges, and the account's audit trail.
//!
//! Everything that must hold across replicas is decided inside one statement or transaction:
//! "newer than the last accepted step", "this recovery code is still unused", "the fifth wrong
//! code in the window locks". A replica never decides from a value it read earlier.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::store::{AccountId, MailKind, StoreError};
use crate::mfa::recovery::RecoveryDigest;
use crate::reset::token::TokenDigest;

/// An account's TOTP factor as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTotp {
    /// Sealed with `mail::seal::Sealer::seal_bytes`, bound to the account id.
    pub sealed_secret: Vec<u8>,
    /// `None` while enrolment waits for its first code: until then nothing changes for the
    /// account.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The step of the last accepted code (replay protection).
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for StoredTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTotp")
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// The attempt limit: `max_failures` wrong codes within `window` lock the account's
/// second-factor checks for `lock_for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    pub max_failures: i32,
    pub window: Duration,
    pub lock_for: Duration,
}

impl AttemptLimit {
    /// Issue #14: 5 wrong codes in 15 minutes.
    pub const DEFAULT: Self = Self {
        max_failures: 5,
        window: Duration::minutes(15),
        lock_for: Duration::minutes(15),
    };
}

/// One line of an account's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub account_id: AccountId,
    /// A stable name: `mfa_enrolled`, `mfa_removed`, `recovery_code_used`, ...
    pub event: String,
    /// `owner`, or `admin:<identity>` for support actions.
    pub actor: String,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait FactorStore: Send + Sync + 'static {
    /// Starts (or restarts) enrolment with a new pending secret. Returns false, changing nothing,
    /// when the account already has a confirmed factor.
    async fn begin_totp(
        &self,
        account: AccountId,
        sealed_secret: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn totp(&self, account: AccountId) -> Result<Option<StoredTotp>, StoreError>;

    /// Confirms the pending factor with its first accepted code's step and stores the recovery
    /// set, in one step. False when there was no pending factor (already confirmed, or none).
    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery: &[RecoveryDigest],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records `step` as accepted when it is newer than the last accepted one. False means a
    /// replay: another request (on any replica) accepted this step or a later one first.
    async fn accept_totp_step(&self, account: AccountId, step: i64) -> Result<bool, StoreError>;

    /// Removes the factor and its recovery codes. False when there was none.
    /// Replaces the sealed secret with the same secret sealed under the current key (after a
    /// pepper rotation), only if it is still `old`: a removal or re-enrolment in between wins.
    async fn reseal_totp(&self, account: AccountId, old: &[u8], new: &[u8]) -> Result<bool, StoreError>;

    async fn remove_totp(&self, account: AccountId) -> Result<bool, StoreError>;

    /// Marks the recovery code used; true only for an unused code of this account.
    async fn use_recovery_code(
        &self,
        account: AccountId,
        code: &RecoveryDigest,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// A new set of recovery codes; the old set is void.
    async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[RecoveryDigest],
    ) -> Result<(), StoreError>;

    /// Unused recovery codes left.
    async fn recovery_codes_left(&self, account: AccountId) -> Result<i64, StoreError>;

    /// When the account's second-factor checks are locked, until when.
    async fn factor_locked_until(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Counts a wrong code; returns the lock's end when this failure locked (or the account was
    /// already locked).
    async fn record_factor_failure(
        &self,
        account: AccountId,
        limit: AttemptLimit,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Forgets wrong codes after a right one.
    async fn clear_factor_failures(&self, account: AccountId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// A login challenge: the password was right, a code must follow.
    async fn create_challenge(
        &self,
        digest: &TokenDigest,
        account: AccountId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The account of a live, unused challenge.
    async fn challenge_account(
        &self,
        digest: &TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountId>, StoreError>;

    /// Uses the challenge up; true only the first time, for a live challenge.
    async fn consume_challenge(&self, digest: &TokenDigest, now: DateTime<Utc>) -> Result<bool, StoreError>;

    async fn audit(
        &self,
        account: AccountId,
        event: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The account's audit trail, oldest first.
    async fn audit_trail(&self, account: AccountId) -> Result<Vec<AuditEntry>, StoreError>;

    /// Queues a notice about the account's second factor to its owner, in the account's language,
    /// as transactional mail (ahead of campaign notices).
    async fn enqueue_factor_notice(
        &self,
        account: AccountId,
        kind: MailKind,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
