//! The report's prose sections. Every figure in them comes from the run; only the wording is fixed.

use std::fmt::Write as _;
use std::time::Duration;

use super::super::gateway::{Series, IDLE_SHARE};
use super::super::generator::Outcome;
use super::super::phase::PhaseResult;
use super::super::stats::Recovery;
use super::Run;
use crate::hashing::Mode;

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3))
}

fn ms_f(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The heaviest phase of the series labelled `label`.
fn burst<'a>(run: &'a Run, label: &'a str) -> Option<&'a PhaseResult> {
    run.phases_of(label)
        .max_by(|a, b| a.multiplier.total_cmp(&b.multiplier))
}

/// What the run shows about the pool's queue discipline (why it is not CoDel: src/hashing/pool.rs).
#[must_use]
pub fn lifo_section(run: &Run) -> String {
    let mut s = String::from(
        "## Adaptive LIFO rather than CoDel\n\n\
         Why the pool does not use CoDel, and when it turns a lane from FIFO to LIFO, is argued in \
         `src/hashing/pool.rs`: CoDel's 5 ms target is below the cost of a single argon2 hash, so \
         it would keep dropping while workers sit idle. The pool bounds its queue by admission \
         (expected wait) instead, serves newest-first only once a lane's oldest job has waited past \
         its switch point, and answers jobs that reach their deadline in the queue with a 503 \
         without hashing them. What the trade looks like in this run, for every pool series and \
         every phase at or above C:\n\n",
    );
    let pools: Vec<&Series> = run.series.iter().filter(|x| x.mode == Mode::Pool).collect();
    s.push_str(
        "| series | load | idle CPU | goodput / C | ok p50 | ok p99 | 200s slower than the budget \
         | LIFO picks | expired in the queue | recovery after it |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let budget = run.settings.queue_budget;
    for series in &pools {
        for p in run.phases_of(&series.label).filter(|p| p.multiplier >= 1.0) {
            let u = &p.usage;
            let idle = (1.0 - u.gateway_cpu - u.generator_cpu - u.other_cpu).max(0.0);
            let _ = writeln!(
                s,
                "| {} | {}x | {:.0} % | {:.2} | {} | {} | {} | {} | {} | {} |",
                series.label,
                p.multiplier,
                idle * 100.0,
                p.goodput_rps() / run.capacity.hashes_per_sec,
                ms(p.summary.ok_latency.p50),
                ms(p.summary.ok_latency.p99),
                slower_than(p, budget),
                p.jobs
                    .and_then(|j| j.lifo_picks)
                    .map_or_else(|| "not counted".to_owned(), |n| n.to_string()),
                p.jobs.map_or_else(|| "-".to_owned(), |j| j.expired.to_string()),
                match p.recovery {
                    Some(Recovery::After(d)) => format!("{} ms", d.as_millis()),
                    Some(Recovery::NotWithin(d)) => format!("> {} s", d.as_secs()),
                    None => String::new(),
                },
            );
        }
    }
    s.push('\n');
    for series in &pools {
        s.push_str(&pool_summary(run, series));
    }
    if let Some(u) = burst(run, "unbounded") {
        let _ = writeln!(
            s,
            "For comparison, the unbounded baseline at {}x: goodput {:.2} C, admitted p99 {}.\n",
            u.multiplier,
            u.goodput_rps() / run.capacity.hashes_per_sec,
            ms(u.summary.ok_latency.p99),
        );
    }
    s
}

/// One pool series in a sentence: busy workers (what CoDel would lose) against the tails that
/// LIFO and the deadline cost.
fn pool_summary(run: &Run, series: &Series) -> String {
    let overloaded: Vec<&PhaseResult> = run
        .phases_of(&series.label)
        .filter(|p| p.multiplier >= 1.0)
        .collect();
    let Some(b) = burst(run, &series.label) else {
        return String::new();
    };
    let u = &b.usage;
    let idle = (1.0 - u.gateway_cpu - u.generator_cpu - u.other_cpu).max(0.0);
    let expired: u64 = overloaded.iter().filter_map(|p| p.jobs).map(|j| j.expired).sum();
    let slow: usize = overloaded
        .iter()
        .map(|p| slower_than(p, run.settings.queue_budget))
        .sum();
    format!(
        "**{label}**: at {m}x the cores were idle {idle:.0} % of the time, so the workers {busy} \
         (idle workers are the loss CoDel's target would cause here), and admitted requests took \
         {p50} at p50 and {p99} at p99 against a hash time of {hash:.0} ms. Over the phases at or \
         above C, {expired}, and {slow} admitted requests took longer than the whole {budget} ms \
         budget.\n\n",
        label = series.label,
        m = b.multiplier,
        idle = idle * 100.0,
        busy = if idle < 0.05 {
            "never waited for work"
        } else {
            "did wait for work at times"
        },
        p50 = ms(b.summary.ok_latency.p50),
        p99 = ms(b.summary.ok_latency.p99),
        hash = b.gateway_hash.map_or(f64::NAN, ms_f),
        expired = if expired == 0 {
            "no admitted job expired in the queue".to_owned()
        } else {
            format!(
                "{expired} admitted jobs expired in the queue, each client waiting the {} ms \
                 deadline for its 503",
                run.settings.deadline.as_millis()
            )
        },
        budget = run.settings.queue_budget.as_millis(),
    )
}

/// Admitted requests of the phase's offered window that took longer than `limit`.
fn slower_than(p: &PhaseResult, limit: Duration) -> usize {
    p.samples
        .iter()
        .filter(|x| x.segment == 0 && x.outcome == Outcome::Ok && x.latency > limit)
        .count()
}

/// Why goodput is below C even where no request waited in vain: said once, with the run's numbers.
#[must_use]
pub fn goodput_note(run: &Run) -> String {
    let hashes: Vec<Duration> = run
        .phases
        .iter()
        .filter(|p| p.mode == Mode::Pool && p.multiplier >= 1.0)
        .filter_map(|p| p.gateway_hash)
        .collect();
    let (Some(lo), Some(hi)) = (hashes.iter().min(), hashes.iter().max()) else {
        return String::new();
    };
    #[allow(clippy::cast_precision_loss, reason = "a worker count")]
    let w = run.capacity.workers as f64;
    let loaded = w / run.capacity.hashes_per_sec;
    let ceiling = |h: &Duration| w / h.as_secs_f64() / run.capacity.hashes_per_sec;
    format!(
        "\nGoodput is relative to C, measured with the cores doing nothing but hashing. Inside the \
         gateway the same hash took {lo:.1} to {hi:.1} ms in the pool phases at or above C (column \
         *hash ms*), against W / C = {loaded:.1} ms, which caps goodput at {cap_hi:.2} to \
         {cap_lo:.2} C whatever the queueing policy: the hashing threads share the cores with the \
         gateway's HTTP work and with this load generator, which preempt them, and likely also share \
         caches and memory bandwidth with them (argon2 is memory-bound).\n",
        lo = ms_f(*lo),
        hi = ms_f(*hi),
        loaded = loaded * 1e3,
        cap_hi = ceiling(hi),
        cap_lo = ceiling(lo),
    )
}

/// How the numbers were taken, so a reader can judge them.
#[must_use]
pub fn method(run: &Run) -> String {
    let mut s = String::from("## Method\n\n");
    let _ = writeln!(
        s,
        "- Open loop: request *i* of a phase is scheduled at *i* / R and sent then whatever earlier \
         requests did; latency runs from the scheduled time, so a late send counts against latency \
         (no coordinated omission). Each request gives up {} s after its scheduled time.",
        (run.settings.request_timeout + Duration::from_secs(1)).as_secs()
    );
    let generator = run
        .phases
        .iter()
        .map(|p| p.usage.generator_cpu)
        .fold(0.0, f64::max);
    let _ = writeln!(
        s,
        "- The generator runs on the same machine as the gateway and competes with it for the cores \
         that C was measured on: up to {:.0} % of all cores in a phase (`generator_cpu` in \
         perf-data.csv). Shedding is not free either: the gateway's HTTP work for the refused \
         requests comes out of the same cores as hashing.",
        generator * 100.0
    );
    let _ = writeln!(
        s,
        "- Between phases: {:.1} s of quiet, then up to {} s more until the gateway uses under {IDLE_SHARE}. \
         A gateway still busy after that (the baseline hashing a backlog nobody waits for) is replaced by \
         a fresh one, noted in the table: each baseline phase then starts clean, which flatters the \
         baseline, not the pool.",
        run.plan.settle.as_secs_f64(),
        run.plan.max_idle_wait.as_secs()
    );
    s.push_str(
        "- The last phase runs straight into the light-load tail used for recovery; its RSS peak and \
         expired count include that tail.\n\
         - Pool series take turns phase by phase, each on its own gateway (an idle one costs \
         nothing), so a drift of the host during the run affects them alike; the unbounded baseline \
         runs alone after them, since its backlog and memory would leak into whatever ran beside \
         it.\n",
    );
    let _ = writeln!(
        s,
        "- A gateway whose RSS passes {} MiB is killed (a memory guard for the baseline).\n",
        run.plan.rss_cap_kib / 1024
    );
    s
}
