//! What every handler can reach.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::admission::rate_limit::RateLimits;
use crate::http::pages::Site;
use crate::http::readiness::Readiness;
use crate::metrics::Metrics;
use crate::reset::service::ResetService;
use crate::reset::token::TokenDigest;
use crate::storage::campaigns::CampaignStore;
use crate::waiting::room::WaitingRoom;

pub struct AppState {
    /// Shared so work that must not hold up an answer can finish in a task of its own.
    pub service: Arc<ResetService>,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<RateLimits>,
    pub readiness: Readiness,
    pub body_limit: usize,
    /// Cancelled when shutdown starts; /readyz reports 503 from that moment.
    pub shutdown: CancellationToken,
    /// Campaigns, where the store supports them (PostgreSQL).
    pub campaigns: Option<Arc<dyn CampaignStore>>,
    /// SHA-256 of the admin token; `None` refuses every admin request.
    pub admin_token: Option<TokenDigest>,
    /// `RESETGATE_PUBLIC_BASE_URL`: the only origin the pages accept form posts from.
    pub public_base_url: url::Url,
    /// The pages' default language and the operator's brand.
    pub site: Arc<Site>,
    /// Where shed clients keep their place (tickets, Retry-After from the line).
    pub waiting: WaitingRoom,
}
