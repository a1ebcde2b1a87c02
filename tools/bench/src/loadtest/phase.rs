//! One series' run: a fresh gateway, then one phase per load multiplier, the last followed at once
//! by light load to see how fast latency recovers from the burst.

use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::task::JoinSet;

use super::gateway::{self, Gateway, Series, Settings};
use super::generator::{offer, Outcome, Sample, Segment, Target};
use super::monitor::{self, Monitor, Usage};
use super::scrape::{self, JobCounts};
use super::stats::{self, Recovery, Summary};
use super::sys;
use crate::hashing::Mode;

/// What every series is run with.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Hashes per second the machine sustains (C); offered rates are multiples of it.
    pub capacity: f64,
    pub multipliers: Vec<f64>,
    pub phase: Duration,
    /// Light load after the last phase; zero for none.
    pub recovery: Duration,
    /// Quiet time before each phase, then up to `max_idle_wait` for the gateway to go idle.
    pub settle: Duration,
    pub max_idle_wait: Duration,
    /// Longest wait for other processes to leave the CPU before a phase.
    pub quiet_wait: Duration,
    pub rss_cap_kib: u64,
}

#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// The series' label (`pool`, `unbounded`, or an `--extra-pool` label).
    pub series: String,
    pub mode: Mode,
    pub multiplier: f64,
    pub offered_rps: f64,
    pub length: Duration,
    pub summary: Summary,
    /// The gateway's own login-lane counts over the phase (and its recovery tail); `None` when
    /// /metrics was unreachable. The baseline counts hash times but no job outcomes.
    pub jobs: Option<JobCounts>,
    /// Mean time of one hash inside the gateway while the load was offered.
    pub gateway_hash: Option<Duration>,
    pub usage: Usage,
    /// Only for the last phase of a series, when followed by recovery load.
    pub recovery: Option<Recovery>,
    pub notes: Vec<String>,
    /// Every request of the phase (segment 1: the recovery tail), for `--samples-csv`.
    pub samples: Vec<Sample>,
}

impl PhaseResult {
    /// 200s per second of the phase, counting those that arrived while its load was offered.
    #[must_use]
    pub fn goodput_rps(&self) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "request counts are far below 2^52")]
        let ok = self.summary.ok_in_window as f64;
        ok / self.length.as_secs_f64()
    }
}

/// Runs every phase of `plan` for each of `series`, each on a fresh gateway of its own, taking
/// turns phase by phase: series compared with each other then see the same machine, so a slow
/// drift of the host (C moves by several per cent within one run here) affects them alike instead
/// of penalising whichever ran last. Only for series that leave no backlog behind (pool mode):
/// an idle pool gateway costs nothing while another one is measured.
///
/// # Errors
/// When a gateway cannot be started or does not answer logins before its first phase.
pub async fn run_interleaved(
    plan: &Plan,
    settings: &Settings,
    series: &[Series],
) -> anyhow::Result<Vec<PhaseResult>> {
    let mut runners = Vec::new();
    for s in series {
        runners.push(Runner::start(settings, s).await?);
    }
    for (i, &multiplier) in plan.multipliers.iter().enumerate() {
        let last = i + 1 == plan.multipliers.len();
        for runner in &mut runners {
            runner.step(plan, settings, multiplier, last).await?;
        }
    }
    let mut results = Vec::new();
    for runner in runners {
        results.extend(runner.finish(plan).await?);
    }
    Ok(results)
}

/// One series' gateway and the phases measured on it so far.
struct Runner<'a> {
    series: &'a Series,
    /// Always `Some` between calls; taken while [`settle`] may replace the gateway.
    gw: Option<Gateway>,
    results: Vec<PhaseResult>,
}

impl<'a> Runner<'a> {
    async fn start(settings: &Settings, series: &'a Series) -> anyhow::Result<Self> {
        let gw = Gateway::start(settings, series).await?;
        warm_up(&gw, settings.workers, settings.request_timeout).await?;
        Ok(Self {
            series,
            gw: Some(gw),
            results: Vec::new(),
        })
    }

    async fn step(
        &mut self,
        plan: &Plan,
        settings: &Settings,
        multiplier: f64,
        last: bool,
    ) -> anyhow::Result<()> {
        let gw = self
            .gw
            .take()
            .ok_or_else(|| anyhow::anyhow!("gateway already stopped"))?;
        let (gw, notes) = settle(gw, plan, settings, self.series).await?;
        let with_recovery = last && !plan.recovery.is_zero();
        let result = phase(&gw, plan, settings, self.series, multiplier, with_recovery).await;
        self.gw = Some(gw);
        let mut result = result?;
        result.notes.splice(0..0, notes);
        print_progress(&result, plan.capacity);
        self.results.push(result);
        Ok(())
    }

    async fn finish(mut self, plan: &Plan) -> anyhow::Result<Vec<PhaseResult>> {
        if let Some(gw) = self.gw.take() {
            gw.stop().await?;
        }
        if !plan.recovery.is_zero() {
            judge_recovery(&mut self.results, plan.recovery);
        }
        Ok(self.results)
    }
}

/// Waits out the previous phase. A gateway still busy after `max_idle_wait` (the unbounded
/// baseline keeps hashing a backlog long after its clients gave up), or one killed by the memory
/// cap, is replaced, so each phase measures its own load and the run stays bounded in time.
async fn settle(
    gw: Gateway,
    plan: &Plan,
    settings: &Settings,
    series: &Series,
) -> anyhow::Result<(Gateway, Vec<String>)> {
    tokio::time::sleep(plan.settle).await;
    let waited = Instant::now();
    let alive = sys::rss_kib(gw.pid).is_ok();
    if alive && gw.wait_idle(plan.max_idle_wait).await {
        let notes = quiet(Some(gw.pid), plan).await;
        return Ok((gw, notes));
    }
    let note = if alive {
        format!(
            "fresh gateway: the previous one was still busy {:.0} s after its phase",
            (plan.settle + waited.elapsed()).as_secs_f64()
        )
    } else {
        "fresh gateway: the previous one had died".to_owned()
    };
    let gw = gw.restart(settings, series).await?;
    warm_up(&gw, settings.workers, settings.request_timeout).await?;
    let mut notes = vec![note];
    notes.extend(quiet(Some(gw.pid), plan).await);
    Ok((gw, notes))
}

/// Waits for other processes to leave the CPU; a note when they did not.
async fn quiet(gateway: Option<u32>, plan: &Plan) -> Vec<String> {
    let other = monitor::wait_for_quiet(gateway, plan.quiet_wait).await;
    if other < monitor::QUIET {
        return Vec::new();
    }
    vec![format!(
        "started with other processes using {:.0} % of the CPU",
        other * 100.0
    )]
}

async fn phase(
    gw: &Gateway,
    plan: &Plan,
    settings: &Settings,
    series: &Series,
    multiplier: f64,
    with_recovery: bool,
) -> anyhow::Result<PhaseResult> {
    let rate = multiplier * plan.capacity;
    let mut segments = vec![Segment {
        rate,
        length: plan.phase,
    }];
    let lightest = plan.multipliers.iter().copied().fold(f64::INFINITY, f64::min);
    if with_recovery {
        segments.push(Segment {
            rate: lightest * plan.capacity,
            length: plan.recovery,
        });
    }
    let target = Target::login(gw.addr, gateway::EMAIL, gateway::PASSWORD)?;
    let jobs_before = scrape::login_jobs(gw.ops_addr).await;
    let monitor = Monitor::start(gw.pid, plan.rss_cap_kib, plan.phase)?;
    // The gateway's hash times over the offered-load window only, not the drain or the tail.
    let (ops, window) = (gw.ops_addr, plan.phase);
    let at_window_end = tokio::spawn(async move {
        tokio::time::sleep(window).await;
        scrape::login_jobs(ops).await
    });
    let samples = offer(&target, &segments, give_up(settings)).await;
    let usage = monitor.finish().await;
    let jobs_after = scrape::login_jobs(gw.ops_addr).await;
    let gateway_hash = match (jobs_before, at_window_end.await.ok().flatten()) {
        (Some(before), Some(end)) => end.since(before).mean_hash(),
        _ => None,
    };
    let jobs = match (jobs_before, jobs_after) {
        (Some(before), Some(after)) => Some(after.since(before)),
        _ => None,
    };
    let mut notes = Vec::new();
    if usage.capped {
        notes.push(format!(
            "gateway killed: RSS passed the {} MiB cap",
            plan.rss_cap_kib / 1024
        ));
    }
    Ok(PhaseResult {
        series: series.label.clone(),
        mode: series.mode,
        multiplier,
        offered_rps: rate,
        length: plan.phase,
        summary: stats::summarize(&samples, 0, plan.phase, settings.deadline),
        jobs,
        gateway_hash,
        usage,
        recovery: None,
        notes,
        samples,
    })
}

/// Judges the light-load tail after the last phase against the lightest phase's admitted p50.
fn judge_recovery(results: &mut [PhaseResult], length: Duration) {
    let baseline = results
        .iter()
        .min_by(|a, b| a.multiplier.total_cmp(&b.multiplier))
        .and_then(|r| r.summary.ok_latency.p50);
    if let (Some(baseline), Some(last)) = (baseline, results.last_mut()) {
        last.recovery = Some(stats::recovery(&last.samples, 1, length, baseline));
    }
}

/// A request is given up on a second after the gateway's own timeout would have answered it.
fn give_up(settings: &Settings) -> Duration {
    settings.request_timeout + Duration::from_secs(1)
}

/// A few rounds of concurrent logins: proves the account and the path work before measuring, and
/// makes every pool worker touch its memory block, so the first phase's RSS growth is not the
/// pool's fixed W x m_cost.
async fn warm_up(gw: &Gateway, workers: usize, timeout: Duration) -> anyhow::Result<()> {
    let target = Target::login(gw.addr, gateway::EMAIL, gateway::PASSWORD)?;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let mut round = JoinSet::new();
        for _ in 0..workers.max(1) {
            let target = target.clone();
            round.spawn(async move { target.send(timeout).await });
        }
        while let Some(done) = round.join_next().await {
            outcomes.extend(done.ok());
        }
    }
    if !outcomes.contains(&Outcome::Ok) {
        bail!(
            "warm-up logins against {} failed ({outcomes:?}); is a rate limit on? see {}",
            gw.addr,
            gw.log.display()
        );
    }
    Ok(())
}

fn print_progress(r: &PhaseResult, capacity: f64) {
    let ms =
        |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1e3));
    println!(
        "  {:<9} {:>4}x C: offered {:>6.1}/s  goodput {:>6.1}/s ({:.2} C)  ok {} shed {} timeout {} error {}  ok p50/p99 {}/{} ms  shed p99 {} ms  RSS +{} MiB  other CPU {:.0}%",
        r.series,
        r.multiplier,
        r.offered_rps,
        r.goodput_rps(),
        r.goodput_rps() / capacity,
        r.summary.ok,
        r.summary.shed,
        r.summary.timeouts,
        r.summary.errors,
        ms(r.summary.ok_latency.p50),
        ms(r.summary.ok_latency.p99),
        ms(r.summary.shed_latency.p99),
        r.usage.rss_growth_kib() / 1024,
        r.usage.other_cpu * 100.0,
    );
    if !r.summary.error_statuses.is_empty() {
        println!(
            "            errors by status (0 = connection): {:?}",
            r.summary.error_statuses
        );
    }
}
