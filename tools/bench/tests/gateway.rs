//! `resetgate-bench gateway`: the real gateway process on either hashing engine, as `loadtest`
//! runs it. The baseline must be what the report says it is: the same gateway with no admission.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_resetgate-bench");
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench test passphrase 2026";

struct Gateway {
    /// Killed on drop.
    _child: Child,
    base: String,
    ops: String,
}

/// Starts the gateway with one hashing worker and a queue budget far below one hash time, so the
/// pool must refuse whatever cannot start at once.
async fn start(hashing: &str) -> Gateway {
    let mut cmd = Command::new(BIN);
    cmd.args(["gateway", "--hashing", hashing])
        .args(["--seed-email", EMAIL, "--seed-password", PASSWORD]);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("RESETGATE_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .envs([
            ("RESETGATE_LISTEN", "127.0.0.1:0"),
            ("RESETGATE_OPS_LISTEN", "127.0.0.1:0"),
            ("RESETGATE_HASH_WORKERS", "1"),
            ("RESETGATE_HASH_QUEUE_BUDGET_MS", "1"),
            // Refused at once, not held at the front of the burst (docs/waiting-room.md).
            ("RESETGATE_WAIT_HOLD_MS", "0"),
            ("RESETGATE_RATE_LIMITS", "off"),
            ("RUST_LOG", "warn"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start resetgate-bench gateway");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut base, mut ops) = (None, None);
    tokio::time::timeout(Duration::from_secs(60), async {
        while base.is_none() || ops.is_none() {
            let line = lines
                .next_line()
                .await
                .expect("read stdout")
                .expect("gateway exited early");
            if let Some(a) = line.strip_prefix("resetgate listening on ") {
                base = Some(a.to_owned());
            } else if let Some(a) = line.strip_prefix("resetgate ops (metrics, probes) on ") {
                ops = Some(a.to_owned());
            }
        }
    })
    .await
    .expect("gateway listening within 60 s");
    // Keep draining stdout so the gateway never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Gateway {
        _child: child,
        base: base.unwrap(),
        ops: ops.unwrap(),
    }
}

/// Fires `n` logins for the seeded account at once; their statuses.
async fn burst(gw: &Gateway, n: usize) -> Vec<u16> {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/login", gw.base);
    let body = serde_json::json!({ "email": EMAIL, "password": PASSWORD });
    let sends = (0..n).map(|_| {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tokio::spawn(async move {
            let resp = client.post(url).json(&body).send().await.expect("login answered");
            resp.status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for send in sends.collect::<Vec<_>>() {
        statuses.push(send.await.expect("login task"));
    }
    statuses
}

async fn metric(gw: &Gateway, line_start: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", gw.ops))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .unwrap_or_else(|| panic!("no {line_start:?} in /metrics"))
        .trim()
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn the_baseline_admits_every_login_where_the_pool_sheds() {
    const N: usize = 16;
    let (pool, baseline) = tokio::join!(start("pool"), start("unbounded"));

    let statuses = burst(&pool, N).await;
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "{statuses:?}");
    assert!(
        statuses.contains(&200),
        "the seeded account logs in: {statuses:?}"
    );
    assert!(
        statuses.contains(&503),
        "one worker and a 1 ms budget cannot take {N} at once: {statuses:?}"
    );
    assert!((metric(&pool, "resetgate_hash_workers ").await - 1.0).abs() < f64::EPSILON);

    let statuses = burst(&baseline, N).await;
    assert_eq!(statuses, vec![200; N], "no admission: every hash runs");
    // Every hash was timed inside the gateway, as the report reads it; no pool stands behind it.
    let timed = metric(
        &baseline,
        "resetgate_hash_duration_seconds_count{lane=\"login\"} ",
    )
    .await;
    assert!(timed >= 16.0, "{timed} login hashes timed");
    assert!(metric(&baseline, "resetgate_hash_workers ").await.abs() < f64::EPSILON);
}
