//! What the campaign fault tests (and the replicas of pacing.rs) are built from: apps on one
//! database whose mail goes over SMTP, seeded accounts, what was delivered, and polling.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_on, TestApp, TestDb, BASE_URL};
use crate::smtp_sink::Received;

/// A second handle on the same database, for a second replica. Both handles drop the database;
/// the second drop finds it gone.
pub fn same_db(db: &TestDb) -> TestDb {
    TestDb {
        name: db.name.clone(),
        url: db.url.clone(),
    }
}

/// A test app (real server, manual clock) on `db` whose mail goes over SMTP to `port`.
pub async fn spawn_smtp_app(db: TestDb, port: u16, extra: &[(&str, &str)]) -> TestApp {
    let port = port.to_string();
    let mut vars = vec![
        ("RESETGATE_MAIL_TRANSPORT", "smtp"),
        ("RESETGATE_SMTP_HOST", "127.0.0.1"),
        ("RESETGATE_SMTP_PORT", port.as_str()),
        ("RESETGATE_SMTP_TLS", "none"),
        ("RESETGATE_SMTP_TIMEOUT_MS", "5000"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_on(Some(db), &vars).await
}

/// `n` accounts `user{i}@{domain(i)}` (ids 1..=n on a fresh database), inserted in one statement.
pub async fn seed_accounts(pg: &tokio_postgres::Client, n: i64, domain_sql: &str) {
    pg.execute(
        &format!(
            "INSERT INTO accounts (email, password_hash, created_at, updated_at)
             SELECT 'user' || g || '@' || {domain_sql}, NULL, now(), now() FROM generate_series(1, $1::bigint) g"
        ),
        &[&n],
    )
    .await
    .expect("seed accounts");
}

/// Sum of `resetgate_outbox_sent_total` over its kinds: what this replica delivered.
pub async fn sent_by(app: &TestApp) -> u64 {
    app.metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("resetgate_outbox_sent_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        // Counters of whole messages: exact in f64.
        .map(|v| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = v as u64;
            n
        })
        .sum()
}

/// `outbox-{row id}@host` from a received message's Message-ID.
pub fn message_id(m: &Received) -> String {
    m.message_id
        .as_deref()
        .expect("every message carries a Message-ID")
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// The Message-IDs the outbox rows `ids` are sent with.
pub fn expected_ids(ids: &[i64]) -> HashSet<String> {
    let host = url::Url::parse(BASE_URL)
        .expect("base URL")
        .host_str()
        .expect("host")
        .to_owned();
    ids.iter().map(|id| format!("outbox-{id}@{host}")).collect()
}

/// Polls `probe` every 100 ms until it returns `Some`; panics with `what` after `timeout`.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) async fn count(pg: &tokio_postgres::Client, sql: &str) -> i64 {
    pg.query_one(sql, &[]).await.expect("count query").get(0)
}

/// A collection's length as the i64 SQL counts use.
pub fn len<T: IntoIterator>(c: T) -> i64
where
    T::IntoIter: ExactSizeIterator,
{
    i64::try_from(c.into_iter().len()).expect("fits in i64")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
