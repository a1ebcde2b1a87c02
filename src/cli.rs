//! The `resetgate` command line: one binary, one subcommand per job. Configuration comes from
//! `RESETGATE_*` environment variables (see README); flags here are only per-invocation inputs.

mod campaign;
mod healthcheck;

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};

use crate::app::{self, Parts};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, MailTransport, Mode};
use crate::hashing::hasher::{HashMode, Hasher};
use crate::hashing::phc::PhcString;
use crate::hashing::pool::PoolConfig;
use crate::metrics::Metrics;
use crate::notify;
use crate::reset::blocklist;
use crate::reset::email::EmailAddress;
use crate::shutdown;
use crate::storage::memory::MemoryStore;
use crate::storage::migrate;
use crate::storage::store::{NewAccount, Store, StoreError};

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
        /// Used by `loadtest`; visible in `ps`, so only for throwaway demos.
        #[arg(long)]
        seed_password: Option<String>,
    },
    /// Measure argon2 cost on this machine and suggest hashing workers and queue budget.
    Calibrate {
        /// Seconds of full-load hashing for the throughput measurement.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Open-loop load test: measure capacity C, offer multiples of it to a gateway on loopback,
    /// and write the report (see docs/perf.md).
    Loadtest(crate::loadtest::Args),
    /// Apply database migrations and exit.
    Migrate,
    /// Breach-day campaigns: start, status, pause, resume, cancel (directly on PostgreSQL).
    #[command(subcommand)]
    Campaign(campaign::CampaignCommand),
    /// The breach-day run: seed N accounts, run one campaign to completion against a local SMTP
    /// sink, and report marking time and send-rate accuracy (docs/perf-campaign.md).
    CampaignBench(crate::campaign_bench::Args),
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
        /// The account has a second factor (allows the shorter MFA minimum length).
        #[arg(long)]
        mfa: bool,
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
        Command::Serve => serve().await,
        Command::Demo {
            seed_email,
            seed_password,
        } => demo(&seed_email, seed_password.as_deref()).await,
        Command::Calibrate { seconds } => calibrate(seconds),
        Command::Loadtest(args) => crate::loadtest::run(args).await,
        Command::Migrate => migrate_cmd().await,
        Command::Campaign(cmd) => campaign::run(cmd).await,
        Command::AdminToken => Ok(admin_token()),
        Command::CampaignBench(args) => crate::campaign_bench::run(args).await,
        Command::CheckConfig { mode } => check_config(mode),
        Command::Healthcheck { url, timeout_ms } => {
            match healthcheck::target(url, std::env::var("RESETGATE_OPS_LISTEN").ok()) {
                Ok(url) => Ok(healthcheck::run(&url, std::time::Duration::from_millis(timeout_ms)).await),
                Err(e) => Err(e.into()),
            }
        }
        Command::CreateAccount {
            email,
            password_stdin,
            password_hash,
            hash_is_peppered,
            mfa,
        } => {
            create_account(
                &email,
                password_stdin,
                password_hash.as_deref(),
                hash_is_peppered,
                mfa,
            )
            .await
        }
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

async fn run_until_drained(config: Config, store: Arc<dyn Store>) -> anyhow::Result<ExitCode> {
    let mailer = app::mailer_from_config(&config)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let running = app::start(Parts {
        config,
        store,
        mailer,
        clock,
    })
    .await?;
    println!("resetgate listening on http://{}", running.addr);
    println!("resetgate ops (metrics, probes) on http://{}", running.ops_addr);
    if let Some(admin) = running.admin_addr {
        println!("resetgate admin API on http://{admin}");
    }
    shutdown::cancel_on_signal(running.shutdown.clone());
    // Migrations ran in store_from_config and every listener is bound: only now may systemd send
    // traffic or start dependants.
    notify::ready(&format!("listening on {}", running.addr));
    let token = running.shutdown.clone();
    tokio::spawn(async move {
        token.cancelled().await;
        notify::stopping();
    });
    let drained = running.wait().await?;
    tracing::info!(drained, "stopped");
    Ok(ExitCode::SUCCESS)
}

async fn serve() -> anyhow::Result<ExitCode> {
    let config = load(Mode::Serve)?;
    if config.mail.transport == MailTransport::Log {
        tracing::warn!("RESETGATE_MAIL_TRANSPORT=log: reset links are printed to stdout, not emailed");
    }
    tracing::info!(entries = blocklist::len(), params = %config.hash, "password policy loaded");
    let store = app::store_from_config(&config).await?;
    run_until_drained(config, store).await
}

const DEMO_BANNER: &str = "\
################################################################################
##  resetgate DEMO MODE: in-memory store, random pepper, mail printed here.   ##
##  NOTHING IS DURABLE: every account, token and session is lost on exit.     ##
##  For production run `resetgate serve` with RESETGATE_DATABASE_URL set.     ##
################################################################################";

async fn demo(seed_email: &str, seed_password: Option<&str>) -> anyhow::Result<ExitCode> {
    let config = load(Mode::Demo)?;
    eprintln!("{DEMO_BANNER}");
    tracing::warn!("demo mode: in-memory store, nothing is durable");
    let store = Arc::new(MemoryStore::new());
    let email = EmailAddress::parse(seed_email)
        .map_err(|_| anyhow::anyhow!("--seed-email {seed_email:?} is not an email address"))?;
    let password_hash = match seed_password {
        Some(raw) => Some(operator_hash(&config, raw, &email, false).await?),
        None => None,
    };
    let has_password = password_hash.is_some();
    store
        .create_account(
            NewAccount {
                email: email.clone(),
                password_hash,
                password_peppered: true,
                mfa_enabled: false,
            },
            SystemClock.now(),
        )
        .await?;
    if has_password {
        println!("resetgate demo: seeded account {email} with the given password");
    } else {
        println!("resetgate demo: seeded account {email} (no password yet: reset it)");
    }
    run_until_drained(config, store).await
}

/// Hashes a password an operator supplied, after the same policy check users get.
async fn operator_hash(
    config: &Config,
    raw: &str,
    email: &EmailAddress,
    mfa: bool,
) -> anyhow::Result<PhcString> {
    let password = config
        .policy
        .parse(raw, email, mfa)
        .map_err(|v| anyhow::anyhow!("password refused ({}): {v}", v.code()))?;
    let pool = PoolConfig {
        workers: 1,
        ..config.pool()
    };
    let hasher = Hasher::start(
        config.pepper.clone(),
        pool,
        HashMode::Pool,
        Arc::new(Metrics::new()),
    )?;
    Ok(hasher.hash(password).await?)
}

fn calibrate(seconds: u64) -> anyhow::Result<ExitCode> {
    let config = load(Mode::Demo)?;
    let workers = config.hash_workers;
    println!(
        "measuring {} on {workers} thread(s) for {seconds} s ...",
        config.hash
    );
    let c = crate::calibrate::measure(config.hash, workers, std::time::Duration::from_secs(seconds))?;
    println!(
        "hash time (one core):        {:.1} ms",
        c.hash_time.as_secs_f64() * 1e3
    );
    println!(
        "capacity C ({workers} workers):       {:.1} hashes/s",
        c.hashes_per_sec
    );
    #[allow(clippy::cast_precision_loss)]
    let per_core = c.hashes_per_sec / workers as f64;
    println!("per worker:                  {per_core:.1} hashes/s");
    println!(
        "hashing memory (W x m_cost): {} MiB",
        workers as u64 * u64::from(config.hash.m_kib) / 1024
    );
    println!();
    println!("suggested settings:");
    println!(
        "RESETGATE_HASH_WORKERS={}",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    println!(
        "RESETGATE_HASH_QUEUE_BUDGET_MS={}",
        c.suggested_queue_budget().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

async fn migrate_cmd() -> anyhow::Result<ExitCode> {
    let config = load(Mode::Migrate)?;
    let store = app::postgres_from_config(&config, false).await?;
    let n = migrate::run(store.pool()).await.context("applying migrations")?;
    println!("applied {n} migration(s); schema is up to date");
    Ok(ExitCode::SUCCESS)
}

fn admin_token() -> ExitCode {
    let token = crate::reset::token::BearerToken::generate();
    let digest = token
        .digest()
        .as_bytes()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        });
    println!("admin token (for operators; shown once): {}", token.expose());
    println!("RESETGATE_ADMIN_TOKEN_SHA256={digest}");
    ExitCode::SUCCESS
}

fn check_config(mode: CheckMode) -> anyhow::Result<ExitCode> {
    let config = load(match mode {
        CheckMode::Serve => Mode::Serve,
        CheckMode::Demo => Mode::Demo,
    })?;
    // A closed pipe (`check-config | head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(config.to_string().as_bytes());
    Ok(ExitCode::SUCCESS)
}

async fn create_account(
    email: &str,
    password_stdin: bool,
    password_hash: Option<&str>,
    hash_is_peppered: bool,
    mfa: bool,
) -> anyhow::Result<ExitCode> {
    let config = load(Mode::Admin)?;
    let email =
        EmailAddress::parse(email).map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
    // A password we hash is peppered; an imported hash came from a system without our pepper
    // (unless the operator says otherwise) and is upgraded at the account's next login.
    let peppered = password_stdin || hash_is_peppered;
    let hash = match (password_stdin, password_hash) {
        (true, _) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            Some(operator_hash(&config, line.trim_end_matches(['\n', '\r']), &email, mfa).await?)
        }
        (false, Some(phc)) => {
            Some(PhcString::parse(phc).map_err(|e| anyhow::anyhow!("--password-hash: {e}"))?)
        }
        (false, None) => None,
    };
    let store = app::postgres_from_config(
        &config,
        config.database.as_ref().is_some_and(|d| d.migrate_on_start),
    )
    .await?;
    match store
        .create_account(
            NewAccount {
                email: email.clone(),
                password_hash: hash,
                password_peppered: peppered,
                mfa_enabled: mfa,
            },
            SystemClock.now(),
        )
        .await
    {
        Ok(id) => {
            println!("created account {id} for {email}");
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::AccountExists) => bail!("an account for {email} already exists"),
        Err(e) => Err(e.into()),
    }
}
