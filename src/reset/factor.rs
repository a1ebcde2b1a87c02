//! The second-factor flows (issue #14): enrolment (a pending secret, confirmed by its first code,
//! which returns the recovery codes once), checking a code or recovery code under the replay
//! guard and the attempt limit, and removing or regenerating. Orchestration only, over
//! `storage::factors`, the sealer and the clock; it knows nothing of HTTP.
//!
//! What a check answers is decided here, once, for every caller (login step-up, reset confirm,
//! removal): a locked account is refused before its code is even looked at, and a wrong code,
//! a replayed code and a wrong recovery code all count toward the lock.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::mail::seal::Sealer;
use crate::metrics::Metrics;
use crate::mfa::recovery::{RecoveryCode, RecoveryDigest};
use crate::mfa::totp::{CodeRejected, Issuer, TotpCode, TotpSecret};
use crate::reset::email::EmailAddress;
use crate::secret::SecretString;
use crate::storage::factors::{AttemptLimit, FactorStore};
use crate::storage::store::{AccountId, MailKind, StoreError};

/// How a person proves the second factor.
#[derive(Debug, Clone)]
pub enum Proof {
    Totp(TotpCode),
    Recovery(RecoveryCode),
}

/// The method a check passed with: the session's `amr` entry (RFC 8176 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Otp,
    Recovery,
}

impl Method {
    #[must_use]
    pub const fn amr(self) -> &'static str {
        match self {
            Self::Otp => "otp",
            Self::Recovery => "recovery",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the code is wrong")]
    Wrong,
    #[error("the code was already used")]
    Replayed,
    #[error("too many wrong codes: second-factor checks are locked for a while")]
    Locked { retry_after_secs: u64 },
    #[error("no second factor is being enrolled")]
    NotEnrolling,
    #[error("a second factor is already enrolled")]
    AlreadyEnrolled,
    #[error("no second factor is enrolled")]
    NotEnrolled,
    /// The stored secret would not open (tampered, or sealed under a key no longer held).
    #[error("the stored second factor cannot be read")]
    Unreadable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What enrolment shows once: the secret for typing, the URI and its QR code for scanning.
pub struct Enrolment {
    pub secret_grouped: SecretString,
    pub otpauth_uri: SecretString,
    pub qr_svg: SecretString,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment([redacted])")
    }
}

pub struct FactorService {
    pub store: Arc<dyn FactorStore>,
    pub sealer: Sealer,
    pub clock: Arc<dyn Clock>,
    pub issuer: Issuer,
    pub limit: AttemptLimit,
    pub metrics: Arc<Metrics>,
}

/// What sealed secrets are bound to: a secret moved to another account's row does not open.
fn context(account: AccountId) -> Vec<u8> {
    format!("totp:{account}").into_bytes()
}

/// The lock as an answer: how many seconds until checks resume, rounded up.
fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> Error {
    let secs = (until - now).num_seconds().max(0) + 1;
    Error::Locked {
        retry_after_secs: u64::try_from(secs).unwrap_or(1),
    }
}

fn unix_secs(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or_default()
}

fn step_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

impl FactorService {
    /// Starts (or restarts) enrolment with a fresh secret. Nothing changes for the account until
    /// [`Self::confirm_enrolment`].
    ///
    /// # Errors
    /// [`Error::AlreadyEnrolled`], or the store's.
    pub async fn begin_enrolment(
        &self,
        account: AccountId,
        email: &EmailAddress,
    ) -> Result<Enrolment, Error> {
        let secret = TotpSecret::generate();
        let sealed = self.sealer.seal_bytes(secret.expose(), &context(account));
        if !self.store.begin_totp(account, &sealed, self.clock.now()).await? {
            return Err(Error::AlreadyEnrolled);
        }
        Ok(self.shown(&secret, email))
    }

    /// The enrolment in progress, shown again (the enrolment page after a wrong first code), or
    /// `None` when none is pending.
    ///
    /// # Errors
    /// [`Error::Unreadable`], or the store's.
    pub async fn pending_enrolment(
        &self,
        account: AccountId,
        email: &EmailAddress,
    ) -> Result<Option<Enrolment>, Error> {
        let Some(pending) = self
            .store
            .totp(account)
            .await?
            .filter(|t| t.confirmed_at.is_none())
        else {
            return Ok(None);
        };
        let secret = self.open(account, &pending.sealed_secret)?;
        Ok(Some(self.shown(&secret, email)))
    }

    fn shown(&self, secret: &TotpSecret, email: &EmailAddress) -> Enrolment {
        Enrolment {
            secret_grouped: SecretString::new(secret.base32_grouped().to_string()),
            otpauth_uri: SecretString::new(secret.otpauth_uri(&self.issuer, email.as_str()).to_string()),
            qr_svg: SecretString::new(secret.qr_svg(&self.issuer, email.as_str()).to_string()),
        }
    }

    /// Confirms enrolment with the first code from the app; returns the recovery codes, which are
    /// shown once and kept only as digests.
    ///
    /// # Errors
    /// [`Error::NotEnrolling`], a refused code ([`Error::Wrong`], [`Error::Locked`]), or the
    /// store's.
    pub async fn confirm_enrolment(
        &self,
        account: AccountId,
        code: &TotpCode,
    ) -> Result<Vec<RecoveryCode>, Error> {
        let now = self.clock.now();
        self.refuse_if_locked(account, now).await?;
        let stored = self.store.totp(account).await?;
        let Some(pending) = stored.filter(|t| t.confirmed_at.is_none()) else {
            return Err(Error::NotEnrolling);
        };
        let secret = self.open(account, &pending.sealed_secret)?;
        let Ok(step) = secret.verify(code, unix_secs(now), None) else {
            return Err(self.failed(account, Error::Wrong, now).await);
        };
        let codes = RecoveryCode::generate_set();
        if !self
            .store
            .confirm_totp(account, step_i64(step), &self.digests(&codes), now)
            .await?
        {
            // Another request confirmed it first: its codes stand, these are never shown.
            return Err(Error::NotEnrolling);
        }
        self.store.clear_factor_failures(account, now).await?;
        self.store.audit(account, "mfa_enrolled", "owner", now).await?;
        self.store
            .enqueue_factor_notice(account, MailKind::MfaEnabled, now)
            .await?;
        self.metrics.mfa_enrolments.inc();
        self.metrics.mfa_verifications.with_label_values(&["ok"]).inc();
        Ok(codes)
    }

    /// Whether the account has a confirmed factor, i.e. whether a check is required.
    ///
    /// # Errors
    /// The store's.
    pub async fn enrolled(&self, account: AccountId) -> Result<bool, Error> {
        Ok(self
            .store
            .totp(account)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some()))
    }

    /// Checks a proof for an enrolled account: the one check behind login step-up, reset
    /// confirm and removal.
    ///
    /// # Errors
    /// [`Error::Locked`] before looking at the proof; [`Error::Wrong`] or [`Error::Replayed`]
    /// (both counted toward the lock); [`Error::NotEnrolled`]; the store's.
    pub async fn verify(&self, account: AccountId, proof: &Proof) -> Result<Method, Error> {
        let now = self.clock.now();
        self.refuse_if_locked(account, now).await?;
        let stored = self.store.totp(account).await?;
        let Some(factor) = stored.filter(|t| t.confirmed_at.is_some()) else {
            return Err(Error::NotEnrolled);
        };
        match proof {
            Proof::Totp(code) => {
                let secret = self.open(account, &factor.sealed_secret)?;
                let last = factor.last_step.and_then(|s| u64::try_from(s).ok());
                match secret.verify(code, unix_secs(now), last) {
                    // The database has the last word: another replica may have taken this step.
                    Ok(step) if self.store.accept_totp_step(account, step_i64(step)).await? => {}
                    Ok(_) | Err(CodeRejected::Replayed) => {
                        return Err(self.failed(account, Error::Replayed, now).await)
                    }
                    Err(CodeRejected::Wrong) => return Err(self.failed(account, Error::Wrong, now).await),
                }
                self.passed(account, now).await?;
                if self.sealer.needs_reseal(&factor.sealed_secret) {
                    // Sealed under a retired pepper: move it to the current one now that it was
                    // opened, so the old pepper can go. Best effort; the next use tries again.
                    let fresh = self.sealer.seal_bytes(secret.expose(), &context(account));
                    if let Err(e) = self
                        .store
                        .reseal_totp(account, &factor.sealed_secret, &fresh)
                        .await
                    {
                        tracing::warn!(error = %e, "could not reseal a TOTP secret");
                    }
                }
                Ok(Method::Otp)
            }
            Proof::Recovery(code) => {
                // Codes issued before a pepper rotation are stored under the old key.
                let mut used = false;
                for key in self.sealer.recovery_keys() {
                    if self
                        .store
                        .use_recovery_code(account, &code.digest(&key), now)
                        .await?
                    {
                        used = true;
                        break;
                    }
                }
                if !used {
                    return Err(self.failed(account, Error::Wrong, now).await);
                }
                self.passed(account, now).await?;
                self.store
                    .audit(account, "recovery_code_used", "owner", now)
                    .await?;
                self.store
                    .enqueue_factor_notice(account, MailKind::RecoveryCodeUsed, now)
                    .await?;
                self.metrics.mfa_recovery_codes_used.inc();
                Ok(Method::Recovery)
            }
        }
    }

    /// Removes the factor, only with a current code or a recovery code.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub async fn remove(&self, account: AccountId, proof: &Proof) -> Result<(), Error> {
        self.verify(account, proof).await?;
        self.store.remove_totp(account).await?;
        self.store
            .audit(account, "mfa_removed", "owner", self.clock.now())
            .await?;
        self.store
            .enqueue_factor_notice(account, MailKind::MfaRemoved, self.clock.now())
            .await?;
        Ok(())
    }

    /// A new set of recovery codes (the old set is void), only with a current proof.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub async fn regenerate_recovery_codes(
        &self,
        account: AccountId,
        proof: &Proof,
    ) -> Result<Vec<RecoveryCode>, Error> {
        self.verify(account, proof).await?;
        let codes = RecoveryCode::generate_set();
        self.store
            .replace_recovery_codes(account, &self.digests(&codes))
            .await?;
        self.store
            .audit(account, "recovery_codes_regenerated", "owner", self.clock.now())
            .await?;
        Ok(codes)
    }

    /// Support: clears the account's factor without a proof, recorded with the admin's identity.
    ///
    /// # Errors
    /// [`Error::NotEnrolled`] when there was nothing to clear; the store's.
    pub async fn admin_clear(&self, account: AccountId, admin: &str) -> Result<(), Error> {
        if !self.store.remove_totp(account).await? {
            return Err(Error::NotEnrolled);
        }
        let now = self.clock.now();
        self.store.clear_factor_failures(account, now).await?;
        self.store
            .audit(account, "mfa_cleared", &format!("admin:{admin}"), now)
            .await?;
        // The owner learns of it, whoever did it: a support impostor is the threat here.
        self.store
            .enqueue_factor_notice(account, MailKind::MfaRemoved, now)
            .await?;
        Ok(())
    }

    fn digests(&self, codes: &[RecoveryCode]) -> Vec<RecoveryDigest> {
        let key = self.sealer.recovery_key();
        codes.iter().map(|c| c.digest(&key)).collect()
    }

    fn open(&self, account: AccountId, sealed: &[u8]) -> Result<TotpSecret, Error> {
        let bytes = self
            .sealer
            .open_bytes(sealed, &context(account))
            .map_err(|_| Error::Unreadable)?;
        TotpSecret::from_bytes(&bytes).map_err(|_| Error::Unreadable)
    }

    async fn refuse_if_locked(&self, account: AccountId, now: DateTime<Utc>) -> Result<(), Error> {
        if let Some(until) = self.store.factor_locked_until(account, now).await? {
            self.metrics
                .mfa_verifications
                .with_label_values(&["locked"])
                .inc();
            return Err(locked(until, now));
        }
        Ok(())
    }

    /// Counts a refused proof; the answer becomes [`Error::Locked`] when this one locked.
    async fn failed(&self, account: AccountId, refusal: Error, now: DateTime<Utc>) -> Error {
        let outcome = if matches!(refusal, Error::Replayed) {
            "replayed"
        } else {
            "wrong"
        };
        self.metrics.mfa_verifications.with_label_values(&[outcome]).inc();
        match self.store.record_factor_failure(account, self.limit, now).await {
            Ok(Some(until)) => locked(until, now),
            Ok(None) => refusal,
            Err(e) => Error::Store(e),
        }
    }

    async fn passed(&self, account: AccountId, now: DateTime<Utc>) -> Result<(), Error> {
        self.metrics.mfa_verifications.with_label_values(&["ok"]).inc();
        self.store.clear_factor_failures(account, now).await?;
        Ok(())
    }
}
