//! `resetgate serve`: the gateway on PostgreSQL (production), and the start-and-drain sequence it
//! shares with `demo`.

use std::process::ExitCode;
use std::sync::Arc;

use super::load;
use crate::app::{self, Parts};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, MailTransport, Mode};
use crate::hashing::hasher::{self, MakeEngine};
use crate::reset::blocklist;
use crate::sd_notify;
use crate::shutdown;
use crate::storage::store::Store;

pub(super) async fn run() -> anyhow::Result<ExitCode> {
    let config = load(Mode::Serve)?;
    if config.mail.transport == MailTransport::Log {
        tracing::warn!("RESETGATE_MAIL_TRANSPORT=log: reset links are printed to stdout, not emailed");
    }
    tracing::info!(entries = blocklist::len(), params = %config.hash, "password policy loaded");
    let store = app::store_from_config(&config).await?;
    run_until_drained(config, store, hasher::pool_engine).await
}

/// Starts the gateway on `store`, hashing on the engine `engine` builds, announces it (stdout and
/// systemd), and returns once a shutdown signal has drained it.
pub(super) async fn run_until_drained(
    config: Config,
    store: Arc<dyn Store>,
    engine: MakeEngine,
) -> anyhow::Result<ExitCode> {
    let mailer = app::mailer_from_config(&config)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let running = app::start_with_engine(
        Parts {
            config,
            store,
            mailer,
            clock,
        },
        engine,
    )
    .await?;
    println!("resetgate listening on http://{}", running.addr);
    println!("resetgate ops (metrics, probes) on http://{}", running.ops_addr);
    if let Some(admin) = running.admin_addr {
        println!("resetgate admin API on http://{admin}");
    }
    shutdown::cancel_on_signal(running.shutdown.clone());
    // Migrations ran in store_from_config and every listener is bound: only now may systemd send
    // traffic or start dependants.
    sd_notify::ready(&format!("listening on {}", running.addr));
    let token = running.shutdown.clone();
    tokio::spawn(async move {
        token.cancelled().await;
        sd_notify::stopping();
    });
    let drained = running.wait().await?;
    tracing::info!(drained, "stopped");
    Ok(ExitCode::SUCCESS)
}
