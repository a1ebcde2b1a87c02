//! axe-core in the page: injected through WebDriver (the pages' CSP forbids inline and
//! third-party scripts, which is the point; WebDriver's scripts are not the page's and run anyway),
//! then run with the WCAG 2.0, 2.1 and 2.2 A and AA rules and axe's best practices.

use std::fmt::Write as _;
use std::sync::OnceLock;

use serde_json::Value;

use super::chrome::Browser;
use super::tools;

const TAGS: &[&str] = &[
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
];

fn source() -> &'static str {
    static AXE: OnceLock<String> = OnceLock::new();
    AXE.get_or_init(|| {
        let path = tools::axe_js();
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    })
}

/// Loads axe-core into the current document, unless it is there already.
pub async fn inject(browser: &Browser) {
    let loaded = browser.js("return typeof window.axe === 'object';").await;
    if loaded == Value::Bool(true) {
        return;
    }
    let script = format!(
        "{}\nreturn typeof window.axe === 'object' ? window.axe.version : null;",
        source()
    );
    let version = browser.js(&script).await;
    assert!(
        version.is_string(),
        "axe-core did not load in the page: {version}"
    );
}

/// The violations axe finds in the current document: each rule's id and a readable paragraph;
/// empty when there are none.
pub async fn violations(browser: &Browser) -> Vec<(String, String)> {
    inject(browser).await;
    let script = format!(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {{ runOnly: {{ type: 'tag', values: {tags} }}, resultTypes: ['violations'] }})
            .then(r => done({{ violations: r.violations.map(v => ({{
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({{ target: n.target.join(' '), html: n.html, summary: n.failureSummary }})),
            }})) }}), e => done({{ error: String(e) }}));",
        tags = serde_json::to_string(TAGS).expect("tags")
    );
    let result = browser
        .client
        .execute_async(&script, vec![])
        .await
        .unwrap_or_else(|e| panic!("axe.run failed: {e}"));
    if let Some(error) = result.get("error") {
        panic!("axe.run failed in the page: {error}");
    }
    result["violations"]
        .as_array()
        .expect("a violations array")
        .iter()
        .map(|v| (v["id"].as_str().unwrap_or("?").to_owned(), describe(v)))
        .collect()
}

fn describe(v: &Value) -> String {
    let mut out = format!(
        "{} ({}): {} <{}>",
        v["id"].as_str().unwrap_or("?"),
        v["impact"].as_str().unwrap_or("?"),
        v["help"].as_str().unwrap_or("?"),
        v["helpUrl"].as_str().unwrap_or("")
    );
    for node in v["nodes"].as_array().into_iter().flatten() {
        let _ = write!(
            out,
            "\n      at {}: {}\n      {}",
            node["target"].as_str().unwrap_or("?"),
            node["html"].as_str().unwrap_or("?"),
            node["summary"].as_str().unwrap_or("").replace('\n', "\n      ")
        );
    }
    out
}
