//! Campaigns under faults, on real PostgreSQL and a real SMTP server (aiosmtpd): the gateway
//! killed with SIGKILL mid-campaign, two replicas dispatching one outbox, the relay down while a
//! campaign sends. What must hold: every account marked once, one notification per account in the
//! outbox, every row delivered, and duplicates only within the documented window (a message the
//! relay accepted but the killed process had not yet marked sent).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use resetgate::clock::Clock as _;
use serde_json::{json, Value};

use crate::helpers::{TestDb, ADMIN_TOKEN};
use crate::smtp_sink::{SinkOptions, SmtpSink};

mod fixtures;
mod gateway;

use fixtures::{count, expected_ids, free_port, len, message_id};
use gateway::{Gateway, SERVE_CONCURRENCY};

// pacing.rs runs its replicas on the same fixtures.
pub use fixtures::{poll, same_db, seed_accounts, sent_by, spawn_smtp_app};

/// Generous: a loaded 2-core CI machine runs several of these at once.
const WAIT: Duration = Duration::from_secs(120);
const NOTICE_SUBJECT: &str = "Action required: choose a new password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_survives_kill_9_and_notifies_every_account_once() {
    const ACCOUNTS: i64 = 3000;
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let db = TestDb::create().await;
    let logs = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // The first process migrates the fresh database; then the accounts, each with a session.
    let mut gw = Gateway::start(&db.url, sink.port, logs.path(), 1).await;
    let pg = db.client().await;
    seed_accounts(&pg, ACCOUNTS, "'d' || (g % 3) || '.test'").await;
    pg.execute(
        "INSERT INTO sessions (token_hash, account_id, epoch, created_at, expires_at, idle_expires_at)
         SELECT sha256(g::text::bytea), g, 0, now(), now() + interval '1 day', now() + interval '30 minutes'
         FROM generate_series(1, $1::bigint) g",
        &[&ACCOUNTS],
    )
    .await
    .expect("seed sessions");

    let resp = client
        .post(format!("{}/admin/v1/campaigns", gw.admin))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"scope": "all", "revoke_sessions": true, "notify": true, "reason": "kill -9 drill"}))
        .send()
        .await
        .expect("create campaign");
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("JSON");
    assert_eq!(created["accounts_total"], ACCOUNTS);
    let id = created["id"].as_i64().expect("id");

    // Kill 1: during marking if we catch it (a tenth or more marked, not all), while the first
    // notices are enqueued and sending.
    let mut kills = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let p = gw.progress(&client, id).await;
        let marked = p["marked"].as_i64().expect("marked");
        if (ACCOUNTS / 10..ACCOUNTS).contains(&marked) {
            gw.kill9().await;
            kills.push(format!(
                "during marking ({marked}/{ACCOUNTS} marked, {} mails received)",
                sink.count()
            ));
            break;
        }
        if marked == ACCOUNTS {
            eprintln!("marking finished before the test could kill it; killing during sending only");
            break;
        }
        assert!(Instant::now() < deadline, "marking never started: {p}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if !kills.is_empty() {
        gw = Gateway::start(&db.url, sink.port, logs.path(), 2).await;
    }

    // Kill 2: while sending, once a good share (not all) has gone out since the (re)start.
    let base = sink.count();
    let received = poll("notices to flow", WAIT, || {
        let n = sink.count();
        async move { (n >= base + 600 || n >= 2000).then_some(n) }
    })
    .await;
    assert!(
        received < 2900,
        "the campaign was nearly done before the kill: {received}"
    );
    gw.kill9().await;
    let at_kill = sink.count();
    kills.push(format!("during sending ({at_kill} mails received)"));

    let gw = Gateway::start(&db.url, sink.port, logs.path(), 3).await;
    let deadline = Instant::now() + WAIT;
    let p = loop {
        let p = gw.progress(&client, id).await;
        if p["phase"] == "completed" {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "campaign did not complete after restarts: {p}\nlog:\n{}",
            std::fs::read_to_string(&gw.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(p["accounts_total"], ACCOUNTS, "{p}");
    assert_eq!(
        p["marked"], ACCOUNTS,
        "each account counted once across restarts: {p}"
    );
    assert_eq!(p["notified"], ACCOUNTS, "{p}");
    assert_eq!(p["emails"]["sent"], ACCOUNTS, "{p}");
    assert_eq!(count(&pg, "SELECT count(*) FROM forced_resets").await, ACCOUNTS);
    assert_eq!(
        count(&pg, "SELECT count(*) FROM sessions").await,
        0,
        "every session revoked"
    );
    let rows = pg
        .query(
            "SELECT id, status FROM outbox WHERE campaign_id = $1 ORDER BY id",
            &[&id],
        )
        .await
        .expect("outbox rows");
    assert_eq!(len(&rows), ACCOUNTS, "one outbox row per (campaign, account)");
    assert!(rows.iter().all(|r| r.get::<_, String>(1) == "sent"));
    let row_ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();

    let mails = sink.messages();
    let recipients: HashSet<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    let ids: HashSet<String> = mails.iter().map(message_id).collect();
    let duplicates = mails.len() - ids.len();
    let allowed = SERVE_CONCURRENCY * kills.len();
    eprintln!(
        "kill -9 campaign: {} kill(s) [{}]; received {} messages for {} accounts: {duplicates} duplicate(s) (allowed {allowed})",
        kills.len(),
        kills.join("; "),
        mails.len(),
        ACCOUNTS
    );
    assert!(mails
        .iter()
        .all(|m| m.subject == NOTICE_SUBJECT && m.to.len() == 1));
    assert_eq!(len(&recipients), ACCOUNTS, "every account got its notice");
    assert_eq!(
        ids,
        expected_ids(&row_ids),
        "one Message-ID per outbox row, and only those"
    );
    assert!(
        duplicates <= allowed,
        "{duplicates} duplicates: more than one in-flight message per dispatcher slot per kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_on_one_database_never_send_a_row_twice() {
    const ACCOUNTS: i64 = 1000;
    const RESETS: i64 = 20;
    let sink = SmtpSink::start(&SinkOptions::default()).await;
    let db = TestDb::create().await;
    let second_db = same_db(&db);
    let vars = [
        ("RESETGATE_MAIL_RATE_PER_SEC", "400"),
        ("RESETGATE_MAIL_CONCURRENCY", "4"),
    ];
    let a = spawn_smtp_app(db, sink.port, &vars).await;
    let b = spawn_smtp_app(second_db, sink.port, &vars).await;
    // Each replica has its own manual clock; rows one enqueues must be due for the other too.
    a.clock.advance(b.clock.now() - a.clock.now());
    let pg = a.pg().await;
    seed_accounts(&pg, ACCOUNTS, "'r' || (g % 4) || '.test'").await;

    let id = a
        .start_campaign(
            &json!({"scope": "all", "revoke_sessions": false, "notify": true, "reason": "replicas"}),
        )
        .await;
    for i in 1..=RESETS {
        let app = if i % 2 == 0 { &a } else { &b };
        let email = format!("user{i}@r{}.test", i % 4);
        assert_eq!(app.request_reset(&email).await.status(), 202);
    }
    a.wait_campaign(id, WAIT, |p| p["phase"] == "completed").await;
    let total = ACCOUNTS + RESETS;
    poll("every outbox row sent", WAIT, || {
        let pg = &pg;
        async move {
            let sent = count(pg, "SELECT count(*) FROM outbox WHERE status = 'sent'").await;
            let all = count(pg, "SELECT count(*) FROM outbox").await;
            (all == total && sent == total).then_some(())
        }
    })
    .await;
    // A second copy would follow its original within milliseconds; give it time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let row_ids: Vec<i64> = pg
        .query("SELECT id FROM outbox", &[])
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mails = sink.messages();
    let ids: HashSet<String> = mails.iter().map(message_id).collect();
    let (by_a, by_b) = (sent_by(&a).await, sent_by(&b).await);
    eprintln!(
        "two replicas: {} rows, {} received, replica A sent {by_a}, replica B sent {by_b}",
        row_ids.len(),
        mails.len()
    );
    assert_eq!(mails.len(), row_ids.len(), "exactly one message per outbox row");
    assert_eq!(ids, expected_ids(&row_ids), "no Message-ID twice, none missing");
    assert_eq!(by_a + by_b, u64::try_from(total).expect("positive"));
    assert!(
        by_a > 0 && by_b > 0,
        "both replicas dispatched: A {by_a}, B {by_b}"
    );
    let resets = mails
        .iter()
        .filter(|m| m.subject == "Reset your password")
        .count();
    assert_eq!(i64::try_from(resets).expect("small"), RESETS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_waits_out_a_relay_outage_and_delivers_each_notice_once() {
    const ACCOUNTS: i64 = 200;
    // Nothing listens here until the relay "comes back".
    let port = free_port();
    let db = TestDb::create().await;
    let app = spawn_smtp_app(
        db,
        port,
        &[
            ("RESETGATE_MAIL_RATE_PER_SEC", "500"),
            ("RESETGATE_MAIL_RETRY_BASE_MS", "100"),
        ],
    )
    .await;
    let pg = app.pg().await;
    seed_accounts(&pg, ACCOUNTS, "'o' || (g % 2) || '.test'").await;
    let id = app
        .start_campaign(
            &json!({"scope": "all", "revoke_sessions": false, "notify": true, "reason": "outage"}),
        )
        .await;

    // Every notice tried once and put back for a retry on the (manual) clock.
    poll("every notice to fail once", WAIT, || {
        let pg = &pg;
        async move {
            let tried = count(
                pg,
                "SELECT count(*) FROM outbox WHERE campaign_id IS NOT NULL AND attempts >= 1 AND status = 'pending'",
            )
            .await;
            (tried == ACCOUNTS).then_some(())
        }
    })
    .await;
    // No retry before its backoff, however long the wall clock runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let row = pg
        .query_one(
            "SELECT count(*), min(attempts), max(attempts), count(*) FILTER (WHERE status = 'pending'),
                    bool_and(last_error IS NOT NULL)
             FROM outbox WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .expect("outbox");
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i32>(1),
            row.get::<_, i32>(2),
            row.get::<_, i64>(3)
        ),
        (ACCOUNTS, 1, 1, ACCOUNTS)
    );
    assert!(row.get::<_, bool>(4), "each failure is recorded");
    let p = app.campaign(id).await;
    assert_eq!(
        p["phase"], "notifying",
        "not completed while mail is undelivered: {p}"
    );
    assert_eq!(p["emails"]["pending"], ACCOUNTS, "{p}");
    assert_eq!(p["emails"]["sent"], 0, "{p}");

    let sink = SmtpSink::start_on_port(port, &SinkOptions::default()).await;
    // The first backoff is 100 ms ± 25 %: a minute is well past it.
    app.clock.advance(chrono::Duration::minutes(1));
    let p = app.wait_campaign(id, WAIT, |p| p["phase"] == "completed").await;
    assert_eq!(p["emails"]["sent"], ACCOUNTS, "{p}");
    assert_eq!(p["emails"]["failed"], 0, "{p}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let row_ids: Vec<i64> = pg
        .query(
            "SELECT id FROM outbox WHERE campaign_id = $1 AND status = 'sent'",
            &[&id],
        )
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mails = sink.messages();
    let ids: HashSet<String> = mails.iter().map(message_id).collect();
    assert_eq!(len(&mails), ACCOUNTS, "each notice delivered once");
    assert_eq!(ids, expected_ids(&row_ids));
    let recipients: HashSet<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    assert_eq!(len(&recipients), ACCOUNTS);
}
