//! The audit trail (API.md "Audit").

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use trellis_core::{AuditEventId, Timestamp};
use trellis_identity::audit::{self, AuditFilter};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::IntoParams;

use crate::extract::{ApiQuery, Caller, Cursor, PageLimit};
use crate::views::{AuditEventView, Page};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub target_id: Option<String>,
    /// A dotted verb such as `partner.created`.
    pub action: Option<String>,
    /// RFC 3339 time or YYYY-MM-DD; events at or after it.
    pub since: Option<String>,
    pub actor_id: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<AuditEventId>>,
}

/// Audit events, newest first (owner/admin).
#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit", params(AuditParams),
    responses((status = 200, body = Page<AuditEventView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<Page<AuditEventView>>> {
    let since = match params.since.as_deref() {
        Some(text) => {
            Some(Timestamp::parse(text).ok_or_else(|| ApiError::field("since", "must be an RFC 3339 time or a YYYY-MM-DD date"))?)
        }
        None => None,
    };
    let limit = PageLimit::of(params.limit);
    let filter = AuditFilter {
        target_id: params.target_id,
        action: params.action,
        since,
        actor_id: params.actor_id,
        actor_type: None,
        target_type: None,
        before_id: Cursor::into_inner(params.cursor),
        limit: Some(limit),
    };
    Ok(Json(Page::of(audit::list(state.ctx.db(), &scope, &filter).await?, AuditEventView::from)))
}
