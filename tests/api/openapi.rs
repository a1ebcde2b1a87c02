//! docs/openapi.json is the API contract: served as it is checked in, naming exactly the routes the
//! router serves, on the listeners that serve them, and every error code with its one status.
//! Whether live responses match its schemas is .ci/check-api's job (schemathesis).

use std::collections::{BTreeMap, BTreeSet};

use resetgate::error_code::ErrorCode;
use resetgate::http::errors::{status_of, title_of};
use resetgate::http::router::{Listener, ROUTES};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp, ADMIN_TOKEN};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
const API_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md");
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const LISTENERS: [Listener; 3] = [Listener::Public, Listener::Ops, Listener::Admin];

fn doc() -> Value {
    let text = std::fs::read_to_string(DOC_PATH).expect("docs/openapi.json");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

/// (method, path) -> the listeners (tags) the document says serve it.
fn documented_operations(doc: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let tags = op["tags"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method} {path} has no tags"))
                    .iter()
                    .map(|t| t.as_str().expect("tag").to_owned())
                    .collect();
                ops.insert((method.to_uppercase(), path.clone()), tags);
            }
        }
    }
    ops
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.strip_prefix('#').expect("local ref"))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

/// Every problem response in the document: (where, status, the codes its schema allows).
fn problem_responses(doc: &Value) -> Vec<(String, u16, Vec<String>)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            for (status, resp) in op["responses"].as_object().expect("responses") {
                let Some(media) = resolve(doc, resp)["content"].get("application/problem+json") else {
                    continue;
                };
                let status: u16 = status.parse().expect("numeric status");
                let name = format!("{method} {path} {status}");
                found.push((name, status, narrowed_codes(doc, &media["schema"], status)));
            }
        }
    }
    for (name, resp) in doc["components"]["responses"]
        .as_object()
        .expect("components.responses")
    {
        if let Some(media) = resp["content"].get("application/problem+json") {
            let status = media["schema"]["allOf"][1]["properties"]["status"]["const"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or_else(|| panic!("components.responses.{name} fixes no status"));
            found.push((
                format!("components.responses.{name}"),
                status,
                narrowed_codes(doc, &media["schema"], status),
            ));
        }
    }
    found
}

/// A problem schema is `allOf: [Problem, {status: const, code: const | enum}]`.
fn narrowed_codes(doc: &Value, schema: &Value, status: u16) -> Vec<String> {
    let parts = schema["allOf"].as_array().expect("problem schemas are allOf");
    assert_eq!(resolve(doc, &parts[0]), &doc["components"]["schemas"]["Problem"]);
    let props = &parts[1]["properties"];
    assert_eq!(props["status"]["const"], status, "{schema}");
    let code = &props["code"];
    match (&code["const"], &code["enum"]) {
        (Value::String(c), _) => vec![c.clone()],
        (_, Value::Array(cs)) => cs.iter().map(|c| c.as_str().unwrap().to_owned()).collect(),
        _ => panic!("problem schema without a code: {schema}"),
    }
}

fn code_named(wire: &str) -> ErrorCode {
    *ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == wire)
        .unwrap_or_else(|| panic!("the document names {wire:?}, which is no ErrorCode"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_listener_serves_the_checked_in_document_and_no_other_does() {
    let app = spawn_app(Backend::Memory).await;
    let resp = app
        .client
        .get(format!("http://{}/openapi.json", app.ops_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served = resp.text().await.unwrap();
    assert!(
        served == std::fs::read_to_string(DOC_PATH).unwrap(),
        "GET /openapi.json differs from docs/openapi.json: rebuild"
    );

    let public = app.get("/openapi.json").await;
    assert_eq!(public.status(), 404);
    let body: Value = public.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    let admin = app
        .admin(reqwest::Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 404);
}

#[test]
fn the_document_describes_this_version_as_openapi_3_1() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, LISTENERS.iter().map(|l| l.name()).collect());
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_a_route() {
    let documented = documented_operations(&doc());
    let routed: BTreeMap<(String, String), BTreeSet<String>> = ROUTES
        .iter()
        .map(|r| {
            (
                (r.method.to_owned(), r.path.to_owned()),
                r.listeners.iter().map(|l| l.name().to_owned()).collect(),
            )
        })
        .collect();
    for (op, listeners) in &routed {
        assert_eq!(
            documented.get(op),
            Some(listeners),
            "{op:?}: the router serves it on {listeners:?}; docs/openapi.json must tag it so"
        );
    }
    for op in documented.keys() {
        assert!(
            routed.contains_key(op),
            "{op:?} is documented but no route serves it"
        );
    }
}

async fn call(app: &TestApp, listener: Listener, method: &str, path: &str) -> (u16, Value) {
    let addr = match listener {
        Listener::Public => app.addr,
        Listener::Ops => app.ops_addr,
        Listener::Admin => app.admin_addr.expect("admin listener"),
    };
    let url = format!("http://{addr}{}", path.replace("{id}", "1"));
    let mut req = app
        .client
        .request(method.parse().expect("method"), url)
        .bearer_auth(ADMIN_TOKEN);
    if method == "POST" {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The table above could agree with the document and still not be what the server does: ask the
/// live server. A documented operation reaches a handler on its listeners (whatever it then says
/// about the empty body or the in-memory store), and is an unknown path everywhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_documented_operation_is_served_on_its_listeners_only() {
    let app = spawn_app(Backend::Memory).await;
    for ((method, path), tags) in documented_operations(&doc()) {
        for listener in LISTENERS {
            let (status, body) = call(&app, listener, &method, &path).await;
            let on = listener.name();
            if tags.contains(on) {
                assert!(
                    status != 405 && !(status == 404 && body["code"] == "not_found"),
                    "{method} {path} on {on}: {status} {body}"
                );
            } else {
                assert_eq!(status, 404, "{method} {path} on {on}: {body}");
                assert_eq!(body["code"], "not_found", "{method} {path} on {on}");
            }
        }
    }
}

#[test]
fn every_error_code_is_documented_with_its_one_status() {
    let doc = doc();
    let listed: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        listed, all,
        "components.schemas.ErrorCode must list ErrorCode::ALL, in order"
    );

    let mut used = BTreeSet::new();
    for (name, status, codes) in problem_responses(&doc) {
        for wire in codes {
            let code = code_named(&wire);
            assert_eq!(
                status_of(code).as_u16(),
                status,
                "{name}: {wire} is sent with another status"
            );
            used.insert(wire);
        }
    }
    for code in ErrorCode::ALL {
        assert!(
            used.contains(code.as_str()),
            "no response in the document can carry {code}"
        );
    }

    let api_md = std::fs::read_to_string(API_MD).expect("docs/api.md");
    for code in ErrorCode::ALL {
        let row = format!(
            "| {} | `{code}` | {} |",
            status_of(*code).as_u16(),
            title_of(*code)
        );
        assert!(
            api_md.contains(&row),
            "docs/api.md's error table lacks the row {row:?}"
        );
    }
}
