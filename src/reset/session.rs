//! How long a login session may live: the policy, and the two deadlines it gives a session at each
//! use. The store enforces them (a session past either is not live); this computes them.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::chrono_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// From sign-in to the end, however busy the session.
    pub lifetime: Duration,
    /// Unused this long and it ends; each use restarts it. Never beyond `lifetime`.
    pub idle: Duration,
    /// Live sessions one account may hold; a new one beyond it ends the oldest.
    pub per_account: u32,
}

impl SessionPolicy {
    /// When a session opened at `now` ends, whatever happens.
    #[must_use]
    pub fn expires_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_add_signed(chrono_duration(self.lifetime))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// When a session used at `now` ends if it is not used again: the idle timeout, cut to the
    /// absolute end.
    #[must_use]
    pub fn idle_until(&self, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> DateTime<Utc> {
        self.idle_from(now).min(expires_at)
    }

    /// The idle timeout from `now`, for a session whose absolute end the store knows (it applies
    /// the cut itself).
    #[must_use]
    pub fn idle_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_add_signed(chrono_duration(self.idle))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_deadline_never_passes_the_absolute_one() {
        let p = SessionPolicy {
            lifetime: Duration::from_secs(3600),
            idle: Duration::from_secs(600),
            per_account: 10,
        };
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let end = p.expires_at(t0);
        assert_eq!(end - t0, chrono::Duration::seconds(3600));
        assert_eq!(p.idle_until(t0, end) - t0, chrono::Duration::seconds(600));
        let late = t0 + chrono::Duration::seconds(3300);
        assert_eq!(p.idle_until(late, end), end);
    }

    #[test]
    fn absurd_durations_saturate_instead_of_panicking() {
        let p = SessionPolicy {
            lifetime: Duration::MAX,
            idle: Duration::MAX,
            per_account: 1,
        };
        let now = Utc::now();
        let end = p.expires_at(now);
        assert_eq!(end, DateTime::<Utc>::MAX_UTC);
        assert_eq!(p.idle_until(now, end), end);
    }
}
