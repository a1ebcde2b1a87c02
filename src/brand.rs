//! The operator's brand on the pages and in the emails: a product name and, optionally, a support
//! contact. Parsed once from config; the pages and templates only display them (escaped).

use std::fmt;

use url::Url;

use crate::reset::email::EmailAddress;

/// The longest product name accepted: it sits in every page title and mail.
pub const MAX_PRODUCT_NAME_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// "your <product> account": the operator's name for what the account belongs to.
    pub product: ProductName,
    /// Where a person who needs help writes; `None` says nothing rather than point nowhere.
    pub support: Option<Support>,
}

/// A product name: one line of printable text, at most [`MAX_PRODUCT_NAME_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    /// # Errors
    /// Empty, too long, or holding a control character (a newline would break a mail header).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.chars().count() > MAX_PRODUCT_NAME_CHARS {
            return Err(format!("must be at most {MAX_PRODUCT_NAME_CHARS} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("must be one line without control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How to reach support: an email address or an https page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    Email(EmailAddress),
    Url(Url),
}

impl Support {
    /// An `https://` URL with a host, or an email address.
    ///
    /// # Errors
    /// Neither of those (plain http is refused: the page it names is where anxious people go).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.contains("://") {
            let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
            if url.scheme() != "https" || url.host().is_none() {
                return Err("a URL must be https with a host".into());
            }
            return Ok(Self::Url(url));
        }
        EmailAddress::parse(raw)
            .map(Self::Email)
            .map_err(|_| "must be an email address or an https:// URL".into())
    }

    /// The link target: `mailto:` for an address.
    #[must_use]
    pub fn href(&self) -> String {
        match self {
            Self::Email(e) => format!("mailto:{e}"),
            Self::Url(u) => u.to_string(),
        }
    }

    /// What a person reads (and, in plain-text mail, copies).
    #[must_use]
    pub fn text(&self) -> String {
        match self {
            Self::Email(e) => e.to_string(),
            Self::Url(u) => u.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_is_an_address_or_an_https_page() {
        let mail = Support::parse(" help@example.com ").unwrap();
        assert_eq!(mail.href(), "mailto:help@example.com");
        assert_eq!(mail.text(), "help@example.com");
        let page = Support::parse("https://example.com/help").unwrap();
        assert_eq!(page.href(), "https://example.com/help");
        assert!(Support::parse("http://example.com/help").is_err());
        assert!(Support::parse("javascript://x").is_err());
        assert!(Support::parse("not an address").is_err());
    }

    #[test]
    fn product_names_are_one_short_line() {
        assert_eq!(ProductName::parse(" Example ").unwrap().as_str(), "Example");
        assert!(ProductName::parse("").is_err());
        assert!(ProductName::parse("a\nBcc: x").is_err());
        assert!(ProductName::parse(&"x".repeat(81)).is_err());
    }
}
