//! The per-account login throttle: after a few wrong passwords for one address, each further try
//! must wait, twice as long each time up to a cap, and after `max_failures` in a row no more are
//! taken until a day passes without one (NIST SP 800-63B 5.2.2: at most 100 consecutive failures).
//!
//! Keyed by a keyed digest of the address, account or not, so the throttle behaves the same for an
//! unknown address and reveals nothing. The state lives in the store so every replica agrees; this
//! module decides, the store keeps the state and applies the decision under a row lock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::chrono_duration;

/// A subject with no failure for this long starts over (and the janitor deletes its row).
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Wrong passwords in a row that cost nothing: typos, an old password or two.
    pub free_failures: u32,
    /// The first delay after the free ones; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest delay between two tries.
    pub max_delay: Duration,
    /// Failures in a row after which no try is taken until [`FORGET_AFTER`] passes quietly (or a
    /// password reset clears the count).
    pub max_failures: u32,
}

/// What the store keeps for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    /// Consecutive failures (a success or a reset deletes the state).
    pub failures: u32,
    pub last_failure_at: DateTime<Utc>,
    /// No try before this. Moved forward when a try is let through, as if it will fail, so tries
    /// racing on several replicas get one between them.
    pub not_before: DateTime<Utc>,
}

/// The decision for one try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead. `reserve_until`: write this as the state's `not_before` first. `forget`: the state
    /// is stale, delete it.
    Open {
        reserve_until: Option<DateTime<Utc>>,
        forget: bool,
    },
    /// Not before `until`.
    Closed { until: DateTime<Utc> },
}

fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(chrono_duration(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl LoginThrottle {
    /// The wait after `failures` failures in a row.
    #[must_use]
    pub fn delay_after(&self, failures: u32) -> Duration {
        match failures.checked_sub(self.free_failures) {
            None | Some(0) => Duration::ZERO,
            Some(beyond) => self
                .base_delay
                .saturating_mul(1 << (beyond - 1).min(30))
                .min(self.max_delay),
        }
    }

    fn stale(state: &ThrottleState, now: DateTime<Utc>) -> bool {
        plus(state.last_failure_at, FORGET_AFTER) <= now
    }

    /// May a try for this subject go ahead at `now`?
    #[must_use]
    pub fn gate(&self, state: Option<ThrottleState>, now: DateTime<Utc>) -> Gate {
        let Some(s) = state else {
            return Gate::Open {
                reserve_until: None,
                forget: false,
            };
        };
        if Self::stale(&s, now) {
            return Gate::Open {
                reserve_until: None,
                forget: true,
            };
        }
        if s.failures >= self.max_failures {
            return Gate::Closed {
                until: plus(s.last_failure_at, FORGET_AFTER),
            };
        }
        if s.not_before > now {
            return Gate::Closed { until: s.not_before };
        }
        let next = self.delay_after(s.failures + 1);
        Gate::Open {
            reserve_until: (!next.is_zero()).then(|| plus(now, next)),
            forget: false,
        }
    }

    /// The state after a wrong password at `now`.
    #[must_use]
    pub fn after_failure(&self, state: Option<ThrottleState>, now: DateTime<Utc>) -> ThrottleState {
        let before = state.filter(|s| !Self::stale(s, now)).map_or(0, |s| s.failures);
        let failures = before.saturating_add(1);
        ThrottleState {
            failures,
            last_failure_at: now,
            not_before: plus(now, self.delay_after(failures)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle {
            free_failures: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(900),
            max_failures: 100,
        }
    }

    #[test]
    fn the_free_failures_cost_nothing_then_the_wait_doubles_to_the_cap() {
        let t = throttle();
        let waits: Vec<u64> = (0..=16).map(|f| t.delay_after(f).as_secs()).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
        );
        assert_eq!(t.delay_after(99), Duration::from_secs(900));
        assert_eq!(t.delay_after(u32::MAX), Duration::from_secs(900), "no overflow");
    }

    #[test]
    fn a_failure_run_closes_the_gate_and_a_quiet_day_opens_it() {
        let t = throttle();
        let t0 = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(1000);
        let mut state = None;
        let mut now = t0;
        for _ in 0..5 {
            assert!(matches!(
                t.gate(state, now),
                Gate::Open {
                    reserve_until: None,
                    ..
                }
            ));
            state = Some(t.after_failure(state, now));
        }
        // The sixth try is let through but reserves the next second for itself.
        assert_eq!(
            t.gate(state, now),
            Gate::Open {
                reserve_until: Some(now + chrono::Duration::seconds(1)),
                forget: false
            }
        );
        state = Some(t.after_failure(state, now));
        assert_eq!(
            t.gate(state, now),
            Gate::Closed {
                until: now + chrono::Duration::seconds(1)
            }
        );
        // Up to the hard limit, trying whenever allowed.
        while state.unwrap().failures < 100 {
            now = state.unwrap().not_before;
            assert!(matches!(t.gate(state, now), Gate::Open { .. }));
            state = Some(t.after_failure(state, now));
        }
        let last = state.unwrap().last_failure_at;
        // The hundredth failure in a row: nothing more until a day passes quietly, whatever the
        // delay says.
        let later = last + chrono::Duration::hours(23);
        assert_eq!(
            t.gate(state, later),
            Gate::Closed {
                until: last + chrono::Duration::days(1)
            }
        );
        let day = last + chrono::Duration::days(1);
        assert_eq!(
            t.gate(state, day),
            Gate::Open {
                reserve_until: None,
                forget: true
            }
        );
        assert_eq!(t.after_failure(state, day).failures, 1, "a stale run starts over");
    }
}
