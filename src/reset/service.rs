//! The reset and login flows. Pure orchestration over the [`Store`], the [`Hasher`] and the clock;
//! it knows nothing of HTTP.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::email::EmailAddress;
use super::factor::{self, FactorService, Method, Proof};
use super::password::{normalize, PasswordPolicy, PolicyViolation, HARD_MAX_BYTES};
use super::session::SessionPolicy;
use super::throttle::{Gate, LoginThrottle};
use super::token::BearerToken;
use crate::clock::{chrono_duration, Clock};
use crate::hashing::hasher::Hasher;
use crate::hashing::phc::{PhcString, StoredHash};
use crate::hashing::pool::{Place, PoolError};
use crate::i18n::Locale;
use crate::mail::seal::Sealer;
use crate::metrics::Metrics;
use crate::secret::SecretString;
use crate::storage::store::{
    AccountId, Authn, CompletedReset, MailKind, NewMail, NewSession, NewToken, Requester, SessionInfo, Store,
    StoreError,
};

/// How long a login challenge (right password, code still to come) stays usable: long enough to
/// open an app and type six digits, short enough that a stolen challenge is soon worthless.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reset token is invalid, used or expired")]
    TokenInvalid,
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("session is invalid or expired")]
    SessionInvalid,
    /// Confirming a reset for an account with a second factor, without a code.
    #[error("this account has a second factor: send a code or a recovery code with the new password")]
    SecondFactorRequired,
    /// A login challenge that is unknown, used or expired.
    #[error("the sign-in challenge is invalid, used or expired: sign in again")]
    ChallengeInvalid,
    /// A second-factor refusal (wrong, replayed, locked, not enrolled, ...).
    #[error(transparent)]
    Factor(#[from] factor::Error),
    /// Too many wrong passwords in a row for this address: the next try waits until then.
    #[error("too many failed sign-ins for this address")]
    LoginThrottled { retry_after: Duration },
    /// Too many reset requests for this address in the current window.
    #[error("too many reset requests for this address")]
    RateLimited { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing capacity is exhausted (shed at admission or expired in the queue).
    #[error("hashing capacity exhausted")]
    Overloaded { retry_after: std::time::Duration },
    #[error(transparent)]
    Hash(PoolError),
}

/// The account behind a live reset token, as the reset page needs it.
#[derive(Debug)]
pub struct TokenHolder {
    /// Shown read-only, so a password manager saves the new password under the right account.
    pub email: EmailAddress,
    /// The policy's minimum length for this account (lower with a confirmed second factor).
    pub min_chars: usize,
    /// The account has a second factor: the form must ask for a code.
    pub needs_second_factor: bool,
}

/// Where two-step verification stands once a reset is done: what the done page leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoStepAfterReset {
    /// A factor is confirmed (and was proven for this reset).
    On,
    /// None, and nothing requires one: the page offers it.
    Offered,
    /// None, and the campaign that forced this reset requires one: the page leads into it and
    /// the account's sessions are held at enrolment until it is on.
    Required,
}

impl TwoStepAfterReset {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Offered => "offered",
            Self::Required => "required",
        }
    }
}

/// What a committed reset did, for the answer the owner sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetDone {
    /// Every other session was signed out (asked for, or required by a campaign).
    pub signed_out: bool,
    pub two_step: TwoStepAfterReset,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum Login {
    /// No factor enrolled: signed in (AAL1). With `two_step_required` the session only serves
    /// enrolment until a factor is on.
    Session {
        token: BearerToken,
        two_step_required: bool,
    },
    /// A factor is enrolled: a code must follow, for this single-use challenge.
    SecondFactor {
        challenge: BearerToken,
        expires_in: Duration,
    },
}

pub struct ResetService {
    pub store: Arc<dyn Store>,
    pub factors: FactorService,
    pub hasher: Hasher,
    pub sealer: Sealer,
    pub clock: Arc<dyn Clock>,
    pub policy: PasswordPolicy,
    pub token_ttl: Duration,
    pub sessions: SessionPolicy,
    /// The per-address login throttle.
    pub login_throttle: LoginThrottle,
    pub reset_floor: Duration,
    /// A repeat request within this sends no mail and keeps the live link; zero turns it off.
    pub reset_cooldown: Duration,
    /// Reset mails one client network may have waiting at once; zero turns the cap off (the fair
    /// order still applies).
    pub reset_backlog_per_network: u32,
    /// Reset requests one address may make per hour; `None` turns the limit off (load tests).
    pub email_limit_per_hour: Option<u32>,
    pub metrics: Arc<Metrics>,
}

impl From<PoolError> for Error {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Shed { retry_after } => Self::Overloaded { retry_after },
            // The job waited out its deadline: the same answer as a shed, a second later.
            PoolError::Expired => Self::Overloaded {
                retry_after: Duration::from_secs(1),
            },
            other => Self::Hash(other),
        }
    }
}

impl ResetService {
    /// Starts a reset for `email` if it has an account. Known and unknown addresses run the same
    /// code up to the store write and then wait out the same floor, so neither the response nor its
    /// timing says whether the account exists.
    ///
    /// `locale` is the language of the browser that asked, when it named one we have: the mail is
    /// written in it and it becomes the account's locale. Recorded in the transaction that issues
    /// the token, which only a known account runs: an unknown address does no extra work, and the
    /// floor hides the rest.
    ///
    /// # Errors
    /// Only when the store is unavailable or broken.
    pub async fn request_reset(
        &self,
        email: &EmailAddress,
        locale: Option<Locale>,
        network: Option<IpAddr>,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let result = self.request_reset_inner(email, locale, network).await;
        let elapsed = started.elapsed();
        match self.reset_floor.checked_sub(elapsed) {
            Some(rest) => tokio::time::sleep(rest).await,
            None => self.metrics.timing_floor_exceeded.inc(),
        }
        result
    }

    async fn request_reset_inner(
        &self,
        email: &EmailAddress,
        locale: Option<Locale>,
        network: Option<IpAddr>,
    ) -> Result<(), Error> {
        // Generated and sealed for every request, account or not, so both paths do the same work.
        let token = BearerToken::generate();
        let digest = token.digest();
        let sealed = self.sealer.seal(token.expose(), email);
        let now = self.clock.now();
        if let Some(limit) = self.email_limit_per_hour {
            // Counted per address whether or not it has an account, so a 429 reveals nothing.
            let (count, window_ends) = self
                .store
                .count_reset_request(&self.sealer.email_digest(email), now)
                .await?;
            if count > limit {
                self.metrics.rate_limited.with_label_values(&["email"]).inc();
                let retry_after = (window_ends - now).to_std().unwrap_or_default();
                return Err(Error::RateLimited { retry_after });
            }
        }
        let Some(account) = self.store.account_by_email(email).await? else {
            self.metrics
                .reset_requests
                .with_label_values(&["unknown_account"])
                .inc();
            return Ok(());
        };
        let mail = NewMail {
            kind: MailKind::PasswordReset,
            recipient: account.email.clone(),
            sealed_secret: Some(sealed),
            locale: locale.or(account.locale),
        };
        // Written only when it changes: an API client that always sends the same language costs
        // no extra statement.
        let record = locale.filter(|l| account.locale != Some(*l));
        let new_token = NewToken {
            account_id: account.id,
            digest: &digest,
            expires_at: now + chrono_duration(self.token_ttl),
            fresh_after: (!self.reset_cooldown.is_zero()).then(|| now - chrono_duration(self.reset_cooldown)),
            requester: network.map(|n| Requester {
                digest: self.sealer.network_digest(n),
                max_pending: match self.reset_backlog_per_network {
                    0 => u32::MAX,
                    cap => cap,
                },
            }),
        };
        let issued = self.store.issue_reset_token(new_token, mail, record, now).await?;
        // Same answer either way: only the ops listener's metrics tell the two apart.
        self.metrics
            .reset_requests
            .with_label_values(&[issued.label()])
            .inc();
        Ok(())
    }

    /// Who a reset token belongs to, if it is live, without consuming it: the reset page renders
    /// its form from this, and mail scanners that fetch the link must leave it usable.
    ///
    /// # Errors
    /// Only when the store is unavailable or broken.
    pub async fn reset_token_holder(&self, token: &BearerToken) -> Result<Option<TokenHolder>, Error> {
        let account = self
            .store
            .account_for_reset_token(&token.digest(), self.clock.now())
            .await?;
        let Some(a) = account else {
            return Ok(None);
        };
        let enrolled = self.factors.enrolled(a.id).await?;
        Ok(Some(TokenHolder {
            min_chars: if enrolled {
                self.policy.min_chars_with_mfa
            } else {
                self.policy.min_chars
            },
            needs_second_factor: enrolled,
            email: a.email,
        }))
    }

    /// Sets a new password with a reset token.
    ///
    /// # Errors
    /// [`Error::TokenInvalid`] for a bad, used or expired token (checked before any hashing),
    /// [`Error::Policy`] for a password the policy refuses (the token stays usable).
    pub async fn confirm_reset(
        &self,
        token: &BearerToken,
        new_password: &SecretString,
        sign_out_everywhere: bool,
        proof: Option<&Proof>,
        place: Place,
    ) -> Result<ResetDone, Error> {
        // Overloaded: refuse before the token lookup, not after it.
        self.hasher.precheck(place)?;
        let digest = token.digest();
        let account = self
            .store
            .account_for_reset_token(&digest, self.clock.now())
            .await?
            .ok_or(Error::TokenInvalid)?;
        // The shorter minimum is earned by a confirmed factor at the moment the password is set,
        // and that factor must be proven here: a reset link alone must not walk past it.
        let enrolled = self.factors.enrolled(account.id).await?;
        let password = self
            .policy
            .parse(new_password.expose(), &account.email, enrolled)?;
        if enrolled {
            // After the policy, so a refused password does not spend the code. A failed proof
            // leaves the token live and counts toward the account's lock.
            let proof = proof.ok_or(Error::SecondFactorRequired)?;
            self.factors.verify(account.id, proof).await?;
        }
        let new_hash = self.hasher.hash_at(place, password).await?;
        let committed = self
            .store
            .complete_reset(CompletedReset {
                token: &digest,
                account_id: account.id,
                new_hash: &new_hash,
                sign_out_everywhere,
                notice: NewMail {
                    kind: MailKind::PasswordChanged,
                    recipient: account.email.clone(),
                    sealed_secret: None,
                    locale: account.locale,
                },
                now: self.clock.now(),
            })
            .await?;
        let Some(done) = committed else {
            // Used by a concurrent confirm or expired while we hashed.
            return Err(Error::TokenInvalid);
        };
        self.metrics.resets_completed.inc();
        // A new password: the guesses against the old one no longer count against the owner.
        // Best effort: the reset is committed, and a leftover count fades within a day.
        if let Err(e) = self
            .store
            .login_cleared(&self.sealer.email_digest(&account.email))
            .await
        {
            tracing::warn!(error = %e, "could not clear the login throttle after a reset");
        }
        Ok(ResetDone {
            signed_out: done.signed_out,
            two_step: match (enrolled, done.two_step_required) {
                (true, _) => TwoStepAfterReset::On,
                (false, true) => TwoStepAfterReset::Required,
                (false, false) => TwoStepAfterReset::Offered,
            },
        })
    }

    /// Verifies a password and opens a session. Unknown accounts and accounts without a password
    /// verify against a dummy hash, so every login costs one argon2 computation.
    ///
    /// # Errors
    /// [`Error::InvalidCredentials`] whenever the email/password pair does not match.
    pub async fn login(
        self: &Arc<Self>,
        email: &EmailAddress,
        password: &SecretString,
        place: Place,
    ) -> Result<Login, Error> {
        if password.expose().len() > HARD_MAX_BYTES {
            // Bounds hashing cost; depends only on the input, so it reveals nothing about accounts.
            return Err(Error::InvalidCredentials);
        }
        // Overloaded: refuse before the account lookup, not after it.
        self.hasher.precheck(place)?;
        // Throttled by address, account or not: the same reads and writes either way, and a
        // throttled guess costs no hash.
        let subject = self.sealer.email_digest(email);
        let now = self.clock.now();
        if let Gate::Closed { until } = self.store.login_gate(&subject, now, &self.login_throttle).await? {
            self.metrics.rate_limited.with_label_values(&["account"]).inc();
            let retry_after = (until - now).to_std().unwrap_or_default();
            return Err(Error::LoginThrottled { retry_after });
        }
        let account = self.store.account_by_email(email).await?;
        let stored = account.as_ref().and_then(|a| {
            a.password_hash.clone().map(|phc| StoredHash {
                phc,
                peppered: a.password_peppered,
            })
        });
        let normalized = normalize(password.expose());
        let mut ok = self
            .hasher
            .verify(place, normalized.clone(), stored.clone())
            .await?;
        // A legacy system hashed the raw bytes; where NFKC changed them (decomposed accents,
        // full-width forms), try those bytes too. The upgrade then stores the normalised form.
        // Every such input pays for a second verification, legacy account or not, so the cost
        // depends only on the input and says nothing about the account.
        if normalized.expose() != password.expose() {
            let legacy = stored.as_ref().filter(|s| !ok && !s.peppered).cloned();
            let retried = legacy.is_some();
            let again = self.hasher.verify(place, password.clone(), legacy).await?;
            if retried {
                ok = again;
            }
        }
        let Some(account) = account.filter(|_| ok) else {
            self.store
                .login_failed(&subject, self.clock.now(), &self.login_throttle)
                .await?;
            return Err(Error::InvalidCredentials);
        };
        if account.must_reset {
            // A campaign forced a reset: the password is known-compromised, so whoever typed it
            // may be the attacker holding the leak. The answer is exactly a wrong password's
            // (counted as one too), so it cannot confirm the old password; the owner gets a link
            // by email instead (the per-address limit still applies: a known password must not
            // become a mail cannon). The pages' wrong-password text says to check for it.
            // Off the response path, so the answer takes a wrong password's time too.
            let (this, email) = (Arc::clone(self), account.email.clone());
            tokio::spawn(async move {
                match this.request_reset_inner(&email, None, None).await {
                    Ok(()) | Err(Error::RateLimited { .. }) => {}
                    Err(e) => tracing::warn!(error = %e, "could not send the forced-reset link"),
                }
            });
            self.store
                .login_failed(&subject, self.clock.now(), &self.login_throttle)
                .await?;
            return Err(Error::InvalidCredentials);
        }
        self.store.login_cleared(&subject).await?;
        if let Some(old) = stored.filter(|s| self.hasher.needs_upgrade(s)) {
            // Off the response path: the user is in; the stronger hash can land a moment later.
            tokio::spawn(upgrade_hash(
                Arc::clone(&self.store),
                self.hasher.clone(),
                Arc::clone(&self.clock),
                account.id,
                old.phc,
                normalized,
            ));
        }
        if self.factors.enrolled(account.id).await? {
            // Only after the right password, so the answer confirms nothing to a guesser.
            let challenge = BearerToken::generate();
            let expires_at = self.clock.now() + chrono_duration(CHALLENGE_TTL);
            self.factors
                .store
                .create_challenge(&challenge.digest(), account.id, expires_at)
                .await?;
            return Ok(Login::SecondFactor {
                challenge,
                expires_in: CHALLENGE_TTL,
            });
        }
        let token = self
            .create_session(account.id, account.session_epoch, Authn::Password)
            .await?;
        Ok(Login::Session {
            token,
            two_step_required: account.two_step_required,
        })
    }

    /// The second step of a login for an enrolled account: the challenge from [`Self::login`]
    /// and a code or recovery code. A wrong code leaves the challenge usable (it counts toward
    /// the account's attempt limit instead); a right one uses it up and opens an AAL2 session.
    ///
    /// # Errors
    /// [`Error::ChallengeInvalid`], a second-factor refusal ([`Error::Factor`]), or the store's.
    pub async fn login_second_factor(
        &self,
        challenge: &BearerToken,
        proof: &Proof,
    ) -> Result<BearerToken, Error> {
        let now = self.clock.now();
        let digest = challenge.digest();
        let Some(account_id) = self.factors.store.challenge_account(&digest, now).await? else {
            return Err(Error::ChallengeInvalid);
        };
        let method = self.factors.verify(account_id, proof).await?;
        if !self.factors.store.consume_challenge(&digest, now).await? {
            // A concurrent request with the same challenge won.
            return Err(Error::ChallengeInvalid);
        }
        // The epoch is read now, not at the password step: a reset in between signs this out.
        let epoch = self
            .store
            .account_by_id(account_id)
            .await?
            .ok_or(Error::ChallengeInvalid)?
            .session_epoch;
        let authn = match method {
            Method::Otp => Authn::PasswordOtp,
            Method::Recovery => Authn::PasswordRecovery,
        };
        self.create_session(account_id, epoch, authn).await
    }

    async fn create_session(
        &self,
        account_id: AccountId,
        epoch: i64,
        authn: Authn,
    ) -> Result<BearerToken, Error> {
        let session = BearerToken::generate();
        let now = self.clock.now();
        let expires_at = self.sessions.expires_at(now);
        self.store
            .create_session(NewSession {
                digest: &session.digest(),
                account_id,
                authn,
                epoch,
                now,
                expires_at,
                idle_expires_at: self.sessions.idle_until(now, expires_at),
                keep_at_most: self.sessions.per_account,
            })
            .await?;
        Ok(session)
    }

    /// A use of the session: it must be live, and its idle end moves forward.
    ///
    /// # Errors
    /// [`Error::SessionInvalid`] when the session is unknown, expired, idle too long or revoked.
    pub async fn session(&self, token: &BearerToken) -> Result<SessionInfo, Error> {
        let now = self.clock.now();
        self.store
            .live_session(&token.digest(), now, self.sessions.idle_from(now))
            .await?
            .ok_or(Error::SessionInvalid)
    }

    /// Signs a session out. Idempotent: an unknown or ended session is already signed out, and
    /// saying so would only tell a caller which tokens were once real.
    ///
    /// # Errors
    /// Only when the store is unavailable or broken.
    pub async fn end_session(&self, token: &BearerToken) -> Result<(), Error> {
        self.store.end_session(&token.digest()).await?;
        Ok(())
    }
}

/// Replaces a legacy or weaker hash with one at the configured parameters and pepper. Failures
/// are logged and harmless: the old hash stays valid and the next login tries again.
async fn upgrade_hash(
    store: Arc<dyn Store>,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    account_id: AccountId,
    old: PhcString,
    normalized: SecretString,
) {
    let new = match hasher.rehash_verified(normalized).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(account_id, error = %e, "password hash upgrade failed");
            return;
        }
    };
    match store
        .upgrade_password_hash(account_id, &old, &new, clock.now())
        .await
    {
        Ok(true) => tracing::info!(account_id, "password hash upgraded to current parameters"),
        Ok(false) => tracing::debug!(account_id, "hash changed meanwhile; upgrade skipped"),
        Err(e) => tracing::warn!(account_id, error = %e, "storing the upgraded hash failed"),
    }
}
