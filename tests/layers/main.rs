//! The layer order of docs/architecture.md, enforced: no module of the crate imports from a layer
//! above its own, and no two modules import each other (a cycle inside one layer).
//!
//! The table is read from the document itself (between the `layers:begin` and `layers:end`
//! markers), so the picture a newcomer reads and the rule the build checks are one thing. Every
//! `.rs` file under src/ is parsed with syn; an import is any path into the crate: `use crate::..`
//! (grouped trees included), `super::`/`self::` paths resolved against the module they sit in
//! (inline `mod tests` included), paths through a child module (`smtp::parse`), inline paths in
//! code, and `crate::` paths inside macro invocations, whose tokens syn does not parse.

mod check;
mod imports;
mod table;

use std::path::{Path, PathBuf};

use check::{check, module_of, Source};
use table::Layers;

const DOC: &str = "docs/architecture.md";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_higher_layer_or_a_module_that_imports_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join(DOC)).expect("docs/architecture.md");
    let layers = Layers::parse(&doc).unwrap_or_else(|e| panic!("{DOC}: {e}"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let sources: Vec<Source> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(root.join("src")).expect("under src/");
            // main.rs is the binary's own crate: it reaches the library as `resetgate::`, from
            // above every layer.
            (rel != Path::new("main.rs")).then(|| Source {
                path: format!("src/{}", rel.display()),
                module: module_of(rel),
                text: std::fs::read_to_string(f).expect("readable source"),
            })
        })
        .collect();
    assert!(sources.len() > 20, "found only {} source files", sources.len());
    let problems = check(&layers, &sources);
    assert!(
        problems.is_empty(),
        "{} layering problem(s) against the table in {DOC}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// The checker itself: each way of writing an import is found, on the right line, and both kinds
// of problem are reported. Without these, a checker that found nothing would pass.

const TABLE: &str = "<!-- layers:begin -->
| Layer | Name | Modules | May import |
|---:|---|---|---|
| 0 | base | `secret` | crates |
| 1 | domain | `reset::email`, `campaign::model` | 0 |
| 2 | storage | `storage` | 0-1 |
| 3 | top | `reset`, `campaign`, `http` | 0-2 |
<!-- layers:end -->";

fn source(path: &str, text: &str) -> Source {
    let rel = path.strip_prefix("src/").expect("src/ path");
    Source {
        path: path.to_owned(),
        module: module_of(Path::new(rel)),
        text: text.to_owned(),
    }
}

fn problems(sources: &[Source]) -> Vec<String> {
    check(&Layers::parse(TABLE).expect("test table"), sources)
}

#[test]
fn every_way_of_writing_an_upward_import_is_caught() {
    let text = "use std::fmt;
use crate::{secret::SecretString, http::Error};
use crate::reset::{email, service::{self, Flow}};
fn f() -> crate::campaign::runner::Runner {
    assert!(matches!(x, crate::http::errors::Error::Internal));
    todo!()
}
#[cfg(test)]
mod tests {
    use super::super::store::Store;
    use super::super::super::http as h;
}
";
    let got = problems(&[source("src/storage/store.rs", text)]);
    let higher = |line: usize, path: &str, target: &str| {
        format!(
            "src/storage/store.rs:{line}: `{path}`: `storage` (layer 2 storage) imports `{target}` (layer 3 top), \
             a higher layer"
        )
    };
    assert_eq!(
        got,
        [
            higher(2, "crate::http::Error", "http"),
            higher(3, "crate::reset::service::Flow", "reset"),
            higher(3, "crate::reset::service", "reset"),
            higher(4, "crate::campaign::runner::Runner", "campaign"),
            higher(5, "crate::http::errors::Error::Internal", "http"),
            higher(11, "super::super::super::http", "http"),
        ]
    );
}

#[test]
fn child_module_paths_and_submodule_layers_are_resolved() {
    // `reset.rs` declares `email` (domain) and `service` (top): going through them is fine from
    // the top, but `reset::email` reaching `service` goes up.
    let parent = "pub mod email;\npub mod service;\nfn f() { service::run(); email::parse(); }\n";
    let email = "use super::service::Flow;\n";
    let got = problems(&[
        source("src/reset.rs", parent),
        source("src/reset/email.rs", email),
    ]);
    assert_eq!(
        got,
        [
            "src/reset/email.rs:1: `super::service::Flow`: `reset::email` (layer 1 domain) imports `reset` \
          (layer 3 top), a higher layer"
        ]
    );
}

#[test]
fn a_cycle_inside_one_layer_and_an_unplaced_module_are_reported() {
    let got = problems(&[
        source("src/reset/email.rs", "use crate::campaign::model::Scope;\n"),
        source(
            "src/campaign/model.rs",
            "\n\nfn f(e: crate::reset::email::EmailAddress) {}\n",
        ),
        source("src/loadtest.rs", "use crate::secret::SecretString;\n"),
        source("src/loadtest/report.rs", "use super::targets::Target;\n"),
    ]);
    assert_eq!(
        got,
        [
            format!("src/loadtest.rs: module `loadtest` is in no layer: add it to the table in {DOC}"),
            "import cycle between `reset::email` (layer 1 domain), `campaign::model` (layer 1 domain):\n  \
             src/reset/email.rs:1: `crate::campaign::model::Scope`: reset::email -> campaign::model\n  \
             src/campaign/model.rs:3: `crate::reset::email::EmailAddress`: campaign::model -> reset::email"
                .to_owned(),
        ]
    );
}

#[test]
fn a_malformed_table_is_refused() {
    let bad = TABLE.replace("| 2 | storage", "| 0 | storage");
    assert!(Layers::parse(&bad).is_err());
    assert!(Layers::parse("no table here").is_err());
    assert!(Layers::parse(&TABLE.replace("`secret`", "`secret` (see `the docs`)")).is_err());
    assert!(
        Layers::parse(&TABLE.replace("`storage`", "`secret`")).is_err(),
        "a module in two rows"
    );
}
