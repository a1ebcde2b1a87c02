//! The [`Value`] of each type a setting can have: numbers, booleans, strings, addresses, paths, and
//! the `choices!` macro for fieldless enums.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Range, Value};

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl Value for $t {
            type Bounds = Range<$t>;

            fn kind() -> String {
                "integer".to_owned()
            }

            fn parse(raw: &str) -> Result<Self, String> {
                raw.parse().map_err(|e: std::num::ParseIntError| e.to_string())
            }

            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

integers!(u16, u32, u64, usize, i32, i64);

impl Value for f64 {
    type Bounds = Range<f64>;

    fn kind() -> String {
        "number".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        let v: f64 = raw
            .parse()
            .map_err(|e: std::num::ParseFloatError| e.to_string())?;
        if !v.is_finite() {
            return Err("not a finite number".to_owned());
        }
        Ok(v)
    }

    fn show(&self) -> String {
        self.to_string()
    }
}

/// The spellings every boolean accepts, case-insensitive.
pub const TRUE: [&str; 4] = ["true", "yes", "on", "1"];
pub const FALSE: [&str; 4] = ["false", "no", "off", "0"];

impl Value for bool {
    type Bounds = ();

    fn kind() -> String {
        "boolean".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        let v = raw.to_ascii_lowercase();
        if TRUE.contains(&v.as_str()) {
            Ok(true)
        } else if FALSE.contains(&v.as_str()) {
            Ok(false)
        } else {
            Err(format!(
                "expected a boolean: {} or {}",
                TRUE.join("/"),
                FALSE.join("/")
            ))
        }
    }

    fn show(&self) -> String {
        self.to_string()
    }
}

impl Value for String {
    type Bounds = ();

    fn kind() -> String {
        "string".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        Ok(raw.to_owned())
    }

    fn show(&self) -> String {
        self.clone()
    }
}

impl Value for SocketAddr {
    type Bounds = ();

    fn kind() -> String {
        "address:port".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map_err(|_| "expected an IP address and port, e.g. 0.0.0.0:8080".to_owned())
    }

    fn show(&self) -> String {
        self.to_string()
    }
}

impl Value for PathBuf {
    type Bounds = ();

    fn kind() -> String {
        "path".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        Ok(raw.into())
    }

    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// A [`Value`] for a fieldless enum, spelled as listed (case-insensitive).
macro_rules! choices {
    ($t:ty { $($variant:path => $text:literal),+ $(,)? }) => {
        impl $crate::config::setting::Value for $t {
            type Bounds = ();

            fn kind() -> String {
                [$(concat!("`", $text, "`")),+].join(" | ")
            }

            fn parse(raw: &str) -> Result<Self, String> {
                match raw.to_ascii_lowercase().as_str() {
                    $($text => Ok($variant),)+
                    _ => Err(format!("expected one of: {}", [$($text),+].join(", "))),
                }
            }

            fn show(&self) -> String {
                match self {
                    $($variant => $text,)+
                }
                .to_owned()
            }
        }
    };
}

pub(crate) use choices;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_boolean_spelling_is_accepted_in_any_case() {
        for (spellings, expected) in [(TRUE, true), (FALSE, false)] {
            for s in spellings {
                for raw in [s.to_owned(), s.to_ascii_uppercase(), capitalised(s)] {
                    assert_eq!(bool::parse(&raw), Ok(expected), "{raw}");
                }
            }
        }
        for raw in ["", "2", "enabled", "y", "nope"] {
            assert!(bool::parse(raw).is_err(), "{raw}");
        }
    }

    fn capitalised(s: &str) -> String {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
            .unwrap_or_default()
    }

    #[test]
    fn numbers_refuse_what_is_not_one() {
        assert!(u64::parse("soon").is_err());
        assert!(u64::parse("-1").is_err());
        assert!(u16::parse("70000").is_err());
        for raw in ["NaN", "inf", "-inf"] {
            assert!(f64::parse(raw).is_err(), "{raw}");
        }
        assert_eq!(f64::parse("2.5"), Ok(2.5));
    }
}
