//! The breach-day campaign runner's batch sizes and polling.

use std::time::Duration;

use super::env::Env;
use super::setting::{Group, Range, Setting, Unset};
use super::ConfigError;
use crate::campaign::runner::RunnerConfig;

/// 20 000 accounts per marking transaction: a few hundred ms each, so a million take ~50 short
/// transactions and each redone batch after a crash is small.
pub const DEFAULT_CAMPAIGN_MARK_BATCH: i64 = 20_000;
pub const DEFAULT_CAMPAIGN_ENQUEUE_BATCH: i64 = 1000;
pub const DEFAULT_CAMPAIGN_OUTBOX_WINDOW: i64 = 5000;
pub const DEFAULT_CAMPAIGN_POLL_MS: u64 = 1000;

pub static CAMPAIGN_MARK_BATCH: Setting<i64> = Setting {
    name: "RESETGATE_CAMPAIGN_MARK_BATCH",
    doc: "Accounts marked per transaction.",
    unset: Unset::Default(DEFAULT_CAMPAIGN_MARK_BATCH),
    bounds: Range::above(0),
    secret: false,
};
pub static CAMPAIGN_ENQUEUE_BATCH: Setting<i64> = Setting {
    name: "RESETGATE_CAMPAIGN_ENQUEUE_BATCH",
    doc: "Campaign notifications enqueued per transaction.",
    unset: Unset::Default(DEFAULT_CAMPAIGN_ENQUEUE_BATCH),
    bounds: Range::above(0),
    secret: false,
};
pub static CAMPAIGN_OUTBOX_WINDOW: Setting<i64> = Setting {
    name: "RESETGATE_CAMPAIGN_OUTBOX_WINDOW",
    doc: "Most unsent notifications a campaign keeps in the outbox, so transactional mail is never behind a million rows.",
    unset: Unset::Default(DEFAULT_CAMPAIGN_OUTBOX_WINDOW),
    bounds: Range::above(0),
    secret: false,
};
pub static CAMPAIGN_POLL_MS: Setting<u64> = Setting {
    name: "RESETGATE_CAMPAIGN_POLL_MS",
    doc: "How often an idle campaign runner looks for work.",
    unset: Unset::Default(DEFAULT_CAMPAIGN_POLL_MS),
    bounds: Range::above(0),
    secret: false,
};

pub(super) static GROUP: Group = Group {
    title: "Breach-day campaigns",
    about: "A campaign marks accounts in batches, then feeds their notices into the outbox a window at a \
            time, paced by the outbox's send budget.",
    settings: &[
        &CAMPAIGN_MARK_BATCH,
        &CAMPAIGN_ENQUEUE_BATCH,
        &CAMPAIGN_OUTBOX_WINDOW,
        &CAMPAIGN_POLL_MS,
    ],
};

pub(super) fn parse(env: &Env<'_>) -> Result<RunnerConfig, ConfigError> {
    Ok(RunnerConfig {
        mark_batch: env.get(&CAMPAIGN_MARK_BATCH)?,
        enqueue_batch: env.get(&CAMPAIGN_ENQUEUE_BATCH)?,
        outbox_window: env.get(&CAMPAIGN_OUTBOX_WINDOW)?,
        poll_interval: Duration::from_millis(env.get(&CAMPAIGN_POLL_MS)?),
    })
}
