//! `resetgate migrate`: apply the database migrations and exit.

use std::process::ExitCode;

use anyhow::Context as _;

use super::load;
use crate::app;
use crate::config::Mode;
use crate::storage::migrate;

pub(super) async fn run() -> anyhow::Result<ExitCode> {
    let config = load(Mode::Migrate)?;
    let store = app::postgres_from_config(&config, false).await?;
    let n = migrate::run(store.pool()).await.context("applying migrations")?;
    println!("applied {n} migration(s); schema is up to date");
    Ok(ExitCode::SUCCESS)
}
