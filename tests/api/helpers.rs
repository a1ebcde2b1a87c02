//! `spawn_app()`: the real gateway on port 0 with a fresh PostgreSQL database (or the in-memory
//! store), a manual clock, and mail written to an mbox file the test can read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use resetgate::app::{self, Parts, Running};
use resetgate::clock::{Clock, ManualClock};
use resetgate::config::{Config, Mode};
use resetgate::hashing::hasher::Hasher;
use resetgate::hashing::phc::PhcString;
use resetgate::hashing::pool::PoolConfig;
use resetgate::metrics::Metrics;
use resetgate::reset::email::EmailAddress;
use resetgate::storage::store::{AccountId, NewAccount, Store};
use serde_json::{json, Value};

mod db;
mod mailbox;

pub use db::TestDb;

pub const PEPPER: &str = "test-pepper-0123456789abcdef0123456789abcdef";
pub const BASE_URL: &str = "https://reset.example.test/";
pub const PASSWORD: &str = "a perfectly fine passphrase";
/// The admin bearer token every test app accepts (its SHA-256 is configured, never the token).
/// The origin of the test apps' `RESETGATE_PUBLIC_BASE_URL`: what a form post from our own pages
/// carries.
pub const ORIGIN: &str = "https://reset.example.test";
/// What a browser's navigation sends as `Accept`.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
pub const ADMIN_TOKEN: &str = "YWRtaW4tdG9rZW4tZm9yLXRlc3RzLW9ubHktMDEyMzQ";

/// Hex SHA-256 of a token, as `RESETGATE_ADMIN_TOKEN_SHA256` wants it.
pub fn sha256_hex(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::new(), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Memory,
}

/// Runs each named `async fn name(backend: Backend)` once per store: the same behaviour suite on
/// PostgreSQL and on the in-memory store.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Memory).await;
                }
            )*
        }
    };
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub ops_addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub mbox: PathBuf,
    running: Option<Running>,
    // Declared last: dropped after the app's handles.
    pub db: Option<TestDb>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let db = match backend {
        Backend::Postgres => Some(TestDb::create().await),
        Backend::Memory => None,
    };
    spawn_app_on(db, overrides).await
}

/// Starts the gateway on an existing database (or in memory when `db` is `None`).
pub async fn spawn_app_on(db: Option<TestDb>, overrides: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("mail.mbox");
    let mut vars: HashMap<String, String> = [
        ("RESETGATE_LISTEN", "127.0.0.1:0"),
        ("RESETGATE_PEPPER", PEPPER),
        ("RESETGATE_PUBLIC_BASE_URL", BASE_URL),
        ("RESETGATE_RESET_FLOOR_MS", "20"),
        ("RESETGATE_MAIL_TRANSPORT", "file"),
        ("RESETGATE_MAIL_POLL_MS", "20"),
        ("RESETGATE_DRAIN_TIMEOUT_MS", "5000"),
        ("RESETGATE_OPS_LISTEN", "127.0.0.1:0"),
        ("RESETGATE_ADMIN_LISTEN", "127.0.0.1:0"),
        // Campaign tests watch progress move; production polls once a second.
        ("RESETGATE_CAMPAIGN_POLL_MS", "20"),
        // Every test talks from 127.0.0.1 and reuses a few addresses: limits are raised here and
        // tightened by the tests about them.
        ("RESETGATE_RATE_IP_BURST", "100000"),
        ("RESETGATE_RATE_NET_BURST", "100000"),
        ("RESETGATE_RATE_EMAIL_PER_HOUR", "1000"),
        // Many tests ask for several links to one address in a row; the cooldown tests set it.
        ("RESETGATE_RESET_COOLDOWN_SECS", "0"),
        // Functional tests must not depend on how fast this machine hashes: generous hashing
        // budget and deadline here; the tests about shedding set their own.
        ("RESETGATE_HASH_QUEUE_BUDGET_MS", "5000"),
        ("RESETGATE_HASH_DEADLINE_MS", "20000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.insert("RESETGATE_MAIL_FILE".into(), mbox.display().to_string());
    vars.insert("RESETGATE_ADMIN_TOKEN_SHA256".into(), sha256_hex(ADMIN_TOKEN));
    if let Some(db) = &db {
        vars.insert("RESETGATE_DATABASE_URL".into(), db.url.clone());
    }
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    // A database of the test's own (a URL in `overrides`, e.g. a TLS cluster) is served too.
    let mode = if vars.contains_key("RESETGATE_DATABASE_URL") {
        Mode::Serve
    } else {
        Mode::Demo
    };
    let config = Config::from_lookup(mode, &move |k| vars.get(k).cloned()).expect("test config is valid");
    let store = app::store_from_config(&config).await.expect("store");
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let running = app::start(Parts {
        config: config.clone(),
        store: Arc::clone(&store),
        mailer: app::mailer_from_config(&config).expect("mailer"),
        clock: Arc::clone(&clock) as Arc<dyn Clock>,
    })
    .await
    .expect("app starts");
    TestApp {
        addr: running.addr,
        ops_addr: running.ops_addr,
        admin_addr: running.admin_addr,
        // Redirects are answers to check, not to follow (the account pages answer 303).
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        clock,
        store,
        config,
        mbox,
        running: Some(running),
        db,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request to the admin listener with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let addr = self.admin_addr.expect("test apps run the admin listener");
        self.client
            .request(method, format!("http://{addr}{path}"))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// Starts a campaign through the admin API; returns its id.
    pub async fn start_campaign(&self, body: &Value) -> i64 {
        let resp = self
            .admin(reqwest::Method::POST, "/admin/v1/campaigns")
            .json(body)
            .send()
            .await
            .expect("admin request");
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
        json(resp).await["id"].as_i64().expect("campaign id")
    }

    /// A campaign's progress from the admin API.
    pub async fn campaign(&self, id: i64) -> Value {
        let resp = self
            .admin(reqwest::Method::GET, &format!("/admin/v1/campaigns/{id}"))
            .send()
            .await
            .expect("admin request");
        assert_eq!(resp.status(), 200);
        json(resp).await
    }

    /// Polls a campaign until `done(progress)` holds, failing after `timeout`.
    pub async fn wait_campaign(&self, id: i64, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let p = self.campaign(id).await;
            if done(&p) {
                return p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "campaign {id} did not get there: {p}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The Prometheus text from the ops listener.
    pub async fn metrics(&self) -> String {
        let resp = self
            .client
            .get(format!("http://{}/metrics", self.ops_addr))
            .send()
            .await
            .expect("scrape");
        assert_eq!(resp.status(), 200);
        resp.text().await.expect("metrics text")
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn request_reset(&self, email: &str) -> reqwest::Response {
        self.post("/v1/password-reset/request", &json!({ "email": email }))
            .await
    }

    pub async fn confirm(
        &self,
        token: &str,
        new_password: &str,
        sign_out: Option<bool>,
    ) -> reqwest::Response {
        let mut body = json!({ "token": token, "new_password": new_password });
        if let Some(s) = sign_out {
            body["sign_out_everywhere"] = json!(s);
        }
        self.post("/v1/password-reset/confirm", &body).await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/v1/login", &json!({ "email": email, "password": password }))
            .await
    }

    /// The code an authenticator app shows now, by the app's (test-controlled) clock.
    pub fn code_now(&self, secret: &resetgate::mfa::totp::TotpSecret) -> String {
        secret.code_at(u64::try_from(self.clock.now().timestamp()).expect("after 1970"))
    }

    /// Logs in and returns the session token; panics if login fails.
    pub async fn session_token(&self, email: &str, password: &str) -> String {
        let resp = self.login(email, password).await;
        assert_eq!(resp.status(), 200, "login failed");
        let body: Value = resp.json().await.expect("json");
        body["session_token"].as_str().expect("token").to_owned()
    }

    pub async fn session_status(&self, token: &str) -> u16 {
        self.client
            .get(self.url("/v1/session"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    /// Creates an account directly in the store, with `password` hashed as the gateway would.
    pub async fn create_account(&self, email: &str, password: Option<&str>, mfa: bool) -> AccountId {
        let email = EmailAddress::parse(email).expect("valid email");
        let hash = match password {
            Some(p) => {
                let pool = PoolConfig {
                    workers: 1,
                    ..self.config.pool()
                };
                // The app's own pepper (a rotation test sets its own).
                let hasher = Hasher::start(self.config.pepper.clone(), pool, Arc::new(Metrics::new()))
                    .expect("hasher");
                let pw = self
                    .config
                    .policy
                    .parse(p, &email, mfa)
                    .expect("seed password passes policy");
                Some(hasher.hash(pw).await.expect("hash"))
            }
            None => None,
        };
        self.store
            .create_account(
                NewAccount {
                    email,
                    password_hash: hash,
                    password_peppered: true,
                    mfa_enabled: mfa,
                },
                self.clock.now(),
            )
            .await
            .expect("create account")
    }

    /// Imports an account whose hash came from another system: argon2id at weaker parameters and
    /// without our pepper.
    pub async fn import_legacy_account(&self, email: &str, password: &str) -> AccountId {
        self.store
            .create_account(
                NewAccount {
                    email: EmailAddress::parse(email).expect("valid email"),
                    password_hash: Some(PhcString::parse(&legacy_hash(password)).expect("phc")),
                    password_peppered: false,
                    mfa_enabled: false,
                },
                self.clock.now(),
            )
            .await
            .expect("create account")
    }

    pub fn shutdown(&self) {
        self.running.as_ref().expect("running").shutdown.cancel();
    }

    /// Waits for the server to drain and stop; `true` if it drained in time.
    pub async fn wait_stopped(&mut self) -> bool {
        self.running
            .take()
            .expect("running")
            .wait()
            .await
            .expect("clean stop")
    }

    pub async fn pg(&self) -> tokio_postgres::Client {
        self.db.as_ref().expect("a PostgreSQL test").client().await
    }
}

pub async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.expect("JSON body")
}

/// The stable `code` of an RFC 9457 problem document, after checking that it is one.
pub async fn error_code(resp: reqwest::Response) -> String {
    assert_eq!(
        resp.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("")),
        Some("application/problem+json"),
        "an error answers with a problem document"
    );
    json(resp).await["code"]
        .as_str()
        .expect("the problem document has a code")
        .to_owned()
}

/// An argon2id hash as another system would have made it: m=8 MiB, t=3, no pepper.
pub fn legacy_hash(password: &str) -> String {
    use argon2::password_hash::PasswordHasher as _;
    let params = argon2::Params::new(8192, 3, 1, None).expect("params");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hash")
        .to_string()
}
