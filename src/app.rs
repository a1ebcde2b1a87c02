//! Wires the parts together: store, hasher, mailer, dispatcher, HTTP stack and server. Tests use
//! [`start`] directly with their own store, clock and mailer; the CLI builds those from config.

use crate::waiting::room::WaitingRoom;
use crate::waiting::ticket::TicketKeys;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admission::rate_limit::{self, RateLimits};
use crate::campaign::runner::Runner;
use crate::clock::Clock;
use crate::config::{Config, MailTransport};
use crate::hashing::hasher::{self, Hasher, MakeEngine};
use crate::hashing::pepper::Peppers;
use crate::http::readiness::Readiness;
use crate::http::router::Listener;
use crate::http::server::Server;
use crate::http::stack;
use crate::http::state::AppState;
use crate::mail::outbox::Dispatcher;
use crate::mail::seal::Sealer;
use crate::mail::smtp::SmtpMailer;
use crate::mail::templates::Templates;
use crate::mail::transport::{FileMailer, LogMailer, MailError, Mailer};
use crate::metrics::Metrics;
use crate::mfa::totp::Issuer;
use crate::reset::factor::FactorService;
use crate::reset::service::ResetService;
use crate::reset::token::TokenDigest;
use crate::storage::factors::AttemptLimit;
use crate::storage::memory::MemoryStore;
use crate::storage::postgres::PostgresStore;
use crate::storage::store::Store;
use crate::storage::{janitor, migrate};

pub struct Parts {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
}

/// A running gateway.
pub struct Running {
    pub addr: SocketAddr,
    /// The ops listener: /metrics, /livez, /readyz.
    pub ops_addr: SocketAddr,
    /// The admin listener, when an admin token is configured.
    pub admin_addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    server: JoinHandle<bool>,
    ops_server: JoinHandle<bool>,
    admin_server: Option<JoinHandle<bool>>,
    dispatcher: JoinHandle<()>,
}

impl Running {
    /// Waits for shutdown and drain; `true` when every in-flight request finished in time.
    ///
    /// # Errors
    /// When a task panicked.
    pub async fn wait(self) -> anyhow::Result<bool> {
        let drained = self.server.await.context("server task panicked")?;
        self.ops_server.await.context("ops server task panicked")?;
        if let Some(admin) = self.admin_server {
            admin.await.context("admin server task panicked")?;
        }
        self.dispatcher.await.context("dispatcher task panicked")?;
        Ok(drained)
    }
}

/// The mailer named by config.
///
/// # Errors
/// When the SMTP transport cannot be built (e.g. its CA file holds no usable certificate).
pub fn mailer_from_config(config: &Config) -> Result<Arc<dyn Mailer>, MailError> {
    Ok(match &config.mail.transport {
        MailTransport::Log => Arc::new(LogMailer),
        MailTransport::File(path) => Arc::new(FileMailer::new(PathBuf::from(path), config.mail.from.clone())),
        MailTransport::Smtp(smtp) => Arc::new(SmtpMailer::new(smtp, &config.mail.from)?),
    })
}

/// Connects to PostgreSQL and applies migrations when configured.
///
/// # Errors
/// When the URL is bad or migrations fail.
pub async fn postgres_from_config(config: &Config, migrate_now: bool) -> anyhow::Result<PostgresStore> {
    let db = config.database.as_ref().context("no database configured")?;
    let store = PostgresStore::connect(
        db.url.expose(),
        &db.tls,
        db.pool_size,
        db.acquire_timeout,
        db.statement_timeout,
    )?;
    if migrate_now {
        let n = migrate::run(store.pool()).await.context("applying migrations")?;
        tracing::info!(applied = n, "database schema is up to date");
    }
    Ok(store)
}

/// The store named by config: PostgreSQL when a database is configured, else in-memory.
///
/// # Errors
/// When PostgreSQL cannot be set up.
pub async fn store_from_config(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match &config.database {
        Some(db) => Ok(Arc::new(postgres_from_config(config, db.migrate_on_start).await?)),
        None => Ok(Arc::new(MemoryStore::new())),
    }
}

/// Binds and serves the ops or the admin listener (observed, never rate limited).
async fn spawn_internal(
    config: &Config,
    state: &Arc<AppState>,
    at: SocketAddr,
    listener: Listener,
) -> anyhow::Result<(SocketAddr, JoinHandle<bool>)> {
    let var = match listener {
        Listener::Admin => "RESETGATE_ADMIN_LISTEN",
        _ => "RESETGATE_OPS_LISTEN",
    };
    let bound = TcpListener::bind(at)
        .await
        .with_context(|| format!("binding {at} ({var})"))?;
    let addr = bound.local_addr()?;
    let server = Server {
        listener: bound,
        service: stack::build_internal(Arc::clone(state), listener),
        shutdown: state.shutdown.clone(),
        shutdown_delay: config.shutdown_delay,
        drain_timeout: config.drain_timeout,
    };
    Ok((addr, tokio::spawn(server.run())))
}

/// Binds the listener and starts the server and the mail dispatcher.
///
/// # Errors
/// When the address cannot be bound or the hasher cannot be built.
pub async fn start(parts: Parts) -> anyhow::Result<Running> {
    start_with_engine(parts, hasher::pool_engine).await
}

/// As [`start`], hashing on the engine `engine` builds. The product always passes the pool; the
/// seam exists so tools/bench can run this very gateway on its naive baseline.
///
/// # Errors
/// As [`start`].
#[allow(
    clippy::too_many_lines,
    reason = "the wiring reads top to bottom in start-up order; split, the order would be hidden"
)]
pub async fn start_with_engine(parts: Parts, engine: MakeEngine) -> anyhow::Result<Running> {
    let Parts {
        config,
        store,
        mailer,
        clock,
    } = parts;
    let metrics = Arc::new(Metrics::new());
    let peppers = Peppers::new(config.pepper.clone(), config.retired_peppers.clone());
    let hasher = Hasher::start_with(peppers, config.pool(), Arc::clone(&metrics), engine)
        .context("building the hasher")?;
    let sealer = Sealer::with_retired(&config.pepper, &config.retired_peppers);
    let ttl_minutes = i64::try_from(config.token_ttl.as_secs() / 60).unwrap_or(i64::MAX);
    let templates = Templates::new(
        config.public_base_url.clone(),
        ttl_minutes,
        config.site.brand.clone(),
        config.site.default_locale,
    );
    let shutdown = CancellationToken::new();

    let factors = FactorService {
        store: Arc::clone(&store).factors(),
        sealer: sealer.clone(),
        clock: Arc::clone(&clock),
        issuer: issuer_for(&config.public_base_url),
        limit: AttemptLimit::DEFAULT,
        metrics: Arc::clone(&metrics),
    };
    let waiting = WaitingRoom::new(
        TicketKeys::with_retired(&config.pepper, &config.retired_peppers),
        config.waiting,
        Arc::clone(&clock),
        Arc::clone(&metrics),
        hasher.pool().cloned(),
    );
    let service = ResetService {
        store: Arc::clone(&store),
        factors,
        hasher,
        sealer: sealer.clone(),
        clock: Arc::clone(&clock),
        policy: config.policy,
        token_ttl: config.token_ttl,
        sessions: config.sessions,
        login_throttle: config.login_throttle,
        reset_floor: config.reset_floor,
        reset_cooldown: config.reset_cooldown,
        reset_backlog_per_network: config.reset_backlog_per_network,
        email_limit_per_hour: config
            .rate_limits
            .enabled
            .then_some(config.rate_limits.email_per_hour),
        metrics: Arc::clone(&metrics),
    };
    let limits = Arc::new(RateLimits::new(&config.rate_limits, Arc::clone(&metrics)));
    tokio::spawn(rate_limit::cleanup_task(
        Arc::clone(&limits),
        rate_limit::CLEANUP_INTERVAL,
        shutdown.clone(),
    ));
    let campaigns = Arc::clone(&store).campaigns();
    let state = Arc::new(AppState {
        service: Arc::new(service),
        metrics: Arc::clone(&metrics),
        limits,
        readiness: Readiness::default(),
        body_limit: config.body_limit,
        shutdown: shutdown.clone(),
        campaigns: campaigns.clone(),
        admin_token: config.admin.token_sha256.map(TokenDigest::from_bytes),
        public_base_url: config.public_base_url.clone(),
        site: Arc::new(config.site.clone()),
        waiting,
    });

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (ops_addr, ops_server) = spawn_internal(&config, &state, config.ops_listen, Listener::Ops).await?;
    let (admin_addr, admin_server) = if config.admin.token_sha256.is_some() {
        let (addr, server) = spawn_internal(&config, &state, config.admin.listen, Listener::Admin).await?;
        (Some(addr), Some(server))
    } else {
        tracing::info!("admin API off: set RESETGATE_ADMIN_TOKEN_SHA256 to enable it");
        (None, None)
    };
    metrics.mail_send_budget.set(config.dispatch.pacing.rate);
    if let Some(campaigns) = campaigns {
        let runner = Runner {
            campaigns,
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            metrics: Arc::clone(&metrics),
            config: config.campaign,
        };
        tokio::spawn(runner.run(shutdown.clone()));
    }

    let (janitor_store, janitor_clock) = (Arc::clone(&store), Arc::clone(&clock));
    let dispatcher = Dispatcher {
        store,
        mailer,
        sealer,
        templates,
        clock,
        metrics: Arc::clone(&metrics),
        poll_interval: config.mail.poll_interval,
        max_attempts: config.dispatch.max_attempts,
        pacing: config.dispatch.pacing.clone(),
        concurrency: config.dispatch.concurrency,
        retry_base: config.dispatch.retry_base,
        lease: config.dispatch.lease,
        reset_link_ttl: config.token_ttl,
    };
    let dispatcher = tokio::spawn(dispatcher.run(shutdown.clone()));
    tokio::spawn(janitor::run(
        Arc::clone(&janitor_store),
        Arc::clone(&janitor_clock),
        shutdown.clone(),
    ));

    let server = Server {
        listener,
        service: stack::build(state, config.request_timeout, config.max_in_flight),
        shutdown: shutdown.clone(),
        shutdown_delay: config.shutdown_delay,
        drain_timeout: config.drain_timeout,
    };
    let server = tokio::spawn(server.run());
    tracing::info!(%addr, %ops_addr, ?admin_addr, "listening");
    Ok(Running {
        addr,
        ops_addr,
        admin_addr,
        shutdown,
        server,
        ops_server,
        admin_server,
        dispatcher,
    })
}

/// The name authenticator apps show next to the code: the public site's host (the branding
/// issue's product name will take its place). A host never holds ':' (ports are not part of
/// `host_str`), so it always parses; "resetgate" covers a base URL without a host.
fn issuer_for(base: &url::Url) -> Issuer {
    base.host_str()
        .and_then(|h| Issuer::parse(h).ok())
        .or_else(|| Issuer::parse("resetgate").ok())
        .unwrap_or_else(|| unreachable!("\"resetgate\" is a valid issuer"))
}
