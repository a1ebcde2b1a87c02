//! The admin API (`/admin/v1/`), served only on the admin listener and only with the admin token.
//!
//! POST /admin/v1/campaigns                    start a campaign
//! GET  /admin/v1/campaigns                    recent campaigns with progress
//! GET  /admin/v1/campaigns/{id}               one campaign's progress
//! POST /admin/v1/campaigns/{id}/{pause|resume|cancel}
//! GET  /admin/v1/outbox                       outbox counts and the latest dead messages
//! POST /admin/v1/accounts/{id}/mfa/clear      support: remove an account's second factor

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::header::{HeaderValue, AUTHORIZATION, LOCATION};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::campaign::model::{Action, CampaignId, NewCampaign, Reason, Scope};
use crate::error_code::ErrorCode;
use crate::http::errors::{json_response, Error, HttpResponse};
use crate::http::extract;
use crate::http::state::AppState;
use crate::reset::token::BearerToken;
use crate::storage::campaigns::{CampaignStore, ChangeError};

/// Bodies may carry a list of a million addresses.
pub const ADMIN_BODY_LIMIT: usize = 48 * 1024 * 1024;
const LIST_LIMIT: i64 = 50;
const DEAD_LIMIT: i64 = 50;

/// Checks the admin bearer token: its SHA-256 against the configured digest, in constant time.
/// Missing, malformed and wrong tokens all get the same 401.
pub fn authorize<B>(state: &AppState, req: &Request<B>) -> Result<(), Error> {
    let expected = state.admin_token.as_ref().ok_or(Error::Unauthorized)?;
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, t)| BearerToken::parse(t.trim()).ok())
        .ok_or(Error::Unauthorized)?;
    if presented.digest().ct_eq(expected) {
        Ok(())
    } else {
        Err(Error::Unauthorized)
    }
}

fn campaigns(state: &AppState) -> Result<&Arc<dyn CampaignStore>, Error> {
    state.campaigns.as_ref().ok_or_else(|| Error::Rejected {
        code: ErrorCode::CampaignsNeedPostgres,
        detail: "campaigns need the PostgreSQL store; the demo's in-memory store cannot run them".into(),
    })
}

fn bad(code: ErrorCode, detail: impl Into<String>) -> Error {
    Error::Rejected {
        code,
        detail: detail.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    scope: Value,
    revoke_sessions: bool,
    notify: bool,
    /// Optional, false by default: existing scripts keep working.
    #[serde(default)]
    require_two_step: bool,
    reason: String,
}

/// JSON has one number type: `243.0` is the integer 243 to JSON Schema, and so to the OpenAPI
/// document's `"type": "integer"`, so it is one here too.
fn as_integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        let f = v.as_f64()?;
        // 2^63 is exact as an f64; below it in magnitude, an integral f64 fits an i64 exactly.
        #[allow(clippy::float_cmp, clippy::cast_possible_truncation)]
        let exact = (f.trunc() == f && f.abs() < 9_223_372_036_854_775_808.0).then_some(f as i64);
        exact
    })
}

/// `"all"`, `{"account_ids": [..]}`, `{"emails": [..]}` or `{"created_before": "<RFC 3339>"}`.
fn parse_scope(v: &Value) -> Result<Scope, Error> {
    const FORMS: &str = r#"scope must be "all", {"account_ids": [...]}, {"emails": [...]} or {"created_before": "<RFC 3339 time>"}"#;
    if v.as_str() == Some("all") {
        return Ok(Scope::All);
    }
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad(ErrorCode::InvalidScope, FORMS))?;
    let invalid = |e: crate::campaign::model::InvalidCampaign| bad(ErrorCode::InvalidScope, e.to_string());
    match obj.iter().next() {
        Some((k, Value::Array(items))) if k == "account_ids" => {
            let ids = items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    as_integer(x).ok_or_else(|| {
                        bad(
                            ErrorCode::InvalidScope,
                            format!("entry {i} of account_ids is not an integer"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Scope::account_ids(ids).map_err(invalid)
        }
        Some((k, Value::Array(items))) if k == "emails" => {
            let emails = items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    x.as_str().ok_or_else(|| {
                        bad(
                            ErrorCode::InvalidScope,
                            format!("entry {i} of emails is not a string"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Scope::emails(&emails).map_err(invalid)
        }
        Some((k, Value::String(t))) if k == "created_before" => DateTime::parse_from_rfc3339(t)
            .map(|t| Scope::CreatedBefore(t.with_timezone(&Utc)))
            .map_err(|e| bad(ErrorCode::InvalidScope, format!("created_before: {e}"))),
        _ => Err(bad(ErrorCode::InvalidScope, FORMS)),
    }
}

pub async fn create(state: Arc<AppState>, req: Request<Incoming>) -> Result<HttpResponse, Error> {
    let store = Arc::clone(campaigns(&state)?);
    let body: CreateBody = extract::json(req, ADMIN_BODY_LIMIT).await?;
    let new = NewCampaign {
        scope: parse_scope(&body.scope)?,
        revoke_sessions: body.revoke_sessions,
        notify: body.notify,
        require_two_step: body.require_two_step,
        reason: Reason::parse(&body.reason).map_err(|e| bad(ErrorCode::InvalidReason, e.to_string()))?,
    };
    let created = store.create_campaign(&new, state.service.clock.now()).await?;
    tracing::warn!(
        campaign = created.id,
        scope = new.scope.kind(),
        accounts = created.accounts_total,
        revoke_sessions = new.revoke_sessions,
        notify = new.notify,
        require_two_step = new.require_two_step,
        reason = new.reason.as_str(),
        "campaign started through the admin API"
    );
    let mut resp = json_response(StatusCode::CREATED, &json!(created));
    if let Ok(v) = HeaderValue::from_str(&format!("/admin/v1/campaigns/{}", created.id)) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

pub async fn list(state: Arc<AppState>) -> Result<HttpResponse, Error> {
    let store = campaigns(&state)?;
    let list = store.campaigns(LIST_LIMIT, state.service.clock.now()).await?;
    Ok(json_response(StatusCode::OK, &json!({ "campaigns": list })))
}

fn not_found() -> Error {
    Error::Rejected {
        code: ErrorCode::CampaignNotFound,
        detail: "no such campaign".into(),
    }
}

pub async fn show(state: Arc<AppState>, id: CampaignId) -> Result<HttpResponse, Error> {
    let store = campaigns(&state)?;
    let progress = store
        .campaign(id, state.service.clock.now())
        .await?
        .ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, &json!(progress)))
}

pub async fn change(state: Arc<AppState>, id: CampaignId, action: Action) -> Result<HttpResponse, Error> {
    let store = campaigns(&state)?;
    match store.change_campaign(id, action, state.service.clock.now()).await {
        Ok(new_state) => {
            tracing::warn!(
                campaign = id,
                ?action,
                state = new_state.as_str(),
                "campaign changed through the admin API"
            );
            Ok(json_response(
                StatusCode::OK,
                &json!({ "id": id, "state": new_state }),
            ))
        }
        Err(ChangeError::NotFound) => Err(not_found()),
        Err(ChangeError::NotAllowed(current)) => Err(Error::Rejected {
            code: ErrorCode::InvalidTransition,
            detail: format!("the campaign is {}; that action does not apply", current.as_str()),
        }),
        Err(ChangeError::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ClearFactor {
    /// Who is doing this, for the account's audit trail.
    admin: String,
}

/// Support removes a second factor (the owner lost the phone and the recovery codes). The admin
/// token says the caller may; `admin` says who, for the audit trail. The owner is mailed.
pub async fn clear_factor(
    state: Arc<AppState>,
    account: i64,
    req: Request<Incoming>,
) -> Result<HttpResponse, Error> {
    let body: ClearFactor = extract::json(req, ADMIN_BODY_LIMIT).await?;
    let admin = body.admin.trim();
    if admin.is_empty() || admin.chars().count() > 64 || admin.chars().any(char::is_control) {
        return Err(bad(
            ErrorCode::InvalidRequest,
            "admin must be 1 to 64 printable characters: who is doing this, for the audit trail",
        ));
    }
    if state.service.store.account_by_id(account).await?.is_none() {
        return Err(bad(ErrorCode::AccountNotFound, "no account with that id"));
    }
    state.service.factors.admin_clear(account, admin).await?;
    tracing::warn!(account, admin, "second factor cleared through the admin API");
    Ok(json_response(
        StatusCode::OK,
        &json!({ "status": "cleared", "account_id": account }),
    ))
}

pub async fn outbox(state: Arc<AppState>) -> Result<HttpResponse, Error> {
    let summary = state.service.store.outbox_summary(DEAD_LIMIT).await?;
    Ok(json_response(StatusCode::OK, &json!(summary)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::as_integer;

    #[test]
    fn integral_numbers_are_integers_however_written() {
        assert_eq!(as_integer(&json!(243)), Some(243));
        assert_eq!(as_integer(&json!(243.0)), Some(243));
        assert_eq!(as_integer(&json!(-1.0)), Some(-1));
        assert_eq!(as_integer(&json!(2.5)), None);
        assert_eq!(as_integer(&json!(1e19)), None);
        assert_eq!(as_integer(&json!("7")), None);
    }
}
