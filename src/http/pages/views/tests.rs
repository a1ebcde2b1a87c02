//! Every page state renders in every language without a Fluent error, says its language, escapes
//! what it interpolates, and stays under 30 KB with its stylesheets.

use askama::Template as _;

use super::*;
use crate::brand::{Brand, ProductName, Support};
use crate::http::pages::site::{BrandCss, Site, MAX_BRAND_CSS_BYTES};
use crate::http::pages::{STYLESHEET, STYLESHEET_HREF};
use crate::i18n::Locale;

fn site(product: &str, support: Option<&str>, css: Option<String>) -> Site {
    Site {
        default_locale: Locale::REFERENCE,
        brand: Brand {
            product: ProductName::parse(product).unwrap(),
            support: support.map(|s| Support::parse(s).unwrap()),
        },
        brand_css: css.map(BrandCss::new),
    }
}

const POLICY: PasswordPolicy = PasswordPolicy {
    min_chars: 15,
    min_chars_with_mfa: 8,
    max_chars: 64,
};

/// Every state a person can see, rendered through `ui`.
#[allow(clippy::too_many_lines)] // one flat list of every page state reads best as one list
fn every_state(ui: &Ui<'_>) -> Vec<String> {
    let token = "x".repeat(43);
    // A real QR code, as large as an enrolment's: the page budget must hold with it.
    let secret = crate::mfa::totp::TotpSecret::generate();
    let issuer = crate::mfa::totp::Issuer::parse("Example Co").unwrap();
    let document = secret.qr_svg(&issuer, "someone.with.a.long.address@example.com");
    let qr = document[document.find("<svg").unwrap()..].to_owned();
    let mut pages = vec![
        Forgot {
            ui,
            email: "",
            error: None,
        }
        .render(),
        Forgot {
            ui,
            email: "not an address",
            error: Some(ui.t("invalid-email")),
        }
        .render(),
        ForgotSent { ui }.render(),
        Reset {
            ui,
            policy: policy_text(ui, &POLICY, 15),
            token: &token,
            username: "someone@example.com",
            sign_out: true,
            error: None,
            code: None,
        }
        .render(),
        Reset {
            ui,
            policy: policy_text(ui, &POLICY, 8),
            token: &token,
            username: "someone@example.com",
            sign_out: true,
            error: None,
            code: Some(CodeField {
                error: Some(ui.t("code-wrong")),
            }),
        }
        .render(),
        ResetExpired { ui }.render(),
        InLine::new(ui, 42, 2500, "reset?token=abc", "in-line-asks-again").render(),
        InLine::new(ui, 1800, 1, "sign-in", "in-line-asks-password").render(),
        ResetDone {
            ui,
            signed_out: true,
            two_step: TwoStepAfterReset::Offered,
        }
        .render(),
        ResetDone {
            ui,
            signed_out: true,
            two_step: TwoStepAfterReset::Required,
        }
        .render(),
        ResetDone {
            ui,
            signed_out: true,
            two_step: TwoStepAfterReset::On,
        }
        .render(),
        SignIn {
            ui,
            email: "someone@example.com",
            error: Some(ui.t("sign-in-wrong")),
            notice: None,
        }
        .render(),
        SignIn {
            ui,
            email: "",
            error: None,
            notice: Some(ui.t("signed-out")),
        }
        .render(),
        SignInCode {
            ui,
            challenge: &token,
            error: Some(ui.t("code-wrong")),
        }
        .render(),
        TwoStep {
            ui,
            qr_svg: &qr,
            secret: "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567",
            required: true,
            error: Some(ui.t("code-wrong")),
        }
        .render(),
        TwoStepOn {
            ui,
            codes: (0..10).map(|i| format!("abcd-efgh-jkmn-pq{i:02}")).collect(),
        }
        .render(),
        ResetDone {
            ui,
            signed_out: false,
            two_step: TwoStepAfterReset::Offered,
        }
        .render(),
    ];
    for v in [
        PolicyViolation::TooShort { min: 15 },
        PolicyViolation::TooLong { max: 64 },
        PolicyViolation::Blocklisted,
        PolicyViolation::MatchesEmail,
    ] {
        pages.push(
            Reset {
                ui,
                policy: policy_text(ui, &POLICY, 8),
                token: &token,
                username: "someone@example.com",
                sign_out: false,
                error: Some(violation_text(ui, v)),
                code: Some(CodeField::default()),
            }
            .render(),
        );
    }
    for (title, body, refresh) in [
        ("refused-title", "refused-body", None),
        ("busy-title", "busy-body", Some(1)),
        ("limited-title", "limited-body", Some(30)),
        ("error-title", "error-body", None),
    ] {
        pages.push(Message::new(ui, title, body, refresh).render());
    }
    pages.into_iter().map(|p| p.expect("renders")).collect()
}

#[test]
fn every_page_renders_in_every_language_without_errors() {
    let site = site("Example", Some("help@example.com"), None);
    for locale in Locale::all() {
        let ui = site.ui(locale);
        for page in every_state(&ui) {
            assert!(
                page.starts_with(&format!("<!doctype html>\n<html lang=\"{}\">", locale.tag())),
                "{page}"
            );
            assert!(
                !page.contains(['\u{2068}', '\u{2069}']),
                "isolation marks in {page}"
            );
            assert!(
                page.contains("<title>") && page.contains(" – Example</title>"),
                "{page}"
            );
        }
        assert_eq!(ui.take_errors(), Vec::<String>::new(), "{locale}");
    }
}

#[test]
fn french_pages_are_french() {
    let site = site("Example", None, None);
    let ui = site.ui(Locale::parse("fr").unwrap());
    let pages = every_state(&ui);
    assert!(
        pages[0].contains("Réinitialiser votre mot de passe"),
        "{}",
        pages[0]
    );
    assert!(
        pages[3].contains("Utilisez au moins 15 caractères (au plus 64)"),
        "{}",
        pages[3]
    );
    let busy = &pages[pages.len() - 3];
    assert!(busy.contains("dans 1 seconde."), "{busy}");
    let limited = &pages[pages.len() - 2];
    assert!(limited.contains("dans 30 secondes."), "{limited}");
}

#[test]
fn pages_escape_what_they_interpolate() {
    let site = site(
        "<script>alert(1)</script> & Co",
        Some("https://example.com/help?a=1&b=\"2\""),
        None,
    );
    let ui = site.ui(Locale::REFERENCE);
    let page = Forgot {
        ui: &ui,
        email: "\"><script>alert(1)</script>",
        error: Some("<b>".into()),
    }
    .render()
    .unwrap();
    assert!(!page.contains("<script>") && !page.contains("<b>"), "{page}");
    assert!(page.contains("value=\"&#34;&#62;&#60;script&#62;"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; Co"),
        "{page}"
    );
    assert!(
        page.contains("href=\"https://example.com/help?a=1&#38;b=%222%22\""),
        "{page}"
    );
}

#[test]
fn the_footer_and_the_brand_stylesheet_appear_only_when_configured() {
    let plain = site("Example", None, None);
    let page = ForgotSent {
        ui: &plain.ui(Locale::REFERENCE),
    }
    .render()
    .unwrap();
    assert!(
        !page.contains("<footer>") && !page.contains("brand.css"),
        "{page}"
    );
    let branded = site(
        "Example",
        Some("help@example.com"),
        Some("main { color: red }".into()),
    );
    let page = ForgotSent {
        ui: &branded.ui(Locale::REFERENCE),
    }
    .render()
    .unwrap();
    assert!(
        page.contains("<a href=\"mailto:help@example.com\">help@example.com</a>"),
        "{page}"
    );
    let href = &branded.brand_css.as_ref().unwrap().href;
    assert!(href.starts_with("assets/brand.css?v=") && href.len() == "assets/brand.css?v=".len() + 12);
    // After the built-in stylesheet, so the operator's rules win.
    let builtin = page.find(STYLESHEET_HREF).unwrap();
    assert!(page.find(href.as_str()).unwrap() > builtin, "{page}");
}

#[test]
fn every_page_with_its_stylesheets_stays_under_30_kb() {
    // The largest brand stylesheet allowed, a long product name and a support URL.
    let css = "a{}".repeat(MAX_BRAND_CSS_BYTES / 3);
    let site = site(
        &"N".repeat(80),
        Some("https://example.com/a/long/help/page"),
        Some(css),
    );
    let css_len = site.brand_css.as_ref().unwrap().body.len();
    for locale in Locale::all() {
        for page in every_state(&site.ui(locale)) {
            let total = page.len() + STYLESHEET.len() + css_len;
            assert!(total < 30 * 1024, "{locale}: {total} bytes");
            assert!(page.contains(STYLESHEET_HREF), "{page}");
        }
    }
}
