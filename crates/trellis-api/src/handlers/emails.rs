//! The email outbox (owner/admin): what Trellis sent, is about to send, gave up on, or keeps for
//! an administrator because no SMTP server is configured.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use trellis_core::EmailId;
use trellis_identity::clamp_limit;
use trellis_jobs::admin::{self, EmailFilter};
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiQuery, Caller};
use crate::views::{EmailView, Page};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EmailParams {
    /// queued, sent, failed or outbox.
    pub status: Option<String>,
    /// What the email is about, e.g. `staff_invitation`.
    pub kind: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The workspace's emails, newest first (owner/admin).
#[utoipa::path(get, path = "/api/v1/emails", tag = "emails", params(EmailParams),
    responses((status = 200, body = Page<EmailView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_emails(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<EmailParams>,
) -> ApiResult<Json<Page<EmailView>>> {
    let limit = clamp_limit(params.limit);
    let filter = EmailFilter {
        status: params.status,
        kind: params.kind,
        before_id: params.cursor.as_deref().and_then(|c| EmailId::parse(c).ok()),
        limit: limit + 1,
    };
    let emails = admin::list_emails(&state.ctx, &scope, &filter).await?;
    Ok(Json(Page::from_rows(emails.into_iter().map(EmailView::from).collect(), limit, |e| e.id.clone())))
}
