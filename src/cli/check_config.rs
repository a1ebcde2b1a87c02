//! `resetgate check-config`: the effective configuration, secrets redacted, or exit 64.

use std::io::Write as _;
use std::process::ExitCode;

use super::{load, CheckMode};
use crate::config::Mode;

pub(super) fn run(mode: CheckMode) -> anyhow::Result<ExitCode> {
    let config = load(match mode {
        CheckMode::Serve => Mode::Serve,
        CheckMode::Demo => Mode::Demo,
    })?;
    // A closed pipe (`check-config | head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(config.to_string().as_bytes());
    Ok(ExitCode::SUCCESS)
}
