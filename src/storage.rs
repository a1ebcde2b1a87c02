//! Persistence: the [`store::Store`] trait and its PostgreSQL and in-memory implementations.

pub mod janitor;
pub mod memory;
pub mod migrate;
pub mod postgres;
pub mod store;
