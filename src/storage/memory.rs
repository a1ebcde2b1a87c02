//! The demo store: everything in process memory behind one lock, lost on exit. Each method takes
//! the lock once, so every operation is as atomic as its PostgreSQL counterpart. The lock is never
//! held across an `.await` (there is none inside).
//!
//! One file, unlike the PostgreSQL store's several: all state is the one `Inner` under that lock,
//! and operations cross what postgres/ splits by table (issuing a token drops its predecessor's
//! pending mail in the same step), so split files would have to share `Inner`'s fields.

use std::collections::HashMap;

mod factors;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use std::time::Instant;

use super::store::{
    Account, AccountId, Claim, Completed, CompletedReset, DeadMessage, Issued, NewAccount, NewMail,
    NewSession, NewToken, OutboxMessage, OutboxSummary, SessionInfo, Store, StoreError, RESET_LIMIT_WINDOW,
};
use crate::hashing::phc::PhcString;
use crate::i18n::Locale;
use crate::mail::pacing::{self, Pacing};
use crate::reset::email::EmailAddress;
use crate::reset::throttle::{Gate, LoginThrottle, ThrottleState, FORGET_AFTER};
use crate::reset::token::TokenDigest;

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_account: AccountId,
    accounts: HashMap<AccountId, Account>,
    by_email: HashMap<EmailAddress, AccountId>,
    /// account -> its one token
    tokens: HashMap<AccountId, Token>,
    sessions: HashMap<TokenDigest, Session>,
    next_mail: i64,
    outbox: Vec<Mail>,
    /// email digest -> (window start, count)
    reset_counts: HashMap<[u8; 32], (DateTime<Utc>, u32)>,
    /// The send budget: tokens and when they were last refilled (one process, so one budget).
    send_bucket: Option<(f64, Instant)>,
    factors: factors::Factors,
    /// The login throttle, by address digest.
    throttle: HashMap<[u8; 32], ThrottleState>,
}

struct Token {
    digest: TokenDigest,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used: bool,
}

struct Session {
    account_id: AccountId,
    authn: super::store::Authn,
    epoch: i64,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
}

impl Session {
    /// Past neither end, and issued under the account's current epoch.
    fn live(&self, now: DateTime<Utc>, epoch: i64) -> bool {
        self.expires_at > now && self.idle_expires_at > now && self.epoch == epoch
    }
}

#[derive(PartialEq, Eq)]
enum MailStatus {
    Pending,
    Sent,
    Dead,
}

struct Mail {
    id: i64,
    new: NewMail,
    status: MailStatus,
    attempts: i32,
    available_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    last_error: Option<String>,
    /// As in PostgreSQL's outbox: the asking network's digest and the mail's place in the fair order.
    requester: Option<[u8; 32]>,
    fair_rank: i32,
}

impl Inner {
    fn enqueue(&mut self, new: NewMail, now: DateTime<Utc>) {
        self.enqueue_ranked(new, now, None, 0);
    }

    fn enqueue_ranked(
        &mut self,
        new: NewMail,
        now: DateTime<Utc>,
        requester: Option<[u8; 32]>,
        fair_rank: i32,
    ) {
        self.next_mail += 1;
        self.outbox.push(Mail {
            id: self.next_mail,
            new,
            status: MailStatus::Pending,
            attempts: 0,
            available_at: now,
            created_at: now,
            last_error: None,
            requester,
            fair_rank,
        });
    }

    /// Scans every token with a constant-time compare: the demo store has no index, and a scan
    /// that stops at the first differing byte would leak timing.
    fn live_token(&self, digest: &TokenDigest, now: DateTime<Utc>) -> Option<AccountId> {
        let mut found = None;
        for (account, t) in &self.tokens {
            if t.digest.ct_eq(digest) && !t.used && t.expires_at > now {
                found = Some(*account);
            }
        }
        found
    }

    fn mail(&mut self, id: i64) -> Result<&mut Mail, StoreError> {
        self.outbox
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or_else(|| StoreError::Internal(format!("no outbox message {id}")))
    }
}

impl MemoryStore {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn factors(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn super::factors::FactorStore> {
        self
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn create_account(&self, new: NewAccount, _now: DateTime<Utc>) -> Result<AccountId, StoreError> {
        let mut g = self.inner.lock();
        if g.by_email.contains_key(&new.email) {
            return Err(StoreError::AccountExists);
        }
        g.next_account += 1;
        let id = g.next_account;
        g.by_email.insert(new.email.clone(), id);
        g.accounts.insert(
            id,
            Account {
                id,
                email: new.email,
                password_hash: new.password_hash,
                password_peppered: new.password_peppered,
                mfa_enabled: new.mfa_enabled,
                session_epoch: 0,
                must_reset: false,
                // Only a campaign sets it, and campaigns need PostgreSQL.
                two_step_required: false,
                locale: None,
            },
        );
        Ok(id)
    }

    async fn account_by_email(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let g = self.inner.lock();
        Ok(g.by_email.get(email).and_then(|id| g.accounts.get(id)).cloned())
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.inner.lock().accounts.get(&id).cloned())
    }

    async fn issue_reset_token(
        &self,
        token: NewToken<'_>,
        mail: NewMail,
        record_locale: Option<Locale>,
        now: DateTime<Utc>,
    ) -> Result<Issued, StoreError> {
        let mut g = self.inner.lock();
        let account_id = token.account_id;
        if let (Some(fresh_after), Some(live)) = (token.fresh_after, g.tokens.get(&account_id)) {
            let unsent = g.outbox.iter().any(|m| {
                m.status == MailStatus::Pending
                    && m.new.kind == mail.kind
                    && m.new.recipient == mail.recipient
            });
            if !live.used && live.expires_at > now && (live.created_at > fresh_after || unsent) {
                return Ok(Issued::Cooldown);
            }
        }
        let mut rank = 0;
        if let Some(r) = &token.requester {
            let waiting = g
                .outbox
                .iter()
                .filter(|m| {
                    m.status == MailStatus::Pending
                        && m.new.kind == mail.kind
                        && m.requester == Some(r.digest)
                })
                .count();
            if waiting >= usize::try_from(r.max_pending).unwrap_or(usize::MAX) {
                return Ok(Issued::NetworkBacklogFull);
            }
            rank = i32::try_from(waiting).unwrap_or(i32::MAX);
        }
        let Some(account) = g.accounts.get_mut(&account_id) else {
            return Err(StoreError::Internal(format!("no account {account_id}")));
        };
        if record_locale.is_some() {
            account.locale = record_locale;
        }
        g.tokens.insert(
            account_id,
            Token {
                digest: *token.digest,
                created_at: now,
                expires_at: token.expires_at,
                used: false,
            },
        );
        // The replaced token's unsent email would carry a dead link: drop it.
        g.outbox.retain(|m| {
            !(m.status == MailStatus::Pending && m.new.kind == mail.kind && m.new.recipient == mail.recipient)
        });
        g.enqueue_ranked(mail, now, token.requester.map(|r| r.digest), rank);
        Ok(Issued::Issued)
    }

    async fn account_for_reset_token(
        &self,
        token: &TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>, StoreError> {
        let g = self.inner.lock();
        Ok(g.live_token(token, now)
            .and_then(|id| g.accounts.get(&id))
            .cloned())
    }

    async fn complete_reset(&self, reset: CompletedReset<'_>) -> Result<Option<Completed>, StoreError> {
        let mut g = self.inner.lock();
        if g.live_token(reset.token, reset.now) != Some(reset.account_id) {
            return Ok(None);
        }
        let Some(account) = g.accounts.get_mut(&reset.account_id) else {
            return Ok(None);
        };
        let two_step_required = account.two_step_required;
        account.password_hash = Some(reset.new_hash.clone());
        account.password_peppered = true;
        if reset.sign_out_everywhere {
            account.session_epoch += 1;
        }
        if let Some(t) = g.tokens.get_mut(&reset.account_id) {
            t.used = true;
        }
        if reset.sign_out_everywhere {
            g.sessions.retain(|_, s| s.account_id != reset.account_id);
        }
        g.enqueue(reset.notice, reset.now);
        Ok(Some(Completed {
            signed_out: reset.sign_out_everywhere,
            two_step_required,
        }))
    }

    async fn upgrade_password_hash(
        &self,
        account_id: AccountId,
        old: &PhcString,
        new: &PhcString,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        match g.accounts.get_mut(&account_id) {
            Some(a) if a.password_hash.as_ref() == Some(old) => {
                a.password_hash = Some(new.clone());
                a.password_peppered = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn create_session(&self, s: NewSession<'_>) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        let Some(epoch) = g.accounts.get(&s.account_id).map(|a| a.session_epoch) else {
            return Err(StoreError::Internal(format!(
                "session for account {} that does not exist",
                s.account_id
            )));
        };
        g.sessions.insert(
            *s.digest,
            Session {
                account_id: s.account_id,
                authn: s.authn,
                epoch: s.epoch,
                created_at: s.now,
                expires_at: s.expires_at,
                idle_expires_at: s.idle_expires_at,
            },
        );
        // As the PostgreSQL store: the account's dead sessions, then its oldest past the cap.
        let now = s.now;
        g.sessions
            .retain(|_, x| x.account_id != s.account_id || x.live(now, epoch));
        let mut mine: Vec<(DateTime<Utc>, TokenDigest)> = g
            .sessions
            .iter()
            .filter(|(_, x)| x.account_id == s.account_id)
            .map(|(d, x)| (x.created_at, *d))
            .collect();
        mine.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.as_bytes().cmp(a.1.as_bytes())));
        for (_, d) in mine.into_iter().skip(s.keep_at_most as usize) {
            g.sessions.remove(&d);
        }
        Ok(())
    }

    async fn live_session(
        &self,
        digest: &TokenDigest,
        now: DateTime<Utc>,
        idle_until: DateTime<Utc>,
    ) -> Result<Option<SessionInfo>, StoreError> {
        let mut g = self.inner.lock();
        let g = &mut *g;
        let Some(s) = g.sessions.get_mut(digest) else {
            return Ok(None);
        };
        let Some(account) = g.accounts.get(&s.account_id) else {
            return Ok(None);
        };
        if !s.live(now, account.session_epoch) {
            return Ok(None);
        }
        s.idle_expires_at = idle_until.min(s.expires_at);
        Ok(Some(SessionInfo {
            account_id: s.account_id,
            authn: s.authn,
            expires_at: s.expires_at,
            idle_expires_at: s.idle_expires_at,
            two_step_required: account.two_step_required,
        }))
    }

    async fn end_session(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        Ok(self.inner.lock().sessions.remove(digest).is_some())
    }

    async fn login_gate(
        &self,
        subject: &[u8; 32],
        now: DateTime<Utc>,
        throttle: &LoginThrottle,
    ) -> Result<Gate, StoreError> {
        let mut g = self.inner.lock();
        let gate = throttle.gate(g.throttle.get(subject).copied(), now);
        match gate {
            Gate::Open { forget: true, .. } => {
                g.throttle.remove(subject);
            }
            Gate::Open {
                reserve_until: Some(until),
                ..
            } => {
                if let Some(s) = g.throttle.get_mut(subject) {
                    s.not_before = until;
                }
            }
            _ => {}
        }
        Ok(gate)
    }

    async fn login_failed(
        &self,
        subject: &[u8; 32],
        now: DateTime<Utc>,
        throttle: &LoginThrottle,
    ) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        let next = throttle.after_failure(g.throttle.get(subject).copied(), now);
        g.throttle.insert(*subject, next);
        Ok(())
    }

    async fn login_cleared(&self, subject: &[u8; 32]) -> Result<(), StoreError> {
        self.inner.lock().throttle.remove(subject);
        Ok(())
    }

    async fn count_reset_request(
        &self,
        email_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(u32, DateTime<Utc>), StoreError> {
        let mut g = self.inner.lock();
        let entry = g.reset_counts.entry(*email_digest).or_insert((now, 0));
        if entry.0 <= now - RESET_LIMIT_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        Ok((entry.1, entry.0 + RESET_LIMIT_WINDOW))
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::Duration,
        pacing: &Pacing,
    ) -> Result<Claim, StoreError> {
        let mut g = self.inner.lock();
        let (tokens, last) = g.send_bucket.unwrap_or((0.0, Instant::now()));
        let tokens = pacing::refill(tokens, last.elapsed().as_secs_f64(), pacing.rate, pacing.burst);
        let want = pacing::grantable(tokens, limit);
        // The demo store holds transactional mail only (campaigns need PostgreSQL), so there is no
        // priority to order by; per-domain budgets matter at campaign volume only and are not kept.
        let mut due: Vec<&mut Mail> = g
            .outbox
            .iter_mut()
            .filter(|m| m.status == MailStatus::Pending && m.available_at <= now)
            .collect();
        due.sort_by_key(|m| (m.fair_rank, m.available_at, m.id));
        let messages: Vec<OutboxMessage> = due
            .into_iter()
            .take(want)
            .map(|m| {
                m.available_at = now + lease;
                OutboxMessage {
                    id: m.id,
                    kind: m.new.kind,
                    recipient: m.new.recipient.clone(),
                    sealed_secret: m.new.sealed_secret.clone(),
                    attempts: m.attempts,
                    locale: m.new.locale,
                    created_at: m.created_at,
                }
            })
            .collect();
        #[allow(clippy::cast_precision_loss)] // at most `limit` messages
        let left = tokens - messages.len() as f64;
        g.send_bucket = Some((left, Instant::now()));
        let budget_wait = (want < limit)
            .then(|| std::time::Duration::from_secs_f64(pacing::wait_for_token(left, pacing.rate)));
        Ok(Claim {
            messages,
            budget_wait,
        })
    }

    async fn outbox_sent(&self, id: i64, _now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        g.mail(id)?.status = MailStatus::Sent;
        // Nothing reads a sent message again; dropping it keeps a long demo's memory flat.
        g.outbox.retain(|m| m.status != MailStatus::Sent);
        Ok(())
    }

    async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        let m = g.mail(id)?;
        m.attempts += 1;
        m.last_error = Some(error.to_owned());
        if let Some(at) = retry_at {
            m.available_at = at;
        } else {
            m.status = MailStatus::Dead;
            m.new.sealed_secret = None;
        }
        Ok(())
    }

    async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        let g = self.inner.lock();
        let n = g
            .outbox
            .iter()
            .filter(|m| m.status == MailStatus::Pending)
            .count();
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    async fn outbox_summary(&self, dead_limit: i64) -> Result<OutboxSummary, StoreError> {
        let g = self.inner.lock();
        let count = |status: &MailStatus| {
            let n = g.outbox.iter().filter(|m| &m.status == status).count();
            i64::try_from(n).unwrap_or(i64::MAX)
        };
        let dead_recent = g
            .outbox
            .iter()
            .rev()
            .filter(|m| m.status == MailStatus::Dead)
            .take(usize::try_from(dead_limit).unwrap_or(0))
            .map(|m| DeadMessage {
                id: m.id,
                kind: m.new.kind.as_str(),
                domain: m.new.recipient.domain().to_owned(),
                campaign_id: None,
                attempts: m.attempts,
                last_error: m.last_error.clone(),
                created_at: m.created_at,
            })
            .collect();
        Ok(OutboxSummary {
            pending: count(&MailStatus::Pending),
            held: 0,
            dead: count(&MailStatus::Dead),
            dead_recent,
        })
    }

    async fn purge_expired(
        &self,
        now: DateTime<Utc>,
        _sent_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut g = self.inner.lock();
        let before = g.sessions.len() + g.tokens.len() + g.reset_counts.len();
        g.sessions
            .retain(|_, s| s.expires_at > now && s.idle_expires_at > now);
        g.tokens.retain(|_, t| t.expires_at > now && !t.used);
        g.reset_counts
            .retain(|_, (start, _)| *start > now - RESET_LIMIT_WINDOW);
        let forget = crate::clock::chrono_duration(FORGET_AFTER);
        g.throttle.retain(|_, s| s.last_failure_at > now - forget);
        // Sent mail is already dropped on delivery.
        let after = g.sessions.len() + g.tokens.len() + g.reset_counts.len();
        Ok(u64::try_from(before - after).unwrap_or(0))
    }
}
