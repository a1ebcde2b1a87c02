//! The raw per-phase numbers (docs/perf-data.csv), and the plot drawn from them.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::super::generator::Outcome;
use super::super::stats::Recovery;
use super::Run;

const HEADER: &str = "series,mode,multiplier,offered_rps,phase_secs,sent,ok,shed,expired,timeouts,errors,\
goodput_rps,goodput_ratio,ok_p50_ms,ok_p99_ms,shed_p50_ms,shed_p99_ms,admission_shed_p99_ms,send_lag_p99_ms,gateway_hash_ms,\
rss_before_mib,rss_max_mib,rss_growth_mib,rss_growth_ratio,gateway_cpu,generator_cpu,other_cpu,\
recovery_ms,recovered,capacity_rps,workers,hash_time_ms,queue_budget_ms,deadline_ms,notes";

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(String::new, |d| format!("{:.3}", d.as_secs_f64() * 1e3))
}

#[allow(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// One line per phase; empty cells where a value does not exist (no 503s, no pool metrics).
#[must_use]
pub fn csv(run: &Run) -> String {
    let mut out = format!("{HEADER}\n");
    let c = &run.capacity;
    for p in &run.phases {
        let s = &p.summary;
        let (recovery_ms, recovered) = match p.recovery {
            Some(Recovery::After(d)) => (ms(Some(d)), "true"),
            Some(Recovery::NotWithin(d)) => (ms(Some(d)), "false"),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            out,
            "{},{},{},{:.3},{},{},{},{},{},{},{},{:.3},{:.4},{},{},{},{},{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{},{},{:.3},{},{:.3},{},{},\"{}\"",
            p.series,
            p.mode.as_str(),
            p.multiplier,
            p.offered_rps,
            p.length.as_secs(),
            s.sent,
            s.ok,
            s.shed,
            super::expired(p),
            s.timeouts,
            s.errors,
            p.goodput_rps(),
            p.goodput_rps() / c.hashes_per_sec,
            ms(s.ok_latency.p50),
            ms(s.ok_latency.p99),
            ms(s.shed_latency.p50),
            ms(s.shed_latency.p99),
            ms(s.admission_shed_p99),
            ms(s.lag_p99),
            ms(p.gateway_hash),
            mib(p.usage.rss_before_kib),
            mib(p.usage.rss_max_kib),
            mib(p.usage.rss_growth_kib()),
            run.rss_ratio(p),
            p.usage.gateway_cpu,
            p.usage.generator_cpu,
            p.usage.other_cpu,
            recovery_ms,
            recovered,
            c.hashes_per_sec,
            c.workers,
            c.hash_time.as_secs_f64() * 1e3,
            run.settings.queue_budget.as_millis(),
            run.settings.deadline.as_millis(),
            p.notes.join("; ").replace('"', "\"\""),
        );
    }
    out
}

/// Runs `plot_perf.py` (beside the report) on the CSV to draw perf.png. Without python3 and
/// matplotlib it says how to draw it later: the numbers are the result, the picture is a view.
pub fn plot(dir: &Path, csv: &Path) {
    let script = dir.join("plot_perf.py");
    let png = dir.join("perf.png");
    let later = format!(
        "draw it later with `pip install matplotlib && python3 {} {} {}`",
        script.display(),
        csv.display(),
        png.display()
    );
    if !script.exists() {
        println!("note: {} not found, no plot drawn", script.display());
        return;
    }
    let has_matplotlib = Command::new("python3")
        .args(["-c", "import matplotlib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_matplotlib {
        println!(
            "note: python3 with matplotlib is not available, so {} was not drawn; {later}",
            png.display()
        );
        return;
    }
    match Command::new("python3").arg(&script).arg(csv).arg(&png).status() {
        // The script says what it wrote.
        Ok(s) if s.success() => {}
        Ok(s) => println!("note: {} failed ({s}); {later}", script.display()),
        Err(e) => println!("note: could not run python3 ({e}); {later}"),
    }
}

/// Every request of the run, one line each, for looking past the percentiles.
#[must_use]
pub fn samples(run: &Run) -> String {
    let mut out = String::from("series,multiplier,segment,scheduled_ms,latency_ms,lag_ms,outcome\n");
    for p in &run.phases {
        for s in &p.samples {
            let outcome = match s.outcome {
                Outcome::Ok => "ok".to_owned(),
                Outcome::Shed => "shed".to_owned(),
                Outcome::Timeout => "timeout".to_owned(),
                Outcome::Error(status) => format!("error {status}"),
            };
            let _ = writeln!(
                out,
                "{},{},{},{:.3},{:.3},{:.3},{outcome}",
                p.series,
                p.multiplier,
                s.segment,
                s.scheduled.as_secs_f64() * 1e3,
                s.latency.as_secs_f64() * 1e3,
                s.lag.as_secs_f64() * 1e3,
            );
        }
    }
    out
}
