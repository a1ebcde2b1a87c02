//! The targets of the load-resilience issue, judged against one series' phases. Each verdict carries
//! the measured ratio and, when missed, by how much and the evidence the run has for why.

use std::fmt::Write as _;
use std::time::Duration;

use super::phase::PhaseResult;
use super::run::Run;
use super::stats::Recovery;
use crate::hashing::Mode;

mod evidence;

/// Lower bounds on goodput / C, at the given multiplier.
const GOODPUT: [(f64, f64); 2] = [(1.0, 0.95), (2.0, 0.9)];
const BURST_GOODPUT: f64 = 0.9;
const SHED_P99: Duration = Duration::from_millis(5);
const RSS_FACTOR: f64 = 1.2;
const RECOVERY_BUDGETS: f64 = 2.0;
/// The login lane's share of the queue budget (see `Lane::budget_share` in hashing/pool.rs).
pub const LOGIN_SHARE: f64 = 0.75;

#[derive(Debug, Clone)]
pub struct Verdict {
    pub target: String,
    /// The measured value as the target states it (a ratio where the target is one).
    pub measured: String,
    /// `None`: the run had no phase to judge this by.
    pub met: Option<bool>,
    pub why: Option<String>,
}

/// Judges every target for the phases of the series labelled `series`.
#[must_use]
pub fn judge(run: &Run, series: &str) -> Vec<Verdict> {
    let phases: Vec<&PhaseResult> = run.phases_of(series).collect();
    let burst = phases
        .iter()
        .copied()
        .max_by(|a, b| a.multiplier.total_cmp(&b.multiplier));
    let at = |m: f64| phases.iter().copied().find(|p| (p.multiplier - m).abs() < 1e-9);
    let mut verdicts: Vec<Verdict> = GOODPUT
        .iter()
        .map(|&(m, min)| goodput(run, at(m), m, min))
        .collect();
    let burst_multiplier = burst.map_or(10.0, |b| b.multiplier);
    verdicts.push(goodput(run, burst, burst_multiplier, BURST_GOODPUT));
    verdicts.push(shed_p99(run, &phases));
    verdicts.push(admitted_p99(run, burst));
    verdicts.push(rss(run, burst));
    verdicts.push(recovery(run, burst));
    verdicts
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pct(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

fn goodput(run: &Run, phase: Option<&PhaseResult>, m: f64, min: f64) -> Verdict {
    let target = format!("goodput at {m}x C >= {min} C");
    let Some(p) = phase else {
        return unmeasured(target);
    };
    let ratio = p.goodput_rps() / run.capacity.hashes_per_sec;
    let met = ratio >= min;
    // Goodput counts every 200, however late: say so where "late" means seconds.
    let late = p
        .summary
        .ok_latency
        .p50
        .filter(|p50| *p50 > run.settings.queue_budget * 10)
        .map_or_else(String::new, |p50| {
            format!(", its 200s at p50 {:.1} s", p50.as_secs_f64())
        });
    let why = (!met).then(|| {
        let s = &p.summary;
        #[allow(clippy::cast_precision_loss, reason = "request counts are far below 2^52")]
        let share = |n: usize| n as f64 / s.sent.max(1) as f64;
        let mut why = format!(
            "short by {:.2} C ({:.0} % below the target). Of {} requests: {} shed, {} timed out, {} errors.",
            min - ratio,
            (1.0 - ratio / min) * 100.0,
            s.sent,
            pct(share(s.shed)),
            pct(share(s.timeouts)),
            s.errors,
        );
        if let Some(h) = p.gateway_hash {
            let loaded = loaded_hash(run);
            #[allow(clippy::cast_precision_loss, reason = "a worker count")]
            let ceiling = run.capacity.workers as f64 / h.as_secs_f64() / run.capacity.hashes_per_sec;
            let _ = write!(
                why,
                " Inside the gateway one hash took {:.1} ms of its worker's time on average, against \
                 W / C = {:.1} ms when C was measured, so even with both workers never idle the \
                 phase could complete at most {ceiling:.2} C.",
                ms(h),
                ms(loaded),
            );
        }
        why.push_str(&evidence::cpu_evidence(p));
        if p.usage.capped {
            why.push_str(
                " The gateway was killed at the memory cap during the phase; the requests then in \
                 flight or still to come failed (the errors).",
            );
        }
        if p.mode == Mode::Unbounded {
            why.push_str(
                " Without admission every request starts its own hash; they all share the cores, so \
                 each takes longer as more arrive and many finish after their client gave up.",
            );
        }
        why
    });
    Verdict {
        target,
        measured: format!("{ratio:.2} C{late}"),
        met: Some(met),
        why,
    }
}

fn shed_p99(run: &Run, phases: &[&PhaseResult]) -> Verdict {
    let target = format!("shed (503) p99 <= {} ms, every phase", ms(SHED_P99));
    let worst = phases
        .iter()
        .filter_map(|p| p.summary.shed_latency.p99.map(|d| (d, *p)))
        .max_by_key(|(d, _)| *d);
    let Some((worst, p)) = worst else {
        // The baseline never sheds: the target says nothing about it.
        return Verdict {
            measured: "no 503s".to_owned(),
            met: None,
            why: None,
            target,
        };
    };
    let met = worst <= SHED_P99;
    let why = (!met).then(|| evidence::shed_why(run, p, worst));
    Verdict {
        target,
        measured: format!("{:.1} ms ({:.2}x the limit)", ms(worst), ms(worst) / ms(SHED_P99)),
        met: Some(met),
        why,
    }
}

/// Budget plus two hash times, the hash time being W / C: what one hash takes while all W workers
/// run, which is how the pool runs at overload (one hash alone on an idle machine is faster).
fn admitted_limit(run: &Run) -> Duration {
    run.settings.queue_budget + loaded_hash(run) * 2
}

/// W / C: one hash while all W calibration threads hash at once.
fn loaded_hash(run: &Run) -> Duration {
    #[allow(clippy::cast_precision_loss, reason = "a worker count")]
    let secs = run.capacity.workers as f64 / run.capacity.hashes_per_sec;
    Duration::from_secs_f64(secs)
}

fn admitted_p99(run: &Run, burst: Option<&PhaseResult>) -> Verdict {
    let limit = admitted_limit(run);
    let target = format!(
        "admitted (200) p99 at the burst <= queue budget + 2 hash times = {:.0} ms",
        ms(limit)
    );
    let Some((p, p99)) = burst.and_then(|b| b.summary.ok_latency.p99.map(|d| (b, d))) else {
        return unmeasured(target);
    };
    let ratio = ms(p99) / ms(limit);
    let met = p99 <= limit;
    let why = (!met).then(|| evidence::admitted_why(run, p, p99, limit));
    Verdict {
        target,
        measured: format!("{:.1} ms ({ratio:.2}x the limit)", ms(p99)),
        met: Some(met),
        why,
    }
}

fn rss(run: &Run, burst: Option<&PhaseResult>) -> Verdict {
    let target = format!("RSS growth during the burst <= {RSS_FACTOR} x W x m_cost");
    let Some(p) = burst else {
        return unmeasured(target);
    };
    let ratio = run.rss_ratio(p);
    let met = ratio <= RSS_FACTOR;
    let why = (!met).then(|| {
        #[allow(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
        let blocks = p.usage.rss_growth_kib() as f64 / f64::from(run.params.m_kib);
        let mut why = format!(
            "{ratio:.2} x W x m_cost, {:.1}x the limit: +{} MiB, the memory of {blocks:.0} argon2 blocks.",
            ratio / RSS_FACTOR,
            p.usage.rss_growth_kib() / 1024,
        );
        if p.mode == Mode::Unbounded {
            why.push_str(" Each spawn_blocking hash allocates its own block and all run at once.");
        }
        why
    });
    Verdict {
        target,
        measured: format!("{ratio:.2} x W x m_cost"),
        met: Some(met),
        why,
    }
}

fn recovery(run: &Run, burst: Option<&PhaseResult>) -> Verdict {
    let budget = run.settings.queue_budget;
    let target = format!("latency back to the light-load level within {RECOVERY_BUDGETS} queue budgets");
    let Some(r) = burst.and_then(|b| b.recovery) else {
        return unmeasured(target);
    };
    let budgets = |d: Duration| d.as_secs_f64() / budget.as_secs_f64();
    match r {
        Recovery::After(d) => {
            let met = budgets(d) <= RECOVERY_BUDGETS;
            Verdict {
                target,
                measured: format!("{:.0} ms ({:.1} budgets)", ms(d), budgets(d)),
                met: Some(met),
                why: (!met).then(|| {
                    let mut why = format!(
                        "{:.0} ms over the limit ({:.1}x).",
                        ms(d) - ms(budget.mul_f64(RECOVERY_BUDGETS)),
                        budgets(d) / RECOVERY_BUDGETS
                    );
                    if let Some(b) = burst {
                        why.push_str(&evidence::leftovers(run, b));
                    }
                    why
                }),
            }
        }
        Recovery::NotWithin(d) => Verdict {
            target,
            measured: format!(
                "not within {:.0} s (> {:.0} budgets)",
                d.as_secs_f64(),
                budgets(d)
            ),
            met: Some(false),
            why: Some(format!(
                "at least {:.0}x the limit: latency was still above the light-load level when the \
                 observation ended{}.",
                budgets(d) / RECOVERY_BUDGETS,
                if burst.is_some_and(|b| b.usage.capped) {
                    " (the gateway had been killed at the memory cap during the burst)"
                } else {
                    ""
                }
            )),
        },
    }
}

fn unmeasured(target: String) -> Verdict {
    Verdict {
        target,
        measured: "not measured (no such phase)".to_owned(),
        met: None,
        why: None,
    }
}
