//! The second-factor flows (issue #14) on both stores, with the real sealer and a manual clock:
//! enrolment changes nothing until its first code, a code is accepted once, wrong codes lock and
//! a locked account's right code is refused until the lock ends, recovery codes work once, and
//! removal needs a proof while support clearing is audited with the admin's name.

use std::sync::Arc;

use chrono::Duration;
use resetgate::clock::Clock as _;
use resetgate::mail::seal::Sealer;
use resetgate::metrics::Metrics;
use resetgate::mfa::recovery::RecoveryCode;
use resetgate::mfa::totp::{Issuer, TotpCode, TotpSecret};
use resetgate::reset::email::EmailAddress;
use resetgate::reset::factor::{Error, FactorService, Method, Proof};
use resetgate::secret::SecretString;
use resetgate::storage::factors::AttemptLimit;

use crate::helpers::{spawn_app, Backend, TestApp, PEPPER};

crate::both_backends!(
    enrolment_changes_nothing_until_its_first_code,
    a_code_is_accepted_once,
    wrong_codes_lock_even_the_right_code_out_until_the_lock_ends,
    recovery_codes_work_once_and_are_audited,
    removal_needs_a_proof_and_support_clearing_is_audited,
    a_sealed_secret_only_opens_for_its_own_account,
);

fn service(app: &TestApp) -> FactorService {
    FactorService {
        store: app.store.clone().factors(),
        sealer: Sealer::new(&SecretString::new(PEPPER.into())),
        clock: app.clock.clone(),
        issuer: Issuer::parse("Example").unwrap(),
        limit: AttemptLimit::DEFAULT,
        metrics: Arc::new(Metrics::new()),
    }
}

/// The secret as a person would type it from the enrolment page.
fn typed_secret(grouped: &SecretString) -> TotpSecret {
    let plain = grouped.expose().replace(' ', "");
    let bytes = totp_rs::Secret::try_from_base32(plain).unwrap();
    TotpSecret::from_bytes(bytes.as_bytes()).unwrap()
}

fn code_now(app: &TestApp, secret: &TotpSecret) -> TotpCode {
    let unix = u64::try_from(app.clock.now().timestamp()).unwrap();
    TotpCode::parse(&secret.code_at(unix)).unwrap()
}

/// An enrolled account, its secret and recovery codes; the clock is moved to the next step so
/// the confirming code is spent.
async fn enrolled(app: &TestApp, svc: &FactorService, email: &str) -> (i64, TotpSecret, Vec<RecoveryCode>) {
    let id = app.create_account(email, None, false).await;
    let enrolment = svc
        .begin_enrolment(id, &EmailAddress::parse(email).unwrap())
        .await
        .unwrap();
    let secret = typed_secret(&enrolment.secret_grouped);
    let codes = svc.confirm_enrolment(id, &code_now(app, &secret)).await.unwrap();
    app.clock.advance(Duration::seconds(30));
    (id, secret, codes)
}

async fn enrolment_changes_nothing_until_its_first_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let svc = service(&app);
    let id = app.create_account("enrol@example.com", None, false).await;
    let email = EmailAddress::parse("enrol@example.com").unwrap();
    let enrolment = svc.begin_enrolment(id, &email).await.unwrap();
    assert!(enrolment
        .otpauth_uri
        .expose()
        .starts_with("otpauth://totp/Example:enrol%40example.com?"));
    assert!(enrolment.qr_svg.expose().contains("<svg"));
    assert!(!format!("{enrolment:?}").contains(enrolment.secret_grouped.expose()));
    assert!(!svc.enrolled(id).await.unwrap(), "pending is not enrolled");
    let secret = typed_secret(&enrolment.secret_grouped);
    let right = code_now(&app, &secret);
    assert!(matches!(
        svc.verify(id, &Proof::Totp(right.clone())).await,
        Err(Error::NotEnrolled)
    ));

    let codes = svc.confirm_enrolment(id, &right).await.unwrap();
    assert_eq!(codes.len(), 10);
    assert!(svc.enrolled(id).await.unwrap());
    assert!(matches!(
        svc.begin_enrolment(id, &email).await,
        Err(Error::AlreadyEnrolled)
    ));
    assert!(matches!(
        svc.confirm_enrolment(id, &right).await,
        Err(Error::NotEnrolling)
    ));
    let trail = svc.store.audit_trail(id).await.unwrap();
    assert_eq!(trail.last().map(|e| e.event.as_str()), Some("mfa_enrolled"));
}

async fn a_code_is_accepted_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let svc = service(&app);
    let (id, secret, _) = enrolled(&app, &svc, "once@example.com").await;
    let code = code_now(&app, &secret);
    assert_eq!(
        svc.verify(id, &Proof::Totp(code.clone())).await.unwrap(),
        Method::Otp
    );
    assert!(matches!(
        svc.verify(id, &Proof::Totp(code.clone())).await,
        Err(Error::Replayed)
    ));
    // Ten seconds later, still inside the skew window: still a replay.
    app.clock.advance(Duration::seconds(10));
    assert!(matches!(
        svc.verify(id, &Proof::Totp(code)).await,
        Err(Error::Replayed)
    ));
    app.clock.advance(Duration::seconds(30));
    let next = code_now(&app, &secret);
    assert_eq!(svc.verify(id, &Proof::Totp(next)).await.unwrap(), Method::Otp);
    let ok = svc.metrics.mfa_verifications.with_label_values(&["ok"]).get();
    let replayed = svc
        .metrics
        .mfa_verifications
        .with_label_values(&["replayed"])
        .get();
    assert_eq!((ok, replayed), (3, 2), "confirm + two logins ok; two replays");
}

async fn wrong_codes_lock_even_the_right_code_out_until_the_lock_ends(backend: Backend) {
    let app = spawn_app(backend).await;
    let svc = service(&app);
    let (id, secret, codes) = enrolled(&app, &svc, "locked@example.com").await;
    let right = code_now(&app, &secret);
    // Six digits that are not the code of any step in the window.
    let bad = ["000000", "111111", "222222", "333333"]
        .into_iter()
        .map(|c| TotpCode::parse(c).unwrap())
        .find(|c| {
            let unix = u64::try_from(app.clock.now().timestamp()).unwrap();
            (0..3).all(|i| TotpCode::parse(&secret.code_at(unix + 30 * i - 30)).unwrap() != *c)
        })
        .unwrap();
    for i in 0..4 {
        assert!(
            matches!(svc.verify(id, &Proof::Totp(bad.clone())).await, Err(Error::Wrong)),
            "attempt {}",
            i + 1
        );
    }
    assert!(matches!(
        svc.verify(id, &Proof::Totp(bad)).await,
        Err(Error::Locked { .. })
    ));
    // Locked: the right code and a recovery code are refused without being checked.
    assert!(matches!(
        svc.verify(id, &Proof::Totp(right)).await,
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        svc.verify(id, &Proof::Recovery(codes[0].clone())).await,
        Err(Error::Locked { .. })
    ));
    assert_eq!(
        svc.store.recovery_codes_left(id).await.unwrap(),
        10,
        "nothing spent while locked"
    );
    assert!(svc.metrics.mfa_verifications.with_label_values(&["locked"]).get() >= 2);

    app.clock.advance(Duration::minutes(16));
    let later = code_now(&app, &secret);
    assert_eq!(svc.verify(id, &Proof::Totp(later)).await.unwrap(), Method::Otp);
}

async fn recovery_codes_work_once_and_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let svc = service(&app);
    let (id, _, codes) = enrolled(&app, &svc, "lost-phone@example.com").await;
    // Typed in capitals with spaces, as someone reading it off paper might.
    let typed = RecoveryCode::parse(&codes[3].display().to_uppercase().replace('-', " ")).unwrap();
    assert_eq!(
        svc.verify(id, &Proof::Recovery(typed.clone())).await.unwrap(),
        Method::Recovery
    );
    assert!(matches!(
        svc.verify(id, &Proof::Recovery(typed)).await,
        Err(Error::Wrong)
    ));
    assert_eq!(svc.store.recovery_codes_left(id).await.unwrap(), 9);
    let events: Vec<String> = svc
        .store
        .audit_trail(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(events.contains(&"recovery_code_used".to_owned()), "{events:?}");
    assert_eq!(svc.metrics.mfa_recovery_codes_used.get(), 1);

    // A new set voids the old one.
    let fresh = svc
        .regenerate_recovery_codes(id, &Proof::Recovery(codes[4].clone()))
        .await
        .unwrap();
    assert!(matches!(
        svc.verify(id, &Proof::Recovery(codes[5].clone())).await,
        Err(Error::Wrong)
    ));
    assert_eq!(
        svc.verify(id, &Proof::Recovery(fresh[0].clone())).await.unwrap(),
        Method::Recovery
    );
}

async fn removal_needs_a_proof_and_support_clearing_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let svc = service(&app);
    let (id, secret, _) = enrolled(&app, &svc, "remove@example.com").await;
    assert!(matches!(
        svc.remove(id, &Proof::Totp(TotpCode::parse("123456").unwrap()))
            .await,
        Err(Error::Wrong | Error::Replayed)
    ));
    assert!(svc.enrolled(id).await.unwrap());
    svc.remove(id, &Proof::Totp(code_now(&app, &secret)))
        .await
        .unwrap();
    assert!(!svc.enrolled(id).await.unwrap());

    let (other, _, _) = enrolled(&app, &svc, "support@example.com").await;
    svc.admin_clear(other, "alice").await.unwrap();
    assert!(!svc.enrolled(other).await.unwrap());
    let last = svc.store.audit_trail(other).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.event.as_str(), last.actor.as_str()),
        ("mfa_cleared", "admin:alice")
    );
    assert!(matches!(
        svc.admin_clear(other, "alice").await,
        Err(Error::NotEnrolled)
    ));
}

async fn a_sealed_secret_only_opens_for_its_own_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let svc = service(&app);
    let a = app.create_account("a@example.com", None, false).await;
    let b = app.create_account("b@example.com", None, false).await;
    let enrolment = svc
        .begin_enrolment(a, &EmailAddress::parse("a@example.com").unwrap())
        .await
        .unwrap();
    // Someone with write access to the table copies A's sealed secret onto B's row.
    let sealed = svc.store.totp(a).await.unwrap().unwrap().sealed_secret;
    assert!(svc.store.begin_totp(b, &sealed, app.clock.now()).await.unwrap());
    let code = code_now(&app, &typed_secret(&enrolment.secret_grouped));
    assert!(matches!(
        svc.confirm_enrolment(b, &code).await,
        Err(Error::Unreadable)
    ));
    assert!(svc.confirm_enrolment(a, &code).await.is_ok());
}
