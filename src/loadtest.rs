//! Open-loop load test (written in the next commit).

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

/// # Errors
/// Never yet.
#[allow(clippy::unused_async)]
pub async fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("loadtest is not built yet")
}
