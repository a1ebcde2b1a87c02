//! `resetgate-bench waiting-room`: the population simulation of issue #15. N virtual users, each
//! wanting one login verified, arrive on a breach-day curve at a real gateway on loopback (the
//! pool, at the default argon2 parameters) and behave as their strategy says when refused:
//! `ticket` (Retry-After with the ticket), `every-second` and `backoff` (the baselines, run the
//! same day against the same C). Each strategy gets a fresh gateway. The report compares each
//! with the ideal FIFO server of capacity C measured in the same run.
//!
//! - `population`: arrivals and the users' behaviour.
//! - `analysis`: the figures, against the same run's ideal.

mod analysis;
mod population;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use resetgate::config::{DEFAULT_HASH_DEADLINE_MS, DEFAULT_HASH_QUEUE_BUDGET_MS};
use resetgate::hashing::params::HashParams;

use crate::hashing::Mode;
use crate::loadtest::gateway::{Gateway, Launch, Series, Settings};
use analysis::Summary;
use population::{Patience, Strategy};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Virtual users, each wanting one login verified.
    #[arg(long, default_value_t = 20_000)]
    users: usize,
    /// Time constant of the arrivals' decay after the breach email, in seconds (arrivals span
    /// five of them).
    #[arg(long, default_value_t = 60)]
    decay_secs: u64,
    /// Strategies to run, each against a fresh gateway.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "ticket,every-second,backoff"
    )]
    strategies: Vec<Strategy>,
    /// A user gives up after this many refusals...
    #[arg(long, default_value_t = 10)]
    give_up_refusals: u32,
    /// ...or after waiting this long.
    #[arg(long, default_value_t = 1800)]
    give_up_secs: u64,
    /// Seconds of full-load hashing to measure C.
    #[arg(long, default_value_t = 3)]
    calibrate_secs: u64,
    /// Gateway replicas, each with its own pool of W workers on this machine's cores; users'
    /// requests go round robin over them, as behind a load balancer. More than one needs
    /// RESETGATE_PEPPER in the environment, so that every replica honours every ticket.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// The report; its CSV (NAME-data.csv) and plot (NAME.png) sit beside it.
    #[arg(long, default_value = "docs/waiting-room-sim.md")]
    out: PathBuf,
}

/// # Errors
/// When the gateway cannot be started or the report cannot be written.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.users > 0, "--users must be at least 1");
    anyhow::ensure!(args.replicas > 0, "--replicas must be at least 1");
    anyhow::ensure!(
        args.replicas == 1 || std::env::var_os("RESETGATE_PEPPER").is_some(),
        "--replicas {} needs RESETGATE_PEPPER set (32+ bytes): replicas share the ticket key through it",
        args.replicas
    );
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let params = HashParams::default();
    let out_dir = args
        .out
        .parent()
        .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let capacity =
        crate::loadtest::measure_capacity(params, workers, Duration::from_secs(args.calibrate_secs)).await?;
    let c = capacity.hashes_per_sec;
    #[allow(clippy::cast_precision_loss)] // a user count: exact in f64
    let ideal = args.users as f64 / c;
    println!("C = {c:.1} hashes/s on {workers} worker(s); ideal N/C = {ideal:.0} s");
    let settings = Settings {
        workers,
        queue_budget: Duration::from_millis(DEFAULT_HASH_QUEUE_BUDGET_MS),
        deadline: Duration::from_millis(DEFAULT_HASH_DEADLINE_MS),
        request_timeout: Duration::from_secs(10),
        log_dir: std::env::temp_dir(),
    };
    let series: Vec<Series> = (0..args.replicas)
        .map(|i| {
            Ok(Series {
                label: format!("waiting-room-{i}"),
                mode: Mode::Pool,
                launch: Launch::own()?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let arrivals = population::arrivals(args.users, Duration::from_secs(args.decay_secs));
    let patience = Patience {
        refusals: args.give_up_refusals,
        wait: Duration::from_secs(args.give_up_secs),
    };
    let mut summaries = Vec::new();
    for &strategy in &args.strategies {
        println!("{}: {} users ...", strategy.as_str(), args.users);
        let fates = one_strategy(&settings, &series, &arrivals, strategy, patience).await?;
        dump_fates(strategy, &fates)?;
        let s = analysis::summarise(strategy, &fates, c);
        println!(
            "{}: done {} / {}, makespan {:.2} N/C, wait p99 {:.2}, {:.2} requests per user, storm goodput min {:.2} C",
            strategy.as_str(),
            s.done,
            s.users,
            s.makespan_ratio,
            s.wait_p99,
            s.requests_per_done,
            s.storm_goodput_min
        );
        summaries.push(s);
    }
    let stem = args
        .out
        .file_stem()
        .map_or_else(|| "waiting-room-sim".into(), |s| s.to_string_lossy().into_owned());
    let csv = out_dir.join(format!("{stem}-data.csv"));
    let png = out_dir.join(format!("{stem}.png"));
    std::fs::write(&csv, csv_of(&summaries)).with_context(|| format!("writing {}", csv.display()))?;
    std::fs::write(&args.out, report(&args, c, workers, &summaries, &stem))
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {} and {}", args.out.display(), csv.display());
    plot(&out_dir, &csv, &png);
    Ok(ExitCode::SUCCESS)
}

/// Fresh gateways, every user living out `strategy` against them, the gateways stopped.
async fn one_strategy(
    settings: &Settings,
    series: &[Series],
    arrivals: &[Duration],
    strategy: Strategy,
    patience: Patience,
) -> anyhow::Result<Vec<population::Fate>> {
    let mut gateways = Vec::with_capacity(series.len());
    for s in series {
        gateways.push(Gateway::start(settings, s).await?);
    }
    let urls: std::sync::Arc<[String]> = gateways
        .iter()
        .map(|g| format!("http://{}/v1/login", g.addr))
        .collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(15))
        .build()
        .context("building the HTTP client")?;
    let start = Instant::now() + Duration::from_millis(500);
    let users: Vec<_> = arrivals
        .iter()
        .enumerate()
        .map(|(id, &arrival)| {
            tokio::spawn(population::live(
                http.clone(),
                std::sync::Arc::clone(&urls),
                id,
                start,
                arrival,
                strategy,
                patience,
            ))
        })
        .collect();
    let mut fates = Vec::with_capacity(users.len());
    for u in users {
        fates.push(u.await.context("a virtual user")?);
    }
    for g in gateways {
        g.stop().await?;
    }
    Ok(fates)
}

/// With `WAITING_ROOM_FATES=DIR`, every user's fate to DIR/fates-STRATEGY.csv, for looking into
/// a run (not part of the report).
fn dump_fates(strategy: Strategy, fates: &[population::Fate]) -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os("WAITING_ROOM_FATES") else {
        return Ok(());
    };
    let mut out = String::from("id,arrival_s,done_s,requests,refusals,errors\n");
    for (id, f) in fates.iter().enumerate() {
        let done = f
            .done
            .map_or(String::new(), |d| format!("{:.3}", d.as_secs_f64()));
        let _ = writeln!(
            out,
            "{id},{:.3},{done},{},{},{}",
            f.arrival.as_secs_f64(),
            f.requests,
            f.refusals,
            f.errors
        );
    }
    let path = PathBuf::from(dir).join(format!("fates-{}.csv", strategy.as_str()));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))
}

fn csv_of(summaries: &[Summary]) -> String {
    let mut out = String::from("strategy,second,completions,backlog\n");
    for s in summaries {
        for (sec, (done, backlog)) in s.timeline.iter().enumerate() {
            let _ = writeln!(out, "{},{sec},{done},{backlog}", s.strategy.as_str());
        }
    }
    out
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

fn report(args: &Args, c: f64, workers: usize, summaries: &[Summary], stem: &str) -> String {
    #[allow(clippy::cast_precision_loss)] // a user count: exact in f64
    let ideal = args.users as f64 / c;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Waiting room: the population simulation\n\n\
         Generated by `resetgate-bench waiting-room` (issue #15); edit the tool, not this file.\n\n\
         Reproduce: `{}`\n\n\
         {} virtual users, each wanting one login verified (one argon2 computation), arrive over \
         {} s on an exponential decay with a {} s time constant (a spike after the breach email), \
         at {} real gateway(s) on loopback (requests round robin over them, as behind a load \
         balancer), each the pool with {workers} worker(s) at the default argon2 parameters, \
         default queue budget and deadline, on the same cores. C = **{c:.1} hashes/s**, measured in the \
         same run, so the ideal time for everyone is N/C = {:.0} s. A user gives up after {} \
         refusals or {} minutes. Each strategy runs against a fresh gateway:\n\n\
         - `ticket`: comes back after `Retry-After` with the ticket of the last answer.\n\
         - `every-second`: today's naive client, every second, no ticket.\n\
         - `backoff`: exponential backoff with full jitter (1 s base, 60 s cap), no ticket.\n\n\
         A user's wait ratio is its wait over its wait at an ideal FIFO server of capacity C, both \
         floored at one second (the resolution of Retry-After). The storm is every second whose \
         backlog (arrived, neither served nor gone) exceeds one second of work; its goodput is the \
         lowest {}-second window. Errors are answers that were neither a result nor a shed \
         (no connection, a timeout); a user counts them as refusals.\n",
        crate::loadtest::command_line(),
        args.users,
        args.decay_secs * 5,
        args.decay_secs,
        args.replicas,
        ideal,
        args.give_up_refusals,
        args.give_up_secs / 60,
        analysis::GOODPUT_WINDOW,
    );
    let _ = writeln!(
        md,
        "| strategy | done | gave up | makespan / (N/C) | wait ratio p50 | p99 | max | requests per served user | errors | storm goodput min / C | mean / C | storm s |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for s in summaries {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {} | {:.2} | {:.2} | {} |",
            s.strategy.as_str(),
            s.done,
            s.gave_up,
            s.makespan_ratio,
            s.wait_p50,
            s.wait_p99,
            s.wait_max,
            s.requests_per_done,
            s.errors,
            s.storm_goodput_min,
            s.storm_goodput_mean,
            s.storm_secs
        );
    }
    if let Some(t) = summaries.iter().find(|s| s.strategy == Strategy::Ticket) {
        let _ = writeln!(
            md,
            "\n## The issue's goals, for `ticket`\n\n\
             | goal | measured | |\n|---|---|---|\n\
             | everyone done within 1.15 × N/C | {:.2} × N/C | {} |\n\
             | p99 of wait / ideal FIFO wait ≤ 1.2 | {:.2} | {} |\n\
             | at most 3 requests per served user | {:.2} | {} |\n\
             | goodput ≥ 0.9 C during the whole storm | lowest window {:.2} C | {} |\n\
             | nobody gives up | {} gave up | {} |\n",
            t.makespan_ratio,
            met(t.gave_up == 0 && t.makespan_ratio <= 1.15),
            t.wait_p99,
            met(t.wait_p99 <= 1.2),
            t.requests_per_done,
            met(t.requests_per_done <= 3.0),
            t.storm_goodput_min,
            met(t.storm_goodput_min >= 0.9),
            t.gave_up,
            met(t.gave_up == 0),
        );
    }
    let _ = writeln!(
        md,
        "\n![Served per second, and the backlog, per strategy]({stem}.png)\n\n\
         Data: [{stem}-data.csv]({stem}-data.csv). Plot: `python3 docs/plot_waiting_room.py \
         docs/{stem}-data.csv docs/{stem}.png`."
    );
    md
}

/// Draws the plot with docs/plot_waiting_room.py when python3 has matplotlib.
fn plot(dir: &std::path::Path, csv: &std::path::Path, png: &std::path::Path) {
    let script = dir.join("plot_waiting_room.py");
    match std::process::Command::new("python3")
        .arg(&script)
        .arg(csv)
        .arg(png)
        .status()
    {
        Ok(s) if s.success() => println!("wrote {}", png.display()),
        _ => println!(
            "note: {} was not drawn; run `python3 {} {} {}` where matplotlib is installed",
            png.display(),
            script.display(),
            csv.display(),
            png.display()
        ),
    }
}
