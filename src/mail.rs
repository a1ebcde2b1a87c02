//! Outgoing email: the durable outbox dispatcher, templates, token sealing and transports.

pub mod outbox;
pub mod pacing;
pub mod seal;
pub mod templates;
pub mod transport;
