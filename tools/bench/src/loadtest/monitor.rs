//! Watches the gateway process during one phase: its peak resident memory (sampled every 50 ms),
//! and where the machine's CPU time went (gateway, this generator, everything else). A memory cap
//! kills the gateway before a runaway baseline can take the machine down with it.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::gateway;
use super::sys::{self, MachineCpu};

const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// What one phase cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub rss_before_kib: u64,
    pub rss_max_kib: u64,
    /// The gateway was killed for exceeding the memory cap.
    pub capped: bool,
    /// Shares of all cores' time while the phase's load was offered, 0..=1.
    pub gateway_cpu: f64,
    pub generator_cpu: f64,
    /// Busy time of every other process on the machine: a build running beside the test shows here.
    pub other_cpu: f64,
}

impl Usage {
    #[must_use]
    pub fn rss_growth_kib(&self) -> u64 {
        self.rss_max_kib.saturating_sub(self.rss_before_kib)
    }
}

pub struct Monitor {
    stop: CancellationToken,
    sampler: JoinHandle<Sampled>,
    start: Snapshot,
    rss_before_kib: u64,
}

#[derive(Debug, Clone, Copy)]
struct Snapshot {
    machine: MachineCpu,
    gateway: u64,
    own: u64,
}

impl Snapshot {
    fn take(pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            machine: MachineCpu::now()?,
            gateway: sys::cpu_ticks(pid)?,
            own: sys::own_cpu_ticks()?,
        })
    }

    /// A fresh reading where one is possible; the gateway may be dead (killed at the cap).
    fn refresh(&mut self, pid: u32) {
        if let Ok(m) = MachineCpu::now() {
            self.machine = m;
        }
        if let Ok(t) = sys::cpu_ticks(pid) {
            self.gateway = t;
        }
        if let Ok(t) = sys::own_cpu_ticks() {
            self.own = t;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sampled {
    rss_max_kib: u64,
    capped: bool,
    /// CPU readings at the end of the CPU window.
    cut: Snapshot,
}

impl Monitor {
    /// Starts sampling `pid`: RSS until [`Monitor::finish`], CPU over the next `cpu_window` (the
    /// offered-load window: the drain or recovery tail after it would dilute the shares).
    /// `cap_kib`: kill the gateway if its RSS exceeds this.
    ///
    /// # Errors
    /// When the gateway's /proc entries cannot be read (it is not running).
    pub fn start(pid: u32, cap_kib: u64, cpu_window: Duration) -> anyhow::Result<Self> {
        let start = Snapshot::take(pid)?;
        let rss_before_kib = sys::rss_kib(pid)?;
        let stop = CancellationToken::new();
        let limits = Limits {
            pid,
            cap_kib,
            cpu_until: Instant::now() + cpu_window,
        };
        let sampler = tokio::spawn(sample(limits, rss_before_kib, start, stop.clone()));
        Ok(Self {
            stop,
            sampler,
            start,
            rss_before_kib,
        })
    }

    /// Stops sampling and reports the phase's usage.
    pub async fn finish(self) -> Usage {
        self.stop.cancel();
        let sampled = self.sampler.await.unwrap_or(Sampled {
            rss_max_kib: self.rss_before_kib,
            capped: false,
            cut: self.start,
        });
        let (start, cut) = (self.start, sampled.cut);
        #[allow(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
        let share = |ticks: u64| {
            let total = cut.machine.total.saturating_sub(start.machine.total).max(1);
            ticks as f64 / total as f64
        };
        let gateway_ticks = cut.gateway.saturating_sub(start.gateway);
        let own_ticks = cut.own.saturating_sub(start.own);
        let busy = cut.machine.busy.saturating_sub(start.machine.busy);
        Usage {
            rss_before_kib: self.rss_before_kib,
            rss_max_kib: sampled.rss_max_kib,
            capped: sampled.capped,
            gateway_cpu: share(gateway_ticks),
            generator_cpu: share(own_ticks),
            other_cpu: share(busy.saturating_sub(gateway_ticks + own_ticks)),
        }
    }
}

struct Limits {
    pid: u32,
    cap_kib: u64,
    cpu_until: Instant,
}

/// Reading /proc is a few microseconds of kernel work that never blocks on I/O, so it runs on the
/// async runtime directly.
async fn sample(limits: Limits, rss_before: u64, start: Snapshot, stop: CancellationToken) -> Sampled {
    let pid = limits.pid;
    let mut rss_max = rss_before;
    let mut capped = false;
    let mut last = start;
    let mut cut = None;
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        let Ok(rss) = sys::rss_kib(pid) else { break };
        rss_max = rss_max.max(rss);
        last.refresh(pid);
        if cut.is_none() && Instant::now() >= limits.cpu_until {
            cut = Some(last);
        }
        if rss > limits.cap_kib && !capped {
            eprintln!(
                "loadtest: gateway RSS {} MiB exceeds the cap of {} MiB: killing it",
                rss / 1024,
                limits.cap_kib / 1024
            );
            gateway::signal(pid, "KILL");
            capped = true;
        }
    }
    // One last reading: the phase may have ended between two samples.
    if let Ok(rss) = sys::rss_kib(pid) {
        rss_max = rss_max.max(rss);
    }
    last.refresh(pid);
    Sampled {
        rss_max_kib: rss_max,
        capped,
        cut: cut.unwrap_or(last),
    }
}

/// Other processes may use at most this share of all cores before a measurement starts.
pub const QUIET: f64 = 0.10;
const QUIET_PROBE: Duration = Duration::from_millis(500);

/// Waits until processes other than this one and `gateway` use under [`QUIET`] of the machine,
/// for at most `max`, and returns their last measured share. Another engineer's build on the same
/// cores would otherwise be measured as the gateway's slowness.
pub async fn wait_for_quiet(gateway: Option<u32>, max: Duration) -> f64 {
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        let share = other_share_over(gateway, QUIET_PROBE).await.unwrap_or(0.0);
        if share < QUIET || started.elapsed() >= max {
            return share;
        }
        if !said {
            println!(
                "  waiting up to {} s for other processes to quieten ({:.0}% of the CPU busy)",
                max.as_secs(),
                share * 100.0
            );
            said = true;
        }
    }
}

async fn other_share_over(gateway: Option<u32>, window: Duration) -> anyhow::Result<f64> {
    let ours = |gw: Option<u32>| -> anyhow::Result<u64> {
        Ok(sys::own_cpu_ticks()? + gw.map_or(Ok(0), sys::cpu_ticks)?)
    };
    let (m0, o0) = (MachineCpu::now()?, ours(gateway)?);
    tokio::time::sleep(window).await;
    let (m1, o1) = (MachineCpu::now()?, ours(gateway)?);
    let other = (m1.busy - m0.busy).saturating_sub(o1 - o0);
    #[allow(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
    let share = other as f64 / (m1.total - m0.total).max(1) as f64;
    Ok(share)
}
