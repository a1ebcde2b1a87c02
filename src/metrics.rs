//! Every Prometheus metric the gateway exports, in one struct; each field's doc comment is its
//! HELP text. Labels come from fixed sets (route names, lanes, outcomes, limiter names), never from
//! user input, so cardinality is bounded.

use prometheus::core::Collector;
use prometheus::{
    Encoder as _, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::error_code::ErrorCode;

/// 1 ms to 2 s: from a shed request to a slow hash under load.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0];

pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route and status class.
    pub http_requests: IntCounterVec,
    /// Error responses by their stable error code (see error_code).
    pub http_errors: IntCounterVec,
    /// HTTP request latency in seconds, by route.
    pub http_duration: HistogramVec,
    /// Hashing jobs waiting in the queue, by lane.
    pub hash_queue_depth: IntGaugeVec,
    /// Hashing jobs running on a worker.
    pub hash_in_flight: IntGauge,
    /// Hashing worker threads (W).
    pub hash_workers: IntGauge,
    /// The configured queue budget in seconds (`RESETGATE_HASH_QUEUE_BUDGET_MS`): the most a confirm
    /// job may be expected to wait before it is refused. Alerts compare queue wait against it.
    pub hash_queue_budget: Gauge,
    /// Estimated hashing capacity in hashes per second (W / measured hash time).
    pub hash_capacity: Gauge,
    /// Time hashing jobs spent queued before a worker took them, in seconds, by lane.
    pub hash_queue_wait: HistogramVec,
    /// Argon2 computation time in seconds, by lane.
    pub hash_duration: HistogramVec,
    /// Hashing jobs by lane and outcome (completed, failed, shed, expired, abandoned).
    pub hash_jobs: IntCounterVec,
    /// Jobs taken newest-first because their lane was congested (adaptive LIFO engaged).
    pub hash_lifo_picks: IntCounter,
    /// Requests refused by a rate limiter, by limiter (global, ip, email).
    pub rate_limited: IntCounterVec,
    /// Keys tracked by a keyed rate limiter, by limiter.
    pub rate_limiter_keys: IntGaugeVec,
    /// Database pool connections at most (`RESETGATE_DB_POOL_SIZE`).
    pub db_pool_max: IntGauge,
    /// Database pool connections, open.
    pub db_pool_size: IntGauge,
    /// Database pool connections, idle and ready.
    pub db_pool_available: IntGauge,
    /// Requests waiting for a database connection.
    pub db_pool_waiting: IntGauge,
    /// Reset requests by outcome: issued (known account) or unknown_account.
    pub reset_requests: IntCounterVec,
    /// Confirmed password resets.
    pub resets_completed: IntCounter,
    /// Emails delivered by the outbox dispatcher, by kind.
    pub outbox_sent: IntCounterVec,
    /// Failed email deliveries by outcome: retry (will try again) or dead (gave up).
    pub outbox_failed: IntCounterVec,
    /// Outbox messages not yet delivered nor dead.
    pub outbox_backlog: IntGauge,
    /// Outbox messages by status (pending, held, dead), across every replica.
    pub outbox_messages: IntGaugeVec,
    /// The configured global send budget in messages per second.
    pub mail_send_budget: Gauge,
    /// Campaign accounts by stage (total, marked, notified), per campaign.
    pub campaign_accounts: IntGaugeVec,
    /// Campaign emails by status (sent, failed, pending, cancelled), per campaign.
    pub campaign_emails: IntGaugeVec,
    /// Campaign emails sent per second over the last minute, per campaign.
    pub campaign_send_rate: prometheus::GaugeVec,
    /// Seconds until a campaign's last email is sent at its current rate (0 when done or stalled).
    pub campaign_eta: IntGaugeVec,
    /// Campaigns by phase (marking, notifying, completed, paused, cancelled), recent ones.
    pub campaign_phase: IntGaugeVec,
    /// Accounts marked must-reset by this replica's campaign runner.
    pub campaign_marked: IntCounter,
    /// Sessions revoked by this replica's campaign runner.
    pub campaign_sessions_revoked: IntCounter,
    /// Reset requests whose work exceeded the equal-timing floor (timing may then reveal existence).
    pub timing_floor_exceeded: IntCounter,
    /// Resident set size of the process in bytes.
    pub resident_memory: IntGauge,
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric")
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .expect("valid metric")
}

impl Metrics {
    /// # Panics
    /// Only if two metrics share a name, a programming error the unit test below catches.
    #[must_use]
    pub fn new() -> Self {
        let m = Self {
            registry: Registry::new(),
            http_requests: counter_vec(
                "resetgate_http_requests_total",
                "HTTP requests by route and status class.",
                &["route", "status_class"],
            ),
            http_errors: counter_vec(
                "resetgate_http_errors_total",
                "Error responses by stable error code.",
                &["code"],
            ),
            http_duration: histogram_vec(
                "resetgate_http_request_duration_seconds",
                "HTTP request latency in seconds, by route.",
                &["route"],
            ),
            hash_queue_depth: gauge_vec(
                "resetgate_hash_queue_depth",
                "Hashing jobs waiting in the queue, by lane.",
                &["lane"],
            ),
            hash_in_flight: gauge("resetgate_hash_in_flight", "Hashing jobs running on a worker."),
            hash_workers: gauge("resetgate_hash_workers", "Hashing worker threads (W)."),
            hash_queue_budget: Gauge::new(
                "resetgate_hash_queue_budget_seconds",
                "Configured hashing queue budget in seconds (RESETGATE_HASH_QUEUE_BUDGET_MS).",
            )
            .expect("valid metric"),
            hash_capacity: Gauge::new(
                "resetgate_hash_capacity_per_second",
                "Estimated hashing capacity in hashes per second (W / measured hash time).",
            )
            .expect("valid metric"),
            hash_queue_wait: histogram_vec(
                "resetgate_hash_queue_wait_seconds",
                "Time hashing jobs spent queued before a worker took them, in seconds, by lane.",
                &["lane"],
            ),
            hash_duration: histogram_vec(
                "resetgate_hash_duration_seconds",
                "Argon2 computation time in seconds, by lane.",
                &["lane"],
            ),
            hash_jobs: counter_vec(
                "resetgate_hash_jobs_total",
                "Hashing jobs by lane and outcome (completed, failed, shed, expired, abandoned).",
                &["lane", "outcome"],
            ),
            hash_lifo_picks: counter(
                "resetgate_hash_lifo_picks_total",
                "Jobs taken newest-first because their lane was congested (adaptive LIFO engaged).",
            ),
            rate_limited: counter_vec(
                "resetgate_rate_limited_total",
                "Requests refused by a rate limiter, by limiter (global, ip, email).",
                &["limiter"],
            ),
            rate_limiter_keys: gauge_vec(
                "resetgate_rate_limiter_keys",
                "Keys tracked by a keyed rate limiter, by limiter.",
                &["limiter"],
            ),
            db_pool_max: gauge(
                "resetgate_db_pool_max",
                "Database pool connections at most (RESETGATE_DB_POOL_SIZE).",
            ),
            db_pool_size: gauge("resetgate_db_pool_size", "Database pool connections, open."),
            db_pool_available: gauge(
                "resetgate_db_pool_available",
                "Database pool connections, idle and ready.",
            ),
            db_pool_waiting: gauge(
                "resetgate_db_pool_waiting",
                "Requests waiting for a database connection.",
            ),
            reset_requests: counter_vec(
                "resetgate_reset_requests_total",
                "Reset requests by outcome (issued, unknown_account).",
                &["outcome"],
            ),
            resets_completed: counter("resetgate_resets_completed_total", "Confirmed password resets."),
            outbox_sent: counter_vec(
                "resetgate_outbox_sent_total",
                "Emails delivered by the outbox dispatcher, by kind.",
                &["kind"],
            ),
            outbox_failed: counter_vec(
                "resetgate_outbox_failed_total",
                "Failed email deliveries by outcome (retry, dead).",
                &["outcome"],
            ),
            outbox_backlog: gauge(
                "resetgate_outbox_backlog",
                "Outbox messages not yet delivered nor dead.",
            ),
            outbox_messages: gauge_vec(
                "resetgate_outbox_messages",
                "Outbox messages by status (pending, held, dead), across every replica.",
                &["status"],
            ),
            mail_send_budget: Gauge::new(
                "resetgate_mail_send_budget_per_second",
                "The configured global send budget in messages per second.",
            )
            .expect("valid metric"),
            campaign_accounts: gauge_vec(
                "resetgate_campaign_accounts",
                "Campaign accounts by stage (total, marked, notified), per campaign.",
                &["campaign", "stage"],
            ),
            campaign_emails: gauge_vec(
                "resetgate_campaign_emails",
                "Campaign emails by status (sent, failed, pending, cancelled), per campaign.",
                &["campaign", "status"],
            ),
            campaign_send_rate: prometheus::GaugeVec::new(
                Opts::new(
                    "resetgate_campaign_send_rate_per_second",
                    "Campaign emails sent per second over the last minute, per campaign.",
                ),
                &["campaign"],
            )
            .expect("valid metric"),
            campaign_eta: gauge_vec(
                "resetgate_campaign_eta_seconds",
                "Seconds until a campaign's last email is sent at its current rate (0 when done or stalled).",
                &["campaign"],
            ),
            campaign_phase: gauge_vec(
                "resetgate_campaign_phase",
                "Campaigns by phase (1 for the current phase), recent campaigns.",
                &["campaign", "phase"],
            ),
            campaign_marked: counter(
                "resetgate_campaign_accounts_marked_total",
                "Accounts marked must-reset by this replica's campaign runner.",
            ),
            campaign_sessions_revoked: counter(
                "resetgate_campaign_sessions_revoked_total",
                "Sessions revoked by this replica's campaign runner.",
            ),
            timing_floor_exceeded: counter(
                "resetgate_reset_timing_floor_exceeded_total",
                "Reset requests whose work took longer than the equal-timing floor.",
            ),
            resident_memory: gauge(
                "resetgate_process_resident_memory_bytes",
                "Resident set size of the process in bytes.",
            ),
        };
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(m.http_requests.clone()),
            Box::new(m.http_errors.clone()),
            Box::new(m.http_duration.clone()),
            Box::new(m.hash_queue_depth.clone()),
            Box::new(m.hash_in_flight.clone()),
            Box::new(m.hash_workers.clone()),
            Box::new(m.hash_queue_budget.clone()),
            Box::new(m.hash_capacity.clone()),
            Box::new(m.hash_queue_wait.clone()),
            Box::new(m.hash_duration.clone()),
            Box::new(m.hash_jobs.clone()),
            Box::new(m.hash_lifo_picks.clone()),
            Box::new(m.rate_limited.clone()),
            Box::new(m.rate_limiter_keys.clone()),
            Box::new(m.db_pool_max.clone()),
            Box::new(m.db_pool_size.clone()),
            Box::new(m.db_pool_available.clone()),
            Box::new(m.db_pool_waiting.clone()),
            Box::new(m.reset_requests.clone()),
            Box::new(m.resets_completed.clone()),
            Box::new(m.outbox_sent.clone()),
            Box::new(m.outbox_failed.clone()),
            Box::new(m.outbox_backlog.clone()),
            Box::new(m.outbox_messages.clone()),
            Box::new(m.mail_send_budget.clone()),
            Box::new(m.campaign_accounts.clone()),
            Box::new(m.campaign_emails.clone()),
            Box::new(m.campaign_send_rate.clone()),
            Box::new(m.campaign_eta.clone()),
            Box::new(m.campaign_phase.clone()),
            Box::new(m.campaign_marked.clone()),
            Box::new(m.campaign_sessions_revoked.clone()),
            Box::new(m.timing_floor_exceeded.clone()),
            Box::new(m.resident_memory.clone()),
        ];
        for c in collectors {
            m.registry.register(c).expect("unique metric names");
        }
        // The standard process_* series (CPU seconds, RSS, open fds, threads) that every
        // Prometheus dashboard expects; Linux only, which is where the gateway runs.
        #[cfg(target_os = "linux")]
        m.registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric names");
        // Labelled series exist from the start, so dashboards and alerts see zeros, not gaps.
        for lane in ["confirm", "login", "background"] {
            m.hash_queue_depth.with_label_values(&[lane]).set(0);
            for outcome in ["completed", "failed", "shed", "expired", "abandoned"] {
                m.hash_jobs.with_label_values(&[lane, outcome]).reset();
            }
        }
        for lane in ["confirm", "login", "background"] {
            m.hash_queue_wait.with_label_values(&[lane]);
            m.hash_duration.with_label_values(&[lane]);
        }
        // The codes alerts and the dashboard divide by: shedding, and failures of our own.
        for code in ErrorCode::SHED.iter().chain(&[
            ErrorCode::InternalError,
            ErrorCode::ServiceUnavailable,
            ErrorCode::RateLimited,
        ]) {
            m.http_errors.with_label_values(&[code.as_str()]).reset();
        }
        for outcome in ["retry", "dead"] {
            m.outbox_failed.with_label_values(&[outcome]).reset();
        }
        for kind in ["password_reset", "password_changed", "campaign_notice"] {
            m.outbox_sent.with_label_values(&[kind]).reset();
        }
        for status in ["pending", "held", "dead"] {
            m.outbox_messages.with_label_values(&[status]).set(0);
        }
        for outcome in ["issued", "unknown_account"] {
            m.reset_requests.with_label_values(&[outcome]).reset();
        }
        for limiter in ["global", "ip", "email"] {
            m.rate_limited.with_label_values(&[limiter]).reset();
        }
        m.rate_limiter_keys.with_label_values(&["ip"]).set(0);
        m
    }

    /// Prometheus text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        self.resident_memory.set(resident_bytes());
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// RSS from /proc (Linux); 0 where unavailable.
#[must_use]
pub fn resident_bytes() -> i64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<i64>().ok()))
        .unwrap_or(0);
    // Page size is 4 KiB on every platform we deploy to (x86_64, aarch64 Linux defaults).
    pages * 4096
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_register_and_render() {
        let m = Metrics::new();
        let text = m.render();
        assert!(text.contains("resetgate_hash_jobs_total{lane=\"confirm\",outcome=\"shed\"} 0"));
        assert!(text.contains("resetgate_process_resident_memory_bytes"));
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_cpu_seconds_total"));
    }
}
