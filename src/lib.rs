//! resetgate: a load-resilient password-reset gateway.
//!
//! How a request flows through the modules:
//!
//! ```text
//! http::server (hyper accept loop, graceful drain)
//!   -> http::stack (observe -> timeout -> load shed -> concurrency limit)
//!   -> http::router -> http::handlers::{reset, session, ops, admin}
//!        parse input into domain types (reset::email, reset::token, reset::password)
//!   -> reset::service (the flows: request, confirm, login, session)
//!        -> hashing::hasher (argon2id off the runtime)
//!        -> storage::store (PostgreSQL or in-memory; one transaction per operation)
//!             writes mail into the outbox table
//!   <- http::errors (the one place errors become responses)
//!
//! mail::outbox::Dispatcher (background task, paced by mail::pacing) -> mail::templates
//!   -> mail::transport (log, file) or mail::smtp (a pooled SMTP client, rustls)
//!
//! http::handlers::admin (admin listener) and cli::campaign
//!   -> campaign::store (PostgreSQL: storage::postgres::campaigns)
//! campaign::runner (background task): marks accounts, enqueues notices into the outbox
//! ```
//!
//! `app` wires these together; `cli` and `config` are the operator's entry points.

pub mod admission;
pub mod app;
pub mod calibrate;
pub mod campaign;
pub mod campaign_bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error_code;
pub mod hashing;
pub mod http;
pub mod loadtest;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod reset;
pub mod secret;
pub mod shutdown;
pub mod storage;
