//! Secrets that rotate (issue #16, point 7): the pepper changes with the old one kept as retired,
//! on the same database, as an operator does it. Hashes made with the old pepper still verify and
//! move to the new one at their owner's next login; TOTP secrets, recovery codes and reset links
//! sealed under the old pepper still work; new hashes name the new pepper; once the old pepper is
//! dropped, only the hashes that moved still verify. `serve` refuses the demo pepper.

use reqwest::Method;
use resetgate::hashing::pepper::{pepper_id, stored_id};
use resetgate::reset::email::EmailAddress;
use resetgate::secret::SecretString;
use serde_json::{json, Value};

use crate::helpers::{json, spawn_app_on, TestApp, TestDb, PASSWORD};
use crate::mfa::{call, enrolled_as};

const OLD: &str = "old-pepper-before-the-rotation-0123456789abcdef";
const NEW: &str = "new-pepper-after-the-rotation-fedcba9876543210";

const ALICE: &str = "alice@example.com"; // signs in during the rotation
const BOB: &str = "bob@example.com"; // never does
const CAROL: &str = "carol@example.com"; // two-step verification
const DAVE: &str = "dave@example.com"; // a reset link waiting in the outbox across the rotation
const NEW_PASSWORD: &str = "a fresh passphrase after the rotation";

/// A replica on `db`, which outlives it (the test's own handle drops the database at the end).
async fn replica(db: &TestDb, vars: &[(&str, &str)]) -> TestApp {
    let mut app = spawn_app_on(
        Some(TestDb {
            name: db.name.clone(),
            url: db.url.clone(),
        }),
        vars,
    )
    .await;
    std::mem::forget(app.db.take());
    app
}

/// Stops a replica for good (its dispatcher too), as a rolling restart does.
async fn stop(mut app: TestApp) {
    app.shutdown();
    assert!(app.wait_stopped().await, "the replica stops");
}

/// `resetgate pepper-status` with the rotation's peppers: its report, and the retired pepper's row
/// as (password hashes, pending sealed mail, TOTP secrets).
fn pepper_status(db: &TestDb) -> (String, Vec<i64>) {
    let out = crate::cli::resetgate()
        .arg("pepper-status")
        .env("RESETGATE_DATABASE_URL", &db.url)
        .env("RESETGATE_PEPPER", NEW)
        .env("RESETGATE_PEPPER_RETIRED", OLD)
        .output()
        .expect("pepper-status runs");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains(OLD) && !report.contains(NEW),
        "never a pepper: {report}"
    );
    let row = report
        .lines()
        .find(|l| l.starts_with("retired #1"))
        .unwrap_or_else(|| panic!("{report}"));
    let counts = row
        .split_whitespace()
        .skip(3)
        .map(|n| n.parse().unwrap())
        .collect();
    (report, counts)
}

/// Waits for `who`'s hash to name `id` (the upgrade runs off the response path).
async fn moved_to(app: &TestApp, who: &str, id: resetgate::secret::KeyId) -> bool {
    for _ in 0..250 {
        if stored_id(&hash_of(app, who).await) == Some(id) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

async fn hash_of(app: &TestApp, email: &str) -> resetgate::hashing::phc::PhcString {
    let email = EmailAddress::parse(email).unwrap();
    app.store
        .account_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap()
}

async fn second_step(app: &TestApp, email: &str, proof: Value) -> u16 {
    let resp = app.login(email, PASSWORD).await;
    let body = json(resp).await;
    assert_eq!(body["code"], "mfa_required", "{body}");
    let mut req = proof;
    req["challenge"] = body["challenge"].clone();
    app.post("/v1/login/mfa", &req).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pepper_rotates_without_locking_anyone_out() {
    let db = TestDb::create().await;
    let old_id = pepper_id(&SecretString::new(OLD.into()));
    let new_id = pepper_id(&SecretString::new(NEW.into()));

    // Before: the old pepper, current. The outbox is idle for the test's length, so Dave's link is
    // still waiting, sealed under the old key, when the replicas are replaced.
    let before = replica(
        &db,
        &[("RESETGATE_PEPPER", OLD), ("RESETGATE_MAIL_POLL_MS", "3600000")],
    )
    .await;
    for who in [ALICE, BOB, DAVE] {
        before.create_account(who, Some(PASSWORD), false).await;
    }
    let (secret, codes) = enrolled_as(&before, CAROL).await;
    assert_eq!(before.request_reset(DAVE).await.status(), 202);
    for who in [ALICE, BOB, CAROL] {
        assert_eq!(stored_id(&hash_of(&before, who).await), Some(old_id), "{who}");
    }
    stop(before).await;

    // The rotation: the new pepper current, the old one retired.
    let during = replica(
        &db,
        &[("RESETGATE_PEPPER", NEW), ("RESETGATE_PEPPER_RETIRED", OLD)],
    )
    .await;
    // Past the steps the enrolment used (its clock ran ahead), so the next code is fresh.
    during.clock.advance(chrono::Duration::seconds(120));
    assert_eq!(during.login(ALICE, PASSWORD).await.status(), 200);
    assert!(
        moved_to(&during, ALICE, new_id).await,
        "alice's hash moves to the new pepper at her login"
    );
    assert_eq!(during.login(ALICE, PASSWORD).await.status(), 200);
    assert_eq!(
        stored_id(&hash_of(&during, BOB).await),
        Some(old_id),
        "bob's waits for his login"
    );

    // Sealed under the old key: the TOTP secret and the recovery codes.
    assert_eq!(
        second_step(&during, CAROL, json!({ "code": during.code_now(&secret) })).await,
        200
    );
    assert_eq!(
        second_step(&during, CAROL, json!({ "recovery_code": codes[0] })).await,
        200
    );
    // The link sealed before the rotation is delivered by the new replica, and works.
    let mails = during.wait_for_mails(DAVE, 1).await;
    let token = mails[0].token();
    assert_eq!(during.confirm(&token, NEW_PASSWORD, None).await.status(), 200);
    assert_eq!(
        stored_id(&hash_of(&during, DAVE).await),
        Some(new_id),
        "new hashes name the new pepper"
    );
    let session = during.session_token(DAVE, NEW_PASSWORD).await;
    assert_eq!(
        call(&during, Method::GET, "/v1/session", &session, None)
            .await
            .status(),
        200
    );
    assert!(
        moved_to(&during, CAROL, new_id).await,
        "carol's too, at her two-step login"
    );
    stop(during).await;
    // Bob's hash still needs the old pepper (Carol's TOTP secret moved at its use).
    let (report, retired) = pepper_status(&db);
    assert!(retired[0] >= 1 && retired[2] == 0, "{report}");
    assert!(report.contains("Keep the retired peppers"), "{report}");

    // After: the old pepper dropped. What moved still verifies; Bob, who never signed in, does not
    // (his hash names a pepper nobody holds), which is why the old pepper stays retired until
    // `pepper-status` counts no hash on it. His way back is a reset, as for any forgotten password.
    let after = replica(&db, &[("RESETGATE_PEPPER", NEW)]).await;
    assert_eq!(after.login(ALICE, PASSWORD).await.status(), 200);
    assert_eq!(after.login(DAVE, NEW_PASSWORD).await.status(), 200);
    assert_eq!(after.login(BOB, PASSWORD).await.status(), 401);
    let token = after.reset_token(BOB).await;
    assert_eq!(after.confirm(&token, NEW_PASSWORD, None).await.status(), 200);
    assert_eq!(after.login(BOB, NEW_PASSWORD).await.status(), 200);
    let (report, retired) = pepper_status(&db);
    assert_eq!(retired, [0, 0, 0], "{report}");
    assert!(report.contains("they may be removed"), "{report}");
}
