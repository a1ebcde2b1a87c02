//! `resetgate-bench loadtest`: measures capacity C on this machine, then offers login traffic at
//! multiples of C to a gateway on loopback, first with the bounded hashing pool and then with the
//! unbounded `spawn_blocking` baseline, and writes the report (docs/perf.md, the raw CSV and a plot).
//!
//! - `sys`: memory and CPU readings from /proc (the `procfs` crate).
//! - `gateway`: the gateway child process under test.
//! - `generator`: the open-loop request schedule and the HTTP client.
//! - `monitor`: peak RSS and CPU shares while a phase runs.
//! - `scrape`: the gateway's own job counts and hash times from /metrics.
//! - `stats`: percentiles, goodput, recovery time.
//! - `phase`: one series' sequence of phases (a series: a hashing mode served by one binary).
//! - `run`: everything one run measured, which `targets` judges and `report` writes out.
//! - `targets`: the issue's targets, judged against the numbers, with the evidence for misses.
//! - `report`: Markdown (generated from the numbers), CSV and the plot.

pub(crate) mod gateway;
mod generator;
mod monitor;
mod phase;
mod report;
mod run;
mod scrape;
mod stats;
mod sys;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};

use gateway::{Launch, Series, Settings};
use phase::Plan;
use resetgate::calibrate::Capacity;
use resetgate::config::{DEFAULT_HASH_DEADLINE_MS, DEFAULT_HASH_QUEUE_BUDGET_MS};
use resetgate::hashing::params::HashParams;

use crate::hashing::Mode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seconds of load per phase.
    #[arg(long, default_value_t = 8)]
    phase_secs: u64,
    /// Offered load per phase, as multiples of the measured capacity C, in order. The last phase
    /// is the burst that recovery is measured after.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2,5,10")]
    multipliers: Vec<f64>,
    /// Gateway hashing modes to compare, each on a fresh gateway process.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "pool,unbounded")]
    modes: Vec<Mode>,
    /// The Markdown report; the CSV (perf-data.csv), plot (perf.png) and plot script
    /// (plot_perf.py) sit beside it.
    #[arg(long, default_value = "docs/perf.md")]
    out: PathBuf,
    /// Also run the pool of another resetgate build (its `demo` subcommand), e.g. an earlier
    /// commit, as a series of its own: LABEL=PATH. Repeatable. It runs right after `pool`, against
    /// the same C.
    #[arg(long, value_name = "LABEL=PATH")]
    extra_pool: Vec<String>,
    /// Seconds of full-load hashing to measure C.
    #[arg(long, default_value_t = 3)]
    calibrate_secs: u64,
    /// Seconds of light load right after the last phase, to measure recovery.
    #[arg(long, default_value_t = 3)]
    recovery_secs: u64,
    /// The gateway's RESETGATE_HASH_QUEUE_BUDGET_MS.
    #[arg(long, default_value_t = DEFAULT_HASH_QUEUE_BUDGET_MS)]
    queue_budget_ms: u64,
    /// The gateway's RESETGATE_HASH_DEADLINE_MS.
    #[arg(long, default_value_t = DEFAULT_HASH_DEADLINE_MS)]
    deadline_ms: u64,
    /// The gateway's RESETGATE_REQUEST_TIMEOUT_MS; the generator gives up a second later.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
    /// Kill the gateway if its RSS passes this (default: half the memory available at start, at
    /// most 8 GiB).
    #[arg(long)]
    rss_cap_mib: Option<u64>,
    /// Before calibrating and before each phase, wait up to this long for other processes to
    /// leave the CPU (under 10 % busy); the report notes phases that started without that.
    #[arg(long, default_value_t = 30)]
    quiet_wait_secs: u64,
    /// Also write every request (scheduled time, latency, outcome) to this CSV.
    #[arg(long)]
    samples_csv: Option<PathBuf>,
}

/// The baseline's memory guard when --rss-cap-mib is not given: far above anything the pool needs,
/// low enough to leave a shared machine usable.
const DEFAULT_RSS_CAP_KIB: u64 = 8 * 1024 * 1024;
/// Quiet time between phases (the issue asks for 1-2 s), and the longest extra wait for the
/// gateway to go idle before it is replaced.
const SETTLE: Duration = Duration::from_millis(1500);
const MAX_IDLE_WAIT: Duration = Duration::from_secs(4);

/// Runs the whole load test and writes the report.
///
/// # Errors
/// On bad arguments, when the gateway cannot be started, or when the report cannot be written.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    validate(&args)?;
    let series = series(&args, &Launch::own()?)?;
    let out_dir = args
        .out
        .parent()
        .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let params = HashParams::default();

    let quiet_wait = Duration::from_secs(args.quiet_wait_secs);
    let background = monitor::wait_for_quiet(None, quiet_wait).await;
    if background >= monitor::QUIET {
        println!(
            "warning: other processes keep {:.0}% of the CPU busy; they will distort the numbers",
            background * 100.0
        );
    }
    println!(
        "measuring C: {params} on {workers} thread(s) for {} s ...",
        args.calibrate_secs
    );
    let capacity = measure_capacity(params, workers, Duration::from_secs(args.calibrate_secs)).await?;
    println!(
        "C = {:.1} hashes/s (one hash alone {:.1} ms)",
        capacity.hashes_per_sec,
        capacity.hash_time.as_secs_f64() * 1e3
    );

    let settings = Settings {
        workers,
        queue_budget: Duration::from_millis(args.queue_budget_ms),
        deadline: Duration::from_millis(args.deadline_ms),
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        log_dir: std::env::temp_dir(),
    };
    let plan = Plan {
        capacity: capacity.hashes_per_sec,
        multipliers: args.multipliers.clone(),
        phase: Duration::from_secs(args.phase_secs),
        recovery: Duration::from_secs(args.recovery_secs),
        settle: SETTLE,
        max_idle_wait: MAX_IDLE_WAIT,
        quiet_wait,
        rss_cap_kib: match args.rss_cap_mib {
            Some(mib) => mib * 1024,
            None => (sys::mem_available_kib()? / 2).min(DEFAULT_RSS_CAP_KIB),
        },
    };
    for s in &series {
        println!(
            "series {} ({} mode, {}): gateway log in {}",
            s.label,
            s.mode.as_str(),
            s.launch.bin().display(),
            settings.log_dir.display()
        );
    }
    // Pools take turns phase by phase (see `run_interleaved`); the unbounded baseline runs alone
    // afterwards, because its backlog and memory would leak into whatever ran beside it.
    let (pools, others): (Vec<Series>, Vec<Series>) =
        series.iter().cloned().partition(|s| s.mode == Mode::Pool);
    let mut phases = phase::run_interleaved(&plan, &settings, &pools).await?;
    for s in &others {
        tokio::time::sleep(SETTLE).await;
        phases.extend(phase::run_interleaved(&plan, &settings, std::slice::from_ref(s)).await?);
    }

    // Measured again on the quiet machine: how far C drifts within one run bounds how much the
    // ratios in the report can be trusted.
    let busy_after = monitor::wait_for_quiet(None, quiet_wait).await;
    let capacity_after = measure_capacity(params, workers, Duration::from_secs(args.calibrate_secs)).await?;
    println!(
        "C re-measured after the run: {:.1} hashes/s",
        capacity_after.hashes_per_sec
    );

    let run = run::Run {
        capacity,
        capacity_after,
        busy_after,
        params,
        calibration: Duration::from_secs(args.calibrate_secs),
        plan,
        settings,
        series,
        background_cpu: background,
        command: command_line(),
        phases,
    };
    report::write_all(&run, &args.out, args.samples_csv.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

fn validate(args: &Args) -> anyhow::Result<()> {
    if args.multipliers.is_empty() || args.multipliers.iter().any(|m| !m.is_finite() || *m <= 0.0) {
        bail!("--multipliers must be positive numbers, e.g. 0.5,1,2,5,10");
    }
    if args.modes.is_empty() {
        bail!("--modes must name at least one of pool, unbounded");
    }
    if args.phase_secs == 0 || args.calibrate_secs == 0 {
        bail!("--phase-secs and --calibrate-secs must be at least 1");
    }
    if !std::path::Path::new("/proc/self/status").exists() {
        bail!("loadtest reads memory and CPU use from /proc: it runs on Linux only");
    }
    Ok(())
}

/// The series to run, in order: each `--modes` entry on this tool's own gateway, with the
/// `--extra-pool` builds right after `pool` so the pools sit together in the report.
fn series(args: &Args, own: &Launch) -> anyhow::Result<Vec<Series>> {
    let mut extras = Vec::new();
    for spec in &args.extra_pool {
        let Some((label, path)) = spec.split_once('=') else {
            bail!("--extra-pool {spec:?}: expected LABEL=PATH");
        };
        let reserved = args.modes.iter().any(|m| m.as_str() == label);
        if label.is_empty() || reserved || extras.iter().any(|e: &Series| e.label == label) {
            bail!("--extra-pool {spec:?}: the label must be new and not empty");
        }
        if !std::path::Path::new(path).is_file() {
            bail!("--extra-pool {spec:?}: {path} is not a file");
        }
        extras.push(Series {
            label: label.to_owned(),
            mode: Mode::Pool,
            launch: Launch::Build(PathBuf::from(path)),
        });
    }
    let mut out = Vec::new();
    for &mode in &args.modes {
        out.push(Series {
            label: mode.as_str().to_owned(),
            mode,
            launch: own.clone(),
        });
        if mode == Mode::Pool {
            out.append(&mut extras);
        }
    }
    out.append(&mut extras);
    Ok(out)
}

/// Runs the calibration on a blocking thread: it keeps W cores busy hashing for seconds.
pub(crate) async fn measure_capacity(
    params: HashParams,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<Capacity> {
    tokio::task::spawn_blocking(move || resetgate::calibrate::measure(params, workers, duration))
        .await
        .context("calibration thread")?
        .context("measuring capacity")
}

/// How this run was invoked, for the report's "reproduce" line, quoted for a POSIX shell.
pub(crate) fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).map(|a| shell_quote(&a)).collect();
    format!("cargo run -p resetgate-bench --release -- {}", args.join(" "))
}

fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./=,:@%+-".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_the_shell_would_split() {
        assert_eq!(shell_quote("--phase-secs"), "--phase-secs");
        assert_eq!(shell_quote("a=/tmp/x"), "a=/tmp/x");
        assert_eq!(shell_quote("pool (old)=/x"), "'pool (old)=/x'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
