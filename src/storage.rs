//! Persistence: the [`store::Store`] trait and its PostgreSQL and in-memory implementations, the
//! [`campaigns::CampaignStore`] trait (PostgreSQL only) and the [`factors::FactorStore`] trait
//! (both). The traits and every type in their signatures live here or below (domain types), so
//! nothing in storage imports the modules that call it.

pub mod campaigns;
pub mod factors;
pub mod janitor;
pub mod memory;
pub mod migrate;
pub mod postgres;
pub mod store;
