//! Bad input of every shape gets a 4xx with a JSON error body, never a panic or a 500.

use std::fmt::Write as _;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{error_code, spawn_app, Backend, TestApp};

crate::both_backends!(
    malformed_bodies_get_4xx_json_errors,
    oversize_bodies_are_refused,
    unknown_routes_and_wrong_methods,
);

async fn post_raw(app: &TestApp, path: &str, content_type: Option<&str>, body: &str) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).body(body.to_owned());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.unwrap()
}

async fn malformed_bodies_get_4xx_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let json = Some("application/json");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(&str, Option<&str>, &str, u16, &str)> = vec![
        (
            "/v1/password-reset/request",
            json,
            "{not json",
            400,
            "malformed_json",
        ),
        ("/v1/password-reset/request", json, "", 400, "malformed_json"),
        ("/v1/password-reset/request", json, "null", 400, "invalid_request"),
        ("/v1/password-reset/request", json, "[]", 400, "invalid_request"),
        ("/v1/password-reset/request", json, "{}", 400, "invalid_request"),
        (
            "/v1/password-reset/request",
            json,
            r#"{"email": 5}"#,
            400,
            "invalid_request",
        ),
        ("/v1/password-reset/request", json, &deep, 400, "invalid_request"),
        (
            "/v1/password-reset/request",
            None,
            r#"{"email":"a@example.com"}"#,
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/password-reset/request",
            Some("text/plain"),
            r#"{"email":"a@example.com"}"#,
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/password-reset/confirm",
            json,
            r#"{"token":"x"}"#,
            400,
            "invalid_request",
        ),
        (
            "/v1/password-reset/confirm",
            json,
            r#"{"token":"x","new_password":"y","sign_out_everywhere":"yes"}"#,
            400,
            "invalid_request",
        ),
        (
            "/v1/login",
            json,
            r#"{"email":"a@example.com"}"#,
            400,
            "invalid_request",
        ),
        (
            "/v1/login",
            json,
            r#"{"email":"a@example.com","password":null}"#,
            400,
            "invalid_request",
        ),
    ];
    for (path, ct, body, status, code) in cases {
        let resp = post_raw(&app, path, ct, body).await;
        assert_eq!(resp.status(), status, "{path} {ct:?} {body:.40}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let got: Value = resp.json().await.unwrap();
        assert_eq!(got["code"], code, "{path} {body:.60} -> {got}");
        // RFC 9457: the type names the code, the status is repeated, title and detail are text.
        assert_eq!(got["type"], format!("tag:resetgate,2026:problem/{code}"), "{got}");
        assert_eq!(got["status"], status, "{got}");
        for member in ["title", "detail"] {
            assert!(
                got[member].as_str().is_some_and(|t| !t.is_empty()),
                "{member}: {got}"
            );
        }
    }
    // A charset parameter on the content type is fine.
    let ok = post_raw(
        &app,
        "/v1/password-reset/request",
        Some("application/json; charset=utf-8"),
        r#"{"email":"a@example.com"}"#,
    )
    .await;
    assert_eq!(ok.status(), 202);
}

async fn oversize_bodies_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    // Declared length over the 16 KiB limit.
    let big = format!(r#"{{"email":"a@example.com","pad":"{}"}}"#, "x".repeat(20 * 1024));
    let resp = post_raw(&app, "/v1/password-reset/request", Some("application/json"), &big).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, "payload_too_large");

    // Chunked, no declared length: refused while reading.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let chunk = "x".repeat(8 * 1024);
    let mut req = String::from(
        "POST /v1/password-reset/request HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..3 {
        write!(req, "{:x}\r\n{chunk}\r\n", chunk.len()).unwrap();
    }
    req.push_str("0\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.contains("payload_too_large"), "{out}");
}

async fn unknown_routes_and_wrong_methods(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app.get("/v1/nope").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "not_found");

    let resp = app.get("/v1/password-reset/request").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(error_code(resp).await, "method_not_allowed");

    let resp = app.client.delete(app.url("/livez")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET");
}
