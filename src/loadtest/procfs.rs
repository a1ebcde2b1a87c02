//! What the load test reads from Linux's /proc: a process's resident memory and CPU time, and the
//! whole machine's CPU time, so a report can say how much memory a burst cost and whether other
//! work on the box competed with the run.

use std::path::Path;

use anyhow::{anyhow, Context as _};

/// Resident set size of `pid` in KiB (`VmRSS` in /proc/PID/status).
///
/// # Errors
/// When the process is gone or the file has no `VmRSS` line.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS line in {path}"))
}

/// User plus system CPU time of a process, all its threads (dead ones included), in clock ticks.
///
/// # Errors
/// When the process is gone or /proc/PID/stat cannot be parsed.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    stat_ticks(Path::new(&format!("/proc/{pid}/stat")))
}

/// The same for this process.
///
/// # Errors
/// When /proc/self/stat cannot be read or parsed.
pub fn own_cpu_ticks() -> anyhow::Result<u64> {
    stat_ticks(Path::new("/proc/self/stat"))
}

fn stat_ticks(path: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    let after_name = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected format of {}", path.display()))?;
    // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| anyhow!("field {n} missing in {}", path.display()))
    };
    Ok(field(14)? + field(15)?)
}

/// Machine-wide CPU time from the first line of /proc/stat, in clock ticks summed over all cores.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    pub busy: u64,
    pub total: u64,
}

impl MachineCpu {
    /// # Errors
    /// When /proc/stat cannot be read or parsed.
    pub fn now() -> anyhow::Result<Self> {
        let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
        let line = text
            .lines()
            .find(|l| l.starts_with("cpu "))
            .ok_or_else(|| anyhow!("no cpu line in /proc/stat"))?;
        let values: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("parsing /proc/stat")?;
        // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
        let total: u64 = values.iter().take(8).sum();
        let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
        Ok(Self {
            busy: total - idle,
            total,
        })
    }
}

/// Memory the kernel could give to new work without swapping (`MemAvailable`), in KiB.
///
/// # Errors
/// When /proc/meminfo cannot be read or lacks the line.
pub fn mem_available_kib() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no MemAvailable line in /proc/meminfo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        assert!(cpu_ticks(me).is_ok());
        let cpu = MachineCpu::now().unwrap();
        assert!(cpu.total >= cpu.busy);
        assert!(mem_available_kib().unwrap() > 0);
    }
}
