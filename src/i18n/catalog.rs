//! The Fluent catalogs, one bundle per language, built once from files compiled into the binary:
//! nothing is read from disk at run time, and a missing file fails the build.
//!
//! Why fluent-bundle (with its own `concurrent` bundles) rather than fluent-templates: it is the
//! reference implementation the others wrap, it reports every formatting error to the caller
//! (missing message, missing variable), which the tests turn into failures instead of a silent
//! fallback, and it needs no build-time directory walker or extra loader crates. The price is the
//! one-line registration per language below.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use unic_langid::LanguageIdentifier;

/// The files of one language: every language has each of [`FILES`].
pub struct Source {
    pub tag: &'static str,
    pub files: [(&'static str, &'static str); 2],
}

/// The files every language has, under `locales/<tag>/`.
pub const FILES: [&str; 2] = ["pages.ftl", "mail.ftl"];

macro_rules! language {
    ($tag:literal) => {
        Source {
            tag: $tag,
            files: [
                (
                    "pages.ftl",
                    include_str!(concat!("../../locales/", $tag, "/pages.ftl")),
                ),
                (
                    "mail.ftl",
                    include_str!(concat!("../../locales/", $tag, "/mail.ftl")),
                ),
            ],
        }
    };
}

/// Every language, the reference one (English) first: the others must have exactly its messages
/// and variables. Adding a language is adding `locales/<tag>/*.ftl` and one line here.
pub static SOURCES: &[Source] = &[language!("en"), language!("fr")];

struct Language {
    tag: &'static str,
    bundle: FluentBundle<FluentResource>,
}

static LANGUAGES: LazyLock<Vec<Language>> = LazyLock::new(|| SOURCES.iter().map(load).collect());

/// Builds one language's bundle. A syntax error keeps the messages that did parse: the unit tests
/// refuse any, so none ships.
fn load(src: &Source) -> Language {
    let id: LanguageIdentifier = src.tag.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks (FSI/PDI) around variables: they would land as invisible
    // characters in plain-text mail, in subjects and in `value` attributes. Our variables are
    // numbers and a product name set in the same script as the text around them.
    bundle.set_use_isolating(false);
    for (_, text) in src.files {
        let resource = FluentResource::try_new((*text).to_owned()).unwrap_or_else(|(partial, _)| partial);
        // A message defined twice keeps its first definition; the tests refuse duplicates.
        let _ = bundle.add_resource(resource);
    }
    Language { tag: src.tag, bundle }
}

/// One of the languages we have. Only [`Locale::parse`] and [`Locale::all`] make one, so every
/// `Locale` can be rendered.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Locale(u8);

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl Locale {
    /// English: the reference language, whose messages every other must have.
    pub const REFERENCE: Self = Self(0);

    /// Every language we have, the reference first.
    pub fn all() -> impl Iterator<Item = Self> {
        // A handful of languages: far below u8::MAX.
        #[allow(clippy::cast_possible_truncation)]
        (0..SOURCES.len()).map(|i| Self(i as u8))
    }

    /// The language with this tag (`fr`, case-insensitive), if we have it.
    #[must_use]
    pub fn parse(tag: &str) -> Option<Self> {
        Self::all().find(|l| l.tag().eq_ignore_ascii_case(tag.trim()))
    }

    /// The tags we have, for messages: `en, fr`.
    #[must_use]
    pub fn known() -> String {
        SOURCES.iter().map(|s| s.tag).collect::<Vec<_>>().join(", ")
    }

    /// The BCP 47 tag, as `<html lang>` and the accounts table hold it.
    #[must_use]
    pub fn tag(self) -> &'static str {
        SOURCES[usize::from(self.0)].tag
    }

    /// The message `id` in this language, formatted with `args`. Every Fluent error (a message
    /// missing here, a variable not given) is pushed to `errors`; the text is then the reference
    /// language's, or the id, so a page still renders. The tests render every page and email in
    /// every language and require `errors` to stay empty.
    pub fn message(
        self,
        id: &str,
        args: Option<&FluentArgs<'_>>,
        errors: &mut Vec<String>,
    ) -> Cow<'static, str> {
        let languages = &*LANGUAGES;
        let own = &languages[usize::from(self.0)];
        let found = std::iter::once(own)
            .chain(languages.first())
            .find_map(|l| l.bundle.get_message(id).and_then(|m| m.value()).map(|p| (l, p)));
        let Some((lang, pattern)) = found else {
            errors.push(format!("{}: no message `{id}`", own.tag));
            return Cow::Owned(id.to_owned());
        };
        if lang.tag != own.tag {
            errors.push(format!("{}: no message `{id}` (used {})", own.tag, lang.tag));
        }
        let mut fluent = Vec::new();
        let text = lang.bundle.format_pattern(pattern, args, &mut fluent);
        errors.extend(fluent.into_iter().map(|e| format!("{}: `{id}`: {e}", own.tag)));
        text
    }
}

#[cfg(test)]
mod tests;
