//! docs/configuration.md, generated from the declarations: the test below fails when the checked-in
//! file differs, and rewrites it when run with `UPDATE_DOCS=1`.

use std::fmt::Write as _;

use super::setting::{FALSE, TRUE};
use super::{settings, GROUPS};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
const REGENERATE: &str = "UPDATE_DOCS=1 cargo test --lib config::docs";

/// A table cell: pipes would end it early.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The type column, with the unit a name's suffix promises.
fn kind(name: &str, kind: String) -> String {
    let unit = [
        ("_MS", "ms"),
        ("_SECS", "s"),
        ("_BYTES", "bytes"),
        ("_KIB", "KiB"),
    ]
    .into_iter()
    .find(|(suffix, _)| name.ends_with(suffix));
    match unit {
        Some((_, unit)) if kind == "integer" => format!("integer ({unit})"),
        _ => kind,
    }
}

fn markdown() -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Configuration\n\n\
         <!-- Generated from src/config/ by `{REGENERATE}`; do not edit by hand. -->\n\n\
         Every setting is an environment variable. An empty value counts as unset. Each value is checked \
         once at startup; a bad one stops the process with exit code 64 and a message naming the \
         variable, and so does any `RESETGATE_*` variable that is not listed here (a typo would \
         otherwise be ignored: the message names the nearest real setting). Durations are in \
         milliseconds (`_MS`) or seconds (`_SECS`). Booleans accept {} and {}, in any case.\n\n\
         `resetgate check-config [--mode serve|demo]` prints the effective value of every setting a \
         command reads, secrets redacted, as `VAR=value` lines.\n\n\
         {} settings:\n",
        TRUE.map(|s| format!("`{s}`")).join(", "),
        FALSE.map(|s| format!("`{s}`")).join(", "),
        settings().count(),
    );
    for g in GROUPS {
        let anchor = g
            .title
            .to_ascii_lowercase()
            .replace(' ', "-")
            .replace(|c: char| !c.is_alphanumeric() && c != '-', "");
        let _ = writeln!(md, "- [{}](#{anchor})", g.title);
    }
    for g in GROUPS {
        let _ = writeln!(md, "\n## {}\n\n{}\n", g.title, g.about);
        md.push_str("| Variable | Type | Default | Bounds | Meaning |\n|---|---|---|---|---|\n");
        for s in g.settings {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {}{} |",
                s.name(),
                cell(&kind(s.name(), s.kind())),
                cell(&s.default_text()),
                cell(&s.bounds_text()),
                cell(s.doc()),
                if s.secret() {
                    " Secret: `check-config` prints `[redacted]`."
                } else {
                    ""
                },
            );
        }
    }
    md
}

#[test]
fn configuration_md_is_current() {
    let expected = markdown();
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(PATH, &expected).unwrap_or_else(|e| panic!("writing {PATH}: {e}"));
        return;
    }
    let actual = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/configuration.md is stale (a setting changed in src/config/). Regenerate it with:\n\n    \
         {REGENERATE}\n\nand commit the result."
    );
}
