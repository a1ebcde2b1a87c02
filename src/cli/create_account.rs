//! `resetgate create-account`: an account in PostgreSQL, with a password read from stdin (hashed
//! here, after the policy check users get) or an argon2 hash imported from another system.

use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};

use super::load;
use crate::app;
use crate::clock::{Clock as _, SystemClock};
use crate::config::{Config, Mode};
use crate::hashing::hasher::Hasher;
use crate::hashing::phc::PhcString;
use crate::hashing::pool::PoolConfig;
use crate::metrics::Metrics;
use crate::reset::email::EmailAddress;
use crate::storage::store::{NewAccount, Store as _, StoreError};

pub(super) async fn run(
    email: &str,
    password_stdin: bool,
    password_hash: Option<&str>,
    hash_is_peppered: bool,
) -> anyhow::Result<ExitCode> {
    let config = load(Mode::Admin)?;
    let email =
        EmailAddress::parse(email).map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
    // A password we hash is peppered; an imported hash came from a system without our pepper
    // (unless the operator says otherwise) and is upgraded at the account's next login.
    let peppered = password_stdin || hash_is_peppered;
    let hash = match (password_stdin, password_hash) {
        (true, _) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            Some(operator_hash(&config, line.trim_end_matches(['\n', '\r']), &email).await?)
        }
        (false, Some(phc)) => {
            Some(PhcString::parse(phc).map_err(|e| anyhow::anyhow!("--password-hash: {e}"))?)
        }
        (false, None) => None,
    };
    let store = app::postgres_from_config(
        &config,
        config.database.as_ref().is_some_and(|d| d.migrate_on_start),
    )
    .await?;
    match store
        .create_account(
            NewAccount {
                email: email.clone(),
                password_hash: hash,
                password_peppered: peppered,
                // Set only by confirming a second factor, never by an operator's say-so.
                mfa_enabled: false,
            },
            SystemClock.now(),
        )
        .await
    {
        Ok(id) => {
            println!("created account {id} for {email}");
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::AccountExists) => bail!("an account for {email} already exists"),
        Err(e) => Err(e.into()),
    }
}

/// Hashes a password an operator supplied, after the same policy check users get.
pub(super) async fn operator_hash(
    config: &Config,
    raw: &str,
    email: &EmailAddress,
) -> anyhow::Result<PhcString> {
    let password = config
        .policy
        // The full minimum: an account created here has no confirmed factor yet.
        .parse(raw, email, false)
        .map_err(|v| anyhow::anyhow!("password refused ({}): {v}", v.code()))?;
    let pool = PoolConfig {
        workers: 1,
        ..config.pool()
    };
    let hasher = Hasher::start(config.pepper.clone(), pool, Arc::new(Metrics::new()))?;
    Ok(hasher.hash(password).await?)
}
