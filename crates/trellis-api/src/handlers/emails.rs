//! The email outbox (owner/admin): what Trellis sent, is about to send, gave up on, or keeps for
//! an administrator because no SMTP server is configured.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use trellis_core::EmailId;
use trellis_identity::background_work::{self, EmailFilter};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::IntoParams;

use crate::extract::{ApiQuery, Caller, Cursor, PageLimit};
use crate::views::{EmailView, Page};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EmailParams {
    /// queued, sent, failed or outbox.
    pub status: Option<String>,
    /// What the email is about, e.g. `staff_invitation`.
    pub kind: Option<String>,
    /// Page size, 1 to 500 (default 50); anything else is 422.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    /// The `next_cursor` of the previous page; anything else is 422.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<EmailId>>,
}

/// The workspace's emails, newest first (owner/admin).
#[utoipa::path(get, path = "/api/v1/emails", tag = "emails", params(EmailParams),
    responses((status = 200, body = Page<EmailView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_emails(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<EmailParams>,
) -> ApiResult<Json<Page<EmailView>>> {
    let limit = PageLimit::of(params.limit);
    let filter = EmailFilter { status: params.status, kind: params.kind, before_id: Cursor::into_inner(params.cursor), limit: Some(limit) };
    Ok(Json(Page::of(background_work::list_emails(&state.ctx, &scope, &filter).await?, EmailView::from)))
}
