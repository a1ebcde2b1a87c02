//! The attacker with the leaked address list (issue #16, point 1): a flood of reset requests for
//! 10 000 real accounts, from 100 client networks, while 50 genuine owners ask for theirs.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use resetgate::clock::Clock as _;
use serde_json::json;

use crate::helpers::{spawn_app_with, Backend, TestApp, BROWSER_ACCEPT};

const VICTIMS: usize = 10_000;
const NETWORKS: usize = 100;
const GENUINE: usize = 50;
const TTL_SECS: i64 = 120;
const COOLDOWN_SECS: i64 = 120;
const BACKLOG_PER_NETWORK: usize = 20;

async fn ask(app: &TestApp, email: String, from: String) {
    let resp = app
        .client
        .post(app.url("/v1/password-reset/request"))
        .header("x-forwarded-for", from)
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 202, "{email}");
}

/// Victim `i`'s address and the attacker's address it is asked from: network `i % NETWORKS`
/// (10.0.n.0/24), a different host in it each time.
fn victim(i: usize) -> (String, String) {
    (
        format!("user{}@victims.example", i + 1),
        format!("10.0.{}.{}", i % NETWORKS, 1 + (i / NETWORKS) % 250),
    )
}

async fn flood(app: &TestApp, range: std::ops::Range<usize>) {
    futures_util::stream::iter(range.map(victim))
        .for_each_concurrent(32, |(email, from)| ask(app, email, from))
        .await;
}

fn resets_by_recipient(app: &TestApp) -> HashMap<String, Vec<String>> {
    let mut by = HashMap::<String, Vec<String>>::new();
    for m in app
        .mails()
        .into_iter()
        .filter(|m| m.subject == "Reset your password")
    {
        let token = m.token();
        by.entry(m.to).or_default().push(token);
    }
    by
}

fn metric(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_the_leaked_list_leaves_every_genuine_owner_a_live_link() {
    let started = std::time::Instant::now();
    let ttl = TTL_SECS.to_string();
    let cooldown = COOLDOWN_SECS.to_string();
    let backlog = BACKLOG_PER_NETWORK.to_string();
    let app = spawn_app_with(
        Backend::Postgres,
        &[
            ("RESETGATE_TRUSTED_PROXIES", "127.0.0.1"),
            ("RESETGATE_TOKEN_TTL_SECS", &ttl),
            ("RESETGATE_RESET_COOLDOWN_SECS", &cooldown),
            ("RESETGATE_RESET_BACKLOG_PER_NETWORK", &backlog),
            ("RESETGATE_MAIL_RATE_PER_SEC", "20"),
            ("RESETGATE_MAIL_BURST", "20"),
            ("RESETGATE_RATE_GLOBAL_BURST", "1000000"),
            ("RESETGATE_RATE_GLOBAL_PER_SEC", "1000000"),
            ("RESETGATE_RATE_EMAIL_PER_HOUR", "1000000"),
        ],
    )
    .await;
    let pg = app.pg().await;
    pg.execute(
        "INSERT INTO accounts (email, password_hash, created_at, updated_at)
         SELECT 'user' || g || '@victims.example', NULL, now(), now() FROM generate_series(1, $1::bigint) g
         UNION ALL
         SELECT 'owner' || g || '@example.org', NULL, now(), now() FROM generate_series(1, $2::bigint) g",
        &[&i64::try_from(VICTIMS).unwrap(), &i64::try_from(GENUINE).unwrap()],
    )
    .await
    .expect("seed accounts");

    // The flood, with the clock stopped: only the first burst of the send budget goes out.
    flood(&app, 0..VICTIMS).await;
    // Then the genuine owners, each from their own network.
    let asked_at = app.clock.now();
    for i in 0..GENUINE {
        ask(
            &app,
            format!("owner{}@example.org", i + 1),
            format!("198.51.{i}.7"),
        )
        .await;
    }
    // And the attacker goes round again: every victim is within the cooldown.
    flood(&app, 0..VICTIMS).await;

    // The send budget runs on the database's clock (20 a second, real time); the app's clock, which
    // decides expiry, is moved 2.5 times as fast, so the links' lifetime is the tighter bound.
    let owners: Vec<String> = (1..=GENUINE).map(|i| format!("owner{i}@example.org")).collect();
    let deadline = asked_at + chrono::Duration::seconds(TTL_SECS);
    loop {
        let got = resets_by_recipient(&app);
        if owners.iter().all(|o| got.contains_key(o)) {
            break;
        }
        assert!(
            app.clock.now() < deadline,
            "links expired before every owner got one: {} of {GENUINE} mailed",
            owners.iter().filter(|o| got.contains_key(*o)).count()
        );
        app.clock.advance(chrono::Duration::milliseconds(100));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let waited = app.clock.now() - asked_at;

    let got = resets_by_recipient(&app);
    // Every owner's link is live: the page behind it offers the new-password form.
    for owner in &owners {
        let tokens = &got[owner];
        assert_eq!(tokens.len(), 1, "{owner}");
        let page = app
            .client
            .get(app.url(&format!("/reset?token={}", tokens[0])))
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .expect("reset page");
        assert_eq!(page.status(), 200);
        let body = page.text().await.expect("body");
        assert!(body.contains("autocomplete=\"new-password\""), "{owner}: {body}");
    }
    // No victim got more than one mail in this run, which is shorter than one cooldown.
    assert!(waited < chrono::Duration::seconds(COOLDOWN_SECS), "{waited}");
    let most = got.values().map(Vec::len).max().unwrap_or(0);
    assert_eq!(
        most, 1,
        "a victim received {most} reset mails within one cooldown"
    );

    // The cap holds at the end of the run: no network has more than its share waiting.
    let most_waiting: i64 = pg
        .query_one(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM outbox
             WHERE kind = 'password_reset' AND status = 'pending' GROUP BY requester) w",
            &[],
        )
        .await
        .expect("waiting per network")
        .get(0);
    assert!(
        most_waiting <= i64::try_from(BACKLOG_PER_NETWORK).unwrap(),
        "{most_waiting}"
    );
    let metrics = app.metrics().await;
    let issued = metric(&metrics, r#"resetgate_reset_requests_total{outcome="issued"}"#);
    let full = metric(
        &metrics,
        r#"resetgate_reset_requests_total{outcome="network_backlog_full"}"#,
    );
    let cooled = metric(&metrics, r#"resetgate_reset_requests_total{outcome="cooldown"}"#);
    // The send budget is the database's wall clock, so mail went out while the flood ran and
    // freed room under the cap: a network queued at most its cap plus what was sent meanwhile.
    let sent: i64 = pg
        .query_one("SELECT count(*) FROM outbox WHERE status = 'sent'", &[])
        .await
        .expect("sent")
        .get(0);
    let cap = u64::try_from(NETWORKS * BACKLOG_PER_NETWORK).unwrap();
    let genuine = u64::try_from(GENUINE).unwrap();
    assert!(
        issued <= cap + genuine + u64::try_from(sent).unwrap(),
        "issued {issued}, sent {sent}"
    );
    assert!(issued >= genuine, "issued {issued}");
    assert!(full > 0 && cooled > 0, "full {full}, cooldown {cooled}");
    assert_eq!(
        issued + full + cooled,
        2 * u64::try_from(VICTIMS).unwrap() + genuine,
        "every request is counted once"
    );
    eprintln!(
        "flood: {issued} issued, {full} refused at the network cap, {cooled} in cooldown; \
         every owner mailed within {waited} of asking (link lifetime {TTL_SECS} s); {:?} in all",
        started.elapsed()
    );
}
