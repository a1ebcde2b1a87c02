//! Imports against the table: upward imports, cycles, modules in no layer.

use std::collections::BTreeMap;
use std::path::Path;

use crate::imports::imports;
use crate::table::Layers;
use crate::DOC;

pub struct Source {
    /// As shown in messages: `src/storage/store.rs`.
    pub path: String,
    pub module: Vec<String>,
    pub text: String,
}

/// Every problem with `sources` against `layers`, one message each, in file and line order.
pub fn check(layers: &Layers, sources: &[Source]) -> Vec<String> {
    // (file, line, message): sorted by line number, not by its digits.
    let mut problems: Vec<(String, usize, String)> = Vec::new();
    // A module in no layer is reported once, not again for each of its submodules.
    let mut unplaced: Vec<Vec<String>> = Vec::new();
    // (from entry, to entry) -> where it first happens, for the cycle report.
    let mut edges: BTreeMap<(usize, usize), String> = BTreeMap::new();
    // Parents before their children, so a module in no layer is reported once, at its top.
    let mut ordered: Vec<&Source> = sources.iter().collect();
    ordered.sort_by(|a, b| a.module.cmp(&b.module));
    for src in ordered {
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
pub fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_owned();
    }
    if parts == ["lib"] {
        parts.clear();
    }
    parts
}
