//! One lane's line on this replica: who is waiting, by arrival (in [`BUCKET_MS`] slices), and
//! from that and the lane's measured service rate, the wait a shed answer announces.
//!
//! **The formula.** A client that arrived at `a` has `ahead(a)` clients in line before it (all
//! who arrived in earlier slices; a newcomer also counts everyone of its own slice, a returning
//! client half of them). The lane is served at `rate` jobs per second (`room::service_rate`).
//! Its turn should come in `wait = ahead / rate` seconds. The answer is
//!
//! `Retry-After = clamp(round(wait + U(-spread/2, spread/2)), min, max)`, `spread = jitter × wait`
//!
//! Why: every client of one moment returning in the same instant is the thundering herd the
//! issue describes, so each gets its own offset within a window (the "jitter" of AWS's
//! exponential backoff and jitter). Unlike AWS's "full jitter" (uniform in [0, wait]) the window
//! is centred on the estimate, and narrow: returning long before one's turn only buys another
//! refusal and costs the server a request; returning a little early keeps the pool fed at the end
//! of a surge, when nobody new arrives to fill a gap, and the pool orders by arrival, so an early
//! or late client is still served before everyone who came after it. Rounded to the nearest
//! second, not up: rounding up made every wait of a few seconds up to a second too long (the
//! first 20 000-user simulation's p99 wait ratio was 4.3, almost all of it the first seconds'
//! arrivals), while a client up to half a second early is admitted over the newcomers queued
//! after it.
//!
//! **Why slices of 100 ms, not seconds.** In the first seconds after the breach email hundreds
//! arrive each second; a whole second as one slice put a returning client behind half of its
//! second whatever its place, so the first arrivals were told several seconds too long and the
//! last ones came back seconds too early and were refused again. A tenth of a second keeps that
//! error under the resolution of Retry-After at any realistic arrival rate, and a line of an hour
//! is at most 36 000 slices.
//!
//! Everything here is per replica. Behind a round-robin balancer each replica sees about 1/N of
//! the crowd and of the capacity, so its estimate holds; the order is exact within a replica and
//! approximate across them (docs/waiting-room.md).

use std::collections::VecDeque;

/// The service rate is measured over this many seconds.
pub const RATE_WINDOW_SECS: u64 = 10;

/// Arrivals within this many milliseconds share a slice of the line.
pub const BUCKET_MS: u64 = 100;

/// The settings of the announced wait.
#[derive(Debug, Clone, Copy)]
pub struct Announce {
    pub min_secs: u64,
    pub max_secs: u64,
    /// Fraction of the wait over which returns are spread (at least one second).
    pub jitter: f64,
}

#[derive(Debug, Default)]
pub struct Line {
    /// (arrival slice: ms / [`BUCKET_MS`], clients), oldest first; no empty slices.
    waiting: VecDeque<(u64, u32)>,
    total: u64,
    /// (ms, the lane's completed-job counter then), oldest first, over the rate window.
    samples: VecDeque<(u64, u64)>,
    /// The service rate the last shed answer was computed with (0 before any).
    pub announced_rate: f64,
}

impl Line {
    /// Clients in line.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.total
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Forgets arrivals before `oldest_ms` (their tickets are no longer honoured).
    pub fn expire(&mut self, oldest_ms: u64) {
        let oldest = oldest_ms / BUCKET_MS;
        while let Some(&(s, n)) = self.waiting.front() {
            if s >= oldest {
                break;
            }
            self.total -= u64::from(n);
            self.waiting.pop_front();
        }
    }

    /// A newcomer turned away joins the line.
    pub fn join(&mut self, arrival_ms: u64) {
        let slice = arrival_ms / BUCKET_MS;
        self.total += 1;
        // Newcomers arrive now, at the back: the common case costs no search.
        if let Some((s, n)) = self.waiting.back_mut() {
            if *s == slice {
                *n += 1;
                return;
            }
        }
        let at = self.waiting.partition_point(|&(s, _)| s < slice);
        match self.waiting.get_mut(at) {
            Some((s, n)) if *s == slice => *n += 1,
            _ => self.waiting.insert(at, (slice, 1)),
        }
    }

    /// A ticket holder was served: it leaves the line.
    pub fn leave(&mut self, arrival_ms: u64) {
        let slice = arrival_ms / BUCKET_MS;
        let at = self.waiting.partition_point(|&(s, _)| s < slice);
        if let Some((s, n)) = self.waiting.get_mut(at) {
            if *s == slice {
                *n -= 1;
                self.total -= 1;
                if *n == 0 {
                    self.waiting.remove(at);
                }
            }
        }
    }

    /// Clients in line before one that arrived at `arrival_ms`. Sums from whichever end of the
    /// line is nearer, so a shed answer costs at most half the line's slices (and a newcomer,
    /// at the back, nothing).
    #[must_use]
    pub fn ahead_of(&self, arrival_ms: u64, returning: bool) -> u64 {
        let slice = arrival_ms / BUCKET_MS;
        let at = self.waiting.partition_point(|&(s, _)| s < slice);
        let before: u64 = if at <= self.waiting.len() / 2 {
            self.waiting.range(..at).map(|&(_, n)| u64::from(n)).sum()
        } else {
            self.total - self.waiting.range(at..).map(|&(_, n)| u64::from(n)).sum::<u64>()
        };
        let own = match self.waiting.get(at) {
            Some(&(s, n)) if s == slice => n,
            _ => 0,
        };
        // A newcomer is behind everyone of its slice; a returning client, on average, behind
        // half of them (itself excluded).
        before
            + if returning {
                u64::from(own.saturating_sub(1) / 2)
            } else {
                u64::from(own)
            }
    }

    /// Records the lane's completed-job counter at `now_ms`. Milliseconds, not seconds: two
    /// samples a few ms apart on either side of a second's edge would otherwise read as a whole
    /// second with almost nothing done, and a crowd would be sent away for minutes.
    pub fn sample(&mut self, now_ms: u64, completed: u64) {
        // One sample per 100 ms is plenty and bounds the deque.
        match self.samples.back_mut() {
            Some((t, c)) if now_ms < *t + 100 => *c = completed.max(*c),
            _ => self.samples.push_back((now_ms, completed)),
        }
        // Keep one sample at or before the window's start, so the rate spans the whole window.
        while self
            .samples
            .get(1)
            .is_some_and(|&(t, _)| t + RATE_WINDOW_SECS * 1000 <= now_ms)
        {
            self.samples.pop_front();
        }
    }

    /// Jobs per second the lane completed over the window, once at least a second of it exists.
    /// The room uses it for the lane's share of the pool, not as the rate itself: people come
    /// back at the rate they are told, so a measured rate, once low, would stay low.
    #[must_use]
    pub fn rate(&self) -> Option<f64> {
        let (&(t0, c0), &(t1, c1)) = (self.samples.front()?, self.samples.back()?);
        (t1 >= t0 + 1000).then(|| {
            #[allow(clippy::cast_precision_loss)] // counts and ms: exact far beyond need
            let r = (c1.saturating_sub(c0)) as f64 * 1000.0 / (t1 - t0) as f64;
            r
        })
    }
}

impl Announce {
    /// The Retry-After, in seconds, for a client with `ahead` before it on a lane served at
    /// `rate` per second; `unit` is a uniform draw in [0, 1).
    #[must_use]
    pub fn retry_after(&self, ahead: u64, rate: f64, unit: f64) -> u64 {
        #[allow(clippy::cast_precision_loss)]
        let wait = if rate > 0.0 {
            ahead as f64 / rate
        } else {
            self.max_secs as f64
        };
        // No floor under the spread: Retry-After's whole seconds already spread a short wait, and
        // a second added to every wait of a few seconds doubles it.
        let spread = self.jitter * wait;
        let secs = (wait + (unit - 0.5) * spread).round();
        // In [min, max]: a positive number far below u64::MAX (and the bounds far below 2^52).
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let secs = secs.clamp(self.min_secs as f64, self.max_secs as f64) as u64;
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_who_came_before() {
        let mut l = Line::default();
        // Slices of 100 ms: 1000 and 1099 share one, 1100 starts the next.
        for a in [1000, 1099, 1100, 1200, 1250, 1299] {
            l.join(a);
        }
        assert_eq!(l.len(), 6);
        assert_eq!(l.ahead_of(900, false), 0);
        assert_eq!(l.ahead_of(1150, true), 2);
        assert_eq!(l.ahead_of(1210, false), 6, "a newcomer is behind its whole slice");
        assert_eq!(
            l.ahead_of(1210, true),
            4,
            "a returning client, behind half of the others"
        );
        assert_eq!(l.ahead_of(5000, false), 6, "behind everyone");
        l.leave(1000);
        l.leave(1050);
        l.leave(1000); // not there any more: nothing changes
        assert_eq!(l.len(), 4);
        assert_eq!(l.ahead_of(1200, false), 4);
        l.expire(1200);
        assert_eq!(l.len(), 3);
        l.join(1100); // a late ticket from an earlier slice still sorts in order
        assert_eq!(l.ahead_of(1200, false), 4);
    }

    #[test]
    fn counting_from_either_end_agrees() {
        let mut l = Line::default();
        // A long line with uneven slices; every count equals the sum over earlier slices.
        let arrivals: Vec<u64> = (0..3000u64).map(|i| i * 37 % 50_000).collect();
        for &a in &arrivals {
            l.join(a);
        }
        for probe in (0..51_000).step_by(997) {
            let slice = probe / BUCKET_MS;
            let before = arrivals.iter().filter(|&&a| a / BUCKET_MS < slice).count() as u64;
            let own = arrivals.iter().filter(|&&a| a / BUCKET_MS == slice).count() as u64;
            assert_eq!(l.ahead_of(probe, false), before + own, "at {probe}");
            assert_eq!(
                l.ahead_of(probe, true),
                before + own.saturating_sub(1) / 2,
                "at {probe}"
            );
        }
    }

    #[test]
    fn the_rate_is_measured_over_the_window() {
        let mut l = Line::default();
        assert_eq!(l.rate(), None);
        l.sample(100_000, 1000);
        assert_eq!(l.rate(), None, "one sample is no rate");
        l.sample(100_999, 1002);
        assert_eq!(
            l.rate(),
            None,
            "less than a second is no rate (the edge of a second is not one)"
        );
        l.sample(104_000, 1240);
        assert_eq!(l.rate(), Some(60.0));
        l.sample(120_000, 1240 + 60 * 16);
        // The window keeps the last ten seconds (and the sample at its edge).
        assert_eq!(l.rate(), Some(60.0));
    }

    #[test]
    fn the_wait_is_the_place_over_the_rate_spread_and_bounded() {
        let a = Announce {
            min_secs: 1,
            max_secs: 600,
            jitter: 0.1,
        };
        assert_eq!(
            a.retry_after(0, 60.0, 0.0),
            1,
            "nobody ahead: at once (one second)"
        );
        assert_eq!(a.retry_after(6000, 60.0, 0.5), 100, "6000 ahead at 60/s");
        assert_eq!(
            a.retry_after(6000, 60.0, 0.0),
            95,
            "spread over a tenth of the wait..."
        );
        assert_eq!(a.retry_after(6000, 60.0, 0.999), 105, "...centred on it");
        assert_eq!(a.retry_after(90, 60.0, 0.5), 2, "whole seconds...");
        assert_eq!(a.retry_after(80, 60.0, 0.5), 1, "...to the nearest");
        assert_eq!(a.retry_after(30, 60.0, 0.9), 1, "under a second: one second");
        assert_eq!(a.retry_after(1_000_000, 60.0, 0.0), 600, "bounded above");
        assert_eq!(
            a.retry_after(5, 0.0, 0.5),
            600,
            "no service measured: the maximum"
        );
    }
}
