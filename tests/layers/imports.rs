//! Every path into the crate that one source file contains, found with syn.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::Visit;

/// One path into the crate, found at `line` in a module `from`.
#[derive(Debug, Clone)]
pub struct Import {
    pub line: usize,
    /// As written (a use tree expanded to the one path), for the failure message.
    pub written: String,
    pub from: Vec<String>,
    /// Absolute: module segments, then possibly an item.
    pub to: Vec<String>,
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
pub fn imports(source: &str, module: &[String]) -> Result<Vec<Import>, syn::Error> {
    let file = syn::parse_file(source)?;
    let mut c = Collector {
        module: module.to_vec(),
        children: vec![child_mods(&file.items)],
        found: Vec::new(),
    };
    c.visit_file(&file);
    Ok(c.found)
}
