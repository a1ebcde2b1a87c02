//! The binary as the deploy artefacts run it: systemd's readiness protocol (deploy/systemd) and the
//! `healthcheck` subcommand that the container image uses in place of curl (deploy/Dockerfile).

use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::cli::{exits_cleanly, next_line_containing, resetgate, sigterm};
use crate::helpers::{TestDb, PEPPER};

/// The next notification systemd would receive, as text.
fn next_notification(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn healthcheck(args: &[&str], ops_listen: Option<&str>) -> std::process::Output {
    let mut cmd = resetgate();
    cmd.arg("healthcheck").args(args);
    if let Some(addr) = ops_listen {
        cmd.env("RESETGATE_OPS_LISTEN", addr);
    }
    cmd.output().expect("run resetgate healthcheck")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_tells_systemd_when_ready_and_when_stopping_and_healthcheck_follows_readiness() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&socket_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(30))).unwrap();

    let mut child = tokio::process::Command::from(resetgate())
        .arg("serve")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("RESETGATE_DATABASE_URL", &db.url)
        .env("RESETGATE_PEPPER", PEPPER)
        .env("RESETGATE_PUBLIC_BASE_URL", "https://reset.example.com/")
        .env("RESETGATE_MAIL_TRANSPORT", "log")
        .env("RESETGATE_LISTEN", "127.0.0.1:0")
        .env("RESETGATE_OPS_LISTEN", "127.0.0.1:0")
        // Long enough to probe while draining: readiness is 503 but the listener still answers.
        .env("RESETGATE_SHUTDOWN_DELAY_MS", "3000")
        .env("RESETGATE_DRAIN_TIMEOUT_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn resetgate serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ops_line = next_line_containing(&mut stdout, "ops (metrics, probes) on http://").await;
    let ops = ops_line.rsplit("http://").next().unwrap().trim().to_owned();

    let ready = tokio::task::spawn_blocking({
        let notify = notify.try_clone().unwrap();
        move || next_notification(&notify)
    })
    .await
    .unwrap();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(
        ready
            .lines()
            .any(|l| l == format!("MAINPID={}", child.id().unwrap())),
        "{ready:?}"
    );

    // Healthy, both from the variable the container sets and from an explicit URL.
    let out = healthcheck(&[], Some(&ops));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("200"), "{out:?}");
    let out = healthcheck(&["--url", &format!("http://{ops}/livez")], None);
    assert!(out.status.success(), "{out:?}");

    // SIGTERM: systemd hears STOPPING=1 and the healthcheck fails while the process drains.
    sigterm(&child);
    let stopping = tokio::task::spawn_blocking(move || next_notification(&notify))
        .await
        .unwrap();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    let out = healthcheck(&[], Some(&ops));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("503"), "{out:?}");

    exits_cleanly(&mut child, Duration::from_secs(15)).await;

    // Nothing listening: unhealthy, not a hang or a crash.
    let out = healthcheck(&["--timeout-ms", "500"], Some(&ops));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn healthcheck_refuses_a_bad_address_with_the_config_exit_code() {
    let out = healthcheck(&[], Some("not-an-address"));
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("RESETGATE_OPS_LISTEN"),
        "{out:?}"
    );
    let out = healthcheck(&["--url", "::nonsense"], None);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}
