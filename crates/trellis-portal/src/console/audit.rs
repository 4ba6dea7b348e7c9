//! `/console/audit`: the audit trail, newest first, with filters and pages. Owners and admins
//! only (API.md "Audit"); other staff get the 403 page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{AuditEventId, FieldError, Page, Timestamp};
use trellis_identity::audit::{self, AuditEvent, AuditFilter};
use trellis_web::AppState;

use crate::display;
use crate::forms::{FormView, UrlQuery};
use crate::guards::StaffPage;
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, PageResult, render_status};
use crate::routes::{PageRouter, get};

const SECTION: &str = "/console/audit";
const FILTER_FIELDS: &[&str] = &["action", "target_id", "since"];

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    /// The console page of the target, when it has one.
    target_href: Option<String>,
    /// `(field, before, after)`
    changes: Vec<(String, String, String)>,
}

impl From<AuditEvent> for EventRow {
    fn from(e: AuditEvent) -> Self {
        let actor = match (e.actor.email, e.actor.kind.as_str()) {
            (Some(email), "api_key") => format!("{email} (API key)"),
            (Some(email), _) => email,
            (None, "api_key") => "partner API key".to_owned(),
            (None, kind) => kind.to_owned(),
        };
        let changes = match &e.changes {
            serde_json::Value::Object(fields) => fields
                .iter()
                .map(|(field, change)| {
                    let before = change.get(0).map(display::audit_value).unwrap_or_default();
                    let after = change.get(1).map(display::audit_value).unwrap_or_default();
                    (display::words(field), before, after)
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            at: display::time(e.at),
            actor,
            target_href: (e.target_type == "partner").then(|| format!("/console/partners/{}", e.target_id)),
            target: format!("{} {}", display::words(&e.target_type), e.target_id),
            action: e.action,
            changes,
        }
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    layout: Layout,
    filters: FormView,
    events: Vec<EventRow>,
    next_page: Option<String>,
    first_page: Option<String>,
}

/// `GET /console/audit?action=&target_id=&since=&cursor=`
async fn list_events(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    // Partner users get the 404 page, other staff than owners and admins the 403 page.
    signed.scope.require_vendor_role(audit::READERS, "read the audit log")?;
    let (action, target_id, since_text) = (query.optional("action"), query.optional("target_id"), query.optional("since"));
    let since = since_text.map(Timestamp::parse);
    let mut page = AuditPage {
        layout: Layout::signed(&state, &signed, "Audit log", SECTION).await,
        filters: FormView::filled(
            "filter",
            FILTER_FIELDS,
            vec![
                ("action", action.unwrap_or_default().to_owned()),
                ("target_id", target_id.unwrap_or_default().to_owned()),
                ("since", since_text.unwrap_or_default().to_owned()),
            ],
        ),
        events: Vec::new(),
        next_page: None,
        first_page: None,
    };
    if let Some(None) = since {
        let error = FieldError { field: "since".to_owned(), message: "must be a date such as 2026-01-31".to_owned() };
        page.filters = FormView::failed("filter", FILTER_FIELDS, query, vec![error]);
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let cursor = query.optional("cursor").and_then(|c| AuditEventId::parse(c).ok());
    let filter = AuditFilter {
        action: action.map(str::to_owned),
        target_id: target_id.map(str::to_owned),
        since: since.flatten(),
        actor_id: None,
        before_id: cursor.clone(),
        limit: Some(PAGE_SIZE),
    };
    let Page { items: events, next_cursor: next } = audit::list(state.ctx.db(), &signed.scope, &filter).await?;
    let filters_of = |cursor: &str| {
        page_url(
            SECTION,
            &[
                ("action", action.unwrap_or_default()),
                ("target_id", target_id.unwrap_or_default()),
                ("since", since_text.unwrap_or_default()),
                ("cursor", cursor),
            ],
        )
    };
    page.next_page = next.map(|c| filters_of(&c));
    page.first_page = cursor.map(|_| filters_of(""));
    page.events = events.into_iter().map(EventRow::from).collect();
    Ok(render_status(StatusCode::OK, &page))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(list_events))
}
