//! The storage boundary: every operation the service needs, each one atomic. Two implementations
//! exist, PostgreSQL (production) and in-memory (demo), and the same API test suite runs on both.
//!
//! Every method that decides on expiry takes `now` from the caller's clock, never from the
//! database, so tests can move time and both stores agree.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::hashing::phc::PhcString;
use crate::i18n::Locale;
use crate::mail::pacing::Pacing;
use crate::reset::email::EmailAddress;
use crate::reset::throttle::{Gate, LoginThrottle};
use crate::reset::token::TokenDigest;

/// Re-exported: every store method speaks in account ids, so its callers find the type here.
pub use crate::mfa::assurance::Authn;
pub use crate::reset::account::AccountId;

/// The window of the per-address reset request limit.
pub const RESET_LIMIT_WINDOW: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached in time (pool wait, connect, network). Clients get a
    /// fast 503: retrying later is the right move.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("account already exists")]
    AccountExists,
    /// Anything else: a bug or a schema mismatch. Clients get a 500 without detail.
    #[error("store error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Most connections the pool will open.
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

/// Its flags are independent facts stored in independent columns, not a state machine in
/// disguise, hence the allow.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct Account {
    pub id: AccountId,
    pub email: EmailAddress,
    pub password_hash: Option<PhcString>,
    /// Whether `password_hash` was computed with our pepper (false for imported legacy hashes).
    pub password_peppered: bool,
    pub mfa_enabled: bool,
    /// Sessions carry the epoch they were issued under; bumping it signs out every session.
    pub session_epoch: i64,
    /// A campaign forced a reset: the old password no longer logs in.
    pub must_reset: bool,
    /// A campaign's forced reset asked for two-step verification and none is confirmed yet.
    pub two_step_required: bool,
    /// The language of the account's mail; `None`: the configured default.
    pub locale: Option<Locale>,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: EmailAddress,
    pub password_hash: Option<PhcString>,
    pub password_peppered: bool,
    pub mfa_enabled: bool,
}

/// What the outbox carries. The mailer renders it at send time; a reset link's token is sealed
/// (encrypted) so the table never holds a usable token in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    PasswordReset,
    PasswordChanged,
    /// A breach-day campaign's notice; enqueued by the campaign runner, sent after transactional mail.
    CampaignNotice,
    /// A second factor was turned on.
    MfaEnabled,
    /// The second factor was removed, by the owner or by support.
    MfaRemoved,
    /// A recovery code was used to sign in or to reset.
    RecoveryCodeUsed,
}

impl MailKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::CampaignNotice => "campaign_notice",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaRemoved => "mfa_removed",
            Self::RecoveryCodeUsed => "recovery_code_used",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password_reset" => Some(Self::PasswordReset),
            "password_changed" => Some(Self::PasswordChanged),
            "campaign_notice" => Some(Self::CampaignNotice),
            "mfa_enabled" => Some(Self::MfaEnabled),
            "mfa_removed" => Some(Self::MfaRemoved),
            "recovery_code_used" => Some(Self::RecoveryCodeUsed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMail {
    pub kind: MailKind,
    pub recipient: EmailAddress,
    pub sealed_secret: Option<Vec<u8>>,
    /// The language to render it in; `None`: the configured default.
    pub locale: Option<Locale>,
}

#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// Also the message's idempotency key: its Message-ID is derived from it.
    pub id: i64,
    pub kind: MailKind,
    pub recipient: EmailAddress,
    pub sealed_secret: Option<Vec<u8>>,
    pub attempts: i32,
    /// As queued; `None` (or a tag no longer shipped): the configured default.
    pub locale: Option<Locale>,
    /// When it was queued: a reset mail older than the link's lifetime carries a dead link.
    pub created_at: DateTime<Utc>,
}

/// What one claim got: messages to send now, and when the send budget next has room.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub messages: Vec<OutboxMessage>,
    /// The budget ran dry: claim again no sooner than this.
    pub budget_wait: Option<std::time::Duration>,
}

/// Outbox rows by status, and the most recent dead ones, for operators.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OutboxSummary {
    pub pending: i64,
    pub held: i64,
    pub dead: i64,
    pub dead_recent: Vec<DeadMessage>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadMessage {
    pub id: i64,
    pub kind: &'static str,
    /// The recipient's domain only: enough to spot a provider problem, no personal data.
    pub domain: String,
    pub campaign_id: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A reset token about to be issued.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    pub account_id: AccountId,
    pub digest: &'a TokenDigest,
    pub expires_at: DateTime<Utc>,
    /// The cooldown: a live token created after this, or whose mail is still waiting to be sent,
    /// is kept and no new one is issued. `None`: always replace (cooldown off).
    pub fresh_after: Option<DateTime<Utc>>,
    /// Who asked, for the fair order and the per-network cap of the reset-mail backlog. `None`
    /// (no client address known): neither applies.
    pub requester: Option<Requester>,
}

/// The client network that asked for a reset, as a keyed digest (never the address itself).
#[derive(Debug, Clone, Copy)]
pub struct Requester {
    pub digest: [u8; 32],
    /// Reset mails from this network that may wait unsent at once; the next request from it
    /// issues nothing. Its place in the queue (`fair_rank`) is how many were waiting before it,
    /// so one network's flood queues behind everyone else's first request.
    pub max_pending: u32,
}

/// What [`Store::issue_reset_token`] did. Every outcome answers the client the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issued {
    /// A new token and its mail are queued.
    Issued,
    /// The account's live token is fresh: nothing changed.
    Cooldown,
    /// The requesting network already has its cap of reset mails waiting: nothing changed.
    NetworkBacklogFull,
}

impl Issued {
    /// The `outcome` label of `resetgate_reset_requests_total`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Cooldown => "cooldown",
            Self::NetworkBacklogFull => "network_backlog_full",
        }
    }
}

/// A reset that passed every check and is ready to commit.
#[derive(Debug)]
pub struct CompletedReset<'a> {
    pub token: &'a TokenDigest,
    pub account_id: AccountId,
    pub new_hash: &'a PhcString,
    pub sign_out_everywhere: bool,
    pub notice: NewMail,
    pub now: DateTime<Utc>,
}

/// What a committed reset did beyond the new password, for the answer the owner sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    /// Every session was signed out: asked for, or required by the campaign that forced it.
    pub signed_out: bool,
    /// The campaign that forced it requires two-step verification, and none is confirmed.
    pub two_step_required: bool,
}

#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub digest: &'a TokenDigest,
    pub account_id: AccountId,
    pub authn: Authn,
    pub epoch: i64,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The end if unused: the idle timeout from `now`, at most `expires_at`.
    pub idle_expires_at: DateTime<Utc>,
    /// Live sessions the account may hold with this one; its oldest beyond that end now.
    pub keep_at_most: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub account_id: AccountId,
    pub authn: Authn,
    pub expires_at: DateTime<Utc>,
    /// When it ends if not used again (this use counted).
    pub idle_expires_at: DateTime<Utc>,
    /// The account owes two-step enrolment (see [`Account::two_step_required`]).
    pub two_step_required: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The second-factor side of this store (both stores have one).
    fn factors(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn super::factors::FactorStore>;

    /// The campaign side of this store, where it has one (PostgreSQL).
    fn campaigns(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<dyn super::campaigns::CampaignStore>> {
        None
    }

    /// Connection pool gauges, where there is a pool.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    async fn create_account(&self, new: NewAccount, now: DateTime<Utc>) -> Result<AccountId, StoreError>;

    async fn account_by_email(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError>;

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// Replaces any earlier token of the account (at most one live token per account) and enqueues
    /// the reset email, in one transaction: either both happen or neither. `record_locale` (the
    /// language of the browser that asked) becomes the account's locale in the same transaction.
    ///
    /// The cooldown: while the account's live token is fresh (see [`NewToken::fresh_after`]),
    /// nothing changes ([`Issued::Cooldown`]), so a flood of requests for one address neither
    /// kills the link its owner is about to use nor sends a second mail. The requester's cap is
    /// checked after the cooldown, in the same transaction ([`Issued::NetworkBacklogFull`]).
    async fn issue_reset_token(
        &self,
        token: NewToken<'_>,
        mail: NewMail,
        record_locale: Option<Locale>,
        now: DateTime<Utc>,
    ) -> Result<Issued, StoreError>;

    /// The account a token belongs to, if the token is live (not used, not expired). Read-only:
    /// used to reject bad tokens before paying for a hash.
    async fn account_for_reset_token(
        &self,
        token: &TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>, StoreError>;

    /// In one transaction: consume the token (only if still live), store the new hash, bump the
    /// session epoch if asked, satisfy a forced reset, and enqueue the notice. `None` when the
    /// token was consumed or expired in the meantime, in which case nothing changed.
    async fn complete_reset(&self, reset: CompletedReset<'_>) -> Result<Option<Completed>, StoreError>;

    /// Replaces a hash after a successful login (legacy import or weaker parameters), only if it
    /// is still `old`: a reset that landed in between wins. `false` when nothing changed.
    async fn upgrade_password_hash(
        &self,
        account_id: AccountId,
        old: &PhcString,
        new: &PhcString,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Stores a new session and, in the same transaction, ends the account's dead sessions and
    /// its oldest live ones beyond `keep_at_most`, so the cap holds across replicas.
    async fn create_session(&self, session: NewSession<'_>) -> Result<(), StoreError>;

    /// A session that exists, is past neither its absolute nor its idle end, and was issued under
    /// the account's current epoch. Counts as a use: its idle end moves to `idle_until` (never
    /// past its absolute end).
    async fn live_session(
        &self,
        digest: &TokenDigest,
        now: DateTime<Utc>,
        idle_until: DateTime<Utc>,
    ) -> Result<Option<SessionInfo>, StoreError>;

    /// Ends one session (sign-out). `false` when there was none: already ended, or never was.
    async fn end_session(&self, digest: &TokenDigest) -> Result<bool, StoreError>;

    /// The per-address login throttle's state for `subject` (a keyed digest of the address),
    /// decided by `throttle` under a row lock: a stale state is deleted, and a try let through
    /// while throttled reserves the next slot, so tries racing on several replicas get one.
    async fn login_gate(
        &self,
        subject: &[u8; 32],
        now: DateTime<Utc>,
        throttle: &LoginThrottle,
    ) -> Result<Gate, StoreError>;

    /// Counts a wrong password for `subject` (one more in a row, and the wait it earns).
    async fn login_failed(
        &self,
        subject: &[u8; 32],
        now: DateTime<Utc>,
        throttle: &LoginThrottle,
    ) -> Result<(), StoreError>;

    /// A right password, or a new one: `subject` starts over.
    async fn login_cleared(&self, subject: &[u8; 32]) -> Result<(), StoreError>;

    /// Counts one reset request for an address in its current window (`RESET_LIMIT_WINDOW`,
    /// starting at the first request) and returns the count so far and when the window ends.
    async fn count_reset_request(
        &self,
        email_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(u32, DateTime<Utc>), StoreError>;

    /// Claims up to `limit` due messages for `lease`, transactional mail first, taking one token
    /// per message from the shared send budget and its domain's bucket; a claimed message is
    /// invisible to other dispatchers until the lease runs out, so a crashed dispatcher's work is
    /// retried. Messages over their domain's budget are deferred, not claimed.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::Duration,
        pacing: &Pacing,
    ) -> Result<Claim, StoreError>;

    /// Marks a message delivered and forgets its sealed secret.
    async fn outbox_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records a failed attempt; `retry_at = None` gives up (the message is dead).
    async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Messages not yet sent and not dead.
    async fn outbox_backlog(&self) -> Result<i64, StoreError>;

    /// Counts by status and the latest dead messages.
    async fn outbox_summary(&self, dead_limit: i64) -> Result<OutboxSummary, StoreError>;

    /// Deletes expired and idle sessions and reset tokens, and sent mail older than `sent_before`, so the
    /// tables do not grow without bound. Returns the number of rows removed.
    async fn purge_expired(&self, now: DateTime<Utc>, sent_before: DateTime<Utc>) -> Result<u64, StoreError>;
}
