//! The layer order of docs/architecture.md, enforced: no module of the crate imports from a layer
//! above its own, and no two modules import each other (a cycle inside one layer).
//!
//! The table is read from the document itself (between the `layers:begin` and `layers:end`
//! markers), so the picture a newcomer reads and the rule the build checks are one thing. Every
//! `.rs` file under src/ is parsed with syn; an import is any path into the crate: `use crate::..`
//! (grouped trees included), `super::`/`self::` paths resolved against the module they sit in
//! (inline `mod tests` included), paths through a child module (`smtp::parse`), inline paths in
//! code, and `crate::` paths inside macro invocations, whose tokens syn does not parse.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::Visit;

const DOC: &str = "docs/architecture.md";
const BEGIN: &str = "<!-- layers:begin -->";
const END: &str = "<!-- layers:end -->";

/// One row's module: a module-path prefix (`reset::email`) and the layer it belongs to.
#[derive(Debug)]
struct Entry {
    prefix: Vec<String>,
    layer: usize,
    layer_name: String,
}

impl Entry {
    fn name(&self) -> String {
        self.prefix.join("::")
    }
}

#[derive(Debug)]
struct Layers {
    entries: Vec<Entry>,
}

impl Layers {
    /// Rows look like `| 2 | domain | `reset::email`, `hashing::phc` | ... |`: the layer number,
    /// its name, then every module prefix in backticks.
    fn parse(doc: &str) -> Result<Self, String> {
        let start = doc.find(BEGIN).ok_or(format!("no {BEGIN} marker"))? + BEGIN.len();
        let len = doc[start..].find(END).ok_or(format!("no {END} marker"))?;
        let mut entries: Vec<Entry> = Vec::new();
        let mut last_layer = None;
        for row in doc[start..start + len]
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('|'))
        {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let Ok(layer) = cells[0].parse::<usize>() else {
                continue; // the header and the |---| line
            };
            if cells.len() < 3 || last_layer.is_some_and(|l| l >= layer) {
                return Err(format!("bad or out-of-order layer row: {row}"));
            }
            last_layer = Some(layer);
            let modules: Vec<&str> = cells[2].split('`').skip(1).step_by(2).collect();
            if modules.is_empty() {
                return Err(format!("layer row names no module in backticks: {row}"));
            }
            for m in modules {
                let prefix: Vec<String> = m.split("::").map(str::to_owned).collect();
                let ident =
                    |s: &String| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !prefix.iter().all(ident) {
                    return Err(format!("`{m}` in the Modules column is not a module path"));
                }
                if entries.iter().any(|e| e.prefix == prefix) {
                    return Err(format!("`{m}` is in two layer rows"));
                }
                entries.push(Entry {
                    prefix,
                    layer,
                    layer_name: cells[1].to_owned(),
                });
            }
        }
        if entries.is_empty() {
            return Err("the layer table is empty".to_owned());
        }
        Ok(Self { entries })
    }

    /// The entry a module path falls under: the longest matching prefix.
    fn entry(&self, path: &[String]) -> Option<usize> {
        (0..self.entries.len())
            .filter(|&i| path.starts_with(&self.entries[i].prefix))
            .max_by_key(|&i| self.entries[i].prefix.len())
    }

    fn describe(&self, i: usize) -> String {
        let e = &self.entries[i];
        format!("`{}` (layer {} {})", e.name(), e.layer, e.layer_name)
    }
}

/// One path into the crate, found at `line` in a module `from`.
#[derive(Debug, Clone)]
struct Import {
    line: usize,
    /// As written (a use tree expanded to the one path), for the failure message.
    written: String,
    from: Vec<String>,
    /// Absolute: module segments, then possibly an item.
    to: Vec<String>,
}

struct Collector {
    /// The module being walked, inline modules included.
    module: Vec<String>,
    /// Child modules declared in each enclosing scope; paths may start with one of the innermost.
    children: Vec<BTreeSet<String>>,
    found: Vec<Import>,
}

fn child_mods(items: &[syn::Item]) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Mod(m) => Some(m.ident.to_string()),
            _ => None,
        })
        .collect()
}

impl Collector {
    /// The absolute module path `segments` names from here, if it is a path into the crate.
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?;
        let mut out = match first.as_str() {
            "crate" => return Some(segments[1..].to_vec()),
            "self" => self.module.clone(),
            "super" => {
                let mut m = self.module.clone();
                let ups = segments.iter().take_while(|s| *s == "super").count();
                for _ in 0..ups {
                    m.pop()?;
                }
                m.extend_from_slice(&segments[ups..]);
                return Some(m);
            }
            // A bare name is a child module only when the path goes through it (`smtp::parse`).
            s if segments.len() > 1 && self.children.last().is_some_and(|c| c.contains(s)) => {
                let mut m = self.module.clone();
                m.push(s.to_owned());
                m
            }
            _ => return None,
        };
        out.extend_from_slice(&segments[1..]);
        Some(out)
    }

    fn record(&mut self, segments: &[String], span: Span) {
        if let Some(to) = self.resolve(segments) {
            self.found.push(Import {
                line: span.start().line,
                written: segments.join("::"),
                from: self.module.clone(),
                to,
            });
        }
    }

    /// Records each path a use tree names, at the line of its last segment (one line per path
    /// when a grouped `use` spans several).
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                if n.ident != "self" {
                    path.push(n.ident.to_string());
                }
                self.record(&path, n.ident.span());
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                path.push(r.ident.to_string());
                self.record(&path, r.ident.span());
            }
            syn::UseTree::Glob(g) => self.record(prefix, g.star_token.span),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// `crate::a::b` and `super::a` sequences in tokens syn left unparsed (macro arguments).
    fn tokens(&mut self, tokens: TokenStream) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tts.len() {
            match &tts[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" || id == "super" => {
                    let mut segments = vec![id.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (tts.get(j), tts.get(j + 1), tts.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(next.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.record(&segments, id.span());
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if let Some((_, items)) = &m.content {
            self.module.push(m.ident.to_string());
            self.children.push(child_mods(items));
            for item in items {
                self.visit_item(item);
            }
            self.children.pop();
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // `use ::name` is always an external crate.
        if u.leading_colon.is_none() {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() {
            let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            if let Some(first) = p.segments.first() {
                self.record(&segments, first.ident.span());
            }
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }

    // `pub(in crate::x)` names where an item is visible, not something it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
}

/// Every path into the crate that the source of module `module` contains.
fn imports(source: &str, module: &[String]) -> Result<Vec<Import>, syn::Error> {
    let file = syn::parse_file(source)?;
    let mut c = Collector {
        module: module.to_vec(),
        children: vec![child_mods(&file.items)],
        found: Vec::new(),
    };
    c.visit_file(&file);
    Ok(c.found)
}

struct Source {
    /// As shown in messages: `src/storage/store.rs`.
    path: String,
    module: Vec<String>,
    text: String,
}

/// Every problem with `sources` against `layers`, one message each, in file and line order.
fn check(layers: &Layers, sources: &[Source]) -> Vec<String> {
    // (file, line, message): sorted by line number, not by its digits.
    let mut problems: Vec<(String, usize, String)> = Vec::new();
    // A module in no layer is reported once, not again for each of its submodules.
    let mut unplaced: Vec<Vec<String>> = Vec::new();
    // (from entry, to entry) -> where it first happens, for the cycle report.
    let mut edges: BTreeMap<(usize, usize), String> = BTreeMap::new();
    for src in sources {
        // The crate root only declares the modules; it sits above every layer.
        if src.module.is_empty() {
            continue;
        }
        let Some(from) = layers.entry(&src.module) else {
            if !unplaced.iter().any(|u| src.module.starts_with(u)) {
                unplaced.push(src.module.clone());
                let msg = format!(
                    "{}: module `{}` is in no layer: add it to the table in {DOC}",
                    src.path,
                    src.module.join("::")
                );
                problems.push((src.path.clone(), 0, msg));
            }
            continue;
        };
        let found = match imports(&src.text, &src.module) {
            Ok(found) => found,
            Err(e) => {
                problems.push((src.path.clone(), 0, format!("{}: does not parse: {e}", src.path)));
                continue;
            }
        };
        for imp in found {
            let site = format!("{}:{}: `{}`", src.path, imp.line, imp.written);
            let from = layers.entry(&imp.from).unwrap_or(from);
            let Some(to) = layers.entry(&imp.to) else {
                let msg = format!(
                    "{site}: {} imports `crate::{}`, which is in no layer of {DOC}",
                    layers.describe(from),
                    imp.to.join("::")
                );
                problems.push((src.path.clone(), imp.line, msg));
                continue;
            };
            if layers.entries[to].layer > layers.entries[from].layer {
                let msg = format!(
                    "{site}: {} imports {}, a higher layer",
                    layers.describe(from),
                    layers.describe(to)
                );
                problems.push((src.path.clone(), imp.line, msg));
            } else if to != from {
                edges.entry((from, to)).or_insert(site);
            }
        }
    }
    problems.sort();
    problems.dedup();
    let mut out: Vec<String> = problems.into_iter().map(|(_, _, msg)| msg).collect();
    out.extend(cycles(layers, &edges));
    out
}

/// Import cycles between entries. Imports only go down or sideways once the layer check passes,
/// so any cycle is between modules of one layer; each is reported with one site per edge.
fn cycles(layers: &Layers, edges: &BTreeMap<(usize, usize), String>) -> Vec<String> {
    let n = layers.entries.len();
    let reach = |start: usize| {
        let mut seen = vec![false; n];
        let mut stack = vec![start];
        while let Some(a) = stack.pop() {
            for &(_, b) in edges.keys().filter(|(x, _)| *x == a) {
                if !seen[b] {
                    seen[b] = true;
                    stack.push(b);
                }
            }
        }
        seen
    };
    let reaches: Vec<Vec<bool>> = (0..n).map(reach).collect();
    let mut reported = vec![false; n];
    let mut out = Vec::new();
    for a in 0..n {
        if reported[a] || !reaches[a][a] {
            continue;
        }
        let members: Vec<usize> = (0..n).filter(|&b| reaches[a][b] && reaches[b][a]).collect();
        for &m in &members {
            reported[m] = true;
        }
        let sites: Vec<String> = edges
            .iter()
            .filter(|((x, y), _)| members.contains(x) && members.contains(y))
            .map(|((x, y), site)| {
                format!(
                    "  {site}: {} -> {}",
                    layers.entries[*x].name(),
                    layers.entries[*y].name()
                )
            })
            .collect();
        let names: Vec<String> = members.iter().map(|&m| layers.describe(m)).collect();
        out.push(format!(
            "import cycle between {}:\n{}",
            names.join(", "),
            sites.join("\n")
        ));
    }
    out
}

/// `src/a/b.rs` -> `["a", "b"]`; `src/lib.rs` -> `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_owned();
    }
    if parts == ["lib"] {
        parts.clear();
    }
    parts
}

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
