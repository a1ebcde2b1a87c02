//! docs/metrics.md, generated from the declarations so that it cannot drift from what `/metrics`
//! serves. The test below fails when the committed file is stale; `UPDATE_DOCS=1` rewrites it.

use std::fmt::Write as _;

use super::{Family, Kind, Seed, FAMILIES, PROCESS_FAMILIES};

/// The command that rewrites docs/metrics.md; the stale-docs test names it.
pub const REGENERATE: &str = "UPDATE_DOCS=1 cargo test --lib metrics::docs";

fn code_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn at_start_up(f: &Family) -> String {
    match f.seed {
        _ if f.labels.is_empty() => "yes".to_owned(),
        Seed::None => "on first use".to_owned(),
        Seed::All => "every series".to_owned(),
        Seed::Only(values) => code_list(values),
    }
}

fn buckets(values: &[f64]) -> String {
    values.iter().map(f64::to_string).collect::<Vec<_>>().join(", ")
}

/// The whole of docs/metrics.md.
#[must_use]
pub fn markdown() -> String {
    let mut md = String::new();
    let own = FAMILIES.len();
    let process = PROCESS_FAMILIES.len();
    // Writing into a String cannot fail.
    let _ = write!(
        md,
        "# Metrics\n\
         \n\
         <!-- Generated from the declarations in src/metrics.rs by `{REGENERATE}`.\n     \
         Edit those, not this file: a test fails when this file is stale. -->\n\
         \n\
         `GET /metrics` on the ops listener (`RESETGATE_OPS_LISTEN`, loopback by default) serves the\n\
         Prometheus text format. It is not on the public listener: counts such as issued resets would\n\
         let a caller correlate its own requests. CI checks the exposition of a live gateway with\n\
         `promtool check metrics`. The Grafana dashboard and the alerts built on these metrics are\n\
         described in [operations.md](operations.md).\n\
         \n\
         {total} metric families: {own} of resetgate's own, declared once in `src/metrics.rs`, and\n\
         {process} from the standard process collector.\n\
         \n\
         Labels take values from bounded sets only, never from user input. \"At start-up\" says which\n\
         labelled series exist, at zero, before anything happens, so that dashboards and alerts see\n\
         zeros rather than gaps; the others appear on first use.\n\
         \n\
         | Name | Type | Labels | At start-up | Description |\n\
         |---|---|---|---|---|\n",
        total = own + process,
    );
    for f in FAMILIES {
        let labels = code_list(&f.label_names());
        let _ = writeln!(
            md,
            "| `{}` | {} | {labels} | {} | {} |",
            f.name,
            f.kind.as_str(),
            at_start_up(f),
            f.help()
        );
    }

    md.push_str("\n## Label values\n\n| Metric | Label | Values |\n|---|---|---|\n");
    for f in FAMILIES {
        for l in f.labels {
            let values = if l.values.is_empty() {
                l.about.to_owned()
            } else {
                code_list(l.values)
            };
            let _ = writeln!(md, "| `{}` | `{}` | {values} |", f.name, l.name);
        }
    }

    md.push_str("\n## Histogram buckets\n\nUpper bounds in seconds, plus `+Inf`.\n\n");
    for f in FAMILIES.iter().filter(|f| f.kind == Kind::Histogram) {
        let _ = writeln!(md, "- `{}`: {}", f.name, buckets(f.buckets));
    }

    md.push_str(
        "\n## Standard process metrics\n\n\
         The prometheus crate's process collector (Linux only, read from /proc), under the names\n\
         every Prometheus dashboard expects. Resident memory is `process_resident_memory_bytes`.\n\
         \n\
         | Name | Type | Description |\n|---|---|---|\n",
    );
    for f in PROCESS_FAMILIES {
        let _ = writeln!(md, "| `{}` | {} | {} |", f.name, f.kind.as_str(), f.help());
    }
    md
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{markdown, REGENERATE};

    /// docs/metrics.md is what the declarations say; with `UPDATE_DOCS=1` this test rewrites it.
    #[test]
    fn docs_metrics_md_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md");
        let want = markdown();
        if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &want).expect("write docs/metrics.md");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/metrics.md is stale or missing: regenerate it with `{REGENERATE}` and commit it"
        );
    }
}
