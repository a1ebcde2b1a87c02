//! How the process logs: text for people, JSON lines for machines. The level stays with
//! `RUST_LOG` (tracing's `EnvFilter`), as every Rust service does it.

use std::ffi::OsStr;

use super::env::Env;
use super::setting::{choices, Group, Setting, Unset};
use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event, coloured only on a terminal.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`, and the request's span
    /// (`span.id` is the request id) for events inside a request.
    Json,
}

choices!(LogFormat {
    LogFormat::Text => "text",
    LogFormat::Json => "json",
});

pub static LOG_FORMAT: Setting<LogFormat> = Setting {
    name: "RESETGATE_LOG_FORMAT",
    doc: "`text` for people; `json`: one object per line with `timestamp`, `level`, `target`, `fields` and `span.id`, the request id.",
    unset: Unset::Default(LogFormat::Text),
    bounds: (),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Logging",
    about: "Logs go to stderr; stdout is kept for command output. `RUST_LOG` sets the level (default \
            `info`). Text is coloured only when stderr is a terminal and `NO_COLOR` is unset or empty.",
    settings: &[&LOG_FORMAT],
};

pub(super) fn parse(env: &Env<'_>) -> Result<LogFormat, ConfigError> {
    env.get(&LOG_FORMAT)
}

/// Whether text logs may carry ANSI colour codes: only for a person at a terminal who has not
/// asked for none (<https://no-color.org>: any non-empty `NO_COLOR`).
#[must_use]
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new(""))));
    }
}
