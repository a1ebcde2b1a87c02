//! The Grafana dashboard against a real Prometheus: the gateway runs on PostgreSQL with traffic,
//! a campaign and a little abuse; Prometheus (the Debian package) scrapes its ops listener on
//! loopback every second and evaluates deploy/prometheus/resetgate-rules.yml; then every query of
//! every panel in grafana/dashboards/resetgate.json, with Grafana's variables filled in as Grafana
//! would, must return at least one series with a finite value. So must every recording rule.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp, PASSWORD};

const SCRAPE_INTERVAL: &str = "1s";
/// What Grafana makes of `$__rate_interval` for a 1 s scrape interval (four scrapes, plus one).
const RATE_INTERVAL: &str = "5s";
/// Scraping long enough that every rate window holds several samples.
const MIN_SCRAPES: f64 = 12.0;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A Prometheus server in a temporary directory, killed on drop. It scrapes itself too, as a shared
/// Prometheus would, so a panel that picks up other jobs' series is caught.
struct Prometheus {
    base: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: std::net::SocketAddr) -> Self {
        let bin = std::env::var("RG_TEST_PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let rules = repo_file("deploy/prometheus/resetgate-rules.yml");
        let yaml = [
            "global:".to_owned(),
            format!("  scrape_interval: {SCRAPE_INTERVAL}"),
            format!("  evaluation_interval: {SCRAPE_INTERVAL}"),
            "rule_files:".to_owned(),
            format!("  - {}", rules.display()),
            "scrape_configs:".to_owned(),
            "  - job_name: resetgate".to_owned(),
            format!("    static_configs: [{{targets: ['{target}']}}]"),
            "  - job_name: prometheus".to_owned(),
            format!("    static_configs: [{{targets: ['127.0.0.1:{port}']}}]"),
        ];
        std::fs::write(&config, yaml.join("\n") + "\n").unwrap();
        let mut child = tokio::process::Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start Prometheus ({bin}): {e}. Install the Debian package `prometheus` \
                     (.ci/run does) or set RG_TEST_PROMETHEUS to its binary."
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client.get(format!("{base}/-/ready")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return Self {
                    base,
                    _child: child,
                    _dir: dir,
                };
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("Prometheus exited with {status} (its log is above)");
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus did not become ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An instant query; the `data.result` vector, or the error Prometheus gave.
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let url = url::Url::parse_with_params(&format!("{}/api/v1/query", self.base), &[("query", expr)])
            .expect("query url");
        let resp = reqwest::get(url).await.map_err(|e| e.to_string())?;
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"].as_array().cloned().unwrap_or_default())
    }
}

/// True when some series holds a number (not NaN, which `histogram_quantile` gives for a lane with
/// no observations in the window).
fn has_finite_value(result: &[Value]) -> bool {
    result.iter().any(|s| {
        s["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    })
}

/// Grafana's variables as Grafana fills them in for this Prometheus with "All" replicas selected:
/// with no custom all-value, "All" is the listed values, regex-escaped, as an alternation.
fn as_grafana_sends_it(expr: &str, instances: &[String]) -> String {
    let all = instances
        .iter()
        .map(|i| i.replace('.', "\\\\."))
        .collect::<Vec<_>>()
        .join("|");
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__range", "1m")
        .replace("$__interval", SCRAPE_INTERVAL)
        .replace("$instance", &format!("({all})"))
}

/// Series from some other scrape target than the selected replicas.
fn foreign_series(result: &[Value], instances: &[String]) -> Vec<String> {
    result
        .iter()
        .filter_map(|s| s["metric"]["instance"].as_str())
        .filter(|i| !instances.iter().any(|ok| ok == i))
        .map(str::to_owned)
        .collect()
}

/// Requests that touch every lane and limiter while Prometheus watches: logins (login lane),
/// reset requests for fresh unknown addresses (equal-timing path), a stray 404.
fn background_traffic(app: Arc<TestApp>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            assert_eq!(app.login("steady@example.com", PASSWORD).await.status(), 200);
            app.request_reset(&format!("nobody-{n}@example.com")).await;
            app.get("/nope").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_panel_has_data_in_a_real_prometheus() {
    let app = Arc::new(spawn_app_with(Backend::Postgres, &[("RESETGATE_RATE_EMAIL_PER_HOUR", "3")]).await);
    let prom = Prometheus::start(app.ops_addr).await;

    app.create_account("steady@example.com", Some(PASSWORD), false)
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = background_traffic(Arc::clone(&app), Arc::clone(&stop));

    // A reset from request to confirmation (confirm lane, outbox), then the per-address limit.
    app.create_account("reset@example.com", Some(PASSWORD), false)
        .await;
    let token = app.reset_token("reset@example.com").await;
    let resp = app
        .confirm(&token, "a new passphrase for the dashboard", None)
        .await;
    assert_eq!(resp.status(), 200);
    for _ in 0..3 {
        app.request_reset("limited@example.com").await;
    }
    assert_eq!(app.request_reset("limited@example.com").await.status(), 429);

    // A small campaign run to completion (campaign and outbox series).
    let targets: Vec<String> = (0..5).map(|i| format!("breached-{i}@example.com")).collect();
    for e in &targets {
        app.create_account(e, Some(PASSWORD), false).await;
    }
    let id = app
        .start_campaign(&json!({
            "scope": { "emails": targets }, "revoke_sessions": true, "notify": true,
            "reason": "dashboard test"
        }))
        .await;
    app.wait_campaign(id, Duration::from_secs(30), |p| p["phase"] == "completed")
        .await;

    // Enough scrapes that every window holds samples, and the campaign runner's 5 s metric refresh
    // has run since the campaign completed.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scrapes = prom
            .query(r#"count_over_time(up{job="resetgate"}[1m])"#)
            .await
            .unwrap_or_default();
        let n = scrapes
            .first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let phase = prom
            .query(&format!(
                r#"resetgate_campaign_phase{{campaign="{id}",phase="completed"}} == 1"#
            ))
            .await
            .unwrap_or_default();
        if n >= MIN_SCRAPES && !phase.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus has {n} scrapes of the gateway after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("grafana/dashboards/resetgate.json")).unwrap(),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;

    // The replica picker: Grafana's label_values(resetgate_hash_workers, instance). Only the
    // gateway, not Prometheus's own target.
    let url = url::Url::parse_with_params(
        &format!("{}/api/v1/label/instance/values", prom.base),
        &[("match[]", "resetgate_hash_workers")],
    )
    .unwrap();
    let values: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let instances: Vec<String> = values["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(instances, vec![app.ops_addr.to_string()], "the instance variable");
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = as_grafana_sends_it(target["expr"].as_str().unwrap(), &instances);
            let what = format!("{} / {}", panel["title"], target["refId"]);
            checked += 1;
            match prom.query(&expr).await {
                Ok(result) if !foreign_series(&result, &instances).is_empty() => failures.push(format!(
                    "{what}: shows other targets {:?}: {expr}",
                    foreign_series(&result, &instances)
                )),
                Ok(result) if has_finite_value(&result) => {}
                Ok(result) => failures.push(format!("{what}: no finite data from {expr}: {result:?}")),
                Err(e) => failures.push(format!("{what}: {expr}: {e}")),
            }
        }
    }

    // Every recording rule evaluates to data too (alerts build on them).
    let rules = std::fs::read_to_string(repo_file("deploy/prometheus/resetgate-rules.yml")).unwrap();
    for name in rules.lines().filter_map(|l| l.trim().strip_prefix("- record: ")) {
        checked += 1;
        match prom.query(name).await {
            Ok(result) if has_finite_value(&result) => {}
            Ok(result) => failures.push(format!("recording rule {name}: no finite data: {result:?}")),
            Err(e) => failures.push(format!("recording rule {name}: {e}")),
        }
    }

    // After all that traffic, every label value the gateway used is one src/metrics.rs declares.
    let bad = crate::health::undeclared_label_values(&app.metrics().await);
    assert!(
        bad.is_empty(),
        "label values not declared in src/metrics.rs: {bad:?}"
    );

    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    assert!(
        checked > 40,
        "only {checked} queries found: is the dashboard empty?"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
