//! Breach-day campaigns: force a set of accounts to reset their password, revoke their sessions and
//! tell each owner by email, at a pace the mail providers and the hashing pool can take.
//!
//! A campaign is a row with two cursors. Every replica runs a [`runner`] that advances them in
//! batches, each batch one transaction that also moves its cursor; a crash (or kill -9) loses at
//! most an uncommitted batch, which the next runner redoes. Notifications enter the outbox a
//! batch at a time, keyed by (campaign, account), so no account is notified twice by a campaign.
//!
//! `model` holds pure domain values (below storage, which stores them); the store trait they go
//! through is `storage::campaigns`; `runner` sits above storage and drives it.

pub mod model;
pub mod runner;
