//! The partner's side of disputes and protection extensions: `/portal/disputes` (every dispute the
//! organisation may read, newest first, with where it stands), `/portal/deals/{id}/dispute` (what
//! disputing a rejection means, in plain words, and the form that opens one), `/portal/disputes/{id}`
//! (where it stands, and its timeline: of a deal or of a commission, whose page opens it),
//! `/portal/deals/{id}/extension` (asking for more days of protection, and the deal's earlier
//! requests). The deal pages link here.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{DealId, DisputeId, Error};
use trellis_deals::deals::{self, Deal, date_of};
use trellis_deals::disputes::{self, DisputeFilter, DisputeStatus, DisputeSubject};
use trellis_deals::extensions::{self, MAX_DAYS};
use trellis_deals::statuses::DealStatus;
use trellis_web::AppState;

use crate::deal_views::{TimelineRow, dispute_title, timeline_rows};
use crate::display;
use crate::forms::{FormData, FormView, UrlQuery, field_errors};
use crate::guards::{PartnerForm, PartnerPage};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get};
use crate::session::Signed;

const SECTION: &str = "/portal/deals";
const LIST: &str = "/portal/disputes";
const DISPUTE_FIELDS: &[&str] = &["reason"];
const EXTENSION_FIELDS: &[&str] = &["days", "reason"];

/// What the pages show of the deal.
struct DealSummary {
    id: String,
    customer_name: String,
    status: &'static str,
    rejection_reason: Option<String>,
    protected_until: Option<String>,
}

impl From<&Deal> for DealSummary {
    fn from(deal: &Deal) -> Self {
        Self {
            id: deal.id.to_string(),
            customer_name: deal.customer_name.clone(),
            status: deal.status.label(),
            rejection_reason: if deal.status == DealStatus::Rejected { deal.decision_note.clone() } else { None },
            protected_until: deal.protected_until.map(date_of),
        }
    }
}

/// Disputes per page of the list.
const LIST_PAGE_SIZE: i64 = 50;

struct ListedDispute {
    id: String,
    /// The deal's customer, or the commission in words.
    title: String,
    /// The disputed deal's or commission's page.
    subject_href: String,
    partner_name: String,
    status: &'static str,
    open: bool,
    reason: String,
    opened: String,
    /// The channel team's answer, once resolved.
    answer: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/disputes.html")]
struct DisputeList {
    layout: Layout,
    rows: Vec<ListedDispute>,
    next: Option<String>,
}

/// `GET /portal/disputes`: the disputes the caller may read (of its organisation's deals and
/// those of its resellers; of its own commissions for admins and finance), newest first.
async fn list_disputes(State(state): State<AppState>, PartnerPage { signed, .. }: PartnerPage, UrlQuery(query): UrlQuery) -> PageResult {
    let filter = DisputeFilter {
        cursor: query.optional("cursor").and_then(|c| DisputeId::parse(c).ok()),
        limit: Some(LIST_PAGE_SIZE),
        ..DisputeFilter::default()
    };
    let page = disputes::list(&state.ctx, &signed.scope, &filter).await?;
    let rows = page
        .items
        .iter()
        .map(|d| ListedDispute {
            id: d.id.to_string(),
            title: dispute_title(d),
            subject_href: match &d.subject {
                DisputeSubject::Deal(id) => format!("/portal/deals/{id}"),
                DisputeSubject::Commission(id) => format!("/portal/commissions/{id}"),
            },
            partner_name: d.partner_name.clone(),
            status: d.status.label(),
            open: d.status == DisputeStatus::Open,
            reason: d.reason.clone(),
            opened: display::time(d.created_at),
            answer: d.resolution_note.clone(),
        })
        .collect();
    let next = page.next_cursor.map(|c| format!("{LIST}?cursor={c}"));
    Ok(render(&DisputeList { layout: Layout::signed(&state, &signed, "Disputes", LIST).await, rows, next }))
}

#[derive(Template)]
#[template(path = "portal/dispute_new.html")]
struct DisputeForm {
    layout: Layout,
    csrf_token: String,
    deal: DealSummary,
    /// Only a rejected registration is disputed.
    can_dispute: bool,
    /// A dispute of this deal already open (or upheld), linked instead of the form.
    earlier: Option<(String, &'static str)>,
    form: FormView,
}

async fn dispute_form(state: &AppState, signed: &Signed, deal_id: &DealId, form: Option<FormView>) -> Result<DisputeForm, Error> {
    let deal = deals::get(&state.ctx, &signed.scope, deal_id).await?.deal;
    let filter = DisputeFilter { subject: Some(DisputeSubject::Deal(deal_id.clone())), limit: Some(1), ..DisputeFilter::default() };
    let earlier = disputes::list(&state.ctx, &signed.scope, &filter)
        .await?
        .items
        .into_iter()
        .next()
        .filter(|d| d.status != DisputeStatus::Overturned || deal.status != DealStatus::Rejected)
        .map(|d| (d.id.to_string(), d.status.label()));
    Ok(DisputeForm {
        layout: Layout::signed(state, signed, format!("Dispute the rejection of {}", deal.customer_name), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        can_dispute: deal.status == DealStatus::Rejected,
        deal: DealSummary::from(&deal),
        earlier,
        form: form.unwrap_or_else(|| FormView::new("dispute", DISPUTE_FIELDS)),
    })
}

/// `GET /portal/deals/{id}/dispute`
async fn show_dispute_form(State(state): State<AppState>, Path(id): Path<String>, PartnerPage { signed, .. }: PartnerPage) -> PageResult {
    Ok(render(&dispute_form(&state, &signed, &path_id(&id)?, None).await?))
}

/// `POST /portal/deals/{id}/dispute`: opens the dispute and shows it.
async fn open_dispute(State(state): State<AppState>, Path(id): Path<String>, PartnerForm { signed, form, .. }: PartnerForm) -> PageResult {
    let deal_id: DealId = path_id(&id)?;
    match disputes::open(&state.ctx, &signed.scope, &deal_id, form.value("reason")).await {
        Ok(detail) => Ok(see_other(&format!("/portal/disputes/{}?opened=1", detail.dispute.id))),
        Err(err) => {
            let errors = field_errors(err, "reason")?;
            let page = dispute_form(&state, &signed, &deal_id, Some(FormView::failed("dispute", DISPUTE_FIELDS, form, errors))).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "portal/dispute.html")]
struct DisputePage {
    layout: Layout,
    just_opened: bool,
    status: &'static str,
    status_code: &'static str,
    deal_id: Option<String>,
    commission_id: Option<String>,
    customer_name: String,
    timeline: Vec<TimelineRow>,
}

/// `GET /portal/disputes/{id}`: where the dispute stands and what happened.
async fn show_dispute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PartnerPage { signed, .. }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let dispute_id: DisputeId = path_id(&id)?;
    let detail = disputes::get(&state.ctx, &signed.scope, &dispute_id).await?;
    let customer_name = dispute_title(&detail.dispute);
    let section = if detail.dispute.subject.commission_id().is_some() { "/portal/earnings" } else { SECTION };
    Ok(render(&DisputePage {
        layout: Layout::signed(&state, &signed, format!("Dispute: {customer_name}"), section).await,
        commission_id: detail.dispute.subject.commission_id().map(|c| c.to_string()),
        just_opened: query.optional("opened").is_some(),
        status: detail.dispute.status.label_for(detail.dispute.subject.kind()),
        status_code: detail.dispute.status.as_str(),
        deal_id: detail.dispute.subject.deal_id().map(|d| d.to_string()),
        customer_name,
        timeline: timeline_rows(detail.timeline),
    }))
}

struct RequestRow {
    days: i64,
    reason: String,
    status: &'static str,
    note: Option<String>,
    asked: String,
}

#[derive(Template)]
#[template(path = "portal/extension.html")]
struct ExtensionForm {
    layout: Layout,
    csrf_token: String,
    deal: DealSummary,
    can_request: bool,
    has_open: bool,
    just_sent: bool,
    max_days: i64,
    requests: Vec<RequestRow>,
    form: FormView,
}

async fn extension_form(
    state: &AppState,
    signed: &Signed,
    deal_id: &DealId,
    form: Option<FormView>,
    query: &FormData,
) -> Result<ExtensionForm, Error> {
    let deal = deals::get(&state.ctx, &signed.scope, deal_id).await?.deal;
    let requests = extensions::list_for_deal(&state.ctx, &signed.scope, deal_id).await?;
    let now = state.ctx.now();
    Ok(ExtensionForm {
        layout: Layout::signed(state, signed, format!("Extend the protection of {}", deal.customer_name), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        can_request: deal.status == DealStatus::Approved && deal.protected_until.is_some_and(|u| u > now),
        has_open: requests.iter().any(|r| r.status == extensions::ExtensionStatus::Open),
        just_sent: query.optional("sent").is_some(),
        max_days: MAX_DAYS,
        deal: DealSummary::from(&deal),
        requests: requests
            .into_iter()
            .map(|r| RequestRow {
                days: r.days,
                reason: r.reason,
                status: r.status.as_str(),
                note: r.note,
                asked: display::time(r.created_at),
            })
            .collect(),
        form: form.unwrap_or_else(|| FormView::filled("extension", EXTENSION_FIELDS, vec![("days", "30".to_owned())])),
    })
}

/// `GET /portal/deals/{id}/extension`
async fn show_extension_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PartnerPage { signed, .. }: PartnerPage,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    Ok(render(&extension_form(&state, &signed, &path_id(&id)?, None, &query).await?))
}

/// `POST /portal/deals/{id}/extension`: asks for the days.
async fn request_extension(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PartnerForm { signed, form, .. }: PartnerForm,
) -> PageResult {
    let deal_id: DealId = path_id(&id)?;
    let days = form.value("days").trim().parse::<i64>().unwrap_or(0);
    match extensions::request(&state.ctx, &signed.scope, &deal_id, days, form.value("reason")).await {
        Ok(_) => Ok(see_other(&format!("/portal/deals/{deal_id}/extension?sent=1"))),
        Err(err) => {
            let errors = field_errors(err, "reason")?;
            let view = FormView::failed("extension", EXTENSION_FIELDS, form, errors);
            let page = extension_form(&state, &signed, &deal_id, Some(view), &FormData::default()).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/portal/deals/{id}/dispute", get(show_dispute_form).post(open_dispute))
        .route(LIST, get(list_disputes))
        .route("/portal/disputes/{id}", get(show_dispute))
        .route("/portal/deals/{id}/extension", get(show_extension_form).post(request_extension))
}
