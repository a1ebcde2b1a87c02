//! Admission control ahead of the expensive work: who is asking (client_ip) and how often they
//! may (rate_limit). Hashing capacity itself is guarded by the pool's own admission
//! (`hashing::pool`).

pub mod client_ip;
pub mod rate_limit;
