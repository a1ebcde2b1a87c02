//! `resetgate-bench campaign-bench`: the breach-day run on this machine. Seeds N accounts (each with a
//! session) in a fresh PostgreSQL database, starts a gateway in process with SMTP to a local sink,
//! runs one campaign (all accounts, revoke sessions, notify) to completion, and reports the
//! marking time, the send rate against the configured budget over every one-minute window, and
//! duplicates. Writes docs/perf-campaign.md (and that section of docs/perf.md).

mod report;
mod sink;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use tokio_postgres::NoTls;

use resetgate::app::{self, Parts};
use resetgate::campaign::model::{NewCampaign, Phase, Reason, Scope};
use resetgate::clock::{Clock, SystemClock};
use resetgate::config::{Config, Mode};
use resetgate::storage::campaigns::CampaignStore as _;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Accounts (each with one live session) to seed and force to reset.
    #[arg(long, default_value_t = 1_000_000)]
    accounts: i64,
    /// The global send budget, messages per second. The default is what this 2-core machine
    /// sustains with room to spare (the whole pipeline, database and sink included, peaks near
    /// 500/s here): the run measures pacing accuracy, not the machine's ceiling.
    #[arg(long, default_value_t = 400.0)]
    rate: f64,
    /// PostgreSQL server to create the bench database on (default: $DATABASE_URL or the local one).
    #[arg(long)]
    database_url: Option<String>,
    /// SMTP connections and sends in flight. lettre writes the end-of-data marker as its own small
    /// segment, which Nagle's algorithm holds until the relay's delayed ACK (~40 ms), so one
    /// connection carries ~20-25 messages/s; the budget needs budget/20 connections.
    #[arg(long, default_value_t = 48)]
    connections: usize,
    /// Stop waiting for the campaign after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout_secs: u64,
    /// The report; docs/perf.md gets the same section.
    #[arg(long, default_value = "docs/perf-campaign.md")]
    out: PathBuf,
}

/// What one run measured, for the report.
struct Figures {
    pg_version: String,
    accounts: i64,
    rate: f64,
    seed: Duration,
    marking: Duration,
    sessions_left: i64,
    completed: Duration,
    received: usize,
    distinct: usize,
    duplicates: usize,
    /// (window start s, messages in the window) for each full 60 s window in steady state.
    minute_ratios: Vec<f64>,
    overall_ratio: f64,
    window_secs: u64,
}

fn admin_url(arg: Option<String>) -> String {
    arg.or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(conn);
    Ok(client)
}

/// # Errors
/// When PostgreSQL is unreachable, the campaign does not finish in time, or a file cannot be written.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let admin = admin_url(args.database_url.clone());
    let name = format!("resetgate_campaign_bench_{}", std::process::id());
    let server = connect(&admin).await?;
    server
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let mut url = url::Url::parse(&admin)?;
    url.set_path(&name);
    let result = bench(&args, url.as_str()).await;
    // The database is a million rows of nothing: drop it whatever happened.
    let _ = server
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    let figures = result?;
    let md = report::markdown(&figures, &args);
    std::fs::write(&args.out, &md).with_context(|| format!("writing {}", args.out.display()))?;
    report::splice_into_perf(&args.out, &md)?;
    println!("{md}");
    Ok(ExitCode::SUCCESS)
}

#[allow(
    clippy::too_many_lines,
    reason = "the benchmark's steps in the order they run: seed, start, watch, verify"
)]
async fn bench(args: &Args, db_url: &str) -> anyhow::Result<Figures> {
    let sink = sink::Sink::start().await?;
    let vars: HashMap<String, String> = [
        ("RESETGATE_DATABASE_URL", db_url.to_owned()),
        (
            "RESETGATE_PEPPER",
            "campaign-bench-pepper-0123456789abcdef0123456789".to_owned(),
        ),
        (
            "RESETGATE_PUBLIC_BASE_URL",
            "https://bench.example.test/".to_owned(),
        ),
        ("RESETGATE_LISTEN", "127.0.0.1:0".to_owned()),
        ("RESETGATE_OPS_LISTEN", "127.0.0.1:0".to_owned()),
        ("RESETGATE_MAIL_TRANSPORT", "smtp".to_owned()),
        ("RESETGATE_SMTP_HOST", "127.0.0.1".to_owned()),
        ("RESETGATE_SMTP_PORT", sink.port.to_string()),
        ("RESETGATE_SMTP_TLS", "none".to_owned()),
        ("RESETGATE_SMTP_POOL_SIZE", args.connections.to_string()),
        ("RESETGATE_MAIL_CONCURRENCY", args.connections.to_string()),
        ("RESETGATE_MAIL_RATE_PER_SEC", args.rate.to_string()),
        ("RESETGATE_DB_POOL_SIZE", "16".to_owned()),
        ("RESETGATE_CAMPAIGN_POLL_MS", "100".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_lookup(Mode::Serve, &move |k| vars.get(k).cloned())?;
    let store = app::postgres_from_config(&config, true).await?;
    let db = connect(db_url).await?;
    let version: String = db.query_one("SHOW server_version", &[]).await?.get(0);
    let autovacuum: String = db.query_one("SHOW autovacuum", &[]).await?.get(0);
    // A campaign turns over every outbox row three times; production servers vacuum them away
    // (migration 0003 tunes the outbox for it). A server with autovacuum off (this workplace's
    // test server) would let dead index entries pile up under every claim, which measures the
    // server's configuration, not the gateway: the bench then vacuums the outbox itself, as
    // autovacuum would, and the report says so.
    let vacuum = (autovacuum == "off").then(|| {
        let url = db_url.to_owned();
        tokio::spawn(async move {
            let Ok(db) = connect(&url).await else { return };
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let _ = db.batch_execute("VACUUM outbox").await;
            }
        })
    });
    let pg_version = if vacuum.is_some() {
        format!(
            "{version} (autovacuum off on this server: the bench runs VACUUM outbox every 60 s in its place)"
        )
    } else {
        format!("{version} (autovacuum on)")
    };

    println!("seeding {} accounts, each with a live session ...", args.accounts);
    let started = Instant::now();
    db.execute(
        "INSERT INTO accounts (email, created_at, updated_at)
         SELECT 'user' || g || '@mail' || (g % 20) || '.bench.test', now(), now() FROM generate_series(1, $1::bigint) g",
        &[&args.accounts],
    )
    .await?;
    db.execute(
        "INSERT INTO sessions (token_hash, account_id, epoch, created_at, expires_at, idle_expires_at)
         SELECT sha256(g::text::bytea), g, 0, now(), now() + interval '1 day', now() + interval '30 minutes'
         FROM generate_series(1, $1::bigint) g",
        &[&args.accounts],
    )
    .await?;
    db.batch_execute("VACUUM ANALYZE").await?;
    let seed = started.elapsed();
    println!("seeded in {:.1} s", seed.as_secs_f64());

    let store = Arc::new(store);
    let running = app::start(Parts {
        config: config.clone(),
        store: Arc::clone(&store) as _,
        mailer: app::mailer_from_config(&config)?,
        clock: Arc::new(SystemClock) as Arc<dyn Clock>,
    })
    .await?;
    let created = store
        .create_campaign(
            &NewCampaign {
                scope: Scope::All,
                revoke_sessions: true,
                notify: true,
                require_two_step: false,
                reason: Reason::parse("campaign-bench")?,
            },
            Utc::now(),
        )
        .await?;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(args.timeout_secs);
    let mut marking = None;
    let mut sessions_left = -1;
    let completed = loop {
        // Every 5 s, like a dashboard: progress reads cost the database something too.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let p = store
            .campaign(created.id, Utc::now())
            .await?
            .context("campaign vanished")?;
        if marking.is_none() {
            if let Some(at) = p.marked_at {
                let took = (at - p.created_at).to_std().unwrap_or_default();
                marking = Some(took);
                sessions_left = db.query_one("SELECT count(*) FROM sessions", &[]).await?.get(0);
                println!(
                    "marked {} accounts in {:.2} s; sessions left: {sessions_left}",
                    p.marked,
                    took.as_secs_f64()
                );
            }
        }
        println!(
            "t={:>5.0} s phase={:?} marked={} notified={} sent={} pending={} failed={} rate={:.0}/s eta={:?}",
            t0.elapsed().as_secs_f64(),
            p.phase,
            p.marked,
            p.notified,
            p.emails.sent,
            p.emails.pending,
            p.emails.failed,
            p.send_rate_per_sec,
            p.eta_seconds
        );
        if p.phase == Phase::Completed {
            break t0.elapsed();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "campaign did not complete in {} s",
            args.timeout_secs
        );
    };
    running.shutdown.cancel();
    let _ = running.wait().await;
    if let Some(v) = vacuum {
        v.abort();
    }

    let received = sink.received.lock();
    let (minute_ratios, overall_ratio, window_secs) = rates(&received.at_ms, args.rate);
    Ok(Figures {
        pg_version,
        accounts: args.accounts,
        rate: args.rate,
        seed,
        marking: marking.unwrap_or_default(),
        sessions_left,
        completed,
        received: received.at_ms.len(),
        distinct: received.ids.len(),
        duplicates: received
            .ids
            .values()
            .map(|n| (*n as usize).saturating_sub(1))
            .sum(),
        minute_ratios,
        overall_ratio,
        window_secs,
    })
}

/// Per-second counts from arrival times; then every full 60 s window inside the steady state
/// (from 5 s after the first message to 5 s before the last: the ramp-up and the tail are not
/// the budget's doing) as a ratio to the budget, plus the ratio over the whole steady span.
fn rates(at_ms: &[u32], budget: f64) -> (Vec<f64>, f64, u64) {
    let (Some(first), Some(last)) = (at_ms.iter().min(), at_ms.iter().max()) else {
        return (Vec::new(), 0.0, 0);
    };
    let (start, end) = (first / 1000 + 5, (last / 1000).saturating_sub(5));
    if end <= start {
        return (Vec::new(), 0.0, 0);
    }
    let mut per_sec = vec![0u64; (end - start) as usize];
    for &ms in at_ms {
        let s = ms / 1000;
        if s >= start && s < end {
            per_sec[(s - start) as usize] += 1;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let ratio = |n: u64, secs: usize| n as f64 / secs as f64 / budget;
    let minutes = per_sec.windows(60).map(|w| ratio(w.iter().sum(), 60)).collect();
    (
        minutes,
        ratio(per_sec.iter().sum(), per_sec.len()),
        u64::from(end - start),
    )
}

#[cfg(test)]
mod tests {
    use super::rates;

    #[test]
    fn steady_windows_ignore_ramp_and_tail() {
        // 100/s for 80 s, with a slow first and last second.
        let mut at = Vec::new();
        for s in 0..80u32 {
            let n = if s == 0 || s == 79 { 10 } else { 100 };
            for i in 0..n {
                at.push(s * 1000 + i * (1000 / n));
            }
        }
        let (minutes, overall, secs) = rates(&at, 100.0);
        assert_eq!(secs, 69);
        assert_eq!(minutes.len(), 10);
        assert!(minutes.iter().all(|r| (r - 1.0).abs() < 1e-9));
        assert!((overall - 1.0).abs() < 1e-9);
    }
}
