//! Every mail renders in every language without a Fluent error, its links come only from the
//! base URL, and what it interpolates is escaped in the HTML part.

use super::*;
use crate::brand::{ProductName, Support};

fn templates(support: Option<Support>) -> Templates {
    Templates::new(
        Url::parse("https://example.com/account/").unwrap(),
        60,
        Brand {
            product: ProductName::parse("Example <Shop> & Co").unwrap(),
            support,
        },
        Locale::REFERENCE,
    )
}

fn to() -> EmailAddress {
    EmailAddress::parse("someone@example.com").unwrap()
}

fn all(t: &Templates, locale: Option<Locale>) -> Vec<Rendered> {
    let token = SecretString::new("x".repeat(43));
    vec![
        t.reset_rendered(to(), locale, &token),
        t.changed_rendered(to(), locale),
        t.notice_rendered(to(), locale),
        t.factor_rendered(MailKind::MfaEnabled, to(), locale),
        t.factor_rendered(MailKind::MfaRemoved, to(), locale),
        t.factor_rendered(MailKind::RecoveryCodeUsed, to(), locale),
    ]
}

#[test]
fn every_mail_renders_in_every_language_without_errors() {
    let supports = [
        None,
        Some(Support::parse("help@example.com").unwrap()),
        Some(Support::parse("https://example.com/help?a=1&b=2").unwrap()),
    ];
    for support in supports {
        let t = templates(support.clone());
        for locale in Locale::all() {
            for (i, r) in all(&t, Some(locale)).into_iter().enumerate() {
                assert!(r.errors.is_empty(), "{locale}: {:?}", r.errors);
                let m = &r.email;
                assert!(
                    !m.subject.is_empty() && !m.subject.contains('\n'),
                    "{locale}: {m:?}"
                );
                for part in [&m.text, &m.html, &m.subject] {
                    assert!(
                        !part.contains(['\u{2068}', '\u{2069}']),
                        "{locale}: isolation marks in {part:?}"
                    );
                }
                assert!(m.text.contains("Example <Shop> & Co"), "{locale}: {}", m.text);
                assert!(
                    m.html.contains("Example &lt;Shop&gt; &amp; Co"),
                    "{locale}: {}",
                    m.html
                );
                assert!(!m.html.contains("<Shop>"), "{locale}: {}", m.html);
                // The changed notice and the campaign notice name the support contact.
                if let (Some(s), true) = (&support, i > 0) {
                    let href = escape(&s.href());
                    assert!(m.text.contains(&s.text()), "{locale}: {}", m.text);
                    assert!(
                        m.html.contains(&format!("href=\"{href}\"")),
                        "{locale}: {}",
                        m.html
                    );
                }
            }
        }
    }
}

#[test]
fn the_links_point_at_the_pages() {
    let t = templates(None);
    for locale in Locale::all() {
        let [reset, changed, notice, enabled, removed, recovery] =
            <[Rendered; 6]>::try_from(all(&t, Some(locale))).ok().unwrap();
        let link = format!("https://example.com/account/reset?token={}", "x".repeat(43));
        assert!(
            reset.email.text.contains(&format!("\n{link}\n")),
            "{}",
            reset.email.text
        );
        assert!(
            reset.email.html.contains(&format!("href=\"{link}\"")),
            "{}",
            reset.email.html
        );
        assert!(reset.email.text.contains("60"), "{}", reset.email.text);
        for m in [
            &changed.email,
            &notice.email,
            &enabled.email,
            &removed.email,
            &recovery.email,
        ] {
            assert!(
                m.text.contains("\nhttps://example.com/account/forgot\n"),
                "{}",
                m.text
            );
            assert!(
                m.html.contains("href=\"https://example.com/account/forgot\""),
                "{}",
                m.html
            );
            assert!(!m.text.contains("token"), "{}", m.text);
        }
    }
}

#[test]
fn french_mail_is_french_and_the_default_is_the_configured_one() {
    let fr = Locale::parse("fr").unwrap();
    let t = templates(None);
    let token = SecretString::new("x".repeat(43));
    assert_eq!(
        t.password_reset(to(), Some(fr), &token).subject,
        "Réinitialisation de votre mot de passe"
    );
    assert_eq!(
        t.password_reset(to(), None, &token).subject,
        "Reset your password"
    );
    let french_default = Templates::new(
        Url::parse("https://example.com/").unwrap(),
        60,
        Brand {
            product: ProductName::parse("Example").unwrap(),
            support: None,
        },
        fr,
    );
    assert_eq!(
        french_default.password_changed(to(), None).subject,
        "Votre mot de passe a été changé"
    );
    assert_eq!(
        french_default
            .campaign_notice(to(), Some(Locale::REFERENCE))
            .subject,
        "Action required: choose a new password"
    );
}
