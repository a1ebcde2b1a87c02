//! Embedded SQL migrations, applied in order inside one transaction under an advisory lock, so N
//! replicas starting at once apply each migration exactly once.

use deadpool_postgres::Pool;

use super::store::StoreError;

/// (version, name, sql) in order. Never edit a released migration; add a new one.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "campaigns", include_str!("migrations/0002_campaigns.sql")),
    (
        3,
        "outbox_vacuum",
        include_str!("migrations/0003_outbox_vacuum.sql"),
    ),
    (4, "locale", include_str!("migrations/0004_locale.sql")),
    (5, "factors", include_str!("migrations/0005_factors.sql")),
    (
        6,
        "two_step_required",
        include_str!("migrations/0006_two_step_required.sql"),
    ),
    (
        7,
        "outbox_fair_order",
        include_str!("migrations/0007_outbox_fair_order.sql"),
    ),
    (
        8,
        "session_limits",
        include_str!("migrations/0008_session_limits.sql"),
    ),
    (
        9,
        "login_throttle",
        include_str!("migrations/0009_login_throttle.sql"),
    ),
];

/// Arbitrary constant that names "resetgate migrations" among advisory locks.
const MIGRATION_LOCK: i64 = 0x7265_7365_7467_6174;

/// Applies pending migrations; returns how many were applied.
///
/// # Errors
/// When the database is unreachable or a migration fails (nothing is applied then).
pub async fn run(pool: &Pool) -> Result<usize, StoreError> {
    let mut client = pool.get().await.map_err(super::postgres::pool_error)?;
    let tx = client.transaction().await.map_err(super::postgres::db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(super::postgres::db_error)?;
    // IF NOT EXISTS would log a NOTICE on every start; notices are noise here.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await
        .map_err(super::postgres::db_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS resetgate_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(super::postgres::db_error)?;
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS {
        let done = tx
            .query_opt(
                "SELECT 1 FROM resetgate_migrations WHERE version = $1",
                &[version],
            )
            .await
            .map_err(super::postgres::db_error)?
            .is_some();
        if done {
            continue;
        }
        tx.batch_execute(sql).await.map_err(super::postgres::db_error)?;
        tx.execute(
            "INSERT INTO resetgate_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(super::postgres::db_error)?;
        tracing::info!(version, name, "applied migration");
        applied += 1;
    }
    tx.commit().await.map_err(super::postgres::db_error)?;
    Ok(applied)
}
