//! `Accept-Language` (RFC 9110 §12.5.4) against the languages we have, with q-values.
//!
//! Cheap and total: it runs on every page, shed and rate-limited pages included, so it allocates
//! nothing, looks at a bounded number of ranges, and any junk simply matches nothing (the caller
//! then uses the configured default). Matching is RFC 4647 "lookup" reduced to what a set of
//! primary languages needs: `fr-CA` matches our `fr`, and `pt` would match a `pt-BR` we had.

use super::Locale;

/// Ranges past this many are ignored: a real browser sends a handful.
const MAX_RANGES: usize = 16;

/// Whether the language range `range` asks for `tag` (case-insensitive, on subtag boundaries).
fn matches(range: &str, tag: &str) -> bool {
    let (r, t) = (range.as_bytes(), tag.as_bytes());
    let (short, long) = if r.len() <= t.len() { (r, t) } else { (t, r) };
    long.len() >= short.len()
        && long[..short.len()].eq_ignore_ascii_case(short)
        && (long.len() == short.len() || long[short.len()] == b'-')
}

/// The q-value of one range's parameters; a malformed one disqualifies the range.
fn quality<'a>(params: impl Iterator<Item = &'a str>) -> Option<f32> {
    let mut q = 1.0;
    for p in params {
        let p = p.trim();
        if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
            q = v.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some(q)
}

/// Our best language for an `Accept-Language` value: the one the client weighs highest, earlier
/// ranges winning ties. `None` when it names none of ours (or only `*`): the caller falls back to
/// the default and, for a reset request, records nothing.
#[must_use]
pub fn negotiate(header: &str) -> Option<Locale> {
    let mut best: Option<(f32, Locale)> = None;
    for item in header.split(',').take(MAX_RANGES) {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or_default().trim();
        if range.is_empty() || range == "*" {
            continue;
        }
        let Some(q) = quality(parts).filter(|q| *q > 0.0) else {
            continue;
        };
        if best.is_some_and(|(b, _)| b >= q) {
            continue;
        }
        if let Some(locale) = Locale::all().find(|l| matches(range, l.tag())) {
            best = Some((q, locale));
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(header: &str) -> Option<&'static str> {
        negotiate(header).map(Locale::tag)
    }

    #[test]
    fn the_highest_weighted_language_we_have_wins() {
        assert_eq!(tag("fr"), Some("fr"));
        assert_eq!(tag("fr-CA,fr;q=0.9,en;q=0.8"), Some("fr"));
        assert_eq!(tag("en-US,en;q=0.9,fr;q=0.8"), Some("en"));
        assert_eq!(tag("de-DE,de;q=0.9,fr;q=0.5,en;q=0.4"), Some("fr"));
        assert_eq!(tag("en;q=0.5, fr;q=0.6"), Some("fr"));
        assert_eq!(tag("FR-be"), Some("fr"));
        // Ties go to the earlier range.
        assert_eq!(tag("fr;q=0.7, en;q=0.7"), Some("fr"));
    }

    #[test]
    fn nothing_we_have_means_none() {
        assert_eq!(tag("de-DE, ja"), None);
        assert_eq!(tag("*"), None);
        assert_eq!(tag(""), None);
        assert_eq!(tag("fr;q=0"), None);
        // A prefix that is not a whole subtag is another language.
        assert_eq!(tag("fry"), None);
        assert_eq!(tag("e"), None);
    }

    #[test]
    fn junk_never_panics_and_matches_nothing() {
        for junk in [
            ";;;,,,",
            "fr;q=abc",
            "fr;q=2",
            "fr;q=NaN",
            "fr;q=-1",
            "\u{e9}\u{e9}-fr",
            "fr-\u{1F600}",
            ";q=1",
            "-",
        ] {
            assert!(
                tag(junk).is_none() || junk.starts_with("fr-"),
                "{junk}: {:?}",
                tag(junk)
            );
        }
        let long = "xx;q=0.1,".repeat(10_000) + "fr";
        assert_eq!(tag(&long), None, "ranges past the first few are not read");
    }
}
