//! Periodic cleanup of rows that can never be used again: expired sessions, used or expired reset
//! tokens, and delivered mail past its retention. Without it a breach-day surge of logins would
//! leave millions of dead session rows behind.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::store::Store;
use crate::clock::Clock;

pub const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// Delivered mail is kept this long for support questions ("did the email go out?").
pub const SENT_RETENTION: chrono::Duration = chrono::Duration::days(7);

pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PURGE_INTERVAL) => {}
        }
        let now = clock.now();
        match store.purge_expired(now, now - SENT_RETENTION).await {
            Ok(n) => tracing::debug!(removed = n, "purged expired rows"),
            Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
        }
    }
}
