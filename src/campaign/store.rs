//! The campaign store's old path. The trait and its types moved to [`crate::storage::campaigns`]
//! (storage must not import campaign); this re-export keeps callers outside the layering change
//! (`http::state`, `http::handlers::admin`, `cli::campaign`) compiling until they import from
//! storage directly, after which this file goes.

pub use crate::storage::campaigns::{Batch, CampaignStore, ChangeError, Created};
