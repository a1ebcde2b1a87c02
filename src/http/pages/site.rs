//! What every page speaks and wears: the language chosen for this request, the operator's brand,
//! the optional brand stylesheet, and the Fluent errors met while rendering.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::fmt::Write as _;

use bytes::Bytes;
use fluent_bundle::{FluentArgs, FluentValue};
use http::header::ACCEPT_LANGUAGE;
use http::HeaderMap;
use sha2::{Digest as _, Sha256};

use crate::brand::{Brand, Support};
use crate::i18n::accept_language::negotiate;
use crate::i18n::Locale;

/// The brand stylesheet's size limit: with the built-in stylesheet (under 2 KB) and the largest
/// page (under 4 KB), every page stays under the 30 KB budget on a slow phone.
pub const MAX_BRAND_CSS_BYTES: usize = 16 * 1024;

/// The operator's extra stylesheet, read once at start, and the URL the pages link it under.
#[derive(Clone)]
pub struct BrandCss {
    pub body: Bytes,
    /// Relative like the built-in one; the content's hash in the query changes the URL whenever
    /// the file does, so the year-long cache never serves an old one.
    pub href: String,
}

impl fmt::Debug for BrandCss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrandCss")
            .field("bytes", &self.body.len())
            .field("href", &self.href)
            .finish()
    }
}

impl BrandCss {
    #[must_use]
    pub fn new(text: String) -> Self {
        let digest = Sha256::digest(text.as_bytes());
        let short = digest[..6].iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
        Self {
            body: Bytes::from(text),
            href: format!("assets/brand.css?v={short}"),
        }
    }
}

/// The pages' settings: default language and brand.
#[derive(Debug, Clone)]
pub struct Site {
    /// For browsers that name none of our languages (`RESETGATE_DEFAULT_LOCALE`).
    pub default_locale: Locale,
    pub brand: Brand,
    pub brand_css: Option<BrandCss>,
}

/// The language a request names through `Accept-Language`, if it names one we have. Never fails:
/// a header that is not text, or junk, names none.
#[must_use]
pub fn requested_locale(headers: &HeaderMap) -> Option<Locale> {
    headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(negotiate)
}

impl Site {
    /// The language of the page for this request: the browser's choice, else the default.
    #[must_use]
    pub fn locale_for(&self, headers: &HeaderMap) -> Locale {
        requested_locale(headers).unwrap_or(self.default_locale)
    }

    /// What one page render speaks.
    #[must_use]
    pub fn ui(&self, locale: Locale) -> Ui<'_> {
        Ui {
            locale,
            site: self,
            errors: RefCell::new(Vec::new()),
        }
    }
}

/// One page render's words: templates call `ui.t("message-id")`. Fluent errors are collected
/// (`html` logs them; the tests require none) instead of failing the page.
pub struct Ui<'a> {
    pub locale: Locale,
    site: &'a Site,
    errors: RefCell<Vec<String>>,
}

impl Ui<'_> {
    /// The `lang` attribute of the page.
    #[must_use]
    pub fn lang(&self) -> &'static str {
        self.locale.tag()
    }

    #[must_use]
    pub fn product(&self) -> &str {
        self.site.brand.product.as_str()
    }

    #[must_use]
    pub fn support(&self) -> Option<&Support> {
        self.site.brand.support.as_ref()
    }

    /// The brand stylesheet's URL, when one is configured.
    #[must_use]
    pub fn brand_css(&self) -> Option<&str> {
        self.site.brand_css.as_ref().map(|c| c.href.as_str())
    }

    /// The message `id`; every message may use `$product`.
    #[must_use]
    pub fn t(&self, id: &str) -> Cow<'static, str> {
        self.t_with(id, &[])
    }

    /// The message `id` with numeric variables (`$min`, `$max`, `$secs`).
    #[must_use]
    pub fn t_with(&self, id: &str, numbers: &[(&str, u64)]) -> Cow<'static, str> {
        let mut args = FluentArgs::with_capacity(numbers.len() + 1);
        args.set("product", FluentValue::from(self.product()));
        for (name, n) in numbers {
            args.set(*name, *n);
        }
        self.locale
            .message(id, Some(&args), &mut self.errors.borrow_mut())
    }

    /// The Fluent errors so far, emptied.
    pub fn take_errors(&self) -> Vec<String> {
        self.errors.take()
    }
}
