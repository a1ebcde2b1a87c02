//! Every Prometheus metric the gateway exports, declared once in the table below: each entry's doc
//! comment is its HELP text, and the entry gives its name, labels (with their values when the set
//! is fixed), buckets and which series exist from start-up. The table drives registration (see
//! `family.rs`) and docs/metrics.md (see `docs.rs`). Labels come from fixed sets (route names,
//! lanes, outcomes, limiter names) or bounded ones (recent campaign ids, error codes), never from
//! user input, so cardinality is bounded.
//!
//! This module sits at the bottom of the crate: it imports nothing from it but the stable error
//! codes it seeds.

// Only the stale-docs test renders docs/metrics.md: the shipped binary needs no Markdown.
#[cfg(test)]
mod docs;
mod family;

pub use family::{Family, Kind, Label, Seed};

use crate::error_code::ErrorCode;
use prometheus::{
    Encoder as _, Gauge, GaugeVec, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry,
    TextEncoder,
};

/// 1 s to an hour: the waits of a waiting room, from "at once" to a long breach-day line.
const WAIT_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// 1 ms to 2 s: from a shed request to a slow hash under load.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0];

/// The `route` label's values: one per entry of `http::router::ROUTES` (its test holds the two
/// equal), and `unmatched` for anything else.
pub const ROUTE_LABELS: &[&str] = &[
    "reset_request",
    "reset_confirm",
    "login",
    "login_mfa",
    "session",
    "mfa",
    "forgot",
    "reset_page",
    "sign_in",
    "two_step",
    "assets",
    "livez",
    "readyz",
    "metrics",
    "openapi",
    "admin",
    "unmatched",
];
const ROUTE: Label = Label::fixed("route", ROUTE_LABELS);
const STATUS_CLASS: Label = Label::fixed("status_class", &["1xx", "2xx", "3xx", "4xx", "5xx"]);
/// Every stable error code, so the label's values are a fixed, documented set.
const ERROR_CODES: [&str; ErrorCode::ALL.len()] = {
    let mut codes = [""; ErrorCode::ALL.len()];
    let mut i = 0;
    while i < codes.len() {
        codes[i] = ErrorCode::ALL[i].as_str();
        i += 1;
    }
    codes
};
const ERROR_CODE: Label = Label::fixed("code", &ERROR_CODES);
const LANE: Label = Label::fixed("lane", &["confirm", "login", "background"]);
const HASH_OUTCOME: Label = Label::fixed(
    "outcome",
    &["completed", "failed", "shed", "displaced", "expired", "abandoned"],
);
const LIMITER: Label = Label::fixed("limiter", &["global", "ip", "network", "email", "account"]);
/// The limiters that keep per-key state (the per-email limit counts rows in the database).
const KEYED_LIMITER: Label = Label::fixed("limiter", &["ip", "network"]);
const MFA_OUTCOME: Label = Label::fixed("outcome", &["ok", "wrong", "replayed", "locked"]);
const RESET_OUTCOME: Label = Label::fixed(
    "outcome",
    &["issued", "cooldown", "network_backlog_full", "unknown_account"],
);
const MAIL_KIND: Label = Label::fixed(
    "kind",
    &[
        "password_reset",
        "password_changed",
        "campaign_notice",
        "mfa_enabled",
        "mfa_removed",
        "recovery_code_used",
    ],
);
const DELIVERY_OUTCOME: Label = Label::fixed("outcome", &["retry", "dead", "expired"]);
const OUTBOX_STATUS: Label = Label::fixed("status", &["pending", "held", "dead"]);
const CAMPAIGN: Label = Label::bounded("campaign", "a campaign id, for the 20 most recent campaigns");
const CAMPAIGN_STAGE: Label = Label::fixed("stage", &["total", "marked", "notified"]);
const CAMPAIGN_EMAIL_STATUS: Label = Label::fixed("status", &["sent", "failed", "pending", "cancelled"]);
const CAMPAIGN_PHASE: Label = Label::fixed(
    "phase",
    &["marking", "notifying", "completed", "paused", "cancelled"],
);

/// The codes alerts and the dashboard divide by: shedding, and failures of our own. They exist
/// from start-up so that those ratios read 0, not "no data".
const SEEDED_ERROR_CODES: [&str; 6] = {
    let [a, b, c] = ErrorCode::SHED;
    [
        a.as_str(),
        b.as_str(),
        c.as_str(),
        ErrorCode::InternalError.as_str(),
        ErrorCode::ServiceUnavailable.as_str(),
        ErrorCode::RateLimited.as_str(),
    ]
};

family::declare_metrics! {
    /// HTTP requests by route and status class, shed and timed-out ones included (the layer that
    /// counts them is the outermost).
    http_requests: IntCounterVec {
        name: "resetgate_http_requests_total",
        labels: &[ROUTE, STATUS_CLASS],
    }
    /// Error responses by their stable error code: tells shedding (hashing_overloaded, overloaded,
    /// timeout) from failing (internal_error, service_unavailable).
    http_errors: IntCounterVec {
        name: "resetgate_http_errors_total",
        labels: &[ERROR_CODE],
        seed: Seed::Only(&SEEDED_ERROR_CODES),
    }
    /// HTTP request latency in seconds, by route.
    http_duration: HistogramVec {
        name: "resetgate_http_request_duration_seconds",
        labels: &[ROUTE],
        buckets: LATENCY_BUCKETS,
    }
    /// Hashing jobs waiting in the queue, by lane.
    hash_queue_depth: IntGaugeVec {
        name: "resetgate_hash_queue_depth",
        labels: &[LANE],
        seed: Seed::All,
    }
    /// Hashing jobs running on a worker.
    hash_in_flight: IntGauge {
        name: "resetgate_hash_in_flight",
    }
    /// Hashing worker threads (W).
    hash_workers: IntGauge {
        name: "resetgate_hash_workers",
    }
    /// The configured queue budget in seconds (RESETGATE_HASH_QUEUE_BUDGET_MS): the most a confirm
    /// job may be expected to wait before it is refused. Alerts compare queue wait against it.
    hash_queue_budget: Gauge {
        name: "resetgate_hash_queue_budget_seconds",
    }
    /// Estimated hashing capacity in hashes per second (W / measured hash time).
    hash_capacity: Gauge {
        name: "resetgate_hash_capacity_per_second",
    }
    /// Time hashing jobs spent queued before a worker took them, in seconds, by lane.
    hash_queue_wait: HistogramVec {
        name: "resetgate_hash_queue_wait_seconds",
        labels: &[LANE],
        buckets: LATENCY_BUCKETS,
        seed: Seed::All,
    }
    /// Argon2 computation time in seconds, by lane.
    hash_duration: HistogramVec {
        name: "resetgate_hash_duration_seconds",
        labels: &[LANE],
        buckets: LATENCY_BUCKETS,
        seed: Seed::All,
    }
    /// Hashing jobs by lane and outcome: completed, failed (e.g. a corrupt stored hash), shed
    /// (refused at admission), displaced (queued, then shed to make room for a client who arrived
    /// earlier), expired (deadline passed in the queue), abandoned (client gone).
    hash_jobs: IntCounterVec {
        name: "resetgate_hash_jobs_total",
        labels: &[LANE, HASH_OUTCOME],
        seed: Seed::All,
    }
    /// Clients this replica has turned away and not yet served, by lane: the waiting room's line
    /// (see docs/waiting-room.md).
    waiting_clients: IntGaugeVec {
        name: "resetgate_waiting_clients",
        labels: &[LANE],
        seed: Seed::All,
    }
    /// How long ticket holders had been in line when they got their turn, in seconds, by lane.
    waiting_ticket_age: HistogramVec {
        name: "resetgate_waiting_ticket_age_seconds",
        labels: &[LANE],
        buckets: WAIT_BUCKETS,
        seed: Seed::All,
    }
    /// The Retry-After of shed answers, in seconds, by lane: how long the line is.
    waiting_retry_after: HistogramVec {
        name: "resetgate_waiting_retry_after_seconds",
        labels: &[LANE],
        buckets: WAIT_BUCKETS,
        seed: Seed::All,
    }
    /// Jobs taken newest-first because their lane was congested (adaptive LIFO engaged).
    hash_lifo_picks: IntCounter {
        name: "resetgate_hash_lifo_picks_total",
    }
    /// Requests refused by a rate limiter, by limiter.
    rate_limited: IntCounterVec {
        name: "resetgate_rate_limited_total",
        labels: &[LIMITER],
        seed: Seed::All,
    }
    /// Keys (client addresses) tracked by a keyed rate limiter, by limiter.
    rate_limiter_keys: IntGaugeVec {
        name: "resetgate_rate_limiter_keys",
        labels: &[KEYED_LIMITER],
        seed: Seed::All,
    }
    /// Database pool connections at most (RESETGATE_DB_POOL_SIZE).
    db_pool_max: IntGauge {
        name: "resetgate_db_pool_max",
    }
    /// Database pool connections, open.
    db_pool_size: IntGauge {
        name: "resetgate_db_pool_size",
    }
    /// Database pool connections, idle and ready.
    db_pool_available: IntGauge {
        name: "resetgate_db_pool_available",
    }
    /// Requests waiting for a database connection.
    db_pool_waiting: IntGauge {
        name: "resetgate_db_pool_waiting",
    }
    /// Reset requests by outcome: issued (known account, new link mailed), cooldown (known account
    /// asked again within the cooldown: no new link, no mail), network_backlog_full (the asking
    /// client network already has its cap of reset mails waiting: nothing queued) or
    /// unknown_account. Served only on the ops listener: from outside, all four answer alike.
    reset_requests: IntCounterVec {
        name: "resetgate_reset_requests_total",
        labels: &[RESET_OUTCOME],
        seed: Seed::All,
    }
    /// Confirmed password resets.
    resets_completed: IntCounter {
        name: "resetgate_resets_completed_total",
    }
    /// Second factors confirmed (enrolment finished with its first code).
    mfa_enrolments: IntCounter {
        name: "resetgate_mfa_enrolments_total",
    }
    /// Second-factor checks (TOTP codes and recovery codes) by outcome: ok, wrong, replayed (a
    /// code already accepted) or locked (refused by the attempt limit without being checked).
    mfa_verifications: IntCounterVec {
        name: "resetgate_mfa_verifications_total",
        labels: &[MFA_OUTCOME],
        seed: Seed::All,
    }
    /// Recovery codes used.
    mfa_recovery_codes_used: IntCounter {
        name: "resetgate_mfa_recovery_codes_used_total",
    }
    /// Emails delivered by the outbox dispatcher, by kind.
    outbox_sent: IntCounterVec {
        name: "resetgate_outbox_sent_total",
        labels: &[MAIL_KIND],
        seed: Seed::All,
    }
    /// Failed email deliveries by outcome: retry (will try again), dead (gave up) or expired (a reset
    /// mail whose link expired before it could be sent: dropped, never sent).
    outbox_failed: IntCounterVec {
        name: "resetgate_outbox_failed_total",
        labels: &[DELIVERY_OUTCOME],
        seed: Seed::All,
    }
    /// Outbox messages not yet delivered nor dead.
    outbox_backlog: IntGauge {
        name: "resetgate_outbox_backlog",
    }
    /// Outbox messages by status (held: of a paused campaign), across every replica, refreshed
    /// every 5 s.
    outbox_messages: IntGaugeVec {
        name: "resetgate_outbox_messages",
        labels: &[OUTBOX_STATUS],
        seed: Seed::All,
    }
    /// The configured global send budget in messages per second.
    mail_send_budget: Gauge {
        name: "resetgate_mail_send_budget_per_second",
    }
    /// Campaign accounts by stage, per campaign.
    campaign_accounts: IntGaugeVec {
        name: "resetgate_campaign_accounts",
        labels: &[CAMPAIGN, CAMPAIGN_STAGE],
    }
    /// Campaign emails by status, per campaign.
    campaign_emails: IntGaugeVec {
        name: "resetgate_campaign_emails",
        labels: &[CAMPAIGN, CAMPAIGN_EMAIL_STATUS],
    }
    /// Campaign emails sent per second over the last minute, per campaign.
    campaign_send_rate: GaugeVec {
        name: "resetgate_campaign_send_rate_per_second",
        labels: &[CAMPAIGN],
    }
    /// Seconds until a campaign's last email is sent at its current rate (0 when done or stalled).
    campaign_eta: IntGaugeVec {
        name: "resetgate_campaign_eta_seconds",
        labels: &[CAMPAIGN],
    }
    /// Campaigns by phase: 1 for the campaign's current phase, 0 for the others.
    campaign_phase: IntGaugeVec {
        name: "resetgate_campaign_phase",
        labels: &[CAMPAIGN, CAMPAIGN_PHASE],
    }
    /// Accounts marked must-reset by this replica's campaign runner.
    campaign_marked: IntCounter {
        name: "resetgate_campaign_accounts_marked_total",
    }
    /// Sessions revoked by this replica's campaign runner.
    campaign_sessions_revoked: IntCounter {
        name: "resetgate_campaign_sessions_revoked_total",
    }
    /// Reset requests whose work took longer than the equal-timing floor
    /// (RESETGATE_RESET_FLOOR_MS): timing may then reveal whether the account exists.
    timing_floor_exceeded: IntCounter {
        name: "resetgate_reset_timing_floor_exceeded_total",
    }
}

impl Metrics {
    /// # Panics
    /// Only if the declarations are invalid (two metrics sharing a name, labels on a scalar...),
    /// a programming error the unit tests below catch.
    #[must_use]
    pub fn new() -> Self {
        let m = Self::register(Registry::new()).expect("valid metric declarations");
        // The standard process_* series (CPU seconds, RSS, open fds, threads) that every
        // Prometheus dashboard expects; Linux only, which is where the gateway runs.
        #[cfg(target_os = "linux")]
        m.registry
            .register(Box::new(process_collector()))
            .expect("unique metric names");
        m
    }

    /// Prometheus text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The prometheus crate's collector of the standard process_* families, read through procfs.
#[cfg(target_os = "linux")]
fn process_collector() -> prometheus::process_collector::ProcessCollector {
    prometheus::process_collector::ProcessCollector::for_self()
}

/// What the standard process collector registers (Linux only), under exactly the names every
/// Prometheus dashboard expects; RSS is `process_resident_memory_bytes`. Written out so that
/// docs/metrics.md is the same on every platform; a test checks it against the collector.
pub static PROCESS_FAMILIES: &[Family] = &[
    process_family(
        "process_cpu_seconds_total",
        Kind::Counter,
        "Total user and system CPU time spent in seconds.",
    ),
    process_family(
        "process_open_fds",
        Kind::Gauge,
        "Number of open file descriptors.",
    ),
    process_family(
        "process_max_fds",
        Kind::Gauge,
        "Maximum number of open file descriptors.",
    ),
    process_family(
        "process_virtual_memory_bytes",
        Kind::Gauge,
        "Virtual memory size in bytes.",
    ),
    process_family(
        "process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory size in bytes.",
    ),
    process_family(
        "process_start_time_seconds",
        Kind::Gauge,
        "Start time of the process since unix epoch in seconds.",
    ),
    process_family(
        "process_threads",
        Kind::Gauge,
        "Number of OS threads in the process.",
    ),
];

const fn process_family(name: &'static str, kind: Kind, help: &'static str) -> Family {
    Family {
        name,
        kind,
        doc: help,
        ..Family::DEFAULT
    }
}

#[cfg(test)]
mod tests;
