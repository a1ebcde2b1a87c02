//! What one strategy's run measured, against the ideal of the same run: a FIFO server of
//! capacity C that starts each user's hash the moment the one before finishes.

use std::time::Duration;

use super::population::{Fate, Strategy};

/// A wait shorter than this is counted as this long when compared with the ideal: Retry-After
/// has a resolution of one second, so a client told to come back cannot be served sooner.
pub const RATIO_FLOOR: Duration = Duration::from_secs(1);
/// Goodput is judged over windows this long (one second of completions is too noisy to read).
pub const GOODPUT_WINDOW: usize = 10;

#[derive(Debug, Clone)]
pub struct Summary {
    pub strategy: Strategy,
    pub users: usize,
    pub done: usize,
    pub gave_up: usize,
    /// Time until the last user was served, over the ideal N / C.
    pub makespan_ratio: f64,
    /// Each served user's wait over its ideal FIFO wait (both floored at [`RATIO_FLOOR`]).
    pub wait_p50: f64,
    pub wait_p99: f64,
    pub wait_max: f64,
    pub requests_per_done: f64,
    /// Answers that were neither served nor shed (connection failures, timeouts), in all.
    pub errors: u64,
    /// Goodput / C while the backlog exceeded one second of work: the lowest 10-s window, and
    /// the mean.
    pub storm_goodput_min: f64,
    pub storm_goodput_mean: f64,
    pub storm_secs: usize,
    /// Per second: completions and the backlog (arrived, neither served nor gone).
    pub timeline: Vec<(u64, u64)>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at]
}

#[must_use]
pub fn summarise(strategy: Strategy, fates: &[Fate], c: f64) -> Summary {
    let n = fates.len();
    let mut by_arrival: Vec<&Fate> = fates.iter().collect();
    by_arrival.sort_by_key(|f| f.arrival);
    let service = Duration::from_secs_f64(1.0 / c);
    let mut free_at = Duration::ZERO;
    let mut ratios = Vec::with_capacity(n);
    for f in &by_arrival {
        free_at = free_at.max(f.arrival) + service;
        if let Some(done) = f.done {
            let ideal = free_at.saturating_sub(f.arrival).max(RATIO_FLOOR);
            let actual = done.saturating_sub(f.arrival).max(RATIO_FLOOR);
            ratios.push(actual.as_secs_f64() / ideal.as_secs_f64());
        }
    }
    ratios.sort_by(f64::total_cmp);
    let done: Vec<&Fate> = fates.iter().filter(|f| f.done.is_some()).collect();
    let last = done.iter().filter_map(|f| f.done).max().unwrap_or_default();
    #[allow(clippy::cast_precision_loss)]
    let ideal_makespan = n as f64 / c;
    let requests: u64 = fates.iter().map(|f| u64::from(f.requests)).sum();
    let errors: u64 = fates.iter().map(|f| u64::from(f.errors)).sum();

    let secs = usize::try_from(last.as_secs()).unwrap_or(0) + 1;
    let mut completions = vec![0_u64; secs];
    let mut arrived = vec![0_i64; secs + 1];
    let mut left = vec![0_i64; secs + 1];
    for f in fates {
        let a = usize::try_from(f.arrival.as_secs()).unwrap_or(0).min(secs);
        arrived[a] += 1;
        // A user who gave up leaves the backlog at its last refusal; without its time, at the end.
        let out = f
            .done
            .map_or(secs, |d| usize::try_from(d.as_secs()).unwrap_or(0).min(secs - 1));
        left[out] += 1;
        if let Some(d) = f.done {
            completions[usize::try_from(d.as_secs()).unwrap_or(0).min(secs - 1)] += 1;
        }
    }
    let mut backlog = 0_i64;
    let mut timeline = Vec::with_capacity(secs);
    for s in 0..secs {
        backlog += arrived[s] - left[s];
        timeline.push((completions[s], u64::try_from(backlog.max(0)).unwrap_or(0)));
    }
    // The storm: seconds whose backlog is more than a second of work.
    #[allow(clippy::cast_precision_loss)]
    let storm: Vec<usize> = (0..secs).filter(|&s| timeline[s].1 as f64 > c).collect();
    let windows: Vec<f64> = storm
        .windows(GOODPUT_WINDOW)
        .filter(|w| w[GOODPUT_WINDOW - 1] - w[0] == GOODPUT_WINDOW - 1)
        .map(|w| {
            #[allow(clippy::cast_precision_loss)]
            let sum = w.iter().map(|&s| timeline[s].0).sum::<u64>() as f64;
            #[allow(clippy::cast_precision_loss)]
            let per_sec = sum / GOODPUT_WINDOW as f64;
            per_sec / c
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let storm_mean = if storm.is_empty() {
        f64::NAN
    } else {
        storm.iter().map(|&s| timeline[s].0).sum::<u64>() as f64 / storm.len() as f64 / c
    };
    #[allow(clippy::cast_precision_loss)]
    Summary {
        strategy,
        users: n,
        done: done.len(),
        gave_up: n - done.len(),
        makespan_ratio: last.as_secs_f64() / ideal_makespan,
        wait_p50: quantile(&ratios, 0.5),
        wait_p99: quantile(&ratios, 0.99),
        wait_max: ratios.last().copied().unwrap_or(f64::NAN),
        requests_per_done: if done.is_empty() {
            f64::NAN
        } else {
            requests as f64 / done.len() as f64
        },
        errors,
        storm_goodput_min: windows.iter().copied().fold(f64::NAN, f64::min),
        storm_goodput_mean: storm_mean,
        storm_secs: storm.len(),
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fate(arrival: u64, done: Option<u64>, requests: u32) -> Fate {
        Fate {
            arrival: Duration::from_millis(arrival),
            done: done.map(Duration::from_millis),
            requests,
            refusals: requests - u32::from(done.is_some()),
            errors: 0,
        }
    }

    #[test]
    fn an_ideal_fifo_run_scores_one() {
        // C = 10/s; 40 users at once, each served exactly when FIFO would serve it.
        let fates: Vec<Fate> = (0..40).map(|i| fate(0, Some(100 * (i + 1)), 1)).collect();
        let s = summarise(Strategy::Ticket, &fates, 10.0);
        assert_eq!(s.done, 40);
        assert_eq!(s.gave_up, 0);
        assert!((s.makespan_ratio - 1.0).abs() < 1e-9, "{}", s.makespan_ratio);
        assert!((s.wait_p99 - 1.0).abs() < 1e-6, "{}", s.wait_p99);
        assert!((s.requests_per_done - 1.0).abs() < 1e-9);
        assert!(s.storm_goodput_mean > 0.9, "{}", s.storm_goodput_mean);
    }

    #[test]
    fn out_of_order_service_and_giving_up_show() {
        // The first arrival is served last; one user gives up.
        let mut fates: Vec<Fate> = (1..30).map(|i| fate(0, Some(100 * i), 2)).collect();
        fates.insert(0, fate(0, Some(3000), 3));
        fates.push(fate(0, None, 10));
        let s = summarise(Strategy::EverySecond, &fates, 10.0);
        assert_eq!(s.gave_up, 1);
        assert!(
            s.wait_max > 2.5,
            "served at 3 s against an ideal of 0.1 s floored at 1 s"
        );
        assert!(s.requests_per_done > 2.0);
    }
}
