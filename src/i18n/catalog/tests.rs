//! Every language has every message of the reference language with the same variables, and every
//! file under `locales/` is compiled in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::*;

/// Message id -> the variables its value uses.
type Messages = BTreeMap<String, BTreeSet<String>>;

fn inline_vars(e: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match e {
        InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, out);
            }
            for a in &arguments.named {
                inline_vars(&a.value, out);
            }
        }
        InlineExpression::Placeable { expression } => expression_vars(expression, out),
        _ => {}
    }
}

fn expression_vars(e: &Expression<&str>, out: &mut BTreeSet<String>) {
    match e {
        Expression::Inline(i) => inline_vars(i, out),
        Expression::Select { selector, variants } => {
            inline_vars(selector, out);
            for v in variants {
                pattern_vars(&v.value, out);
            }
        }
    }
}

fn pattern_vars(p: &Pattern<&str>, out: &mut BTreeSet<String>) {
    for el in &p.elements {
        if let PatternElement::Placeable { expression } = el {
            expression_vars(expression, out);
        }
    }
}

/// Parses one file strictly: a syntax error, a duplicate id or a message without a value fails.
fn messages(name: &str, text: &str) -> Messages {
    let resource = fluent_syntax::parser::parse(text)
        .unwrap_or_else(|(_, errors)| panic!("{name} does not parse: {errors:?}"));
    let mut out = Messages::new();
    for entry in &resource.body {
        match entry {
            Entry::Message(m) => {
                let value = m
                    .value
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: `{}` has no value", m.id.name));
                let mut vars = BTreeSet::new();
                pattern_vars(value, &mut vars);
                assert!(
                    out.insert(m.id.name.to_owned(), vars).is_none(),
                    "{name}: `{}` is defined twice",
                    m.id.name
                );
            }
            Entry::Junk { content } => panic!("{name}: junk: {content}"),
            _ => {}
        }
    }
    out
}

#[test]
fn every_language_has_every_message_with_the_same_variables() {
    let reference = &SOURCES[0];
    assert_eq!(reference.tag, "en");
    for (file, text) in reference.files {
        let want = messages(&format!("en/{file}"), text);
        assert!(!want.is_empty(), "en/{file} is empty");
        for src in &SOURCES[1..] {
            let (_, other) = src
                .files
                .iter()
                .find(|(f, _)| f == &file)
                .unwrap_or_else(|| panic!("{} has no {file}", src.tag));
            let got = messages(&format!("{}/{file}", src.tag), other);
            let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
            let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}/{file}: missing {missing:?}, not in English {extra:?}",
                src.tag
            );
            for (id, vars) in &want {
                assert_eq!(
                    &got[id], vars,
                    "{}/{file}: `{id}` uses other variables than English",
                    src.tag
                );
            }
        }
    }
}

#[test]
fn every_file_under_locales_is_compiled_in() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    let mut on_disk = BTreeSet::new();
    for dir in std::fs::read_dir(&root).expect("locales/") {
        let dir = dir.unwrap().path();
        let tag = dir.file_name().unwrap().to_string_lossy().into_owned();
        let src = SOURCES
            .iter()
            .find(|s| s.tag == tag)
            .unwrap_or_else(|| panic!("locales/{tag} is not registered in SOURCES (src/i18n/catalog.rs)"));
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let (_, compiled) = src
                .files
                .iter()
                .find(|(f, _)| *f == name)
                .unwrap_or_else(|| panic!("locales/{tag}/{name} is not one of {FILES:?}"));
            assert_eq!(std::fs::read_to_string(&path).unwrap(), *compiled);
            on_disk.insert((tag.clone(), name));
        }
    }
    for src in SOURCES {
        for file in FILES {
            assert!(
                on_disk.contains(&(src.tag.to_owned(), file.to_owned())),
                "{}/{file}",
                src.tag
            );
        }
    }
}

#[test]
fn tags_parse_back_to_their_locale() {
    for l in Locale::all() {
        assert_eq!(Locale::parse(l.tag()), Some(l));
        assert_eq!(Locale::parse(&l.tag().to_uppercase()), Some(l));
    }
    assert_eq!(Locale::parse("xx"), None);
    assert_eq!(Locale::parse(""), None);
    assert_eq!(Locale::known(), "en, fr");
}

#[test]
fn a_missing_message_or_variable_is_reported_not_hidden() {
    let mut errors = Vec::new();
    let fr = Locale::parse("fr").unwrap();
    assert_eq!(
        fr.message("no-such-message", None, &mut errors),
        "no-such-message"
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.clear();
    let text = fr.message("too-short", None, &mut errors);
    assert!(!errors.is_empty(), "{text}");
}

#[test]
fn variables_are_not_wrapped_in_isolation_marks() {
    let mut errors = Vec::new();
    let mut args = FluentArgs::new();
    args.set("min", 15);
    for l in Locale::all() {
        let text = l.message("too-short", Some(&args), &mut errors);
        assert!(text.contains("15"), "{text}");
        assert!(!text.contains(['\u{2068}', '\u{2069}']), "{text:?}");
    }
    assert!(errors.is_empty(), "{errors:?}");
}
