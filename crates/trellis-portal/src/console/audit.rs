//! `/console/audit`: the audit trail, newest first, with filters chosen from lists and pages.
//! Owners and admins only (API.md "Audit"); other staff get the 403 page.
//!
//! Each event names what it is about: the actor and the target by name, and ids in its changes
//! replaced by names, all resolved for the page in one transaction within the caller's visibility
//! (`audit::list_named`); an object the caller may not see, or that is gone, keeps a neutral label
//! (`partner ptn_…`). Changes read as a before/after table.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value as Json;
use trellis_core::{AuditEventId, FieldError, Page, Timestamp};
use trellis_identity::audit::{self, AuditEvent, AuditFilter, Distinct, Names};
use trellis_identity::members;
use trellis_web::AppState;

use crate::display;
use crate::forms::{Choice, FormView, UrlQuery};
use crate::guards::StaffPage;
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, PageResult, render_status};
use crate::routes::{PageRouter, get};

const SECTION: &str = "/console/audit";
const FILTER_FIELDS: &[&str] = &["who", "action", "object", "target_id", "since"];
/// The `who` choices that are kinds of actor rather than a person.
const ACTOR_KINDS: &[(&str, &str)] = &[("api_key", "Any API key"), ("system", "The system (jobs, public forms)")];

struct ChangeRow {
    field: String,
    before: String,
    after: String,
}

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    /// The console page of the target, when it has one.
    target_href: Option<String>,
    /// The log narrowed to this object.
    target_filter: String,
    changes: Vec<ChangeRow>,
}

/// The console page of an object, for the kinds that have one.
fn console_href(kind: &str, id: &str) -> Option<String> {
    match kind {
        "partner" => Some(format!("/console/partners/{id}")),
        "program" => Some(format!("/console/programs/{id}")),
        "email" => Some(format!("/console/outbox/{id}")),
        _ => None,
    }
}

/// A changed value as people read it: yes/no, grouped numbers, lists joined, nothing as a dash,
/// ids of named kinds replaced by names.
fn readable(value: &Json, id_kind: Option<&str>, names: &Names) -> String {
    match value {
        Json::Null => "—".to_owned(),
        Json::Bool(true) => "yes".to_owned(),
        Json::Bool(false) => "no".to_owned(),
        Json::Number(n) => match n.as_i64() {
            Some(i) => display::thousands(i),
            None => n.to_string(),
        },
        Json::String(text) => match id_kind {
            Some(kind) => names.label(kind, text),
            None => text.clone(),
        },
        Json::Array(items) if items.is_empty() => "none".to_owned(),
        Json::Array(items) => items.iter().map(|v| readable(v, id_kind, names)).collect::<Vec<_>>().join(", "),
        Json::Object(fields) => {
            fields.iter().map(|(k, v)| format!("{}: {}", display::words(k), readable(v, None, names))).collect::<Vec<_>>().join("; ")
        }
    }
}

fn actor_label(e: &AuditEvent, names: &Names) -> String {
    let named = e.actor.id.as_deref().and_then(|id| names.get(id));
    match (e.actor.kind.as_str(), named, &e.actor.email) {
        ("user", Some(name), _) => name.to_owned(),
        ("api_key", _, Some(email)) => format!("{email} (API key)"),
        ("api_key", _, None) => "partner API key".to_owned(),
        (_, _, Some(email)) => email.clone(),
        (kind, _, None) => kind.to_owned(),
    }
}

fn event_row(e: AuditEvent, names: &Names) -> EventRow {
    let changes = match &e.changes {
        Json::Object(fields) => fields
            .iter()
            .map(|(field, change)| {
                let kind = audit::id_field_kind(field);
                let value = |i: usize| change.get(i).map(|v| readable(v, kind, names)).unwrap_or_default();
                ChangeRow { field: display::words(field.strip_suffix("_id").unwrap_or(field)), before: value(0), after: value(1) }
            })
            .collect(),
        _ => Vec::new(),
    };
    let named = names.get(&e.target_id).is_some();
    EventRow {
        at: display::time(e.at),
        actor: actor_label(&e, names),
        // Only a target the caller sees gets a link (a neutral label leads nowhere).
        target_href: console_href(&e.target_type, &e.target_id).filter(|_| named || e.target_type == "email"),
        target: names.label(&e.target_type, &e.target_id),
        target_filter: page_url(SECTION, &[("object", &e.target_type), ("target_id", &e.target_id)]),
        action: e.action,
        changes,
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    layout: Layout,
    filters: FormView,
    people: Vec<Choice>,
    actions: Vec<Choice>,
    objects: Vec<Choice>,
    /// The one object the log is narrowed to, by name, and the address without it.
    only: Option<(String, String)>,
    events: Vec<EventRow>,
    next_page: Option<String>,
    first_page: Option<String>,
}

/// `GET /console/audit?who=&action=&object=&target_id=&since=&cursor=`
///
/// `who` is a staff member's user id, `api_key` or `system`; `object` a kind of object
/// (`partner`); `target_id` one object (set by the "only this" link of a row).
async fn list_events(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    // Partner users get the 404 page, other staff than owners and admins the 403 page.
    signed.scope.require_vendor_role(audit::READERS, "read the audit log")?;
    let db = state.ctx.db();
    let value = |name: &str| query.optional(name).unwrap_or_default().to_owned();
    let (who, action, object, target_id, since_text) = (value("who"), value("action"), value("object"), value("target_id"), value("since"));
    let since = (!since_text.is_empty()).then(|| Timestamp::parse(&since_text));
    let mut people: Vec<Choice> = members::list(&state.ctx, &signed.scope)
        .await?
        .into_iter()
        .map(|m| Choice {
            value: m.user_id.to_string(),
            label: if m.name.is_empty() { m.email.to_string() } else { format!("{} ({})", m.name, m.email) },
        })
        .collect();
    people.sort_by(|a, b| a.label.cmp(&b.label));
    people.extend(ACTOR_KINDS.iter().map(|(value, label)| Choice { value: (*value).to_owned(), label: (*label).to_owned() }));
    let as_choices = |values: Vec<String>| values.into_iter().map(|v| Choice { label: display::words(&v), value: v }).collect::<Vec<_>>();
    let mut page = AuditPage {
        layout: Layout::signed(&state, &signed, "Audit log", SECTION).await,
        filters: FormView::filled(
            "filter",
            FILTER_FIELDS,
            vec![
                ("who", who.clone()),
                ("action", action.clone()),
                ("object", object.clone()),
                ("target_id", target_id.clone()),
                ("since", since_text.clone()),
            ],
        ),
        people,
        actions: as_choices(audit::distinct_values(db, &signed.scope, Distinct::Action).await?),
        objects: as_choices(audit::distinct_values(db, &signed.scope, Distinct::TargetType).await?),
        only: None,
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
    let is_kind = ACTOR_KINDS.iter().any(|(kind, _)| *kind == who);
    let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let filter = AuditFilter {
        action: some(&action),
        target_id: some(&target_id),
        target_type: some(&object),
        since: since.flatten(),
        actor_id: if is_kind { None } else { some(&who) },
        actor_type: if is_kind { some(&who) } else { None },
        before_id: cursor.clone(),
        limit: Some(PAGE_SIZE),
    };
    let (Page { items: events, next_cursor: next }, names) = audit::list_named(db, &signed.scope, &filter).await?;
    let params = |cursor: &'static str, with_target: bool| {
        vec![
            ("who", who.as_str()),
            ("action", action.as_str()),
            ("object", object.as_str()),
            ("target_id", if with_target { target_id.as_str() } else { "" }),
            ("since", since_text.as_str()),
            ("cursor", cursor),
        ]
    };
    if !target_id.is_empty() {
        let kind = if object.is_empty() { "object" } else { object.as_str() };
        let mut label = names.label(kind, &target_id);
        if names.get(&target_id).is_none()
            && let Some(named) = audit::named_kind(kind)
        {
            // The page's events may not mention it (none match): name it on its own.
            let refs = [(named, target_id.clone())];
            label = audit::names(&state.ctx, &signed.scope, &refs).await?.label(kind, &target_id);
        }
        page.only = Some((label, page_url(SECTION, &params("", false))));
    }
    let url_of = |c: &str| {
        let mut p = params("", true);
        p.last_mut().expect("cursor").1 = c;
        page_url(SECTION, &p)
    };
    page.next_page = next.map(|c| url_of(&c));
    page.first_page = cursor.map(|_| url_of(""));
    page.events = events.into_iter().map(|e| event_row(e, &names)).collect();
    Ok(render_status(StatusCode::OK, &page))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(SECTION, get(list_events))
}
