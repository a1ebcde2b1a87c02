//! The password-reset domain: parsed input types (`account`, `email`, `token`, `password`,
//! `blocklist`: pure values, below storage) and the flows over them (`service`: above storage,
//! hashing and mail). docs/architecture.md has the layer of each.

pub mod account;
pub mod blocklist;
pub mod email;
pub mod factor;
pub mod password;
pub mod service;
pub mod session;
pub mod throttle;
pub mod token;
