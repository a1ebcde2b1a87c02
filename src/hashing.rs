//! Argon2id password hashing off the async runtime.

pub mod hasher;
pub mod params;
