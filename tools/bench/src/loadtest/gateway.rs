//! The gateway under test: a child process on loopback, either this tool's `gateway` subcommand
//! (resetgate's own demo, linked from the library, on the series' hashing engine) or the `demo` of
//! another resetgate build. A separate process, not an in-process server, so its memory (VmRSS)
//! and CPU time are its own and can be measured, and so the unbounded baseline's runaway threads
//! die with it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use super::sys;
use crate::hashing::Mode;

/// The account every request logs in to. The password passes the gateway's policy (15+ chars, not
/// in the blocklist); it is throwaway, like the in-memory store it lives in.
pub const EMAIL: &str = "load@example.com";
pub const PASSWORD: &str = "load test passphrase 2026";

/// One line of the report: a hashing mode served by a gateway binary. This tool gives the `pool`
/// and `unbounded` series; `--extra-pool` adds the pool of another build (an earlier commit, say)
/// under its own label, measured in the same run against the same C.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub mode: Mode,
    pub launch: Launch,
}

/// How a series' gateway process is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// `BIN gateway --hashing MODE`: this tool, running resetgate's demo on the series' engine.
    Own(PathBuf),
    /// `BIN demo` of another resetgate build, which hashes on its pool.
    Build(PathBuf),
}

impl Launch {
    /// This very executable (it has the `gateway` subcommand).
    ///
    /// # Errors
    /// When the current executable cannot be located.
    pub fn own() -> anyhow::Result<Self> {
        Ok(Self::Own(
            std::env::current_exe().context("locating the resetgate-bench binary")?,
        ))
    }

    #[must_use]
    pub fn bin(&self) -> &Path {
        match self {
            Self::Own(bin) | Self::Build(bin) => bin,
        }
    }

    fn args(&self, mode: Mode) -> Vec<&'static str> {
        let seed = ["--seed-email", EMAIL, "--seed-password", PASSWORD];
        match self {
            Self::Own(_) => [&["gateway", "--hashing", mode.as_str()][..], &seed].concat(),
            Self::Build(_) => [&["demo"][..], &seed].concat(),
        }
    }
}

/// What every gateway of one run is started with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub workers: usize,
    pub queue_budget: Duration,
    pub deadline: Duration,
    pub request_timeout: Duration,
    /// Where the child's stderr goes (its log), so a failed start can be diagnosed.
    pub log_dir: PathBuf,
}

pub struct Gateway {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// Serves /metrics; `None` when no free port could be found for it.
    pub ops_addr: Option<SocketAddr>,
    pub log: PathBuf,
}

/// A gateway that has not printed its address by then is broken, not slow.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// SIGTERM first so the process exits as in production; SIGKILL after this, because the unbounded
/// baseline's runtime waits for every queued `spawn_blocking` hash before it exits.
const STOP_GRACE: Duration = Duration::from_secs(3);

impl Gateway {
    /// Starts the series' gateway and waits until it listens.
    ///
    /// # Errors
    /// When the binary cannot be started or exits or stays silent before listening.
    pub async fn start(settings: &Settings, series: &Series) -> anyhow::Result<Self> {
        let log = settings
            .log_dir
            .join(format!("resetgate-loadtest-{}.log", file_safe(&series.label)));
        let stderr = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let ops_addr = free_loopback_port();
        let bin = series.launch.bin();
        let mut cmd = Command::new(bin);
        cmd.args(series.launch.args(series.mode))
            .envs(env(settings, ops_addr))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("gateway exited at once"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("gateway stdout not captured"))?;
        let addr = tokio::time::timeout(START_TIMEOUT, listening_addr(stdout))
            .await
            .map_err(|_| {
                anyhow!(
                    "gateway did not listen within {START_TIMEOUT:?}; see {}",
                    log.display()
                )
            })?
            .with_context(|| format!("gateway failed to start; see {}", log.display()))?;
        Ok(Self {
            child,
            pid,
            addr,
            ops_addr,
            log,
        })
    }

    /// SIGTERM, then SIGKILL if it has not exited within [`STOP_GRACE`].
    ///
    /// # Errors
    /// When the process cannot be waited for.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        signal(self.pid, "TERM");
        if tokio::time::timeout(STOP_GRACE, self.child.wait()).await.is_err() {
            self.child.kill().await.context("killing the gateway")?;
        }
        Ok(())
    }

    /// Stops this gateway and starts a fresh one in its place.
    ///
    /// # Errors
    /// As [`Gateway::stop`] and [`Gateway::start`].
    pub async fn restart(self, settings: &Settings, series: &Series) -> anyhow::Result<Self> {
        self.stop().await?;
        Self::start(settings, series).await
    }

    /// Waits until the gateway's CPU use falls to [`IDLE_SHARE`] of one core, for at most `max`.
    /// True when it did: the previous phase's work is finished and cannot leak into the next one.
    pub async fn wait_idle(&self, max: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < max {
            let Ok(before) = sys::cpu_ticks(self.pid) else {
                return false;
            };
            tokio::time::sleep(IDLE_PROBE).await;
            let Ok(after) = sys::cpu_ticks(self.pid) else {
                return false;
            };
            if after - before <= IDLE_TICKS {
                return true;
            }
        }
        false
    }
}

const IDLE_PROBE: Duration = Duration::from_millis(500);
/// Clock ticks are 10 ms (USER_HZ = 100): 5 ticks in 500 ms is 10 % of one core, well under one
/// hash in flight, well above the gateway's background tasks.
const IDLE_TICKS: u64 = 5;
/// For the report text only.
pub const IDLE_SHARE: &str = "10 % of one core";

/// Real `RESETGATE_*` settings only: a build that refuses unknown variables must start on them.
fn env(settings: &Settings, ops: Option<SocketAddr>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("RESETGATE_LISTEN", "127.0.0.1:0".to_owned()),
        ("RESETGATE_HASH_WORKERS", settings.workers.to_string()),
        (
            "RESETGATE_HASH_QUEUE_BUDGET_MS",
            settings.queue_budget.as_millis().to_string(),
        ),
        (
            "RESETGATE_HASH_DEADLINE_MS",
            settings.deadline.as_millis().to_string(),
        ),
        // Only the hashing pool may shed: the HTTP concurrency limit is out of the way.
        ("RESETGATE_MAX_IN_FLIGHT", "100000".to_owned()),
        (
            "RESETGATE_REQUEST_TIMEOUT_MS",
            settings.request_timeout.as_millis().to_string(),
        ),
        // Every request comes from one address and logs in to one account: per-IP and per-account
        // limits would measure the rate limiter, not hashing.
        ("RESETGATE_RATE_LIMITS", "off".to_owned()),
        ("RESETGATE_DRAIN_TIMEOUT_MS", "1000".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    if let Some(ops) = ops {
        vars.push(("RESETGATE_OPS_LISTEN", ops.to_string()));
    }
    vars
}

/// Reads the child's stdout until `resetgate listening on http://ADDR`, then keeps draining it in
/// the background so a full pipe can never block the gateway.
async fn listening_addr(stdout: tokio::process::ChildStdout) -> anyhow::Result<SocketAddr> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.context("reading gateway stdout")? {
        if let Some(addr) = line.strip_prefix("resetgate listening on http://") {
            let addr = addr
                .trim()
                .parse()
                .with_context(|| format!("unexpected listen address {addr:?}"))?;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(addr);
        }
    }
    bail!("gateway exited before listening")
}

fn file_safe(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A loopback port that was free a moment ago, for the ops listener (its default is a fixed port,
/// and the gateway does not print the ops address). The race with other processes is harmless:
/// the ops listener only serves /metrics, which the report uses for the expired-job counts.
fn free_loopback_port() -> Option<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()
}

/// Sends a signal with kill(1): this crate forbids `unsafe`, so it has no direct `kill(2)`.
pub fn signal(pid: u32, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(e) = sent {
        eprintln!("loadtest: could not send SIG{name} to {pid}: {e}");
    }
}
