//! What a setting is: one `static` [`Setting`] per variable holds its name, type, default, bounds
//! and one-line doc. The parser ([`super::env::Env`]), `check-config` and the generated
//! docs/configuration.md all read these declarations, so they cannot drift apart.

use std::fmt;
use std::ops::Bound;

mod values;

pub(crate) use values::choices;
pub use values::{FALSE, TRUE};

/// A type a setting can have: how it is written in the environment and read back.
pub trait Value: Clone + Send + Sync + Sized + 'static {
    /// The limits a setting of this type may declare: [`Range`] for numbers, `()` for the rest,
    /// so a bound on a type without an order does not compile.
    type Bounds: Bounds<Self>;
    /// The type column of docs/configuration.md.
    fn kind() -> String;
    /// # Errors
    /// Why `raw` is not a value of this type. Must not quote `raw`: it may be a secret (the caller
    /// quotes it when it is not).
    fn parse(raw: &str) -> Result<Self, String>;
    /// As `check-config` prints it: what the variable would be set to for the same effect.
    fn show(&self) -> String;
}

pub trait Bounds<T>: Send + Sync + 'static {
    /// # Errors
    /// How `v` misses the bounds.
    fn check(&self, v: &T) -> Result<(), String>;
    /// For the bounds column of docs/configuration.md; empty when there are none.
    fn describe(&self) -> String;
}

impl<T> Bounds<T> for () {
    fn check(&self, _: &T) -> Result<(), String> {
        Ok(())
    }

    fn describe(&self) -> String {
        String::new()
    }
}

/// Inclusive or exclusive limits on a number.
pub struct Range<T> {
    pub min: Bound<T>,
    pub max: Bound<T>,
}

impl<T> Range<T> {
    pub const ANY: Self = Self {
        min: Bound::Unbounded,
        max: Bound::Unbounded,
    };

    pub const fn at_least(min: T) -> Self {
        Self {
            min: Bound::Included(min),
            max: Bound::Unbounded,
        }
    }

    pub const fn above(min: T) -> Self {
        Self {
            min: Bound::Excluded(min),
            max: Bound::Unbounded,
        }
    }

    pub const fn between(min: T, max: T) -> Self {
        Self {
            min: Bound::Included(min),
            max: Bound::Included(max),
        }
    }
}

impl<T: PartialOrd + fmt::Display + Send + Sync + 'static> Bounds<T> for Range<T> {
    fn check(&self, v: &T) -> Result<(), String> {
        match &self.min {
            Bound::Included(m) if v < m => return Err(format!("{v} is below the minimum {m}")),
            Bound::Excluded(m) if v <= m => return Err(format!("must be greater than {m}")),
            _ => {}
        }
        match &self.max {
            Bound::Included(m) if v > m => Err(format!("{v} is above the maximum {m}")),
            Bound::Excluded(m) if v >= m => Err(format!("must be less than {m}")),
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        match (&self.min, &self.max) {
            (Bound::Included(a), Bound::Included(b)) => format!("{a} to {b}"),
            (min, max) => {
                let min = match min {
                    Bound::Included(m) => Some(format!("at least {m}")),
                    Bound::Excluded(m) => Some(format!("greater than {m}")),
                    Bound::Unbounded => None,
                };
                let max = match max {
                    Bound::Included(m) => Some(format!("at most {m}")),
                    Bound::Excluded(m) => Some(format!("less than {m}")),
                    Bound::Unbounded => None,
                };
                min.into_iter().chain(max).collect::<Vec<_>>().join(", ")
            }
        }
    }
}

/// What applies when the variable is unset (or empty).
pub enum Unset<T> {
    /// This value.
    Default(T),
    /// This text, parsed like the variable (for types without a `const` constructor).
    DefaultText(&'static str),
    /// A value the parser computes at start; the text says from what.
    Computed(&'static str),
    /// No default: the text says what unset means (a feature off, or required by some mode).
    Means(&'static str),
}

pub struct Setting<T: Value> {
    /// The environment variable, `RESETGATE_` and upper case.
    pub name: &'static str,
    /// One line for docs/configuration.md.
    pub doc: &'static str,
    pub unset: Unset<T>,
    pub bounds: T::Bounds,
    /// Printed as `[redacted]` by `check-config` and never quoted in an error.
    pub secret: bool,
}

/// A setting with its type erased, for the registry: docs, `check-config`, unknown-name checks.
pub trait Describe: Sync {
    fn name(&self) -> &'static str;
    fn doc(&self) -> &'static str;
    fn kind(&self) -> String;
    /// The default column of docs/configuration.md.
    fn default_text(&self) -> String;
    fn bounds_text(&self) -> String;
    fn secret(&self) -> bool;
    /// # Errors
    /// The declared default does not parse or breaks the declared bounds.
    fn check_default(&self) -> Result<(), String>;
}

impl<T: Value> Setting<T> {
    /// The declared default, if there is one that needs no computing.
    ///
    /// # Errors
    /// A [`Unset::DefaultText`] that does not parse (the registry's tests rule that out).
    pub fn default_value(&self) -> Result<Option<T>, String> {
        match &self.unset {
            Unset::Default(v) => Ok(Some(v.clone())),
            Unset::DefaultText(text) => T::parse(text).map(Some),
            Unset::Computed(_) | Unset::Means(_) => Ok(None),
        }
    }
}

impl<T: Value> Describe for Setting<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn doc(&self) -> &'static str {
        self.doc
    }

    fn kind(&self) -> String {
        T::kind()
    }

    fn default_text(&self) -> String {
        match &self.unset {
            Unset::Default(v) => match v.show() {
                v if v.is_empty() => "empty".to_owned(),
                v => format!("`{v}`"),
            },
            Unset::DefaultText(text) => format!("`{text}`"),
            Unset::Computed(how) | Unset::Means(how) => (*how).to_owned(),
        }
    }

    fn bounds_text(&self) -> String {
        self.bounds.describe()
    }

    fn secret(&self) -> bool {
        self.secret
    }

    fn check_default(&self) -> Result<(), String> {
        match self.default_value()? {
            Some(v) => self.bounds.check(&v),
            None => Ok(()),
        }
    }
}

/// One concern's settings, as a section of docs/configuration.md.
pub struct Group {
    pub title: &'static str,
    /// A paragraph before the table: what the settings are for and the rules between them.
    pub about: &'static str,
    pub settings: &'static [&'static dyn Describe],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_check_and_describe_their_bounds() {
        let r = Range::between(64_usize, 1024);
        assert_eq!(r.check(&64), Ok(()));
        assert_eq!(r.check(&63).unwrap_err(), "63 is below the minimum 64");
        assert_eq!(r.check(&1025).unwrap_err(), "1025 is above the maximum 1024");
        assert_eq!(r.describe(), "64 to 1024");
        let r = Range::above(0.0_f64);
        assert!(r.check(&0.0).is_err() && r.check(&0.001).is_ok());
        assert_eq!(r.describe(), "greater than 0");
        assert_eq!(Range::<u64>::ANY.describe(), "");
        assert_eq!(Range::at_least(1_u32).describe(), "at least 1");
    }
}
