//! Argon2id cost parameters. The floor is OWASP's minimum for argon2id (19 MiB, t=2, p=1); config
//! may raise but never lower it.

use std::fmt;

pub const DEFAULT_M_KIB: u32 = 19_456;
pub const DEFAULT_T: u32 = 2;
pub const DEFAULT_P: u32 = 1;

pub const MIN_M_KIB: u32 = 19_456;
pub const MIN_T: u32 = 2;
pub const MIN_P: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            m_kib: DEFAULT_M_KIB,
            t: DEFAULT_T,
            p: DEFAULT_P,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WeakParams {
    #[error("argon2 memory {0} KiB is below the minimum {MIN_M_KIB} KiB")]
    Memory(u32),
    #[error("argon2 iterations {0} is below the minimum {MIN_T}")]
    Iterations(u32),
    #[error("argon2 parallelism {0} is below the minimum {MIN_P} or above 16")]
    Parallelism(u32),
}

impl HashParams {
    /// # Errors
    /// [`WeakParams`] when any cost is below the floor.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Self, WeakParams> {
        if m_kib < MIN_M_KIB {
            return Err(WeakParams::Memory(m_kib));
        }
        if t < MIN_T {
            return Err(WeakParams::Iterations(t));
        }
        // More lanes than this buys nothing on the machines we size for and multiplies memory.
        if !(MIN_P..=16).contains(&p) {
            return Err(WeakParams::Parallelism(p));
        }
        Ok(Self { m_kib, t, p })
    }

    pub(crate) fn to_argon2(self) -> argon2::Params {
        // Cannot fail: `new` keeps every value inside argon2's accepted ranges.
        argon2::Params::new(self.m_kib, self.t, self.p, None).unwrap_or_default()
    }
}

impl fmt::Display for HashParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "argon2id m={} KiB t={} p={}", self.m_kib, self.t, self.p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_enforced() {
        assert!(HashParams::new(19_456, 2, 1).is_ok());
        assert_eq!(HashParams::new(4096, 2, 1), Err(WeakParams::Memory(4096)));
        assert_eq!(HashParams::new(19_456, 1, 1), Err(WeakParams::Iterations(1)));
        assert_eq!(HashParams::new(19_456, 2, 0), Err(WeakParams::Parallelism(0)));
    }
}
