//! The stack's protective layers: a full in-flight limit sheds at once, a slow request times out,
//! and concurrent confirms of one token let exactly one through.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{error_code, spawn_app, spawn_app_with, Backend, PASSWORD};

crate::both_backends!(
    a_full_in_flight_limit_sheds_immediately,
    slow_requests_time_out_with_503,
    concurrent_confirms_of_one_token_succeed_once,
);

async fn a_full_in_flight_limit_sheds_immediately(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_MAX_IN_FLIGHT", "1"),
            ("RESETGATE_RESET_FLOOR_MS", "1000"),
        ],
    )
    .await;
    let client = app.client.clone();
    let url = app.url("/v1/password-reset/request");
    let slow = tokio::spawn(async move {
        client
            .post(url)
            .json(&json!({ "email": "a@example.com" }))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let shed = app.login("a@example.com", "some passphrase here").await;
    let elapsed = started.elapsed();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    assert_eq!(error_code(shed).await, "overloaded");
    // Shed, not queued behind the one-second request.
    assert!(elapsed < Duration::from_millis(500), "shedding took {elapsed:?}");
    // Probes bypass admission: a saturated API is still alive and ready.
    assert_eq!(app.get("/livez").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"resetgate_http_requests_total{route="login",status_class="5xx"} 1"#),
        "{metrics}"
    );

    assert_eq!(slow.await.unwrap().unwrap().status(), 202);
    assert_eq!(
        app.get("/livez").await.status(),
        200,
        "capacity returns after the burst"
    );
}

async fn slow_requests_time_out_with_503(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_REQUEST_TIMEOUT_MS", "100"),
            ("RESETGATE_RESET_FLOOR_MS", "2000"),
        ],
    )
    .await;
    let resp = app.request_reset("a@example.com").await;
    assert_eq!(resp.status(), 503);
    assert_eq!(error_code(resp).await, "timeout");
}

async fn concurrent_confirms_of_one_token_succeed_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("alice@example.com").await;
    let passwords = [
        "first racer passphrase",
        "second racer passphrase",
        "third racer passphrase",
        "fourth racer passphrase",
    ];
    let attempts = passwords.map(|p| app.confirm(&token, p, None));
    let statuses: Vec<u16> = futures_join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 3, "{statuses:?}");
    // Exactly one notice: the losers changed nothing.
    app.wait_for_mails("alice@example.com", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notices = app
        .mails()
        .into_iter()
        .filter(|m| m.subject == "Your password was changed")
        .count();
    assert_eq!(notices, 1);
}

async fn futures_join_all<F>(futures: [F; 4]) -> Vec<u16>
where
    F: std::future::Future<Output = reqwest::Response>,
{
    let [a, b, c, d] = futures;
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    [a, b, c, d].iter().map(|r| r.status().as_u16()).collect()
}
