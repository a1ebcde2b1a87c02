//! The send budget as a receiving SMTP server sees it (aiosmtpd, its own clock): the global rate
//! shared by two replicas, a per-domain limit beside an unlimited domain, and transactional mail
//! ahead of a campaign's queue. Rates are measured from the sink's receive times in steady state
//! (after the first burst), never from `sent_at`, which is on the apps' manual clocks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use resetgate::clock::ManualClock;
use serde_json::json;

use crate::campaign_faults::{poll, same_db, seed_accounts, sent_by, spawn_smtp_app};
use crate::helpers::TestDb;
use crate::smtp_sink::{Received, SinkOptions, SmtpSink};

const WAIT: Duration = Duration::from_secs(120);

/// Inserts `n` due transactional messages (`password_changed`: no token to seal), recipient
/// `p{i}@{domain(i)}`, straight into the outbox.
async fn enqueue(pg: &tokio_postgres::Client, n: i64, domain_sql: &str) {
    pg.execute(
        &format!(
            "WITH m AS (SELECT g, {domain_sql} AS domain FROM generate_series(1, $1::bigint) g)
             INSERT INTO outbox (kind, recipient, created_at, available_at, priority, domain)
             SELECT 'password_changed', 'p' || g || '@' || domain, now(), now() - interval '1 hour', 0, domain
             FROM m ORDER BY g"
        ),
        &[&n],
    )
    .await
    .expect("enqueue");
}

async fn wait_received(sink: &SmtpSink, n: usize) -> Vec<Received> {
    poll(&format!("{n} messages at the sink"), WAIT, || {
        let got = sink.count();
        async move { (got >= n).then_some(()) }
    })
    .await;
    let mut mails = sink.messages();
    mails.sort_by_key(|m| m.accepted_at);
    mails
}

/// Messages per second between the `skip`-th and the last of `times` (sorted): the rate once the
/// initial burst is spent.
fn steady_rate(times: &[DateTime<Utc>], skip: usize) -> f64 {
    assert!(
        times.len() > skip + 10,
        "too few messages to measure: {}",
        times.len()
    );
    let (first, last) = (times[skip], times[times.len() - 1]);
    let secs = (last - first).to_std().expect("sorted").as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // a few thousand messages
    let n = (times.len() - 1 - skip) as f64;
    n / secs
}

/// Moves a manual clock along with real time, for code that schedules on the app's clock (a row
/// deferred by its domain's budget comes due on it). Stops when dropped.
struct FollowRealTime(tokio::task::JoinHandle<()>);

impl FollowRealTime {
    fn start(clock: Arc<ManualClock>) -> Self {
        Self(tokio::spawn(async move {
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let now = Instant::now();
                clock.advance(chrono::Duration::from_std(now - last).expect("small"));
                last = now;
            }
        }))
    }
}

impl Drop for FollowRealTime {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_send_budget_within_five_percent() {
    const MESSAGES: i64 = 1200;
    const BUDGET: f64 = 100.0;
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let db = TestDb::create().await;
    let second_db = same_db(&db);
    // The default burst (a fifth of the rate): the budget as shipped. Eight sends in flight per
    // replica (one takes ~50 ms here) so the replicas could send well over the budget: what
    // holds them to it must be the shared bucket.
    let vars = [
        ("RESETGATE_MAIL_RATE_PER_SEC", "100"),
        ("RESETGATE_MAIL_CONCURRENCY", "8"),
        ("RESETGATE_SMTP_POOL_SIZE", "8"),
    ];
    let a = spawn_smtp_app(db, sink.port, &vars).await;
    let b = spawn_smtp_app(second_db, sink.port, &vars).await;
    enqueue(&a.pg().await, MESSAGES, "'pace.test'").await;

    let mails = wait_received(&sink, usize::try_from(MESSAGES).expect("positive")).await;
    let times: Vec<DateTime<Utc>> = mails.iter().map(|m| m.accepted_at).collect();
    let rate = steady_rate(&times, 100);
    let ratio = rate / BUDGET;
    let (by_a, by_b) = (sent_by(&a).await, sent_by(&b).await);
    eprintln!(
        "global budget {BUDGET}/s over two replicas: measured {rate:.2}/s, ratio {ratio:.4} (A sent {by_a}, B sent {by_b})"
    );
    assert!(
        by_a > 0 && by_b > 0,
        "both replicas must send for this to test a shared budget: A {by_a}, B {by_b}"
    );
    assert!(
        (ratio - 1.0).abs() <= 0.05,
        "two replicas sent at {rate:.2}/s against a shared budget of {BUDGET}/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_domain_gets_its_rate_while_others_get_the_rest() {
    const SLOW: f64 = 10.0;
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let db = TestDb::create().await;
    let app = spawn_smtp_app(
        db,
        sink.port,
        &[
            ("RESETGATE_MAIL_RATE_PER_SEC", "200"),
            ("RESETGATE_MAIL_DOMAIN_RATES", "slow.test=10"),
            // One send takes ~50 ms here, so 4 slots (the default) top out near 80/s: too few
            // for slow.test to be offered more than its limit while fast.test flows.
            ("RESETGATE_MAIL_CONCURRENCY", "16"),
            ("RESETGATE_SMTP_POOL_SIZE", "16"),
        ],
    )
    .await;
    let _clock = FollowRealTime::start(Arc::clone(&app.clock));
    // Every 10th message to slow.test: 100 of them (~10 s at its limit), 900 to fast.test.
    enqueue(
        &app.pg().await,
        1000,
        "CASE WHEN g % 10 = 0 THEN 'slow.test' ELSE 'fast.test' END",
    )
    .await;

    let mails = wait_received(&sink, 1000).await;
    let at = |domain: &str| -> Vec<DateTime<Utc>> {
        mails
            .iter()
            .filter(|m| m.to[0].ends_with(domain))
            .map(|m| m.accepted_at)
            .collect()
    };
    let (slow, fast) = (at("@slow.test"), at("@fast.test"));
    assert_eq!((slow.len(), fast.len()), (100, 900));
    // Skip the domain bucket's first second (its burst is one second of its rate).
    let slow_rate = steady_rate(&slow, 15);
    let fast_rate = steady_rate(&fast, 50);
    eprintln!(
        "per-domain limit {SLOW}/s: slow.test measured {slow_rate:.2}/s (ratio {:.4}), fast.test {fast_rate:.1}/s",
        slow_rate / SLOW
    );
    assert!(
        (slow_rate / SLOW - 1.0).abs() <= 0.10,
        "slow.test at {slow_rate:.2}/s against its limit of {SLOW}/s"
    );
    assert!(
        fast_rate > 5.0 * SLOW,
        "fast.test is held back with slow.test: {fast_rate:.1}/s"
    );
    // The unlimited domain is not made to wait for the limited one.
    assert!(fast[fast.len() - 1] < slow[slow.len() - 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mail_overtakes_a_queued_campaign() {
    const ACCOUNTS: i64 = 400;
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let db = TestDb::create().await;
    let app = spawn_smtp_app(db, sink.port, &[("RESETGATE_MAIL_RATE_PER_SEC", "20")]).await;
    let pg = app.pg().await;
    seed_accounts(&pg, ACCOUNTS, "'q.test'").await;
    let id = app
        .start_campaign(&json!({"scope": "all", "revoke_sessions": false, "notify": true, "reason": "queue"}))
        .await;
    // The campaign is sending at its budget, hundreds of notices behind.
    wait_received(&sink, 10).await;
    // Created after the campaign started, so not in it: its only mail is the reset.
    app.create_account("late@q.test", None, false).await;

    let before = sink.count();
    let asked = Instant::now();
    assert_eq!(app.request_reset("late@q.test").await.status(), 202);
    let mails = poll("the reset mail", WAIT, || {
        let got = sink.messages();
        async move { got.iter().any(|m| m.to[0] == "late@q.test").then_some(got) }
    })
    .await;
    let waited = asked.elapsed();
    let reset_at = mails
        .iter()
        .position(|m| m.to[0] == "late@q.test")
        .expect("found");
    assert_eq!(mails[reset_at].subject, "Reset your password");
    let overtaken_by = mails[before.min(reset_at)..reset_at]
        .iter()
        .filter(|m| m.subject.starts_with("Action required"))
        .count();
    let p = app.campaign(id).await;
    let pending = p["emails"]["pending"].as_i64().expect("pending") + ACCOUNTS
        - p["notified"].as_i64().expect("notified");
    eprintln!(
        "reset mail arrived {waited:?} after the request, after {overtaken_by} campaign notice(s); {pending} notices still queued"
    );
    assert!(
        overtaken_by < 40,
        "{overtaken_by} campaign notices went out before the reset mail"
    );
    assert!(pending > 200, "the reset did not jump a real queue: {p}");
}
