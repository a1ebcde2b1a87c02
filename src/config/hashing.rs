//! Argon2id cost and the hashing pool: its workers, queue budget and deadline.

use std::time::Duration;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::{err, ConfigError};
use crate::hashing::params::{self, HashParams};

/// A hashing job is refused at admission if it would wait longer than this in the queue.
pub const DEFAULT_HASH_QUEUE_BUDGET_MS: u64 = 100;
/// A job still queued this long after admission is answered 503 without hashing.
pub const DEFAULT_HASH_DEADLINE_MS: u64 = 500;

pub static ARGON2_M_KIB: Setting<u32> = Setting {
    name: "RESETGATE_ARGON2_M_KIB",
    doc: "Argon2id memory cost in KiB (OWASP's floor).",
    unset: Unset::Default(params::DEFAULT_M_KIB),
    bounds: Range::at_least(params::MIN_M_KIB),
    secret: false,
};
pub static ARGON2_T: Setting<u32> = Setting {
    name: "RESETGATE_ARGON2_T",
    doc: "Argon2id iterations.",
    unset: Unset::Default(params::DEFAULT_T),
    bounds: Range::at_least(params::MIN_T),
    secret: false,
};
pub static ARGON2_P: Setting<u32> = Setting {
    name: "RESETGATE_ARGON2_P",
    doc: "Argon2id lanes; more buys nothing on the machines this is sized for and multiplies memory.",
    unset: Unset::Default(params::DEFAULT_P),
    bounds: Range::between(params::MIN_P, 16),
    secret: false,
};
pub static HASH_WORKERS: Setting<usize> = Setting {
    name: "RESETGATE_HASH_WORKERS",
    doc: "W: dedicated argon2 threads, each owning one `M_KIB` block for life (`resetgate calibrate` suggests one).",
    unset: Unset::Computed("the number of CPUs this process may use"),
    bounds: Range::above(0),
    secret: false,
};
pub static HASH_QUEUE_BUDGET_MS: Setting<u64> = Setting {
    name: "RESETGATE_HASH_QUEUE_BUDGET_MS",
    doc: "A job is refused at once (503) when the work ahead would make it wait longer (confirm; 75 % for login, 25 % background).",
    unset: Unset::Default(DEFAULT_HASH_QUEUE_BUDGET_MS),
    bounds: Range::above(0),
    secret: false,
};
pub static HASH_DEADLINE_MS: Setting<u64> = Setting {
    name: "RESETGATE_HASH_DEADLINE_MS",
    doc: "A job still queued this long after admission is answered 503 without being hashed.",
    unset: Unset::Default(DEFAULT_HASH_DEADLINE_MS),
    bounds: Range::above(0),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Hashing",
    about: "Hashing memory is W x `RESETGATE_ARGON2_M_KIB` at any load: size the container's memory by it. \
            The argon2 costs may be raised, never lowered below OWASP's minimum.",
    settings: &[
        &ARGON2_M_KIB,
        &ARGON2_T,
        &ARGON2_P,
        &HASH_WORKERS,
        &HASH_QUEUE_BUDGET_MS,
        &HASH_DEADLINE_MS,
    ],
};

pub(super) struct Hashing {
    pub params: HashParams,
    pub workers: usize,
    pub queue_budget: Duration,
    pub deadline: Duration,
}

pub(super) fn parse(env: &Env<'_>) -> Result<Hashing, ConfigError> {
    // The bounds above are HashParams' floor; this cannot fail unless the two disagree.
    let params = HashParams::new(env.get(&ARGON2_M_KIB)?, env.get(&ARGON2_T)?, env.get(&ARGON2_P)?)
        .map_err(|e| err("RESETGATE_ARGON2_*", e.to_string()))?;
    let cores = || std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Ok(Hashing {
        params,
        workers: env.get_or(&HASH_WORKERS, cores)?,
        queue_budget: Duration::from_millis(env.get(&HASH_QUEUE_BUDGET_MS)?),
        deadline: Duration::from_millis(env.get(&HASH_DEADLINE_MS)?),
    })
}
