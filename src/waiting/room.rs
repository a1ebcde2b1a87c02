//! The waiting room as the HTTP layer uses it: read a presented ticket into an arrival, and when
//! the pool sheds, answer with the wait and a fresh ticket that keeps the arrival.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::line::{Announce, Line};
use super::ticket::{Ticket, TicketKeys};
use crate::clock::Clock;
use crate::hashing::pool::{Lane, Place, Pool};
use crate::metrics::Metrics;

/// The waiting room's settings (`config::waiting`).
#[derive(Debug, Clone, Copy)]
pub struct WaitConfig {
    pub announce: Announce,
    /// How long an arrival keeps its place; older tickets are new arrivals again.
    pub max_age: Duration,
    /// How long a returning ticket holder may wait in the pool's queue for its turn, instead of
    /// being told to come back ([`Place::hold`]).
    pub hold: Duration,
}

/// A request's place: its lane and when it (first) arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub lane: Lane,
    pub arrival_ms: u64,
    /// It came with a valid ticket, so it is already counted in the line.
    pub returning: bool,
    /// How long it may wait in the queue ([`Place::hold`]): the room's hold when returning.
    pub hold: Duration,
}

impl Arrival {
    /// Where the pool puts its job.
    #[must_use]
    pub fn place(&self) -> Place {
        Place {
            lane: self.lane,
            arrival_ms: self.arrival_ms,
            hold: self.hold,
        }
    }
}

/// What a shed answer tells the client.
#[derive(Debug, Clone)]
pub struct Turn {
    pub retry_after: Duration,
    /// Clients in line before this one (on this replica).
    pub ahead: u64,
    /// The ticket to come back with; same arrival, new expiry.
    pub ticket: String,
}

pub struct WaitingRoom {
    keys: TicketKeys,
    config: WaitConfig,
    lines: [Mutex<Line>; 3],
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// The capacity estimate before any rate is measured; `None` on an engine without a pool.
    pool: Option<Pool>,
    /// The recent peak of the pool's capacity: (ms, jobs per second then, decayed since).
    peak: Mutex<(u64, f64)>,
}

/// The time constant over which a capacity peak is forgotten.
const PEAK_DECAY_SECS: f64 = 60.0;

impl WaitingRoom {
    #[must_use]
    pub fn new(
        keys: TicketKeys,
        config: WaitConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        pool: Option<Pool>,
    ) -> Self {
        Self {
            keys,
            config,
            lines: Default::default(),
            clock,
            metrics,
            pool,
            peak: Mutex::new((0, 0.0)),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().timestamp_millis()).unwrap_or(0)
    }

    fn max_age_ms(&self) -> u64 {
        u64::try_from(self.config.max_age.as_millis()).unwrap_or(u64::MAX)
    }

    /// The request's arrival: the ticket's, when `presented` is a valid one for `subject` in
    /// `lane`; otherwise now (a new arrival; a bad ticket is never an error).
    #[must_use]
    pub fn arrive(&self, lane: Lane, subject: &[u8], presented: Option<&str>) -> Arrival {
        let now = self.now_ms();
        let ticket = presented
            .and_then(|p| self.keys.check(p, lane, subject, now))
            .filter(|t| t.arrival_ms + self.max_age_ms() > now);
        Arrival {
            lane,
            arrival_ms: ticket.map_or(now, |t| t.arrival_ms),
            returning: ticket.is_some(),
            hold: if ticket.is_some() {
                self.config.hold
            } else {
                self.front_hold(lane)
            },
        }
    }

    /// A newcomer's hold: when its turn should come sooner than the shortest Retry-After there
    /// is (a whole second, `min_secs`), telling it to come back would cost it its turn to the
    /// people arriving in between. It waits in the queue instead, for at most that long. In
    /// the first simulation with holds, the first 900 arrivals of the spike (their turn a
    /// fraction of a second away, told "1 s") were served about a second late that way; nobody
    /// else was. Farther back, it is told its wait as ever.
    fn front_hold(&self, lane: Lane) -> Duration {
        let shortest = Duration::from_secs(self.config.announce.min_secs).min(self.config.hold);
        let waiting = self.lines[lane as usize].lock();
        #[allow(clippy::cast_precision_loss)] // a head count: exact in f64
        let turn_in = waiting.len() as f64 / waiting.announced_rate;
        if waiting.is_empty() || turn_in <= shortest.as_secs_f64() {
            shortest
        } else {
            Duration::ZERO
        }
    }

    /// The request got its hashing turn: a ticket holder leaves the line.
    pub fn admitted(&self, a: &Arrival) {
        if !a.returning {
            return;
        }
        let now = self.now_ms();
        self.lines[a.lane as usize].lock().leave(a.arrival_ms);
        #[allow(clippy::cast_precision_loss)] // ms of waiting: exact in f64
        let age = now.saturating_sub(a.arrival_ms) as f64 / 1000.0;
        self.metrics
            .waiting_ticket_age
            .with_label_values(&[a.lane.as_str()])
            .observe(age);
        self.publish(a.lane);
    }

    /// The pool shed the request: its place in line, when to come back, and the ticket to come
    /// back with. A newcomer joins the line; a returning client is already in it.
    #[must_use]
    pub fn turned_away(&self, a: &Arrival, subject: &[u8]) -> Turn {
        let now = self.now_ms();
        let lane = a.lane;
        let completed_in = |l: Lane| {
            self.metrics
                .hash_jobs
                .with_label_values(&[l.as_str(), "completed"])
                .get()
        };
        let completed = completed_in(lane);
        let other = if lane == Lane::Login {
            Lane::Confirm
        } else {
            Lane::Login
        };
        let (ahead, rate) = {
            let mut waiting = self.lines[lane as usize].lock();
            waiting.expire(now.saturating_sub(self.max_age_ms()));
            waiting.sample(now, completed);
            let ahead = waiting.ahead_of(a.arrival_ms, a.returning);
            if !a.returning {
                waiting.join(a.arrival_ms);
            }
            (ahead, waiting.rate())
        };
        let rate_other = {
            let mut waiting = self.lines[other as usize].lock();
            waiting.sample(now, completed_in(other));
            waiting.rate()
        };
        let rate = self.service_rate(rate, rate_other, now);
        self.lines[lane as usize].lock().announced_rate = rate;
        let secs = self
            .config
            .announce
            .retry_after(ahead, rate, rand::random::<f64>());
        #[allow(clippy::cast_precision_loss)]
        self.metrics
            .waiting_retry_after
            .with_label_values(&[lane.as_str()])
            .observe(secs as f64);
        self.publish(lane);
        // Valid until a while after the announced turn: a client a little late keeps its place.
        let grace = secs.max(60) * 1000;
        let ticket = self.keys.issue(
            Ticket {
                lane,
                arrival_ms: a.arrival_ms,
                expires_ms: now + secs * 1000 + grace,
            },
            subject,
        );
        Turn {
            retry_after: Duration::from_secs(secs),
            ahead,
            ticket,
        }
    }

    /// The rate this lane's line moves at: the larger of the lane's measured completions over
    /// the window and the pool's capacity (W / the hash time its workers measure, at its recent
    /// peak) times the lane's share of what the pool served.
    ///
    /// Not the measured completions alone: people come back when they are told, so the pool can
    /// never serve faster than the rate announced; a dip (a noisy neighbour, a slow second)
    /// would be announced, come true and stay. The hash time does not depend on who comes back,
    /// so the capacity recovers as soon as the CPU does. Not the current capacity either but its
    /// peak over the last minute or so: a wait announced too long cannot be taken back (nobody
    /// can be called in early), so when the CPU is stolen for a while, the crowd of that while
    /// would come back to an idle pool; the first simulation run beside a compiler showed just
    /// that. A wait announced too short costs one more, cheap, refusal. Without a pool (the
    /// bench's unbounded baseline), the measured rate.
    fn service_rate(&self, lane: Option<f64>, other: Option<f64>, now_ms: u64) -> f64 {
        let measured = lane.filter(|r| *r > 0.0);
        let Some(capacity) = self.capacity(now_ms) else {
            return measured.unwrap_or(0.0);
        };
        let share = match (measured, other.filter(|r| *r > 0.0)) {
            (Some(mine), Some(theirs)) => capacity * mine / (mine + theirs),
            // Nobody else is being served: this lane has the whole pool.
            _ => capacity,
        };
        share.max(measured.unwrap_or(0.0))
    }

    /// W / measured hash time, at its peak decayed over [`PEAK_DECAY_SECS`].
    fn capacity(&self, now_ms: u64) -> Option<f64> {
        let pool = self.pool.as_ref()?;
        let secs = pool.hash_time().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let workers = pool.config().workers as f64;
        let current = (secs > 0.0).then(|| workers / secs)?;
        let mut peak = self.peak.lock();
        #[allow(clippy::cast_precision_loss)] // ms: exact in f64
        let elapsed = now_ms.saturating_sub(peak.0) as f64 / 1000.0;
        let decayed = peak.1 * (-elapsed / PEAK_DECAY_SECS).exp();
        *peak = (now_ms, current.max(decayed));
        Some(peak.1)
    }

    fn publish(&self, lane: Lane) {
        let n = self.lines[lane as usize].lock().len();
        self.metrics
            .waiting_clients
            .with_label_values(&[lane.as_str()])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Clients in `lane`'s line on this replica.
    #[must_use]
    pub fn waiting(&self, lane: Lane) -> u64 {
        self.lines[lane as usize].lock().len()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;
    use crate::clock::ManualClock;
    use crate::secret::SecretString;

    fn waiting_room(hold_ms: u64) -> WaitingRoom {
        let clock = Arc::new(ManualClock::new(Utc.timestamp_opt(1_800_000_000, 0).unwrap()));
        WaitingRoom::new(
            TicketKeys::new(&SecretString::new("room-test-pepper".into())),
            WaitConfig {
                announce: Announce {
                    min_secs: 1,
                    max_secs: 600,
                    jitter: 0.1,
                },
                max_age: Duration::from_secs(3600),
                hold: Duration::from_millis(hold_ms),
            },
            clock,
            Arc::new(Metrics::new()),
            None,
        )
    }

    #[test]
    fn the_front_of_the_line_is_held_and_the_rest_told_their_wait() {
        let room = waiting_room(2000);
        let first = room.arrive(Lane::Login, b"ann", None);
        assert!(!first.returning);
        assert_eq!(
            first.hold,
            Duration::from_secs(1),
            "nobody in line: a newcomer may wait up to the shortest Retry-After"
        );
        // No pool: the rate is what the lane completed, so with nothing completed the line
        // does not move and the turn is far away.
        let turn = room.turned_away(&first, b"ann");
        assert_eq!(turn.ahead, 0);
        let newcomer = room.arrive(Lane::Login, b"bob", None);
        assert_eq!(
            newcomer.hold,
            Duration::ZERO,
            "behind a line that is not moving: told, not held"
        );
        let back = room.arrive(Lane::Login, b"ann", Some(&turn.ticket));
        assert!(back.returning);
        assert_eq!(back.arrival_ms, first.arrival_ms, "the place is kept");
        assert_eq!(
            back.hold,
            Duration::from_secs(2),
            "a ticket holder: the whole hold"
        );
        let stranger = room.arrive(Lane::Login, b"eve", Some(&turn.ticket));
        assert!(!stranger.returning, "someone else's ticket is no ticket");

        let off = waiting_room(0);
        assert_eq!(off.arrive(Lane::Login, b"ann", None).hold, Duration::ZERO);
    }
}
