//! Reading declared settings from the environment, recording the effective value of each for
//! `check-config`, and refusing `RESETGATE_*` names that are not settings.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{self, Write as _};

use super::setting::{Bounds as _, Describe, Setting, Unset, Value};
use super::{err, settings, ConfigError};

pub(crate) const PREFIX: &str = "RESETGATE_";

/// Reads variables through `lookup` so tests can pass a map instead of mutating the process env.
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    shown: RefCell<Effective>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            shown: RefCell::default(),
        }
    }

    /// The trimmed value; empty counts as unset.
    fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The parsed, bound-checked value if the variable is set.
    fn read<T: Value>(&self, s: &Setting<T>) -> Result<Option<T>, ConfigError> {
        let Some(raw) = self.raw(s.name) else {
            return Ok(None);
        };
        let v = T::parse(&raw).map_err(|e| {
            if s.secret {
                err(s.name, format!("cannot parse the value: {e}"))
            } else {
                err(s.name, format!("cannot parse {raw:?}: {e}"))
            }
        })?;
        s.bounds.check(&v).map_err(|e| err(s.name, e))?;
        Ok(Some(v))
    }

    /// The value, or the declared default.
    ///
    /// # Errors
    /// The value does not parse or breaks the bounds; or it is unset and the setting has no fixed
    /// default (such settings are read with [`Self::opt`] or [`Self::get_or`]).
    pub(crate) fn get<T: Value>(&self, s: &Setting<T>) -> Result<T, ConfigError> {
        let v = match self.read(s)? {
            Some(v) => v,
            None => s
                .default_value()
                .map_err(|e| err(s.name, format!("bad default: {e}")))?
                .ok_or_else(|| err(s.name, "required"))?,
        };
        self.show(s, &v);
        Ok(v)
    }

    /// The value, or `computed` for a setting whose default is [`Unset::Computed`].
    pub(crate) fn get_or<T: Value>(
        &self,
        s: &Setting<T>,
        computed: impl FnOnce() -> T,
    ) -> Result<T, ConfigError> {
        let v = self.read(s)?.unwrap_or_else(computed);
        self.show(s, &v);
        Ok(v)
    }

    /// The value if set; `check-config` shows an unset one with what unset means.
    pub(crate) fn opt<T: Value>(&self, s: &Setting<T>) -> Result<Option<T>, ConfigError> {
        let v = self.read(s)?;
        match (&v, &s.unset) {
            (Some(v), _) => self.show(s, v),
            (None, Unset::Means(meaning)) => self.record(s.name, Shown::Value(format!("(unset: {meaning})"))),
            (None, _) => self.record(s.name, Shown::Value("(unset)".to_owned())),
        }
        Ok(v)
    }

    /// Records `v` as the effective value of `s`, replacing what reading it recorded (for a value
    /// normalised or resolved after reading, e.g. a secret read from a file).
    pub(crate) fn show<T: Value>(&self, s: &Setting<T>, v: &T) {
        let text = if s.secret {
            "[redacted]".to_owned()
        } else {
            v.show()
        };
        self.record(s.name, Shown::Value(text));
    }

    /// A comment line for `check-config` instead of a value (e.g. why a setting is not used).
    pub(crate) fn note<T: Value>(&self, s: &Setting<T>, note: &str) {
        self.record(s.name, Shown::Note(note.to_owned()));
    }

    fn record(&self, name: &'static str, shown: Shown) {
        let mut effective = self.shown.borrow_mut();
        effective.0.retain(|(n, _)| *n != name);
        effective.0.push((name, shown));
    }

    pub(crate) fn into_effective(self) -> Effective {
        self.shown.into_inner()
    }
}

#[derive(Debug, Clone)]
enum Shown {
    Value(String),
    Note(String),
}

/// Every setting the parser read, with the value it took (secrets redacted).
#[derive(Debug, Clone, Default)]
pub struct Effective(Vec<(&'static str, Shown)>);

impl Effective {
    /// The names of the settings read, in the order they were read.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(n, _)| *n)
    }
}

impl fmt::Display for Effective {
    /// `VAR=value` lines in the order of docs/configuration.md, one per setting read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in settings() {
            match self.0.iter().find(|(n, _)| *n == s.name()) {
                Some((name, Shown::Value(v))) => writeln!(f, "{name}={v}")?,
                Some((name, Shown::Note(note))) => writeln!(f, "# {name} {note}")?,
                None => {}
            }
        }
        Ok(())
    }
}

/// Refuses any variable that looks like a setting but is not one: a typo would otherwise be
/// ignored in silence and its default used.
///
/// # Errors
/// Names the first unknown variable (in sorted order) and the setting it is nearest to, then
/// any others.
pub fn check_known<'n>(names: impl IntoIterator<Item = &'n str>) -> Result<(), ConfigError> {
    let mut unknown: Vec<&str> = names
        .into_iter()
        .filter(|n| n.to_ascii_uppercase().starts_with(PREFIX))
        .filter(|n| !settings().any(|s| s.name() == *n))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    let Some((first, rest)) = unknown.split_first() else {
        return Ok(());
    };
    let mut message = format!("unknown setting (did you mean {}?)", nearest(first));
    if !rest.is_empty() {
        let others: Vec<String> = rest.iter().map(|n| format!("{n} ({})", nearest(n))).collect();
        let _ = write!(message, "; also unknown: {}", others.join(", "));
    }
    Err(ConfigError {
        var: Cow::Owned((*first).to_owned()),
        message: message + "; every setting is listed in docs/configuration.md",
    })
}

/// The declared setting whose name is closest to `name`: one it is the start of (a suffix left
/// off, such as `_MS`), else the fewest edits, then the most similar start.
#[must_use]
pub fn nearest(name: &str) -> &'static str {
    let name = name.to_ascii_uppercase();
    let key = |s: &str| {
        (
            !s.starts_with(&name),
            strsim::damerau_levenshtein(&name, s),
            std::cmp::Reverse(ordered(strsim::jaro_winkler(&name, s))),
        )
    };
    settings()
        .map(Describe::name)
        .min_by_key(|s| key(s))
        .unwrap_or(PREFIX)
}

/// `jaro_winkler` is in 0..=1: scaled to an integer so it can be compared totally.
fn ordered(similarity: f64) -> u32 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let scaled = (similarity.clamp(0.0, 1.0) * 1e6) as u32;
    scaled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_refused_with_the_setting_it_meant() {
        let e = check_known(["PATH", "RESETGATE_MAX_INFLIGHT", "RESETGATE_LISTEN"]).unwrap_err();
        assert_eq!(e.var, "RESETGATE_MAX_INFLIGHT");
        assert!(
            e.to_string().starts_with(
                "RESETGATE_MAX_INFLIGHT: unknown setting (did you mean RESETGATE_MAX_IN_FLIGHT?)"
            ),
            "{e}"
        );
        for (typo, meant) in [
            ("RESETGATE_HASH_QUEUE_BUDGET", "RESETGATE_HASH_QUEUE_BUDGET_MS"),
            ("RESETGATE_SMTP_PASS", "RESETGATE_SMTP_PASSWORD"),
            ("RESETGATE_DATABASEURL", "RESETGATE_DATABASE_URL"),
            ("RESETGATE_PEPER", "RESETGATE_PEPPER"),
            ("resetgate_listen", "RESETGATE_LISTEN"),
            ("RESETGATE_RATE_LIMIT", "RESETGATE_RATE_LIMITS"),
        ] {
            assert_eq!(nearest(typo), meant, "{typo}");
            assert_eq!(check_known([typo]).unwrap_err().var, typo);
        }
    }

    #[test]
    fn every_unknown_name_is_reported_and_others_pass() {
        assert_eq!(
            check_known(["PATH", "HOME", "RUST_LOG", "RESETGATE_LISTEN"]),
            Ok(())
        );
        let e = check_known(["RESETGATE_ZZZ", "RESETGATE_AAA"]).unwrap_err();
        assert_eq!(e.var, "RESETGATE_AAA");
        assert!(e.message.contains("also unknown: RESETGATE_ZZZ"), "{e}");
    }
}
