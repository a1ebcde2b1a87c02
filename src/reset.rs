//! The password-reset domain: parsed input types and the flows over them.

pub mod blocklist;
pub mod email;
pub mod password;
pub mod service;
pub mod token;
