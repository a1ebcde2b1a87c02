//! `resetgate clear-mfa`: support removes an account's second factor (the owner lost both the
//! phone and the recovery codes), directly on PostgreSQL, recorded in the account's audit trail
//! with the operator's name.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;

use super::load;
use crate::app;
use crate::clock::SystemClock;
use crate::config::Mode;
use crate::mail::seal::Sealer;
use crate::metrics::Metrics;
use crate::mfa::totp::Issuer;
use crate::reset::email::EmailAddress;
use crate::reset::factor::{Error, FactorService};
use crate::storage::factors::AttemptLimit;
use crate::storage::store::Store as _;

/// Who did it, as the audit trail records it: a short printable name.
fn admin_name(raw: &str) -> anyhow::Result<&str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        bail!("--admin must be 1 to 64 printable characters (your name or login, for the audit trail)");
    }
    Ok(name)
}

pub(super) async fn run(email: &str, admin: &str) -> anyhow::Result<ExitCode> {
    let admin = admin_name(admin)?;
    let config = load(Mode::Admin)?;
    let email =
        EmailAddress::parse(email).map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
    let store = app::postgres_from_config(
        &config,
        config.database.as_ref().is_some_and(|d| d.migrate_on_start),
    )
    .await?;
    let Some(account) = store.account_by_email(&email).await? else {
        bail!("no account for {email}");
    };
    let factors = FactorService {
        store: Arc::new(store),
        sealer: Sealer::with_retired(&config.pepper, &config.retired_peppers),
        clock: Arc::new(SystemClock),
        // Clearing names no issuer; any valid one will do.
        issuer: Issuer::parse("resetgate").map_err(|e| anyhow::anyhow!("{e}"))?,
        limit: AttemptLimit::DEFAULT,
        metrics: Arc::new(Metrics::new()),
    };
    match factors.admin_clear(account.id, admin).await {
        Ok(()) => {
            println!(
                "cleared the second factor of account {} ({email}); recorded as admin:{admin}",
                account.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::NotEnrolled) => bail!("{email} has no second factor"),
        Err(e) => Err(e.into()),
    }
}
