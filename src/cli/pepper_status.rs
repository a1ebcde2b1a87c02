//! `resetgate pepper-status`: what still depends on each pepper, so an operator who rotated knows
//! when the retired one may go. Counts only, read in SQL (one pass per table, no rows leave the
//! database); key identifiers are printed, never a pepper.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;

use super::load;
use crate::app;
use crate::config::Mode;
use crate::hashing::pepper::pepper_id;
use crate::mail::seal::Sealer;
use crate::secret::KeyId;

/// Hashes by the key id their PHC string names (argon2's `keyid`, standard base64 without
/// padding); `NULL` for none.
const HASHES: &str = "SELECT substring(password_hash from ',keyid=([A-Za-z0-9+/]+)') AS id, count(*)
     FROM accounts WHERE password_hash IS NOT NULL AND password_peppered GROUP BY 1";
const UNPEPPERED: &str =
    "SELECT count(*) FROM accounts WHERE password_hash IS NOT NULL AND NOT password_peppered";
/// Sealed values carry a format byte (1) and the 4-byte key id in front.
const SEALED: &[(&str, &str)] = &[
    (
        "pending sealed mail",
        "SELECT CASE WHEN get_byte(sealed_secret, 0) = 1 THEN substring(sealed_secret from 2 for 4) END, count(*)
         FROM outbox WHERE sealed_secret IS NOT NULL AND status = 'pending' GROUP BY 1",
    ),
    (
        "TOTP secrets",
        "SELECT CASE WHEN get_byte(sealed_secret, 0) = 1 THEN substring(sealed_secret from 2 for 4) END, count(*)
         FROM totp_factors GROUP BY 1",
    ),
];

pub(super) async fn run() -> anyhow::Result<ExitCode> {
    let config = load(Mode::Admin)?;
    let store = app::postgres_from_config(&config, false).await?;
    let client = store.pool().get().await.context("connecting to the database")?;

    let mut peppers: Vec<(String, KeyId, KeyId)> = vec![(
        "current".to_owned(),
        pepper_id(&config.pepper),
        Sealer::new(&config.pepper).key_id(),
    )];
    for (i, p) in config.retired_peppers.iter().enumerate() {
        peppers.push((
            format!("retired #{}", i + 1),
            pepper_id(p),
            Sealer::new(p).key_id(),
        ));
    }

    let mut hashes: BTreeMap<Option<String>, i64> = BTreeMap::new();
    for row in client.query(HASHES, &[]).await.context("counting hashes")? {
        hashes.insert(row.get(0), row.get(1));
    }
    let unpeppered: i64 = client.query_one(UNPEPPERED, &[]).await?.get(0);
    let mut sealed: Vec<BTreeMap<Option<Vec<u8>>, i64>> = Vec::new();
    for (what, sql) in SEALED {
        let mut by = BTreeMap::new();
        for row in client
            .query(*sql, &[])
            .await
            .with_context(|| format!("counting {what}"))?
        {
            by.insert(row.get(0), row.get(1));
        }
        sealed.push(by);
    }

    println!(
        "{:<12} {:<10} {:>16} {:>20} {:>14}",
        "pepper", "hash id", "password hashes", "pending sealed mail", "TOTP secrets"
    );
    let mut all_clear = true;
    for (name, hash_id, seal_id) in &peppers {
        let b64 = STANDARD_NO_PAD.encode(hash_id.0);
        let n_hash = hashes.remove(&Some(b64)).unwrap_or(0);
        let n_sealed: Vec<i64> = sealed
            .iter_mut()
            .map(|by| by.remove(&Some(seal_id.0.to_vec())).unwrap_or(0))
            .collect();
        if name != "current" && (n_hash > 0 || n_sealed.iter().any(|n| *n > 0)) {
            all_clear = false;
        }
        println!(
            "{name:<12} {hash_id:<10} {n_hash:>16} {:>20} {:>14}",
            n_sealed[0], n_sealed[1]
        );
    }
    // Hashes from before identifiers were made with the oldest pepper configured.
    let legacy = hashes.remove(&None).unwrap_or(0);
    let unknown: i64 = hashes.values().sum();
    let legacy_sealed: Vec<i64> = sealed
        .iter_mut()
        .map(|by| by.remove(&None).unwrap_or(0))
        .collect();
    let unknown_sealed: Vec<i64> = sealed.iter().map(|by| by.values().sum()).collect();
    println!(
        "{:<12} {:<10} {legacy:>16} {:>20} {:>14}",
        "no key id", "(oldest)", legacy_sealed[0], legacy_sealed[1]
    );
    println!(
        "{:<12} {:<10} {unknown:>16} {:>20} {:>14}",
        "unknown id", "-", unknown_sealed[0], unknown_sealed[1]
    );
    println!("{:<12} {:<10} {unpeppered:>16}", "unpeppered", "(import)");
    if unknown > 0 || unknown_sealed.iter().any(|n| *n > 0) {
        println!("Some values name a pepper not configured here: they cannot be verified or opened.");
    }
    if peppers.len() > 1 {
        if all_clear && legacy == 0 && legacy_sealed.iter().all(|n| *n == 0) {
            println!("Nothing depends on the retired peppers any more: they may be removed.");
        } else {
            println!(
                "Keep the retired peppers: values above still need them (hashes move at their owner's next login)."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
