//! What an operator asks for and what they see: campaign scope, state, progress. Requests are
//! parsed into these types once, at the edge (admin API or CLI).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::reset::account::AccountId;
use crate::reset::email::EmailAddress;

pub type CampaignId = i64;

/// Most entries an explicit list may hold. Larger incidents use `all` or `created_before`, or the
/// CLI's file options in several campaigns; a bound keeps one request's memory and transaction sane.
pub const MAX_LIST: usize = 1_000_000;
/// Longest reason kept (it is for the audit trail, not an essay).
pub const MAX_REASON: usize = 500;

/// Which accounts a campaign covers. Accounts created after the campaign starts are never in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    AccountIds(Vec<AccountId>),
    Emails(Vec<EmailAddress>),
    CreatedBefore(DateTime<Utc>),
}

impl Scope {
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::AccountIds(_) => "account_ids",
            Self::Emails(_) => "emails",
            Self::CreatedBefore(_) => "created_before",
        }
    }
}

/// A non-empty, bounded reason for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidCampaign {
    #[error("reason is required")]
    EmptyReason,
    #[error("reason is longer than {MAX_REASON} characters")]
    ReasonTooLong,
    #[error("the {0} list is empty")]
    EmptyList(&'static str),
    #[error("the {0} list has more than {MAX_LIST} entries")]
    ListTooLong(&'static str),
    #[error("entry {index} of emails is not an email address")]
    BadEmail { index: usize },
    #[error("entry {index} of account_ids is not a positive id")]
    BadAccountId { index: usize },
}

impl Reason {
    /// # Errors
    /// When empty (after trimming) or too long.
    pub fn parse(raw: &str) -> Result<Self, InvalidCampaign> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(InvalidCampaign::EmptyReason);
        }
        if s.chars().count() > MAX_REASON {
            return Err(InvalidCampaign::ReasonTooLong);
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Scope {
    /// # Errors
    /// When the list is empty, too long or holds an invalid entry.
    pub fn account_ids(ids: Vec<i64>) -> Result<Self, InvalidCampaign> {
        check_len("account_ids", ids.len())?;
        if let Some(index) = ids.iter().position(|id| *id <= 0) {
            return Err(InvalidCampaign::BadAccountId { index });
        }
        Ok(Self::AccountIds(ids))
    }

    /// # Errors
    /// When the list is empty, too long or holds an invalid address.
    pub fn emails<S: AsRef<str>>(raw: &[S]) -> Result<Self, InvalidCampaign> {
        check_len("emails", raw.len())?;
        raw.iter()
            .enumerate()
            .map(|(index, e)| {
                EmailAddress::parse(e.as_ref()).map_err(|_| InvalidCampaign::BadEmail { index })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Emails)
    }
}

fn check_len(what: &'static str, n: usize) -> Result<(), InvalidCampaign> {
    if n == 0 {
        return Err(InvalidCampaign::EmptyList(what));
    }
    if n > MAX_LIST {
        return Err(InvalidCampaign::ListTooLong(what));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub scope: Scope,
    pub revoke_sessions: bool,
    pub notify: bool,
    /// After the forced reset the owner must turn on two-step verification before the account's
    /// sessions count (GET /v1/session answers `two_step_setup_required` until then).
    pub require_two_step: bool,
    pub reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Paused,
    Cancelled,
}

impl State {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Cancelled => "cancelled",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "paused" => Some(Self::Paused),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// An operator's state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Cancel,
}

impl Action {
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pause" => Some(Self::Pause),
            "resume" => Some(Self::Resume),
            "cancel" => Some(Self::Cancel),
            _ => None,
        }
    }

    /// The state this action moves a campaign to from `from`, or `None` if it is not allowed.
    /// Repeating an action is allowed (pausing a paused campaign is a no-op), so a retried
    /// request or script never fails halfway.
    #[must_use]
    pub fn apply(self, from: State) -> Option<State> {
        match (self, from) {
            (Self::Pause, State::Running | State::Paused) => Some(State::Paused),
            (Self::Resume, State::Paused | State::Running) => Some(State::Running),
            (Self::Cancel, State::Running | State::Paused | State::Cancelled) => Some(State::Cancelled),
            _ => None,
        }
    }
}

/// Where a campaign is, derived from its state and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Marking,
    Notifying,
    Completed,
    Paused,
    Cancelled,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EmailCounts {
    pub sent: i64,
    /// Gave up after the retry limit (or rejected outright): visible, never silently lost.
    pub failed: i64,
    /// Waiting to be sent (including held by a pause).
    pub pending: i64,
    /// Not sent because the campaign was cancelled.
    pub cancelled: i64,
}

/// Everything `GET /admin/v1/campaigns/{id}` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub id: CampaignId,
    pub reason: String,
    pub scope: &'static str,
    pub revoke_sessions: bool,
    pub notify: bool,
    pub require_two_step: bool,
    pub state: State,
    pub phase: Phase,
    pub accounts_total: i64,
    pub marked: i64,
    pub notified: i64,
    pub emails: EmailCounts,
    /// Campaign emails sent per second over the last minute.
    pub send_rate_per_sec: f64,
    /// Seconds until the last notification is sent at the current rate; `None` when nothing is
    /// left or nothing is moving.
    pub eta_seconds: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub marked_at: Option<DateTime<Utc>>,
}

impl Progress {
    /// Notifications still to send: enqueued-but-unsent plus accounts not yet enqueued.
    #[must_use]
    pub fn remaining_emails(&self) -> i64 {
        if !self.notify || self.state == State::Cancelled {
            return 0;
        }
        self.emails.pending + (self.accounts_total - self.notified).max(0)
    }

    /// Fills `phase` and `eta_seconds` from the counters.
    pub fn derive(&mut self, fully_enqueued: bool) {
        self.phase = match self.state {
            State::Paused => Phase::Paused,
            State::Cancelled => Phase::Cancelled,
            State::Running if self.marked_at.is_none() => Phase::Marking,
            State::Running if self.notify && (!fully_enqueued || self.emails.pending > 0) => Phase::Notifying,
            State::Running => Phase::Completed,
        };
        let remaining = if fully_enqueued {
            self.emails.pending
        } else {
            self.remaining_emails()
        };
        self.eta_seconds = (remaining > 0 && self.send_rate_per_sec > 0.0).then(|| {
            // Seconds to send `remaining` at the rate: positive and far below u64::MAX.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let secs = (remaining as f64 / self.send_rate_per_sec).ceil() as u64;
            secs
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_reject_bad_entries() {
        assert_eq!(
            Scope::account_ids(vec![]),
            Err(InvalidCampaign::EmptyList("account_ids"))
        );
        assert_eq!(
            Scope::account_ids(vec![3, 0]),
            Err(InvalidCampaign::BadAccountId { index: 1 })
        );
        assert_eq!(
            Scope::emails(&["a@example.com", "nope"]),
            Err(InvalidCampaign::BadEmail { index: 1 })
        );
        let Ok(Scope::Emails(e)) = Scope::emails(&[" A@Example.com"]) else {
            panic!("valid list");
        };
        assert_eq!(e[0].as_str(), "a@example.com");
        assert_eq!(Reason::parse("  "), Err(InvalidCampaign::EmptyReason));
        assert!(Reason::parse(&"x".repeat(MAX_REASON + 1)).is_err());
    }

    #[test]
    fn actions_allow_only_sensible_transitions() {
        assert_eq!(Action::Pause.apply(State::Running), Some(State::Paused));
        assert_eq!(Action::Pause.apply(State::Paused), Some(State::Paused));
        assert_eq!(Action::Resume.apply(State::Paused), Some(State::Running));
        assert_eq!(Action::Resume.apply(State::Cancelled), None);
        assert_eq!(Action::Pause.apply(State::Cancelled), None);
        assert_eq!(Action::Cancel.apply(State::Paused), Some(State::Cancelled));
    }
}
