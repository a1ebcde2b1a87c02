//! `resetgate calibrate`: measure argon2 on this machine and suggest the hashing workers (W) and
//! queue budget to configure.

use std::process::ExitCode;

use super::load;
use crate::config::Mode;

pub(super) fn run(seconds: u64) -> anyhow::Result<ExitCode> {
    let config = load(Mode::Demo)?;
    let workers = config.hash_workers;
    println!(
        "measuring {} on {workers} thread(s) for {seconds} s ...",
        config.hash
    );
    let c = crate::calibrate::measure(config.hash, workers, std::time::Duration::from_secs(seconds))?;
    println!(
        "hash time (one core):        {:.1} ms",
        c.hash_time.as_secs_f64() * 1e3
    );
    println!(
        "capacity C ({workers} workers):       {:.1} hashes/s",
        c.hashes_per_sec
    );
    #[allow(clippy::cast_precision_loss)]
    let per_core = c.hashes_per_sec / workers as f64;
    println!("per worker:                  {per_core:.1} hashes/s");
    println!(
        "hashing memory (W x m_cost): {} MiB",
        workers as u64 * u64::from(config.hash.m_kib) / 1024
    );
    println!();
    println!("suggested settings:");
    println!(
        "RESETGATE_HASH_WORKERS={}",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    println!(
        "RESETGATE_HASH_QUEUE_BUDGET_MS={}",
        c.suggested_queue_budget().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}
