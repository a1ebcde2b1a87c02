//! The database half of /readyz, cached. /readyz bypasses admission (a probe must answer during
//! a surge), so without a cache a flood of probes would each take a pooled connection and starve
//! the real requests. At most one ping runs at a time and a result is reused for a second.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::storage::store::Store;

const FRESH_FOR_MS: u64 = 1_000;

pub struct Readiness {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last ping, plus one; 0 means never.
    checked_at: AtomicU64,
    ok: AtomicBool,
    pinging: Semaphore,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            checked_at: AtomicU64::new(0),
            ok: AtomicBool::new(false),
            pinging: Semaphore::new(1),
        }
    }
}

impl Readiness {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the store answered recently; pings only when the last answer is stale and no
    /// other ping is running (others get the last answer meanwhile).
    pub async fn store_ok(&self, store: &dyn Store) -> bool {
        let checked = self.checked_at.load(Ordering::Acquire);
        let fresh = checked != 0 && self.now_ms().saturating_sub(checked - 1) < FRESH_FOR_MS;
        if fresh {
            return self.ok.load(Ordering::Acquire);
        }
        let Ok(_permit) = self.pinging.try_acquire() else {
            return self.ok.load(Ordering::Acquire);
        };
        let ok = match store.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "readiness: store unreachable");
                false
            }
        };
        self.ok.store(ok, Ordering::Release);
        self.checked_at.store(self.now_ms() + 1, Ordering::Release);
        ok
    }
}
