use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use resetgate::config::{self, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // Before anything else, so nothing can log before the subscriber exists.
    if let Err(e) = init_logging() {
        eprintln!("resetgate: invalid configuration: {e}");
        return ExitCode::from(resetgate::cli::EXIT_CONFIG);
    }
    resetgate::cli::run(resetgate::cli::Cli::parse()).await
}

/// Logs go to stderr so stdout stays for command output (and the demo's printed mail). `RUST_LOG`
/// sets the level; `RESETGATE_LOG_FORMAT` the shape.
fn init_logging() -> Result<(), config::ConfigError> {
    let format = config::log_format_from_env()?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // The subscriber reports a failed write with eprintln!, to the same stderr that just failed,
        // and eprintln! panics on a closed stderr: a log pipe whose reader died (a crashed log
        // shipper) would take the gateway down with it. A lost log line is the lesser harm.
        .log_internal_errors(false);
    match format {
        // The request id is the `id` field of the `request` span (http::observe): `span` holds the
        // innermost span of an event, `spans` all of them, outermost first.
        // Never colour: JSON is for machines, whatever stderr is.
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        LogFormat::Text => builder
            .with_ansi(config::use_colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .init(),
    }
    Ok(())
}
