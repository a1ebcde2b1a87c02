//! Request handlers, one file per resource. Each returns `Result<_, http::errors::Error>`.

pub mod ops;
pub mod reset;
pub mod session;
