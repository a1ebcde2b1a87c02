//! What the load test reads from Linux's /proc, through the `procfs` crate: a process's resident
//! memory and CPU time, and the whole machine's CPU time and memory, so a report can say how much
//! memory a burst cost and whether other work on the box competed with the run.

use anyhow::{anyhow, Context as _};
use procfs::process::Process;
use procfs::{Current as _, CurrentSI as _, KernelStats, Meminfo};

fn process(pid: u32) -> anyhow::Result<Process> {
    let pid = i32::try_from(pid).with_context(|| format!("pid {pid} out of range"))?;
    Process::new(pid).with_context(|| format!("opening /proc/{pid}"))
}

/// Resident set size of `pid` in KiB (`VmRSS` in /proc/PID/status).
///
/// # Errors
/// When the process is gone or its status has no `VmRSS` (a zombie).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = process(pid)?
        .status()
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .vmrss
        .ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// User plus system CPU time of a process, all its threads (dead ones included), in clock ticks.
///
/// # Errors
/// When the process is gone or /proc/PID/stat cannot be parsed.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = process(pid)?
        .stat()
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    Ok(stat.utime + stat.stime)
}

/// The same for this process.
///
/// # Errors
/// When /proc/self/stat cannot be read or parsed.
pub fn own_cpu_ticks() -> anyhow::Result<u64> {
    let stat = Process::myself()
        .and_then(|me| me.stat())
        .context("reading /proc/self/stat")?;
    Ok(stat.utime + stat.stime)
}

/// Machine-wide CPU time from /proc/stat, in clock ticks summed over all cores.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    pub busy: u64,
    pub total: u64,
}

impl MachineCpu {
    /// # Errors
    /// When /proc/stat cannot be read or parsed.
    pub fn now() -> anyhow::Result<Self> {
        let t = KernelStats::current().context("reading /proc/stat")?.total;
        // Idle and iowait are not busy; guest time is already counted in user and nice.
        let idle = t.idle + t.iowait.unwrap_or(0);
        let total = t.user
            + t.nice
            + t.system
            + idle
            + t.irq.unwrap_or(0)
            + t.softirq.unwrap_or(0)
            + t.steal.unwrap_or(0);
        Ok(Self {
            busy: total - idle,
            total,
        })
    }
}

/// Memory the kernel could give to new work without swapping (`MemAvailable`), in KiB.
///
/// # Errors
/// When /proc/meminfo cannot be read or lacks the line (kernels before 3.14).
pub fn mem_available_kib() -> anyhow::Result<u64> {
    Meminfo::current()
        .context("reading /proc/meminfo")?
        .mem_available
        // procfs reports bytes.
        .map(|bytes| bytes / 1024)
        .ok_or_else(|| anyhow!("no MemAvailable line in /proc/meminfo"))
}

/// Total memory in whole GiB, or "?" when /proc/meminfo cannot be read.
#[must_use]
pub fn mem_total_gib() -> String {
    Meminfo::current().map_or_else(|_| "?".to_owned(), |m| (m.mem_total >> 30).to_string())
}

/// The CPU model from /proc/cpuinfo, or "unknown CPU".
#[must_use]
pub fn cpu_model() -> String {
    procfs::CpuInfo::current()
        .ok()
        .and_then(|c| c.model_name(0).map(str::to_owned))
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_the_machine() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        let ticks = cpu_ticks(me).unwrap();
        // Burn CPU until the reading grows (a tick is 10 ms; on a busy machine that may take a while).
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_ticks(me).unwrap() == ticks {
            assert!(started.elapsed().as_secs() < 30, "CPU time did not grow");
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        assert!(own_cpu_ticks().unwrap() > ticks);
        let cpu = MachineCpu::now().unwrap();
        assert!(cpu.total > cpu.busy);
        assert!(mem_available_kib().unwrap() > 0);
        assert_ne!(mem_total_gib(), "?");
        assert!(!cpu_model().is_empty());
    }

    #[test]
    fn a_missing_process_is_an_error_not_a_panic() {
        // Above the kernel's pid_max (at most 2^22), so never a live process.
        let gone = 1 << 23;
        assert!(rss_kib(gone).is_err());
        assert!(cpu_ticks(gone).is_err());
    }
}
