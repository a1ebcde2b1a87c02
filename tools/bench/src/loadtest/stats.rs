//! Turns a phase's samples into the numbers the report shows: counts, goodput, latency percentiles
//! per outcome, and the time latency took to recover after a burst.

use std::time::Duration;

use super::generator::{Outcome, Sample};

/// Counts and latencies of the requests scheduled in one segment.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub sent: usize,
    pub ok: usize,
    /// 200s that arrived while the segment's load was still offered: what goodput counts, so a
    /// backlog the gateway works off after the phase (the baseline's) is not credited to it.
    pub ok_in_window: usize,
    pub shed: usize,
    pub timeouts: usize,
    pub errors: usize,
    /// The statuses behind `errors` (0 = connection failed), for the console.
    pub error_statuses: Vec<(u16, usize)>,
    pub ok_latency: Percentiles,
    pub shed_latency: Percentiles,
    /// p99 of the 503s answered before the job deadline: those can only be admission refusals (an
    /// expiry takes at least the deadline), so this is the latency of shedding itself.
    pub admission_shed_p99: Option<Duration>,
    /// p99 of the generator's own send lag, over all requests of the segment.
    pub lag_p99: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

impl Percentiles {
    fn of(mut values: Vec<Duration>) -> Self {
        values.sort_unstable();
        Self {
            p50: percentile(&values, 0.50),
            p99: percentile(&values, 0.99),
        }
    }
}

/// Nearest-rank percentile of sorted values.
#[must_use]
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "sample counts are far below 2^52 and the rank is within 1..=len"
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// `window`: the segment's length (see [`Summary::ok_in_window`]); `deadline`: the gateway's job
/// deadline (see [`Summary::admission_shed_p99`]).
#[must_use]
pub fn summarize(samples: &[Sample], segment: usize, window: Duration, deadline: Duration) -> Summary {
    let mut s = Summary::default();
    let (mut ok, mut shed, mut lag) = (Vec::new(), Vec::new(), Vec::new());
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for sample in samples.iter().filter(|x| x.segment == segment) {
        s.sent += 1;
        lag.push(sample.lag);
        match sample.outcome {
            Outcome::Ok => {
                ok.push(sample.latency);
                if sample.scheduled + sample.latency <= window {
                    s.ok_in_window += 1;
                }
            }
            Outcome::Shed => shed.push(sample.latency),
            Outcome::Timeout => s.timeouts += 1,
            Outcome::Error(status) => *statuses.entry(status).or_default() += 1,
        }
    }
    s.ok = ok.len();
    s.shed = shed.len();
    s.errors = statuses.values().sum();
    s.error_statuses = statuses.into_iter().collect();
    let mut admission: Vec<Duration> = shed.iter().copied().filter(|l| *l < deadline).collect();
    admission.sort_unstable();
    s.admission_shed_p99 = percentile(&admission, 0.99);
    lag.sort_unstable();
    s.lag_p99 = percentile(&lag, 0.99);
    s.ok_latency = Percentiles::of(ok);
    s.shed_latency = Percentiles::of(shed);
    s
}

/// How long after a burst latency took to return to the light-load level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    After(Duration),
    /// Not recovered by the end of the observation.
    NotWithin(Duration),
}

pub const RECOVERY_WINDOW: Duration = Duration::from_millis(100);
/// A window is healthy when its admitted p50 is within this factor of the light-load p50.
pub const RECOVERY_FACTOR: f64 = 1.5;
/// Windows that must stay healthy in a row: one lucky window of three requests is not recovery.
pub const RECOVERY_STABLE_WINDOWS: usize = 5;

/// Scans `segment` (light load right after the burst) in [`RECOVERY_WINDOW`]s by scheduled send
/// time. A window is healthy when most of its requests were admitted and their p50 is within
/// [`RECOVERY_FACTOR`] of `baseline_p50`; recovery is the start of the first run of
/// [`RECOVERY_STABLE_WINDOWS`] healthy windows (or of healthy windows up to the end).
#[must_use]
pub fn recovery(samples: &[Sample], segment: usize, length: Duration, baseline_p50: Duration) -> Recovery {
    let threshold = baseline_p50.mul_f64(RECOVERY_FACTOR);
    let windows = usize::try_from(length.as_millis() / RECOVERY_WINDOW.as_millis()).unwrap_or(0);
    let mut per_window: Vec<(usize, Vec<Duration>)> = vec![(0, Vec::new()); windows];
    for s in samples.iter().filter(|s| s.segment == segment) {
        let i = usize::try_from(s.scheduled.as_millis() / RECOVERY_WINDOW.as_millis()).unwrap_or(usize::MAX);
        if let Some((total, ok)) = per_window.get_mut(i) {
            *total += 1;
            if s.outcome == Outcome::Ok {
                ok.push(s.latency);
            }
        }
    }
    // `None`: no request fell in the window (it neither proves nor disproves recovery).
    let healthy: Vec<Option<bool>> = per_window
        .into_iter()
        .map(|(total, mut ok)| {
            if total == 0 {
                return None;
            }
            ok.sort_unstable();
            let mostly_admitted = ok.len() * 2 > total;
            Some(mostly_admitted && percentile(&ok, 0.5).is_some_and(|p| p <= threshold))
        })
        .collect();
    let first = (0..healthy.len()).find(|&w| {
        healthy[w] == Some(true)
            && healthy[w..]
                .iter()
                .take(RECOVERY_STABLE_WINDOWS)
                .all(|h| *h != Some(false))
    });
    match first.and_then(|w| u32::try_from(w).ok()) {
        Some(w) => Recovery::After(RECOVERY_WINDOW * w),
        None => Recovery::NotWithin(length),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(segment: usize, at_ms: u64, latency_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            segment,
            scheduled: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
            lag: Duration::ZERO,
            outcome,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&v[..1], 0.99), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn summary_splits_outcomes_and_fast_sheds() {
        let samples = [
            sample(0, 0, 30, Outcome::Ok),
            sample(0, 990, 30, Outcome::Ok),
            sample(0, 1, 1, Outcome::Shed),
            sample(0, 2, 600, Outcome::Shed),
            sample(0, 3, 5, Outcome::Error(401)),
            sample(1, 0, 30, Outcome::Ok),
        ];
        let s = summarize(&samples, 0, Duration::from_secs(1), Duration::from_millis(500));
        assert_eq!((s.sent, s.ok, s.shed, s.errors), (5, 2, 2, 1));
        assert_eq!(
            s.ok_in_window, 1,
            "the 200 that arrived after the window is not goodput"
        );
        assert_eq!(s.shed_latency.p99, Some(Duration::from_millis(600)));
        assert_eq!(s.admission_shed_p99, Some(Duration::from_millis(1)));
        assert_eq!(s.error_statuses, vec![(401, 1)]);
    }

    #[test]
    fn recovery_is_the_start_of_a_stable_healthy_run() {
        let mut samples = Vec::new();
        for at in (0..1000).step_by(25) {
            // Slow for the first 300 ms, then normal.
            let latency = if at < 300 { 400 } else { 30 };
            samples.push(sample(1, at, latency, Outcome::Ok));
        }
        let r = recovery(&samples, 1, Duration::from_secs(1), Duration::from_millis(30));
        assert_eq!(r, Recovery::After(Duration::from_millis(300)));
        let shed: Vec<Sample> = (0..1000)
            .step_by(25)
            .map(|at| sample(1, at, 1, Outcome::Shed))
            .collect();
        assert_eq!(
            recovery(&shed, 1, Duration::from_secs(1), Duration::from_millis(30)),
            Recovery::NotWithin(Duration::from_secs(1))
        );
    }
}
