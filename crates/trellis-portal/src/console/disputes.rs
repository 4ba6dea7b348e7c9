//! The channel team's side of disputes and protection extensions: `/console/disputes` (the open
//! disputes of the partners the caller sees, oldest first, with the deal's customer or the
//! disputed commission, the partner, the rejection reason and the dispute's reason),
//! `/console/disputes/{id}` (the timeline and the resolution: uphold or overturn, the choices of
//! the dispute table for its subject, with a note the partner reads; a deal's by those who manage
//! partners, a commission's by those who write money), and
//! `/console/extension-requests` (the open requests, oldest first, approved or denied in place).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{DisputeId, Error, ExtensionRequestId};
use trellis_deals::deals::date_of;
use trellis_deals::disputes::{self, Dispute, DisputeFilter, DisputeStatus, DisputeSubject};
use trellis_deals::extensions::{self, ExtensionFilter, ExtensionStatus};
use trellis_incentives::commissions::MONEY_WRITERS;
use trellis_web::AppState;

use super::staff_role;
use crate::deal_views::{TimelineRow, dispute_title, timeline_rows};
use crate::display;
use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::PAGE_SIZE;
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

const DISPUTES: &str = "/console/disputes";
const EXTENSIONS: &str = "/console/extension-requests";
const RESOLVE_FIELDS: &[&str] = &["outcome", "note"];
const DECIDE_FIELDS: &[&str] = &["note"];

struct DisputeRow {
    id: String,
    /// The deal's customer, or the commission in words.
    customer_name: String,
    deal_id: Option<String>,
    /// The commission's partner's commissions (for a commission subject).
    commission_href: Option<String>,
    partner_id: String,
    partner_name: String,
    rejection_reason: Option<String>,
    reason: String,
    opened: String,
}

#[derive(Template)]
#[template(path = "console/disputes.html")]
struct DisputeQueue {
    layout: Layout,
    rows: Vec<DisputeRow>,
}

/// `GET /console/disputes`: the open disputes, oldest first.
async fn show_disputes(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let filter = DisputeFilter {
        status: Some(DisputeStatus::Open),
        oldest_first: true,
        cursor: query.optional("cursor").and_then(|c| DisputeId::parse(c).ok()),
        limit: Some(PAGE_SIZE),
        ..DisputeFilter::default()
    };
    let page = disputes::list(&state.ctx, &signed.scope, &filter).await?;
    let rows = page
        .items
        .into_iter()
        .map(|d| DisputeRow {
            id: d.id.to_string(),
            customer_name: dispute_title(&d),
            deal_id: d.subject.deal_id().map(|x| x.to_string()),
            commission_href: commission_href(&d),
            partner_id: d.partner_id.to_string(),
            partner_name: d.partner_name,
            rejection_reason: d.rejection_reason,
            reason: d.reason,
            opened: display::time(d.created_at),
        })
        .collect();
    Ok(render(&DisputeQueue { layout: Layout::signed(&state, &signed, "Disputes", DISPUTES).await.with_notice(&query), rows }))
}

/// Where staff read a disputed commission: the partner's commissions.
fn commission_href(d: &Dispute) -> Option<String> {
    d.subject.commission_id().map(|_| format!("/console/commissions?partner={}", d.partner_id))
}

struct Outcome {
    value: &'static str,
    label: &'static str,
    /// What it does, from the table (without its code marks).
    effect: String,
}

#[derive(Template)]
#[template(path = "console/dispute.html")]
struct DisputePage {
    layout: Layout,
    csrf_token: String,
    id: String,
    customer_name: String,
    deal_id: Option<String>,
    commission_href: Option<String>,
    partner_id: String,
    partner_name: String,
    status: &'static str,
    status_code: &'static str,
    timeline: Vec<TimelineRow>,
    can_resolve: bool,
    outcomes: Vec<Outcome>,
    form: FormView,
}

async fn dispute_page(state: &AppState, signed: &Signed, id: &DisputeId, form: Option<FormView>) -> Result<DisputePage, Error> {
    let role = staff_role(&signed.scope)?;
    let detail = disputes::get(&state.ctx, &signed.scope, id).await?;
    let d = detail.dispute;
    let customer_name = dispute_title(&d);
    let may_resolve = match d.subject {
        DisputeSubject::Deal(_) => role.manages_partners(),
        DisputeSubject::Commission(_) => MONEY_WRITERS.contains(&role),
    };
    Ok(DisputePage {
        layout: Layout::signed(state, signed, format!("Dispute: {customer_name}"), DISPUTES).await,
        csrf_token: signed.session.csrf_token.clone(),
        id: d.id.to_string(),
        customer_name,
        deal_id: d.subject.deal_id().map(|x| x.to_string()),
        commission_href: commission_href(&d),
        partner_id: d.partner_id.to_string(),
        status: d.status.label_for(d.subject.kind()),
        status_code: d.status.as_str(),
        timeline: timeline_rows(detail.timeline),
        can_resolve: may_resolve && d.status == DisputeStatus::Open,
        outcomes: disputes::choices(d.subject.kind(), d.status)
            .into_iter()
            .map(|t| Outcome { value: t.to.as_str(), label: t.button, effect: t.effect.replace('`', "") })
            .collect(),
        partner_name: d.partner_name,
        form: form.unwrap_or_else(|| FormView::new("resolve", RESOLVE_FIELDS)),
    })
}

/// `GET /console/disputes/{id}`
async fn show_dispute(State(state): State<AppState>, Path(id): Path<String>, StaffPage { signed, .. }: StaffPage) -> PageResult {
    Ok(render(&dispute_page(&state, &signed, &path_id(&id)?, None).await?))
}

/// `POST /console/disputes/{id}/resolve` with an outcome and a note.
async fn resolve(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let dispute_id: DisputeId = path_id(&id)?;
    // An outcome that is not one of the table's is the service's validation error ("outcome").
    let outcome = DisputeStatus::parse(form.value("outcome")).unwrap_or(DisputeStatus::Open);
    match disputes::resolve(&state.ctx, &signed.scope, &dispute_id, outcome, form.value("note")).await {
        Ok(_) => Ok(see_other(&format!("{DISPUTES}?notice=saved"))),
        Err(err) => {
            let errors = field_errors(err, "note")?;
            let page = dispute_page(&state, &signed, &dispute_id, Some(FormView::failed("resolve", RESOLVE_FIELDS, form, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

struct RequestRow {
    id: String,
    deal_id: String,
    customer_name: String,
    partner_id: String,
    partner_name: String,
    days: i64,
    reason: String,
    protected_until: String,
    asked: String,
    form: FormView,
}

#[derive(Template)]
#[template(path = "console/extension_requests.html")]
struct ExtensionQueue {
    layout: Layout,
    csrf_token: String,
    can_decide: bool,
    rows: Vec<RequestRow>,
}

async fn extension_queue(state: &AppState, signed: &Signed, query: &FormData) -> Result<ExtensionQueue, Error> {
    let role = staff_role(&signed.scope)?;
    let filter = ExtensionFilter {
        status: Some(ExtensionStatus::Open),
        oldest_first: true,
        cursor: query.optional("cursor").and_then(|c| ExtensionRequestId::parse(c).ok()),
        limit: Some(PAGE_SIZE),
        ..ExtensionFilter::default()
    };
    let page = extensions::list(&state.ctx, &signed.scope, &filter).await?;
    Ok(ExtensionQueue {
        layout: Layout::signed(state, signed, "Extension requests", EXTENSIONS).await.with_notice(query),
        csrf_token: signed.session.csrf_token.clone(),
        can_decide: role.manages_partners(),
        rows: page
            .items
            .into_iter()
            .map(|r| RequestRow {
                id: r.id.to_string(),
                deal_id: r.deal_id.to_string(),
                customer_name: r.customer_name,
                partner_id: r.partner_id.to_string(),
                partner_name: r.partner_name,
                days: r.days,
                reason: r.reason,
                protected_until: r.protected_until.map(date_of).unwrap_or_default(),
                asked: display::time(r.created_at),
                form: FormView::new("decide", DECIDE_FIELDS),
            })
            .collect(),
    })
}

/// `GET /console/extension-requests`
async fn show_extensions(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    Ok(render(&extension_queue(&state, &signed, &query).await?))
}

async fn decide(state: AppState, id: String, signed: Signed, form: FormData, approve: bool) -> PageResult {
    let request_id: ExtensionRequestId = path_id(&id)?;
    let note = form.optional("note").filter(|n| !n.trim().is_empty());
    let decided = if approve {
        extensions::approve(&state.ctx, &signed.scope, &request_id, note).await
    } else {
        extensions::deny(&state.ctx, &signed.scope, &request_id, note).await
    };
    match decided {
        Ok(_) => Ok(see_other(&format!("{EXTENSIONS}?notice=saved"))),
        Err(err) => {
            let errors = field_errors(err, "note")?;
            let mut page = extension_queue(&state, &signed, &FormData::default()).await?;
            if let Some(row) = page.rows.iter_mut().find(|r| r.id == request_id.as_str()) {
                row.form = FormView::failed("decide", DECIDE_FIELDS, form, errors);
            }
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /console/extension-requests/{id}/approve` with an optional note.
async fn approve(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    decide(state, id, signed, form, true).await
}

/// `POST /console/extension-requests/{id}/deny` with an optional note.
async fn deny(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    decide(state, id, signed, form, false).await
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(DISPUTES, get(show_disputes))
        .route("/console/disputes/{id}", get(show_dispute))
        .route("/console/disputes/{id}/resolve", post(resolve))
        .route(EXTENSIONS, get(show_extensions))
        .route("/console/extension-requests/{id}/approve", post(approve))
        .route("/console/extension-requests/{id}/deny", post(deny))
}
