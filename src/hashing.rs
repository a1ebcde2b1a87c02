//! Argon2id password hashing on a bounded pool of dedicated workers.

pub mod compute;
pub mod hasher;
pub mod params;
pub mod pepper;
pub mod phc;
pub mod pool;
