//! `/console/profile-changes`: partners' requests to change their legal name or territories,
//! approved (the change applies) or rejected with a reason the partner reads.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{ChangeRequestId, Error, Page};
use trellis_records::profile_changes::{self, ChangeFilter, ChangeRequest, ChangeStatus};
use trellis_records::profiles::{self, Territories};
use trellis_web::AppState;

use super::staff_role;
use crate::display;
use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const SECTION: &str = "/console/profile-changes";
const REJECT_FIELDS: &[&str] = &["reason"];
/// The lists offered: waiting, and what was decided.
const TABS: [ChangeStatus; 3] = [ChangeStatus::Pending, ChangeStatus::Approved, ChangeStatus::Rejected];

/// A proposed value next to the current one.
struct Change {
    field: &'static str,
    current: String,
    proposed: String,
}

struct RequestRow {
    id: String,
    partner_id: String,
    partner_name: String,
    status: &'static str,
    requested_at: String,
    decided_at: Option<String>,
    reason: Option<String>,
    changes: Vec<Change>,
    reject: FormView,
}

#[derive(Template)]
#[template(path = "console/profile_changes.html")]
struct InboxPage {
    layout: Layout,
    csrf_token: String,
    status: &'static str,
    tabs: Vec<&'static str>,
    rows: Vec<RequestRow>,
    can_decide: bool,
    next_page: Option<String>,
}

fn territories_text(t: &Territories) -> String {
    let mut parts = display::country_names(&t.countries);
    parts.extend(t.regions.iter().cloned());
    if parts.is_empty() { "—".to_owned() } else { parts.join(", ") }
}

async fn row(state: &AppState, signed: &Signed, request: ChangeRequest) -> Result<RequestRow, Error> {
    let current = profiles::get(&state.ctx, &signed.scope, &request.partner_id).await?;
    let mut changes = Vec::new();
    if let Some(legal_name) = &request.changes.legal_name {
        changes.push(Change {
            field: "Legal name",
            current: current.legal_name.clone().unwrap_or_else(|| "—".into()),
            proposed: legal_name.clone(),
        });
    }
    if let Some(territories) = &request.changes.territories {
        changes.push(Change {
            field: "Territories",
            current: territories_text(&current.territories),
            proposed: territories_text(territories),
        });
    }
    Ok(RequestRow {
        id: request.id.to_string(),
        partner_id: request.partner_id.to_string(),
        partner_name: request.partner_name,
        status: request.status.as_str(),
        requested_at: display::time(request.requested_at),
        decided_at: request.decided_at.map(display::time),
        reason: request.reason,
        changes,
        reject: FormView::new("reject", REJECT_FIELDS),
    })
}

async fn inbox(state: &AppState, signed: &Signed, query: &FormData) -> Result<InboxPage, Error> {
    let role = staff_role(&signed.scope)?;
    let status = query.optional("status").and_then(ChangeStatus::parse).filter(|s| TABS.contains(s)).unwrap_or(ChangeStatus::Pending);
    let cursor = query.optional("cursor").and_then(|c| ChangeRequestId::parse(c).ok());
    let filter = ChangeFilter { status: Some(status), before: cursor, limit: Some(PAGE_SIZE), ..ChangeFilter::default() };
    let Page { items: requests, next_cursor: next } = profile_changes::list(&state.ctx, &signed.scope, &filter).await?;
    let mut rows = Vec::with_capacity(requests.len());
    for request in requests {
        rows.push(row(state, signed, request).await?);
    }
    Ok(InboxPage {
        layout: Layout::signed(state, signed, "Profile changes", SECTION).await.with_notice(query),
        csrf_token: signed.session.csrf_token.clone(),
        status: status.as_str(),
        tabs: TABS.iter().map(|s| s.as_str()).collect(),
        rows,
        can_decide: role.manages_partners(),
        next_page: next.map(|c| page_url(SECTION, &[("status", status.as_str()), ("cursor", &c)])),
    })
}

/// `GET /console/profile-changes?status=pending|approved|rejected`
async fn show_inbox(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    Ok(render(&inbox(&state, &signed, &query).await?))
}

/// `POST /console/profile-changes/{id}/approve`
async fn approve(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    profile_changes::approve(&state.ctx, &signed.scope, &path_id(&id)?).await?;
    Ok(see_other(&format!("{SECTION}?notice=change_approved")))
}

/// `POST /console/profile-changes/{id}/reject` with a reason.
async fn reject(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let request_id: ChangeRequestId = path_id(&id)?;
    match profile_changes::reject(&state.ctx, &signed.scope, &request_id, form.value("reason")).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}?notice=change_rejected"))),
        Err(err) => {
            let errors = field_errors(err, "reason")?;
            let mut page = inbox(&state, &signed, &FormData::default()).await?;
            if let Some(row) = page.rows.iter_mut().find(|r| r.id == request_id.as_str()) {
                row.reject = FormView::failed("reject", REJECT_FIELDS, form, errors);
            }
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(show_inbox))
        .route("/console/profile-changes/{id}/approve", post(approve))
        .route("/console/profile-changes/{id}/reject", post(reject))
}
