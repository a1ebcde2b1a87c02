//! resetgate: a load-resilient password-reset gateway.
//!
//! The modules are layers; each imports only from its own layer and those below (the table and
//! the reasons are in docs/architecture.md, and tests/layers/ enforces it):
//!
//! ```text
//! 12 cli          subcommands: serve, demo, migrate, check-config, campaign, ...
//! 11 app          wires pools, stores, workers and listeners together
//! 10 config       env/file -> each part's own settings types, validated once
//!  9 http         server, stack, router, handlers, errors (the one place errors become responses)
//!  8 admission    client address, rate limits (a tower layer with its own error type)
//!  7 reset        reset::service: the request, confirm, login and session flows
//!  6 campaign     the breach-day runner
//!  5 mail         outbox dispatcher, templates, token sealing, transports (log, file, SMTP)
//!  4 hashing      argon2id on dedicated worker threads; calibrate
//!  3 storage      Store and CampaignStore traits, their types, PostgreSQL and in-memory
//!  2 domain       parsed values: reset::{account, email, token, password, blocklist},
//!                 hashing::{params, phc}, mail::pacing, campaign::model, i18n (Fluent
//!                 messages, Accept-Language), brand (product name, support contact)
//!  1 metrics      the one Metrics struct
//!  0 foundations  secret, clock, shutdown, error_code, sd_notify
//! ```
//!
//! How a request flows through them:
//!
//! ```text
//! http::server (hyper accept loop, graceful drain)
//!   -> http::stack (observe -> timeout -> load shed -> rate limits -> concurrency limit)
//!   -> http::router -> http::handlers::{reset, session, ops, admin}
//!        parse input into domain types (reset::email, reset::token, reset::password)
//!   -> reset::service (the flows)
//!        -> hashing::hasher -> hashing::pool (argon2id on dedicated threads, oneshot back)
//!        -> storage::store (PostgreSQL or in-memory; one transaction per operation)
//!             writes mail into the outbox table
//!   <- http::errors (the one place errors become responses)
//!
//! mail::outbox::Dispatcher (background task, paced by mail::pacing) -> mail::templates
//!   -> mail::transport (log, file) or mail::smtp (a pooled SMTP client, rustls)
//!
//! http::handlers::admin (admin listener) and cli::campaign
//!   -> storage::campaigns::CampaignStore (PostgreSQL: storage::postgres::campaigns)
//! campaign::runner (background task): marks accounts, enqueues notices into the outbox
//! ```

pub mod admission;
pub mod app;
pub mod brand;
pub mod calibrate;
pub mod campaign;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error_code;
pub mod hashing;
pub mod http;
pub mod i18n;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod reset;
pub mod sd_notify;
pub mod secret;
pub mod shutdown;
pub mod storage;
pub mod waiting;
