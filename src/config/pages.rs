//! What the pages and emails say and look like: the default language and the operator's brand
//! (product name, support contact, an extra stylesheet). docs/pages.md, "Languages" and
//! "Branding", says how each is used.

use std::path::PathBuf;

use url::Url;

use super::env::Env;
use super::setting::{Group, Setting, Unset, Value};
use super::{err, ConfigError};
use crate::brand::{Brand, ProductName, Support};
use crate::http::pages::{BrandCss, Site, MAX_BRAND_CSS_BYTES};
use crate::i18n::Locale;

pub const DEFAULT_LOCALE: &str = "en";

pub static LOCALE: Setting<Locale> = Setting {
    name: "RESETGATE_DEFAULT_LOCALE",
    doc: "Language of pages whose browser asks for none we have, and of mail to accounts without a stored language: a directory name under `locales/`, e.g. `fr`.",
    unset: Unset::DefaultText(DEFAULT_LOCALE),
    bounds: (),
    secret: false,
};
pub static PRODUCT_NAME: Setting<ProductName> = Setting {
    name: "RESETGATE_PRODUCT_NAME",
    doc: "The name people know the account by, in page titles and headers and in every mail (\"your Example account\"); one line, at most 80 characters.",
    unset: Unset::Computed("the host of `RESETGATE_PUBLIC_BASE_URL`"),
    bounds: (),
    secret: false,
};
pub static SUPPORT_CONTACT: Setting<Support> = Setting {
    name: "RESETGATE_SUPPORT_CONTACT",
    doc: "Where people who need help write: an email address or an `https://` URL, shown in every page's footer and in the changed and campaign notices.",
    unset: Unset::Means("no footer and no support line: nothing points nowhere"),
    bounds: (),
    secret: false,
};
pub static BRAND_STYLESHEET: Setting<PathBuf> = Setting {
    name: "RESETGATE_BRAND_STYLESHEET",
    doc: "A CSS file read once at start and served as `/assets/brand.css`, linked after the built-in stylesheet on every page (same CSP: `style-src 'self'`); at most 16 KiB.",
    unset: Unset::Means("only the built-in stylesheet"),
    bounds: (),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Pages and branding",
    about: "Pages pick their language from `Accept-Language` among those under `locales/`, else \
            `RESETGATE_DEFAULT_LOCALE`; mail uses the account's stored language, else the default. \
            A stylesheet that cannot be read or is too big stops the start (exit 64).",
    settings: &[&LOCALE, &PRODUCT_NAME, &SUPPORT_CONTACT, &BRAND_STYLESHEET],
};

impl Value for Locale {
    type Bounds = ();

    fn kind() -> String {
        "language tag".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        Locale::parse(raw)
            .ok_or_else(|| format!("not one of the languages under locales/: {}", Locale::known()))
    }

    fn show(&self) -> String {
        self.tag().to_owned()
    }
}

impl Value for ProductName {
    type Bounds = ();

    fn kind() -> String {
        "text".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        ProductName::parse(raw)
    }

    fn show(&self) -> String {
        self.as_str().to_owned()
    }
}

impl Value for Support {
    type Bounds = ();

    fn kind() -> String {
        "email or URL".to_owned()
    }

    fn parse(raw: &str) -> Result<Self, String> {
        Support::parse(raw)
    }

    fn show(&self) -> String {
        self.text()
    }
}

/// The stylesheet's bytes, checked: readable, at most [`MAX_BRAND_CSS_BYTES`], UTF-8.
fn stylesheet(path: &std::path::Path) -> Result<BrandCss, ConfigError> {
    let name = BRAND_STYLESHEET.name;
    let meta =
        std::fs::metadata(path).map_err(|e| err(name, format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > MAX_BRAND_CSS_BYTES as u64 {
        return Err(err(
            name,
            format!(
                "{} is {} bytes; at most {MAX_BRAND_CSS_BYTES} (each page with its stylesheets stays under 30 KB)",
                path.display(),
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| err(name, format!("cannot read {}: {e}", path.display())))?;
    // Checked again: the file may have grown between the two calls.
    if bytes.len() > MAX_BRAND_CSS_BYTES {
        return Err(err(
            name,
            format!("{} is larger than {MAX_BRAND_CSS_BYTES} bytes", path.display()),
        ));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| err(name, format!("{} is not UTF-8 text", path.display())))?;
    Ok(BrandCss::new(text))
}

pub(super) fn parse(env: &Env<'_>, public_base_url: &Url) -> Result<Site, ConfigError> {
    let default_locale = env.get(&LOCALE)?;
    let product = if let Some(p) = env.opt(&PRODUCT_NAME)? {
        p
    } else {
        // A host is one short line of printable ASCII: it always parses.
        let host = public_base_url.host_str().unwrap_or("your account");
        let p = ProductName::parse(host).map_err(|e| err(PRODUCT_NAME.name, e))?;
        env.show(&PRODUCT_NAME, &p);
        p
    };
    let support = env.opt(&SUPPORT_CONTACT)?;
    let brand_css = env.opt(&BRAND_STYLESHEET)?.map(|p| stylesheet(&p)).transpose()?;
    Ok(Site {
        default_locale,
        brand: Brand { product, support },
        brand_css,
    })
}
