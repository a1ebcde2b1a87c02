//! `resetgate-bench`: the measurements behind docs/perf.md, kept out of the shipped gateway.
//!
//! - `loadtest` (`loadtest`): measures capacity C, offers multiples of it to gateways on loopback,
//!   pool against the naive baseline, and writes the report.
//! - `campaign-bench` (`campaign_bench`): the breach-day campaign over N accounts on PostgreSQL.
//! - `waiting-room` (`waiting_room`): the waiting room's population simulation (issue #15).
//! - `gateway`: resetgate's own demo gateway on a chosen hashing engine (`hashing`); `loadtest`
//!   runs it as the process under test.

mod campaign_bench;
mod hashing;
mod loadtest;
mod waiting_room;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use resetgate::config::ConfigError;
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(
    name = "resetgate-bench",
    version,
    about = "Load test, campaign benchmark and naive hashing baseline for resetgate (not shipped)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open-loop load test: measure capacity C, offer multiples of it to a gateway on loopback,
    /// and write the report (see docs/perf.md).
    Loadtest(loadtest::Args),
    /// The breach-day run: seed N accounts, run one campaign to completion against a local SMTP
    /// sink, and report marking time and send-rate accuracy (docs/perf-campaign.md).
    CampaignBench(campaign_bench::Args),
    /// The waiting room's population simulation: N users on a breach-day arrival curve against
    /// a real gateway, retrying as told with tickets, against naive and backoff baselines
    /// (docs/waiting-room-sim.md).
    WaitingRoom(waiting_room::Args),
    /// Run `resetgate demo` (the library's, linked in) on the given hashing engine, configured from
    /// `RESETGATE_*` like the real one. The process `loadtest` measures. NOT DURABLE.
    Gateway {
        /// The hashing engine.
        #[arg(long, value_enum, default_value = "pool")]
        hashing: hashing::Mode,
        /// Account created at start.
        #[arg(long, default_value = "load@example.com")]
        seed_email: String,
        /// Give the seeded account this password (default: none).
        #[arg(long)]
        seed_password: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stderr so stdout stays for results (and the gateway's listening lines).
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Loadtest(args) => loadtest::run(args).await,
        Command::CampaignBench(args) => campaign_bench::run(args).await,
        Command::WaitingRoom(args) => waiting_room::run(args).await,
        Command::Gateway {
            hashing,
            seed_email,
            seed_password,
        } => resetgate::cli::demo::run(&seed_email, seed_password.as_deref(), hashing.engine()).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("resetgate-bench: invalid configuration: {c}");
                return ExitCode::from(resetgate::cli::EXIT_CONFIG);
            }
            eprintln!("resetgate-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
