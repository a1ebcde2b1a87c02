//! Outgoing email: the durable outbox dispatcher, templates, token sealing and transports (log,
//! file, SMTP).

pub mod outbox;
pub mod pacing;
pub mod seal;
pub mod smtp;
pub mod templates;
pub mod transport;
