//! Languages: the words of every page and email as Fluent messages under `locales/<tag>/`,
//! compiled into the binary (`catalog`), and the choice of one language per request
//! (`Accept-Language`, `accept_language`) or per account (its stored locale).
//!
//! Domain, like the other parsed values: a [`Locale`] can only name a language we have, so the
//! store, the mailer and the pages never meet one we cannot render.

pub mod accept_language;
pub mod catalog;

pub use catalog::Locale;
