//! `resetgate demo`: the gateway on an in-memory store with mail printed to stdout, one account
//! seeded so the flows can be tried at once. NOT DURABLE.

use std::process::ExitCode;
use std::sync::Arc;

use super::serve::run_until_drained;
use super::{create_account, load};
use crate::clock::{Clock as _, SystemClock};
use crate::config::{LogFormat, Mode};
use crate::hashing::hasher::MakeEngine;
use crate::reset::email::EmailAddress;
use crate::storage::memory::MemoryStore;
use crate::storage::store::{NewAccount, Store as _};

const DEMO_BANNER: &str = "\
################################################################################
##  resetgate DEMO MODE: in-memory store, random pepper, mail printed here.   ##
##  NOTHING IS DURABLE: every account, token and session is lost on exit.     ##
##  For production run `resetgate serve` with RESETGATE_DATABASE_URL set.     ##
################################################################################";

/// Runs the demo gateway until a shutdown signal has drained it, hashing on the engine `engine`
/// builds: `resetgate demo` passes the pool; tools/bench passes its baseline, so the load report
/// compares the two inside the very same gateway.
///
/// # Errors
/// When the configuration is invalid, the seed account is refused, or the gateway cannot start.
pub async fn run(
    seed_email: &str,
    seed_password: Option<&str>,
    engine: MakeEngine,
) -> anyhow::Result<ExitCode> {
    let config = load(Mode::Demo)?;
    // A person at a terminal gets the banner; a JSON log stream must stay one object per line, so
    // there the warning alone says it (at warn, so a log pipeline can alert on it).
    if config.log_format == LogFormat::Text {
        eprintln!("{DEMO_BANNER}");
    }
    tracing::warn!("demo mode: in-memory store, nothing is durable; use `resetgate serve` for production");
    let store = Arc::new(MemoryStore::new());
    let email = EmailAddress::parse(seed_email)
        .map_err(|_| anyhow::anyhow!("--seed-email {seed_email:?} is not an email address"))?;
    let password_hash = match seed_password {
        Some(raw) => Some(create_account::operator_hash(&config, raw, &email).await?),
        None => None,
    };
    let has_password = password_hash.is_some();
    store
        .create_account(
            NewAccount {
                email: email.clone(),
                password_hash,
                password_peppered: true,
                mfa_enabled: false,
            },
            SystemClock.now(),
        )
        .await?;
    if has_password {
        println!("resetgate demo: seeded account {email} with the given password");
    } else {
        println!("resetgate demo: seeded account {email} (no password yet: reset it)");
    }
    run_until_drained(config, store, engine).await
}
