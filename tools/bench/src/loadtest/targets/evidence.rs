//! The evidence behind a missed target: what the run's own samples, counters and CPU readings say
//! about why.

use std::fmt::Write as _;
use std::time::Duration;

use super::super::generator::Outcome;
use super::super::phase::PhaseResult;
use super::super::run::Run;
use super::{loaded_hash, ms, pct, LOGIN_SHARE, SHED_P99};
use crate::hashing::Mode;

/// Where the cores went while the load was offered.
pub(super) fn cpu_evidence(p: &PhaseResult) -> String {
    let u = &p.usage;
    if p.mode == Mode::Unbounded {
        return format!(
            " CPU while the load was offered: gateway {}, load generator {}, other processes {}.",
            pct(u.gateway_cpu),
            pct(u.generator_cpu),
            pct(u.other_cpu),
        );
    }
    let idle = (1.0 - u.gateway_cpu - u.generator_cpu - u.other_cpu).max(0.0);
    format!(
        " Cores: gateway {} (hashing plus HTTP, JSON and refusing), load generator {}, other \
         processes {}, idle {}.",
        pct(u.gateway_cpu),
        pct(u.generator_cpu),
        pct(u.other_cpu),
        pct(idle),
    )
}

/// Splits the phase's 503s at the job deadline: an expiry cannot be answered sooner, and a refusal
/// at admission is answered at once, so the two groups are the two mechanisms.
pub(super) fn shed_why(run: &Run, p: &PhaseResult, worst: Duration) -> String {
    let deadline = run.settings.deadline;
    let sheds: Vec<Duration> = main_latencies(p, Outcome::Shed);
    let late = sheds.iter().filter(|l| **l >= deadline).count();
    let fast = p.summary.admission_shed_p99.map_or(f64::NAN, ms);
    let mut why = format!(
        "worst at {}x: {:.1} ms, {:.0}x the limit. {late} of its {} 503s ({}) came after the {} ms \
         job deadline",
        p.multiplier,
        ms(worst),
        ms(worst) / ms(SHED_P99),
        sheds.len(),
        pct(ratio(late, sheds.len())),
        deadline.as_millis(),
    );
    if let Some(jobs) = p.jobs {
        let _ = write!(
            why,
            " (the pool counted {} expired jobs over the phase and its tail)",
            jobs.expired
        );
    }
    let _ = write!(
        why,
        ": admitted jobs that a worker never reached, answered only when their deadline passed. \
         Once a lane has turned LIFO (its oldest job waited past the switch point, see \
         src/hashing/pool.rs), the jobs at the bottom are passed over by every newer arrival. The \
         other 503s, refusals at admission, have p99 {fast:.1} ms"
    );
    if fast > ms(SHED_P99) {
        let _ = write!(
            why,
            ", also over the limit: the gateway's async threads share the {} cores with {} argon2 \
             threads that are always runnable at overload (gateway CPU {}), so a refusal can wait \
             for a scheduler time slice. Part of it is the generator's own: its send lag (scheduled \
             time to the request task running) had p99 {:.1} ms.",
            run.capacity.workers,
            run.capacity.workers,
            pct(p.usage.gateway_cpu),
            p.summary.lag_p99.map_or(f64::NAN, ms),
        );
    } else {
        why.push('.');
    }
    why
}

pub(super) fn admitted_why(run: &Run, p: &PhaseResult, p99: Duration, limit: Duration) -> String {
    let ok = main_latencies(p, Outcome::Ok);
    let over = ok.iter().filter(|l| **l > limit).count();
    let mut why = format!(
        "{:.0} ms over ({:.2}x the limit) at {}x. Admitted p50 is {:.1} ms, but {over} of {} \
         admitted requests ({}) took longer than the limit.",
        ms(p99) - ms(limit),
        ms(p99) / ms(limit),
        p.multiplier,
        p.summary.ok_latency.p50.map_or(f64::NAN, ms),
        ok.len(),
        pct(ratio(over, ok.len())),
    );
    if p.mode == Mode::Unbounded {
        why.push_str(" No admission: every request hashes at once, sharing the cores with all others.");
    } else {
        let slowest = ok.iter().max().copied().unwrap_or_default();
        let _ = write!(
            why,
            " Admission lets a login in only when its expected wait is under {:.0} ms, yet these \
             waited longer, the slowest {:.0} ms against a {} ms job deadline",
            ms(run.settings.queue_budget.mul_f64(LOGIN_SHARE)),
            ms(slowest),
            run.settings.deadline.as_millis()
        );
        match p.jobs.map(|j| j.expired) {
            Some(expired) if expired > 0 => {
                let _ = write!(
                    why,
                    ": most likely passed over in LIFO order, like the {expired} jobs of this phase \
                     that expired in the queue."
                );
            }
            _ => {
                let _ = write!(
                    why,
                    ". No job expired, so it was not LIFO starvation but waits beyond admission's \
                     estimate: inside the gateway a hash took {} ms on average, against W / C = \
                     {:.1} ms.",
                    p.gateway_hash
                        .map_or_else(|| "?".to_owned(), |h| format!("{:.1}", ms(h))),
                    ms(loaded_hash(run)),
                );
            }
        }
    }
    why
}

fn main_latencies(p: &PhaseResult, outcome: Outcome) -> Vec<Duration> {
    p.samples
        .iter()
        .filter(|s| s.segment == 0 && s.outcome == outcome)
        .map(|s| s.latency)
        .collect()
}

#[allow(clippy::cast_precision_loss, reason = "request counts are far below 2^52")]
fn ratio(part: usize, whole: usize) -> f64 {
    part as f64 / whole.max(1) as f64
}

/// Burst requests still unanswered when the burst ended: the work the light load competed with.
pub(super) fn leftovers(run: &Run, burst: &PhaseResult) -> String {
    let end = burst.length;
    let overhang: Vec<Duration> = burst
        .samples
        .iter()
        .filter(|s| s.segment == 0)
        .filter_map(|s| (s.scheduled + s.latency).checked_sub(end))
        .filter(|o| !o.is_zero())
        .collect();
    let Some(last) = overhang.iter().max() else {
        return String::new();
    };
    let answered_late = |o: Outcome| {
        burst
            .samples
            .iter()
            .filter(|s| s.segment == 0 && s.outcome == o && s.scheduled + s.latency > end)
            .count()
    };
    format!(
        " When the burst ended {} of its requests were still unanswered ({} later served, {} later \
         answered 503); the last was answered {:.0} ms after the end, against a {} ms job deadline. \
         Until then those passed-over jobs shared the workers with the light load.",
        overhang.len(),
        answered_late(Outcome::Ok),
        answered_late(Outcome::Shed),
        ms(*last),
        run.settings.deadline.as_millis()
    )
}
