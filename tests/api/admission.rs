//! Rate limits and hashing admission seen from outside: 429s and 503s with Retry-After that
//! never cost a hash.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_on, spawn_app_with, Backend, TestDb, PASSWORD};

crate::both_backends!(
    per_ip_limit_answers_429_without_hashing,
    trusted_proxy_header_keys_clients_only_from_trusted_peers,
    per_address_reset_limit_is_the_same_for_unknown_addresses,
    a_saturated_hash_pool_sheds_logins_with_503_and_retry_after,
);

async fn per_ip_limit_answers_429_without_hashing(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_RATE_IP_BURST", "3"),
            ("RESETGATE_RATE_IP_PER_MIN", "1"),
        ],
    )
    .await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.login("alice@example.com", PASSWORD).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes, [200, 200, 200, 429, 429, 429]);
    let limited = statuses.pop().unwrap();
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["limiter"], "ip");

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"resetgate_rate_limited_total{limiter="ip"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"resetgate_http_errors_total{code="rate_limited"} 3"#),
        "{metrics}"
    );
    // Three logins were hashed; the three refused ones never reached the pool.
    assert!(
        metrics.contains(r#"resetgate_hash_jobs_total{lane="login",outcome="completed"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"resetgate_rate_limiter_keys{limiter="ip"} 1"#),
        "{metrics}"
    );
    // Probes are not limited.
    assert_eq!(app.get("/livez").await.status(), 200);
}

async fn trusted_proxy_header_keys_clients_only_from_trusted_peers(backend: Backend) {
    let limits = [
        ("RESETGATE_RATE_IP_BURST", "1"),
        ("RESETGATE_RATE_IP_PER_MIN", "1"),
    ];
    let via = |app: &crate::helpers::TestApp, client: &'static str| {
        app.client
            .get(app.url("/v1/session"))
            .header("x-forwarded-for", client)
            .send()
    };
    // The test client (127.0.0.1) is a trusted proxy: each forwarded client has its own bucket.
    let mut trusted = limits.to_vec();
    trusted.push(("RESETGATE_TRUSTED_PROXIES", "127.0.0.1/32, ::1"));
    let app = spawn_app_with(backend, &trusted).await;
    assert_eq!(via(&app, "198.51.100.1").await.unwrap().status(), 401);
    assert_eq!(via(&app, "198.51.100.2").await.unwrap().status(), 401);
    assert_eq!(via(&app, "198.51.100.1").await.unwrap().status(), 429);
    // Same IPv6 /64, different address: same bucket.
    assert_eq!(via(&app, "2001:db8:1:2::1").await.unwrap().status(), 401);
    assert_eq!(via(&app, "2001:db8:1:2::99").await.unwrap().status(), 429);

    // Untrusted peer: the header is ignored and everything shares the peer's bucket.
    let app = spawn_app_with(backend, &limits).await;
    assert_eq!(via(&app, "198.51.100.1").await.unwrap().status(), 401);
    assert_eq!(via(&app, "198.51.100.2").await.unwrap().status(), 429);
}

async fn per_address_reset_limit_is_the_same_for_unknown_addresses(backend: Backend) {
    let app = spawn_app_with(backend, &[("RESETGATE_RATE_EMAIL_PER_HOUR", "3")]).await;
    app.create_account("alice@example.com", Some(PASSWORD), false)
        .await;
    for email in ["alice@example.com", "nobody@example.com"] {
        let codes: Vec<u16> = futures_statuses(&app, email, 4).await;
        assert_eq!(codes, [202, 202, 202, 429], "{email}");
    }
    // Addresses are normalised before counting.
    let resp = app.request_reset("ALICE@example.com").await;
    assert_eq!(resp.status(), 429, "the count follows the normalised address");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["limiter"], "email");

    // A new window opens after an hour.
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(app.request_reset("alice@example.com").await.status(), 202);
}

async fn futures_statuses(app: &crate::helpers::TestApp, email: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(app.request_reset(email).await.status().as_u16());
    }
    out
}

async fn a_saturated_hash_pool_sheds_logins_with_503_and_retry_after(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("RESETGATE_HASH_WORKERS", "1"),
            ("RESETGATE_HASH_QUEUE_BUDGET_MS", "1"),
            ("RESETGATE_ARGON2_M_KIB", "65536"),
            ("RESETGATE_ARGON2_T", "4"),
            // The front of a fresh surge would otherwise wait up to a second in the queue
            // (docs/waiting-room.md); this test is about the refusal.
            ("RESETGATE_WAIT_HOLD_MS", "0"),
        ],
    )
    .await;
    let attempts = (0..8).map(|i| {
        let client = app.client.clone();
        let url = app.url("/v1/login");
        tokio::spawn(async move {
            let started = Instant::now();
            let resp = client
                .post(url)
                .json(&json!({ "email": format!("user{i}@example.com"), "password": PASSWORD }))
                .send()
                .await
                .unwrap();
            (
                resp.status().as_u16(),
                resp.headers().get("retry-after").cloned(),
                started.elapsed(),
                resp,
            )
        })
    });
    let mut shed = 0;
    for a in attempts.collect::<Vec<_>>() {
        let (status, retry_after, elapsed, resp) = a.await.unwrap();
        match status {
            401 => {}
            503 => {
                shed += 1;
                assert!(retry_after.is_some(), "503 without Retry-After");
                assert!(elapsed < Duration::from_millis(500), "shed after {elapsed:?}");
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["code"], "hashing_overloaded");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        shed > 0,
        "8 simultaneous logins on one slow worker with a 1 ms budget must shed"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(&format!(
            r#"resetgate_hash_jobs_total{{lane="login",outcome="shed"}} {shed}"#
        )),
        "{metrics}"
    );
}

/// Two replicas on one database share the per-address count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reset_limit_holds_across_replicas() {
    let db = TestDb::create().await;
    let url = db.url.clone();
    let name = db.name.clone();
    let limit = [("RESETGATE_RATE_EMAIL_PER_HOUR", "3")];
    let first = spawn_app_on(Some(db), &limit).await;
    let second = spawn_app_on(Some(TestDb { name, url }), &limit).await;
    assert_eq!(first.request_reset("nobody@example.com").await.status(), 202);
    assert_eq!(second.request_reset("nobody@example.com").await.status(), 202);
    assert_eq!(first.request_reset("nobody@example.com").await.status(), 202);
    assert_eq!(second.request_reset("nobody@example.com").await.status(), 429);
}
