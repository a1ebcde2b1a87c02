//! The second factor's storage contract (issue #14), on both stores: enrolment stays pending until
//! confirmed, a step is accepted once even under concurrent requests, recovery codes are single
//! use and a new set voids the old, wrong codes lock for a while and the lock expires, challenges
//! are single use and short-lived, and the audit trail keeps order.

use std::sync::Arc;

use chrono::{Duration, SubsecRound as _};
use resetgate::clock::Clock as _;
use resetgate::mfa::recovery::RecoveryCode;
use resetgate::reset::email::EmailAddress;
use resetgate::reset::token::BearerToken;
use resetgate::storage::factors::{AttemptLimit, FactorStore};

use crate::helpers::{spawn_app, Backend, TestApp};

crate::both_backends!(
    enrolment_stays_pending_until_its_first_code,
    a_step_is_accepted_once_even_when_requests_race,
    recovery_codes_work_once_and_a_new_set_voids_the_old,
    wrong_codes_lock_and_the_lock_expires,
    challenges_are_single_use_and_expire,
    the_audit_trail_keeps_order,
);

const KEY: [u8; 32] = [9; 32];

fn factors(app: &TestApp) -> Arc<dyn FactorStore> {
    app.store.clone().factors()
}

async fn mfa_flag(app: &TestApp, email: &str) -> bool {
    let email = EmailAddress::parse(email).unwrap();
    app.store
        .account_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .mfa_enabled
}

async fn enrolment_stays_pending_until_its_first_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let f = factors(&app);
    let id = app.create_account("pending@example.com", None, false).await;
    let now = app.clock.now().trunc_subsecs(6);
    assert!(f.totp(id).await.unwrap().is_none());

    assert!(f.begin_totp(id, b"sealed-1", now).await.unwrap());
    // Restarting a pending enrolment replaces its secret.
    assert!(f.begin_totp(id, b"sealed-2", now).await.unwrap());
    let pending = f.totp(id).await.unwrap().unwrap();
    assert_eq!(pending.sealed_secret, b"sealed-2");
    assert!(pending.confirmed_at.is_none());
    assert!(
        !mfa_flag(&app, "pending@example.com").await,
        "nothing changes before confirming"
    );
    assert!(
        !f.accept_totp_step(id, 10).await.unwrap(),
        "no codes count before confirming"
    );

    let codes: Vec<_> = RecoveryCode::generate_set()
        .iter()
        .map(|c| c.digest(&KEY))
        .collect();
    assert!(f.confirm_totp(id, 100, &codes, now).await.unwrap());
    assert!(
        !f.confirm_totp(id, 101, &codes, now).await.unwrap(),
        "confirms once"
    );
    let confirmed = f.totp(id).await.unwrap().unwrap();
    assert_eq!(confirmed.confirmed_at, Some(now));
    assert_eq!(confirmed.last_step, Some(100));
    assert!(mfa_flag(&app, "pending@example.com").await);
    assert_eq!(f.recovery_codes_left(id).await.unwrap(), 10);
    // A confirmed factor cannot be replaced by starting over.
    assert!(!f.begin_totp(id, b"sealed-3", now).await.unwrap());
    assert_eq!(f.totp(id).await.unwrap().unwrap().sealed_secret, b"sealed-2");

    assert!(f.remove_totp(id).await.unwrap());
    assert!(f.totp(id).await.unwrap().is_none());
    assert_eq!(f.recovery_codes_left(id).await.unwrap(), 0);
    assert!(!mfa_flag(&app, "pending@example.com").await);
    assert!(!f.remove_totp(id).await.unwrap());
}

async fn confirmed(app: &TestApp, email: &str) -> (i64, Vec<RecoveryCode>) {
    let f = factors(app);
    let id = app.create_account(email, None, false).await;
    let now = app.clock.now().trunc_subsecs(6);
    let codes = RecoveryCode::generate_set();
    let digests: Vec<_> = codes.iter().map(|c| c.digest(&KEY)).collect();
    assert!(f.begin_totp(id, b"sealed", now).await.unwrap());
    assert!(f.confirm_totp(id, 100, &digests, now).await.unwrap());
    (id, codes)
}

async fn a_step_is_accepted_once_even_when_requests_race(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = confirmed(&app, "race@example.com").await;
    assert!(!f_accept(&app, id, 100).await, "the confirming step is spent");
    assert!(!f_accept(&app, id, 99).await, "older steps are replays");
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let f = factors(&app);
            tokio::spawn(async move { f.accept_totp_step(id, 101).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for r in racers {
        accepted += usize::from(r.await.unwrap());
    }
    assert_eq!(accepted, 1, "exactly one of 16 concurrent uses of a code wins");
    assert!(f_accept(&app, id, 102).await);
}

async fn f_accept(app: &TestApp, id: i64, step: i64) -> bool {
    factors(app).accept_totp_step(id, step).await.unwrap()
}

async fn recovery_codes_work_once_and_a_new_set_voids_the_old(backend: Backend) {
    let app = spawn_app(backend).await;
    let f = factors(&app);
    let (id, codes) = confirmed(&app, "codes@example.com").await;
    let (other, _) = confirmed(&app, "other@example.com").await;
    let now = app.clock.now().trunc_subsecs(6);
    let first = codes[0].digest(&KEY);
    assert!(
        !f.use_recovery_code(other, &first, now).await.unwrap(),
        "codes belong to their account"
    );
    assert!(f.use_recovery_code(id, &first, now).await.unwrap());
    assert!(!f.use_recovery_code(id, &first, now).await.unwrap(), "single use");
    assert_eq!(f.recovery_codes_left(id).await.unwrap(), 9);

    let fresh = RecoveryCode::generate_set();
    let digests: Vec<_> = fresh.iter().map(|c| c.digest(&KEY)).collect();
    f.replace_recovery_codes(id, &digests).await.unwrap();
    assert_eq!(f.recovery_codes_left(id).await.unwrap(), 10);
    assert!(
        !f.use_recovery_code(id, &codes[1].digest(&KEY), now)
            .await
            .unwrap(),
        "old set void"
    );
    assert!(f
        .use_recovery_code(id, &fresh[1].digest(&KEY), now)
        .await
        .unwrap());
}

async fn wrong_codes_lock_and_the_lock_expires(backend: Backend) {
    let app = spawn_app(backend).await;
    let f = factors(&app);
    let (id, _) = confirmed(&app, "guess@example.com").await;
    let limit = AttemptLimit::DEFAULT;
    let now = app.clock.now().trunc_subsecs(6);
    // Four wrong codes spread over the window do not lock...
    for i in 0..4 {
        let at = now + Duration::minutes(i * 3);
        assert_eq!(
            f.record_factor_failure(id, limit, at).await.unwrap(),
            None,
            "failure {}",
            i + 1
        );
    }
    // ...the fifth within 15 minutes of the first does.
    let fifth = now + Duration::minutes(14);
    let until = f.record_factor_failure(id, limit, fifth).await.unwrap();
    assert_eq!(until, Some(fifth + limit.lock_for));
    assert_eq!(f.factor_locked_until(id, fifth).await.unwrap(), until);
    // A right code cannot clear a lock that is still running.
    f.clear_factor_failures(id, fifth).await.unwrap();
    assert_eq!(
        f.factor_locked_until(id, fifth + Duration::minutes(1))
            .await
            .unwrap(),
        until
    );
    // It expires by itself.
    let after = fifth + limit.lock_for + Duration::seconds(1);
    assert_eq!(f.factor_locked_until(id, after).await.unwrap(), None);
    // Failures outside the window start a new count.
    assert_eq!(f.record_factor_failure(id, limit, after).await.unwrap(), None);
    f.clear_factor_failures(id, after).await.unwrap();

    // Concurrent wrong codes all count: five at once lock.
    let (racer, _) = confirmed(&app, "racer@example.com").await;
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let f = factors(&app);
            tokio::spawn(async move { f.record_factor_failure(racer, limit, now).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(f.factor_locked_until(racer, now).await.unwrap().is_some());
}

async fn challenges_are_single_use_and_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    let f = factors(&app);
    let id = app.create_account("challenge@example.com", None, false).await;
    let now = app.clock.now().trunc_subsecs(6);
    let (live, old) = (BearerToken::generate().digest(), BearerToken::generate().digest());
    f.create_challenge(&live, id, now + Duration::minutes(5))
        .await
        .unwrap();
    f.create_challenge(&old, id, now + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(f.challenge_account(&live, now).await.unwrap(), Some(id));
    assert_eq!(
        f.challenge_account(&BearerToken::generate().digest(), now)
            .await
            .unwrap(),
        None
    );
    assert!(f.consume_challenge(&live, now).await.unwrap());
    assert!(!f.consume_challenge(&live, now).await.unwrap(), "single use");
    assert_eq!(f.challenge_account(&live, now).await.unwrap(), None);
    let later = now + Duration::minutes(5);
    assert_eq!(f.challenge_account(&old, later).await.unwrap(), None, "expired");
    assert!(!f.consume_challenge(&old, later).await.unwrap());
}

async fn the_audit_trail_keeps_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let f = factors(&app);
    let id = app.create_account("audit@example.com", None, false).await;
    let other = app.create_account("audit2@example.com", None, false).await;
    let now = app.clock.now().trunc_subsecs(6);
    f.audit(id, "mfa_enrolled", "owner", now).await.unwrap();
    f.audit(other, "mfa_enrolled", "owner", now).await.unwrap();
    f.audit(id, "mfa_removed", "admin:alice", now + Duration::seconds(1))
        .await
        .unwrap();
    let trail = f.audit_trail(id).await.unwrap();
    let events: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.event.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        events,
        [("mfa_enrolled", "owner"), ("mfa_removed", "admin:alice")]
    );
    assert!(trail.iter().all(|e| e.account_id == id));
}
