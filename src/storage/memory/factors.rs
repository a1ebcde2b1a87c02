//! The second factor in the demo store: the same contract as PostgreSQL's (`storage::factors`),
//! each operation one critical section of the store's lock.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::mfa::recovery::RecoveryDigest;
use crate::reset::token::TokenDigest;
use crate::storage::factors::{AttemptLimit, AuditEntry, FactorStore, StoredTotp};
use crate::storage::store::{AccountId, MailKind, NewMail, StoreError};

#[derive(Default)]
pub(super) struct Factors {
    totp: HashMap<AccountId, StoredTotp>,
    /// account -> (digest, used)
    recovery: HashMap<AccountId, Vec<(RecoveryDigest, bool)>>,
    failures: HashMap<AccountId, Failures>,
    challenges: Vec<Challenge>,
    audit: Vec<AuditEntry>,
}

struct Failures {
    window_start: DateTime<Utc>,
    count: i32,
    locked_until: Option<DateTime<Utc>>,
}

struct Challenge {
    digest: TokenDigest,
    account: AccountId,
    expires_at: DateTime<Utc>,
    used: bool,
}

impl Factors {
    /// Constant-time compares over every challenge, like the store's token scan.
    fn challenge(&mut self, digest: &TokenDigest, now: DateTime<Utc>) -> Option<&mut Challenge> {
        let mut found = None;
        for (i, c) in self.challenges.iter().enumerate() {
            if c.digest.ct_eq(digest) && !c.used && c.expires_at > now {
                found = Some(i);
            }
        }
        found.and_then(|i| self.challenges.get_mut(i))
    }
}

#[async_trait]
impl FactorStore for MemoryStore {
    async fn begin_totp(
        &self,
        account: AccountId,
        sealed: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        let f = &mut g.factors;
        if f.totp.get(&account).is_some_and(|t| t.confirmed_at.is_some()) {
            return Ok(false);
        }
        f.totp.insert(
            account,
            StoredTotp {
                sealed_secret: sealed.to_vec(),
                confirmed_at: None,
                last_step: None,
            },
        );
        Ok(true)
    }

    async fn totp(&self, account: AccountId) -> Result<Option<StoredTotp>, StoreError> {
        Ok(self.inner.lock().factors.totp.get(&account).cloned())
    }

    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery: &[RecoveryDigest],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        let Some(t) = g
            .factors
            .totp
            .get_mut(&account)
            .filter(|t| t.confirmed_at.is_none())
        else {
            return Ok(false);
        };
        t.confirmed_at = Some(now);
        t.last_step = Some(step);
        g.factors
            .recovery
            .insert(account, recovery.iter().map(|d| (*d, false)).collect());
        if let Some(a) = g.accounts.get_mut(&account) {
            a.mfa_enabled = true;
            a.two_step_required = false;
        }
        Ok(true)
    }

    async fn accept_totp_step(&self, account: AccountId, step: i64) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        match g.factors.totp.get_mut(&account) {
            Some(t) if t.confirmed_at.is_some() && t.last_step.is_none_or(|last| last < step) => {
                t.last_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn reseal_totp(&self, account: AccountId, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        match g.factors.totp.get_mut(&account) {
            Some(t) if t.sealed_secret == old => {
                new.clone_into(&mut t.sealed_secret);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove_totp(&self, account: AccountId) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        let had = g.factors.totp.remove(&account).is_some();
        g.factors.recovery.remove(&account);
        if let Some(a) = g.accounts.get_mut(&account) {
            a.mfa_enabled = false;
        }
        Ok(had)
    }

    async fn use_recovery_code(
        &self,
        account: AccountId,
        code: &RecoveryDigest,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut g = self.inner.lock();
        let Some(codes) = g.factors.recovery.get_mut(&account) else {
            return Ok(false);
        };
        // RecoveryDigest compares in constant time; every entry is compared.
        let mut hit = None;
        for (i, (d, used)) in codes.iter().enumerate() {
            if d == code && !used {
                hit = Some(i);
            }
        }
        Ok(hit.and_then(|i| codes.get_mut(i)).is_some_and(|c| {
            c.1 = true;
            true
        }))
    }

    async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[RecoveryDigest],
    ) -> Result<(), StoreError> {
        self.inner
            .lock()
            .factors
            .recovery
            .insert(account, codes.iter().map(|d| (*d, false)).collect());
        Ok(())
    }

    async fn recovery_codes_left(&self, account: AccountId) -> Result<i64, StoreError> {
        let g = self.inner.lock();
        let left = g
            .factors
            .recovery
            .get(&account)
            .map_or(0, |codes| codes.iter().filter(|(_, used)| !used).count());
        Ok(i64::try_from(left).unwrap_or(i64::MAX))
    }

    async fn factor_locked_until(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let g = self.inner.lock();
        Ok(g.factors
            .failures
            .get(&account)
            .and_then(|f| f.locked_until)
            .filter(|t| *t > now))
    }

    async fn record_factor_failure(
        &self,
        account: AccountId,
        limit: AttemptLimit,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut g = self.inner.lock();
        let f = g.factors.failures.entry(account).or_insert(Failures {
            window_start: now,
            count: 0,
            locked_until: None,
        });
        if f.window_start <= now - limit.window {
            f.window_start = now;
            f.count = 0;
        }
        f.count += 1;
        let still_locked = f.locked_until.filter(|t| *t > now);
        f.locked_until =
            still_locked.or_else(|| (f.count >= limit.max_failures).then(|| now + limit.lock_for));
        Ok(f.locked_until)
    }

    async fn clear_factor_failures(&self, account: AccountId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        if g.factors
            .failures
            .get(&account)
            .is_some_and(|f| f.locked_until.is_none_or(|t| t <= now))
        {
            g.factors.failures.remove(&account);
        }
        Ok(())
    }

    async fn create_challenge(
        &self,
        digest: &TokenDigest,
        account: AccountId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.lock().factors.challenges.push(Challenge {
            digest: *digest,
            account,
            expires_at,
            used: false,
        });
        Ok(())
    }

    async fn challenge_account(
        &self,
        digest: &TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountId>, StoreError> {
        Ok(self
            .inner
            .lock()
            .factors
            .challenge(digest, now)
            .map(|c| c.account))
    }

    async fn consume_challenge(&self, digest: &TokenDigest, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.inner.lock().factors.challenge(digest, now).is_some_and(|c| {
            c.used = true;
            true
        }))
    }

    async fn audit(
        &self,
        account: AccountId,
        event: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.lock().factors.audit.push(AuditEntry {
            account_id: account,
            event: event.to_owned(),
            actor: actor.to_owned(),
            at: now,
        });
        Ok(())
    }

    async fn enqueue_factor_notice(
        &self,
        account: AccountId,
        kind: MailKind,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        let Some(a) = g.accounts.get(&account) else {
            return Ok(());
        };
        let mail = NewMail {
            kind,
            recipient: a.email.clone(),
            sealed_secret: None,
            locale: a.locale,
        };
        g.enqueue(mail, now);
        Ok(())
    }

    async fn audit_trail(&self, account: AccountId) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .inner
            .lock()
            .factors
            .audit
            .iter()
            .filter(|e| e.account_id == account)
            .cloned()
            .collect())
    }
}
