//! Guessing is throttled per address (issue #16, point 3): after a few wrong passwords for one
//! address its tries wait, twice as long each time, and after the limit no more are taken; the
//! state is in the store, so tries racing on several connections (or replicas) agree; an unknown
//! address is throttled exactly like a known one.

use chrono::Duration;
use serde_json::Value;

use crate::helpers::{error_code, spawn_app_with, Backend, TestApp, PASSWORD};

crate::both_backends!(
    wrong_passwords_for_one_address_wait_longer_each_time,
    an_unknown_address_is_throttled_exactly_like_a_known_one,
    a_throttled_try_is_refused_even_with_the_right_password_and_costs_no_hash,
    the_right_password_after_the_wait_clears_the_count,
    racing_tries_get_one_slot_between_them,
    the_hard_limit_holds_until_a_quiet_day_or_a_reset,
);

const KNOWN: &str = "throttled@example.com";
const UNKNOWN: &str = "nobody-here@example.com";
const WRONG: &str = "definitely not the password";
const NEW: &str = "a brand new passphrase for after";

/// Three free failures, then 1 s, 2 s, 4 s ... up to 8 s; at most 12 in a row.
async fn app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        &[
            ("RESETGATE_LOGIN_FREE_FAILURES", "3"),
            ("RESETGATE_LOGIN_MAX_DELAY_SECS", "8"),
            ("RESETGATE_LOGIN_MAX_FAILURES", "12"),
        ],
    )
    .await
}

/// A try's answer: its status, its code, and for a refusal its `Retry-After` and limiter.
async fn attempt(app: &TestApp, email: &str, password: &str) -> (u16, String, Option<u64>) {
    let resp = app.login(email, password).await;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body: Value = resp.json().await.unwrap_or_default();
    if status == 429 {
        assert_eq!(body["limiter"], "account", "{body}");
    }
    (status, body["code"].as_str().unwrap_or("").to_owned(), retry)
}

/// Tries `email` as a guesser would: at once, then again as soon as told, `rounds` times. The
/// answers, and the clock moved only by the test.
async fn guessing_run(app: &TestApp, email: &str, rounds: usize) -> Vec<(u16, String, Option<u64>)> {
    let mut seen = Vec::new();
    for _ in 0..rounds {
        let a = attempt(app, email, WRONG).await;
        if let Some(secs) = a.2 {
            // Waits exactly as told.
            app.clock.advance(Duration::seconds(i64::try_from(secs).unwrap()));
        }
        seen.push(a);
    }
    seen
}

fn wrong() -> (u16, String, Option<u64>) {
    (401, "invalid_credentials".to_owned(), None)
}

fn wait(secs: u64) -> (u16, String, Option<u64>) {
    (429, "rate_limited".to_owned(), Some(secs))
}

async fn wrong_passwords_for_one_address_wait_longer_each_time(backend: Backend) {
    let app = app(backend).await;
    app.create_account(KNOWN, Some(PASSWORD), false).await;
    let seen = guessing_run(&app, KNOWN, 12).await;
    assert_eq!(
        seen,
        vec![
            wrong(),
            wrong(),
            wrong(),
            // The fourth try is let through and earns the first wait.
            wrong(),
            wait(1),
            wrong(),
            wait(2),
            wrong(),
            wait(4),
            wrong(),
            wait(8),
            wrong(),
        ]
    );
    // The cap: the next wait is 8 s again, not 16.
    assert_eq!(attempt(&app, KNOWN, WRONG).await, wait(8));
    // Another address from the same client is not slowed: the throttle is per account.
    app.create_account("neighbour@example.com", Some(PASSWORD), false)
        .await;
    assert_eq!(app.login("neighbour@example.com", PASSWORD).await.status(), 200);
}

async fn an_unknown_address_is_throttled_exactly_like_a_known_one(backend: Backend) {
    let app = app(backend).await;
    app.create_account(KNOWN, Some(PASSWORD), false).await;
    let known = guessing_run(&app, KNOWN, 11).await;
    let unknown = guessing_run(&app, UNKNOWN, 11).await;
    assert_eq!(known, unknown, "status, code and Retry-After, try by try");
    if app.db.is_some() {
        // The table holds digests, never the addresses.
        let rows = app
            .pg()
            .await
            .query(
                "SELECT subject, failures FROM login_throttle ORDER BY failures",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        for r in &rows {
            let subject: Vec<u8> = r.get(0);
            assert_eq!(subject.len(), 32);
            assert!(!String::from_utf8_lossy(&subject).contains("example"));
        }
    }
}

async fn a_throttled_try_is_refused_even_with_the_right_password_and_costs_no_hash(backend: Backend) {
    let app = app(backend).await;
    app.create_account(KNOWN, Some(PASSWORD), false).await;
    for _ in 0..4 {
        assert_eq!(attempt(&app, KNOWN, WRONG).await, wrong());
    }
    let hashes = computed(&app).await;
    // Inside the wait even the right password is refused: the answer cannot tell it is right.
    assert_eq!(attempt(&app, KNOWN, PASSWORD).await, wait(1));
    assert_eq!(computed(&app).await, hashes, "a refused try costs no argon2 work");
}

/// Completed argon2 jobs, over every lane (counters print as integers).
async fn computed(app: &TestApp) -> u64 {
    let m = app.metrics().await;
    m.lines()
        .filter(|l| l.starts_with("resetgate_hash_jobs_total{") && l.contains("outcome=\"completed\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn the_right_password_after_the_wait_clears_the_count(backend: Backend) {
    let app = app(backend).await;
    app.create_account(KNOWN, Some(PASSWORD), false).await;
    for _ in 0..4 {
        attempt(&app, KNOWN, WRONG).await;
    }
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.login(KNOWN, PASSWORD).await.status(), 200);
    // Started over: three free failures again.
    for _ in 0..3 {
        assert_eq!(attempt(&app, KNOWN, WRONG).await, wrong());
    }
    if app.db.is_some() {
        let n: i32 = app
            .pg()
            .await
            .query_one("SELECT failures FROM login_throttle", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 3);
    }
}

async fn racing_tries_get_one_slot_between_them(backend: Backend) {
    let app = app(backend).await;
    app.create_account(KNOWN, Some(PASSWORD), false).await;
    for _ in 0..5 {
        attempt(&app, KNOWN, WRONG).await;
    }
    // Five failures: the next slot opens at +2 s. Sixteen tries the moment it opens, at once.
    app.clock.advance(Duration::seconds(2));
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, url) = (app.client.clone(), app.url("/v1/login"));
        tries.spawn(async move {
            client
                .post(url)
                .json(&serde_json::json!({"email": KNOWN, "password": WRONG}))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        });
    }
    let mut statuses = tries.join_all().await;
    statuses.sort_unstable();
    let through = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(
        through, 1,
        "one try per slot, however many race for it: {statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
}

async fn the_hard_limit_holds_until_a_quiet_day_or_a_reset(backend: Backend) {
    let app = app(backend).await;
    app.create_account(KNOWN, Some(PASSWORD), false).await;
    // Twelve failures in a row, each at its first allowed moment.
    let mut failures = 0;
    while failures < 12 {
        let a = attempt(&app, KNOWN, WRONG).await;
        match a.2 {
            Some(secs) => app.clock.advance(Duration::seconds(i64::try_from(secs).unwrap())),
            None => failures += 1,
        }
    }
    // However long the delay would be, no more tries for the rest of the day.
    app.clock.advance(Duration::hours(1));
    let (status, code, retry) = attempt(&app, KNOWN, PASSWORD).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    let retry = retry.unwrap();
    assert!((22 * 3600..=23 * 3600).contains(&retry), "{retry}");
    // A reset proves the owner: the count is gone and the new password works at once.
    let token = app.reset_token(KNOWN).await;
    assert_eq!(app.confirm(&token, NEW, None).await.status(), 200);
    assert_eq!(app.login(KNOWN, NEW).await.status(), 200);

    // Without a reset, a quiet day ends it too.
    for _ in 0..12 {
        loop {
            let a = attempt(&app, UNKNOWN, WRONG).await;
            match a.2 {
                Some(secs) => app.clock.advance(Duration::seconds(i64::try_from(secs).unwrap())),
                None => break,
            }
        }
    }
    assert_eq!(error_code(app.login(UNKNOWN, WRONG).await).await, "rate_limited");
    app.clock.advance(Duration::hours(24));
    assert_eq!(attempt(&app, UNKNOWN, WRONG).await, wrong());
}
