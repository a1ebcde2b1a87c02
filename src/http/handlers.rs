//! Request handlers, one file per resource. Each returns `Result<_, http::errors::Error>`.

// Every handler's error is an `http::errors::Error`, documented once there.
#![allow(clippy::missing_errors_doc)]

pub mod account;
pub mod admin;
pub mod mfa;
pub mod ops;
pub mod pages;
pub mod reset;
pub mod session;
