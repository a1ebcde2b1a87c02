//! The argon2id computations themselves, on a caller-provided memory block so that a worker thread
//! allocates its ~19 MiB once and reuses it for every hash (no allocator churn, flat RSS).

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use subtle::ConstantTimeEq as _;

use super::params::HashParams;
use super::phc::{HashError, PhcString};
use crate::secret::SecretString;

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// Memory for one hash at `params`; a worker keeps one for its whole life.
#[must_use]
pub fn memory_for(params: HashParams) -> Vec<Block> {
    vec![Block::default(); params.to_argon2().block_count()]
}

fn engine(
    pepper: Option<&SecretString>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
) -> Result<Argon2<'_>, HashError> {
    match pepper {
        Some(p) => Argon2::new_with_secret(p.expose().as_bytes(), algorithm, version, params)
            .map_err(|e| HashError::Argon2(e.into())),
        None => Ok(Argon2::new(algorithm, version, params)),
    }
}

/// Hashes with the pepper at `params` into a PHC string that names the pepper by its identifier.
///
/// # Errors
/// When argon2 rejects its inputs (cannot happen with validated params).
pub fn hash(
    memory: &mut Vec<Block>,
    pepper: &SecretString,
    params: HashParams,
    password: &str,
) -> Result<PhcString, HashError> {
    let mut salt = [0u8; SALT_LEN];
    UnwrapErr(SysRng).fill_bytes(&mut salt);
    let argon_params = params.to_argon2();
    if memory.len() < argon_params.block_count() {
        *memory = memory_for(params);
    }
    // The pepper's identifier goes into the PHC string (it is not a hash input), so the pepper
    // can rotate: see `pepper`.
    let keyid =
        argon2::KeyId::new(&super::pepper::pepper_id(pepper).0).map_err(|e| HashError::Argon2(e.into()))?;
    let stored_params = argon2::ParamsBuilder::new()
        .m_cost(params.m_kib)
        .t_cost(params.t)
        .p_cost(params.p)
        .keyid(keyid)
        .build()
        .map_err(|e| HashError::Argon2(e.into()))?;
    let mut out = [0u8; OUTPUT_LEN];
    engine(
        Some(pepper),
        Algorithm::Argon2id,
        Version::V0x13,
        argon_params.clone(),
    )?
    .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory.as_mut_slice())
    .map_err(|e| HashError::Argon2(e.into()))?;
    let salt = Salt::new(&salt).map_err(|e| HashError::Argon2(e.into()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&stored_params).map_err(HashError::Argon2)?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| HashError::Argon2(e.into()))?),
    };
    Ok(PhcString::from_trusted(phc.to_string()))
}

/// Verifies `password` against a stored PHC string at the string's own parameters, with the pepper
/// when `pepper` is given (legacy imports have none). Compares in constant time.
///
/// # Errors
/// When the stored string is not a usable argon2 hash.
pub fn verify(
    memory: &mut Vec<Block>,
    pepper: Option<&SecretString>,
    password: &str,
    phc: &PhcString,
) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(phc.as_str()).map_err(|e| HashError::BadStoredHash(e.into()))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(HashError::BadStoredHash)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| HashError::BadStoredHash(e.into()))?
        .unwrap_or_default();
    let expected = parsed.hash.ok_or(HashError::BadStoredHash(
        argon2::password_hash::Error::EncodingInvalid,
    ))?;
    let stored = Params::try_from(&parsed).map_err(HashError::BadStoredHash)?;
    let params = Params::new(
        stored.m_cost(),
        stored.t_cost(),
        stored.p_cost(),
        Some(expected.len()),
    )
    .map_err(|e| HashError::BadStoredHash(e.into()))?;
    let salt = parsed.salt.ok_or(HashError::BadStoredHash(
        argon2::password_hash::Error::SaltInvalid,
    ))?;

    let mut out = vec![0u8; expected.len()];
    let engine = engine(pepper, algorithm, version, params.clone())?;
    // A stored hash costlier than the configured params (bounded by `PhcString::parse`) gets a
    // one-off block; the worker's own block stays sized for the common case.
    let result = if memory.len() >= params.block_count() {
        engine.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory.as_mut_slice())
    } else {
        engine.hash_password_into(password.as_bytes(), &salt, &mut out)
    };
    result.map_err(|e| HashError::Argon2(e.into()))?;
    Ok(out.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    fn pepper() -> SecretString {
        SecretString::new("pepper-for-compute-tests-0123456789".into())
    }

    #[test]
    fn hashes_are_standard_phc_and_verify_both_ways() {
        let params = HashParams::default();
        let mut mem = memory_for(params);
        let phc = hash(&mut mem, &pepper(), params, "quiet winter lighthouse").unwrap();
        assert!(phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid="));
        // The reused-memory path agrees with the argon2 crate's own verifier...
        let p = pepper();
        let reference = Argon2::new_with_secret(
            p.expose().as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            params.to_argon2(),
        )
        .unwrap();
        assert!(reference
            .verify_password(b"quiet winter lighthouse", phc.as_str())
            .is_ok());
        // ...and verifies its own hashes, reusing the same memory.
        assert!(verify(&mut mem, Some(&pepper()), "quiet winter lighthouse", &phc).unwrap());
        assert!(!verify(&mut mem, Some(&pepper()), "quiet winter lighthousf", &phc).unwrap());
        assert!(!verify(&mut mem, None, "quiet winter lighthouse", &phc).unwrap());
    }

    #[test]
    fn verifies_hashes_made_elsewhere_at_other_params() {
        let bigger = Params::new(32 * 1024, 3, 2, None).unwrap();
        let foreign = Argon2::new(Algorithm::Argon2id, Version::V0x13, bigger)
            .hash_password(b"from another system")
            .unwrap()
            .to_string();
        let phc = PhcString::parse(&foreign).unwrap();
        let mut mem = memory_for(HashParams::default());
        assert!(verify(&mut mem, None, "from another system", &phc).unwrap());
        assert!(!verify(&mut mem, None, "from another systen", &phc).unwrap());
    }
}
