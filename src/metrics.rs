//! Every Prometheus metric the gateway exports, in one struct. Labels come from fixed sets (route
//! names, status classes, outcomes), never from user input, so cardinality is bounded.

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Buckets from 1 ms to ~2.5 s: the range between a shed request and a slow hash under load.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route and status class.
    pub http_requests: IntCounterVec,
    /// HTTP request latency in seconds, by route.
    pub http_duration: HistogramVec,
    /// Argon2 computation time in seconds, by operation (hash, verify).
    pub hash_duration: HistogramVec,
    /// Reset requests by outcome: issued (known account) or unknown_account.
    pub reset_requests: IntCounterVec,
    /// Confirmed password resets.
    pub resets_completed: IntCounter,
    /// Emails delivered by the outbox dispatcher.
    pub outbox_sent: IntCounter,
    /// Failed email deliveries by outcome: retry (will try again) or dead (gave up).
    pub outbox_failed: IntCounterVec,
    /// Outbox messages not yet delivered nor dead.
    pub outbox_backlog: IntGauge,
    /// Reset requests whose work exceeded the equal-timing floor (timing may then reveal existence).
    pub timing_floor_exceeded: IntCounter,
}

impl Metrics {
    /// # Panics
    /// Only if two metrics share a name, which is a programming error caught by the first test.
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        let m = Self {
            http_requests: IntCounterVec::new(
                Opts::new(
                    "resetgate_http_requests_total",
                    "HTTP requests by route and status class.",
                ),
                &["route", "status_class"],
            )
            .expect("metric"),
            http_duration: HistogramVec::new(
                HistogramOpts::new(
                    "resetgate_http_request_duration_seconds",
                    "HTTP request latency in seconds, by route.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["route"],
            )
            .expect("metric"),
            hash_duration: HistogramVec::new(
                HistogramOpts::new(
                    "resetgate_hash_duration_seconds",
                    "Argon2 computation time in seconds, by operation.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["op"],
            )
            .expect("metric"),
            reset_requests: IntCounterVec::new(
                Opts::new(
                    "resetgate_reset_requests_total",
                    "Reset requests by outcome (issued, unknown_account).",
                ),
                &["outcome"],
            )
            .expect("metric"),
            resets_completed: IntCounter::new(
                "resetgate_resets_completed_total",
                "Confirmed password resets.",
            )
            .expect("metric"),
            outbox_sent: IntCounter::new(
                "resetgate_outbox_sent_total",
                "Emails delivered by the outbox dispatcher.",
            )
            .expect("metric"),
            outbox_failed: IntCounterVec::new(
                Opts::new(
                    "resetgate_outbox_failed_total",
                    "Failed email deliveries by outcome (retry, dead).",
                ),
                &["outcome"],
            )
            .expect("metric"),
            outbox_backlog: IntGauge::new(
                "resetgate_outbox_backlog",
                "Outbox messages not yet delivered nor dead.",
            )
            .expect("metric"),
            timing_floor_exceeded: IntCounter::new(
                "resetgate_reset_timing_floor_exceeded_total",
                "Reset requests whose work took longer than the equal-timing floor.",
            )
            .expect("metric"),
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 9] = [
            Box::new(m.http_requests.clone()),
            Box::new(m.http_duration.clone()),
            Box::new(m.hash_duration.clone()),
            Box::new(m.reset_requests.clone()),
            Box::new(m.resets_completed.clone()),
            Box::new(m.outbox_sent.clone()),
            Box::new(m.outbox_failed.clone()),
            Box::new(m.outbox_backlog.clone()),
            Box::new(m.timing_floor_exceeded.clone()),
        ];
        for c in collectors {
            m.registry.register(c).expect("unique metric names");
        }
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

    pub fn observe_hash(&self, op: &'static str, seconds: f64) {
        self.hash_duration.with_label_values(&[op]).observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
