//! Writes what a run measured: the raw per-phase CSV, the Markdown report generated from it (no
//! hand-written figures), and the plot, drawn by docs/plot_perf.py when python3 and matplotlib are
//! installed.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

mod csv;
mod intro;
mod text;

use super::gateway::{Launch, Series};
use super::phase::PhaseResult;
use super::run::Run;
use super::stats::{Recovery, RECOVERY_FACTOR, RECOVERY_STABLE_WINDOWS, RECOVERY_WINDOW};
use super::targets::{self, Verdict};
use crate::hashing::Mode;

/// Writes the CSV and the report beside `out` (and every request to `samples`, if given), then
/// tries to draw the plot.
///
/// # Errors
/// When a file cannot be written.
pub fn write_all(run: &Run, out: &Path, samples: Option<&Path>) -> anyhow::Result<()> {
    if let Some(path) = samples {
        std::fs::write(path, csv::samples(run)).with_context(|| format!("writing {}", path.display()))?;
    }
    let dir = out.parent().unwrap_or_else(|| Path::new("."));
    let csv = dir.join("perf-data.csv");
    std::fs::write(&csv, csv::csv(run)).with_context(|| format!("writing {}", csv.display()))?;
    let mut md = markdown(run);
    // Hand-kept sections (the criterion figures) live in their own file so a rerun keeps them.
    // The campaign run (`campaign-bench`) writes its own file; its section is kept the same way.
    for kept in ["perf-campaign.md", "perf-benches.md"] {
        if let Ok(extra) = std::fs::read_to_string(dir.join(kept)) {
            md.push('\n');
            md.push_str(&extra);
        }
    }
    std::fs::write(out, &md).with_context(|| format!("writing {}", out.display()))?;
    println!();
    for s in run.measured() {
        println!("{}", table(run, s));
    }
    println!("{}", targets_table(run));
    println!("wrote {} and {}", out.display(), csv.display());
    csv::plot(dir, &csv);
    Ok(())
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1e3))
}

fn markdown(run: &Run) -> String {
    let mut md = String::new();
    let _ = write!(md, "{}", intro::intro(run));
    md.push_str("## Results\n\n");
    for s in run.measured() {
        let _ = writeln!(md, "### {}\n\n{}", title(s), table(run, s));
        if let Some(line) = recovery_line(run, s) {
            let _ = writeln!(md, "{line}\n");
        }
    }
    md.push_str(COLUMNS);
    md.push_str("\n## Targets\n\n");
    md.push_str(&targets_table(run));
    md.push_str(&text::goodput_note(run));
    md.push_str(&misses(run));
    md.push_str("\n## Plot\n\n![goodput and latency against offered load, every series](perf.png)\n\n");
    md.push_str(&text::lifo_section(run));
    md.push_str(&text::method(run));
    md
}

fn title(s: &Series) -> String {
    match (&s.launch, s.mode) {
        (Launch::Own(_), Mode::Pool) => {
            "pool: bounded workers, admission by expected wait, adaptive LIFO (the product)".to_owned()
        }
        (Launch::Own(_), Mode::Unbounded) => {
            "unbounded baseline: one `spawn_blocking` per hash, no admission (tools/bench only)".to_owned()
        }
        (Launch::Build(bin), _) => format!("{}: the pool of another build, `{}`", s.label, bin.display()),
    }
}

const COLUMNS: &str = "Columns: *load* is offered rate / C; *goodput* counts the 200s that arrived \
while the phase's load was offered, per second of the phase (a backlog worked off after the phase \
is not credited to it; *ok* counts every 200); *shed* are 503 `hashing_overloaded` (refused at \
admission, or expired in the queue); *expired* is the pool's own count of jobs that reached their \
deadline in the queue (from /metrics; blank for the baseline); *hash ms* is the mean time of one argon2 \
computation inside the gateway (its own `resetgate_hash_duration_seconds`); *timeout* are 503 `timeout` from the \
gateway or no answer within the request timeout + 1 s; latencies run from the *scheduled* send time \
to the full response, in ms; *RSS growth* is the peak VmRSS during the phase (sampled every 50 ms, \
until its last response) minus VmRSS just before it; *CPU* is the share of all cores used by the \
gateway, by this generator and by every other process while the phase's load was offered.\n";

/// One series' phases as a Markdown table.
#[must_use]
pub fn table(run: &Run, series: &Series) -> String {
    let mut t = String::from(
        "| load | offered /s | goodput /s | goodput / C | sent | ok | shed | expired | timeout | error \
         | ok p50 | ok p99 | shed p50 | shed p99 | hash ms | RSS growth MiB | RSS growth / (W x m_cost) | CPU gateway / generator / other | notes |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for p in run.phases_of(&series.label) {
        let s = &p.summary;
        let _ = writeln!(
            t,
            "| {}x | {:.1} | {:.1} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {:.0} / {:.0} / {:.0} % | {} |",
            p.multiplier,
            p.offered_rps,
            p.goodput_rps(),
            p.goodput_rps() / run.capacity.hashes_per_sec,
            s.sent,
            s.ok,
            s.shed,
            expired(p),
            s.timeouts,
            s.errors,
            ms(s.ok_latency.p50),
            ms(s.ok_latency.p99),
            ms(s.shed_latency.p50),
            ms(s.shed_latency.p99),
            ms(p.gateway_hash),
            mib(p.usage.rss_growth_kib()),
            run.rss_ratio(p),
            p.usage.gateway_cpu * 100.0,
            p.usage.generator_cpu * 100.0,
            p.usage.other_cpu * 100.0,
            p.notes.join("; "),
        );
    }
    t
}

/// The pool's expired-job count; blank for the baseline, which has no queue to expire from.
fn expired(p: &PhaseResult) -> String {
    match (p.mode, p.jobs) {
        (Mode::Pool, Some(j)) => j.expired.to_string(),
        _ => String::new(),
    }
}

#[allow(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn recovery_line(run: &Run, series: &Series) -> Option<String> {
    let burst = run.phases_of(&series.label).last()?;
    let budget = run.settings.queue_budget.as_secs_f64();
    let text = match burst.recovery? {
        Recovery::After(d) => format!(
            "{:.0} ms = {:.1} queue budgets",
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() / budget
        ),
        Recovery::NotWithin(d) => format!("not within the {:.0} s observed", d.as_secs_f64()),
    };
    Some(format!(
        "Recovery after the {}x burst (admitted p50 per {} ms window back within {RECOVERY_FACTOR}x \
         of the lightest phase's, for {RECOVERY_STABLE_WINDOWS} windows in a row): **{text}**.",
        burst.multiplier,
        RECOVERY_WINDOW.as_millis()
    ))
}

fn verdict_cell(v: &Verdict) -> String {
    let mark = match v.met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "n/a",
    };
    format!("{} ({mark})", v.measured)
}

/// The targets, one row each, one column per series.
#[must_use]
pub fn targets_table(run: &Run) -> String {
    let series: Vec<&Series> = run.measured().collect();
    let judged: Vec<Vec<Verdict>> = series.iter().map(|s| targets::judge(run, &s.label)).collect();
    let mut t = String::from("| target |");
    let mut rule = String::from("|---|");
    for s in &series {
        let _ = write!(t, " {} |", s.label);
        rule.push_str("---|");
    }
    let _ = writeln!(t, "\n{rule}");
    for (i, first) in judged.first().into_iter().flatten().enumerate() {
        let _ = write!(t, "| {} |", first.target);
        for verdicts in &judged {
            let _ = write!(t, " {} |", verdicts.get(i).map_or_else(String::new, verdict_cell));
        }
        t.push('\n');
    }
    t
}

/// Every missed target, by how much and why, per series.
fn misses(run: &Run) -> String {
    let mut out = String::new();
    for s in run.measured() {
        let missed: Vec<Verdict> = targets::judge(run, &s.label)
            .into_iter()
            .filter(|v| v.met == Some(false))
            .collect();
        if missed.is_empty() {
            let _ = writeln!(out, "\n**{}: every target met.**", s.label);
            continue;
        }
        let _ = writeln!(out, "\nMissed by **{}**:\n", s.label);
        for v in missed {
            let _ = writeln!(out, "- {}: {}", v.target, v.why.unwrap_or_default());
        }
    }
    out
}
