//! The `resetgate` command line: one binary, one subcommand per job, each in its own file under
//! `cli/`. Configuration comes from `RESETGATE_*` environment variables (see README); flags here are
//! only per-invocation inputs.

mod admin_token;
mod calibrate;
mod campaign;
mod check_config;
mod clear_mfa;
mod create_account;
// Public so that tools/bench can run this same demo gateway on its baseline hashing engine.
pub mod demo;
mod healthcheck;
mod migrate;
mod pepper_status;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError, Mode};
use crate::hashing::hasher;

/// BSD sysexits EX_USAGE: the configuration is wrong, retrying will not help.
pub const EXIT_CONFIG: u8 = 64;

#[derive(Parser, Debug)]
#[command(
    name = "resetgate",
    version,
    about = "A load-resilient password-reset gateway"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway on PostgreSQL (production).
    Serve,
    /// Run the gateway on an in-memory store with mail printed to stdout. NOT DURABLE.
    Demo {
        /// Account created at start so the reset flow can be tried at once.
        #[arg(long, default_value = "demo@example.com")]
        seed_email: String,
        /// Give the seeded account this password (default: none, so it must be reset first).
        /// Used by the load test (tools/bench); visible in `ps`, so only for throwaway demos.
        #[arg(long)]
        seed_password: Option<String>,
    },
    /// Measure argon2 cost on this machine and suggest hashing workers and queue budget.
    Calibrate {
        /// Seconds of full-load hashing for the throughput measurement.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Breach-day campaigns: start, status, pause, resume, cancel (directly on PostgreSQL).
    #[command(subcommand)]
    Campaign(campaign::CampaignCommand),
    /// Generate an admin API token: prints the token (give it to operators) and its SHA-256
    /// (set it as RESETGATE_ADMIN_TOKEN_SHA256).
    AdminToken,
    /// Probe this host's gateway: GET /readyz on RESETGATE_OPS_LISTEN (or --url); exit 0 on a 2xx,
    /// 1 otherwise. For container health checks in images without a shell.
    Healthcheck {
        /// Probe this URL instead.
        #[arg(long)]
        url: Option<String>,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Print the effective configuration (secrets redacted); exit 64 if it is invalid.
    CheckConfig {
        #[arg(long, value_enum, default_value = "serve")]
        mode: CheckMode,
    },
    /// Create an account in PostgreSQL, with a password read from stdin or an existing argon2 hash.
    CreateAccount {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input; hashed with the configured params.
        #[arg(long, conflicts_with = "password_hash")]
        password_stdin: bool,
        /// Import an existing argon2 PHC string from another system. It is verified without the
        /// pepper and replaced by a peppered hash at the configured parameters on the next login.
        #[arg(long)]
        password_hash: Option<String>,
        /// The imported hash was computed with this deployment's pepper as argon2 secret (e.g.
        /// exported from another resetgate database).
        #[arg(long, requires = "password_hash")]
        hash_is_peppered: bool,
    },
    /// After a pepper rotation: how many password hashes, pending sealed mails and TOTP secrets
    /// still depend on each configured pepper (counts and key ids only), and whether the retired
    /// ones may go.
    PepperStatus,
    /// Support: remove an account's second factor (lost phone and lost recovery codes), recorded
    /// in the account's audit trail under --admin. The owner can enrol again after signing in.
    ClearMfa {
        #[arg(long)]
        email: String,
        /// Who is doing this, for the audit trail (e.g. your login name).
        #[arg(long)]
        admin: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum CheckMode {
    Serve,
    Demo,
}

/// Runs the command; the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve => serve::run().await,
        Command::Demo {
            seed_email,
            seed_password,
        } => demo::run(&seed_email, seed_password.as_deref(), hasher::pool_engine).await,
        Command::Calibrate { seconds } => calibrate::run(seconds),
        Command::Migrate => migrate::run().await,
        Command::PepperStatus => pepper_status::run().await,
        Command::ClearMfa { email, admin } => clear_mfa::run(&email, &admin).await,
        Command::Campaign(cmd) => campaign::run(cmd).await,
        Command::AdminToken => Ok(admin_token::run()),
        Command::CheckConfig { mode } => check_config::run(mode),
        Command::Healthcheck { url, timeout_ms } => {
            match healthcheck::target(url, &|k| std::env::var(k).ok()) {
                Ok(url) => Ok(healthcheck::run(&url, std::time::Duration::from_millis(timeout_ms)).await),
                Err(e) => Err(e.into()),
            }
        }
        Command::CreateAccount {
            email,
            password_stdin,
            password_hash,
            hash_is_peppered,
        } => create_account::run(&email, password_stdin, password_hash.as_deref(), hash_is_peppered).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("resetgate: invalid configuration: {c}");
                return ExitCode::from(EXIT_CONFIG);
            }
            eprintln!("resetgate: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(mode: Mode) -> anyhow::Result<Config> {
    Ok(Config::from_env(mode)?)
}
