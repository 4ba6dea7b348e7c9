//! `/console/commissions`: the commissions of the partners the caller sees (every staff role
//! reads them), filtered by partner (the bounded picker of the deal pages), program, status, kind
//! and dates, paged and exported; the hold queue (`/console/commissions/held`), a work queue of
//! the commissions on hold with the Release button; the Hold and Release buttons of the status
//! table (`statuses::buttons`) on every row for owners, admins and finance; and the award form of
//! a bonus or SPIFF. What a role may change, the service decides (403), with the same role set
//! (`commissions::MONEY_WRITERS`) that shows the buttons.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use trellis_core::{CommissionId, Currency, Error, FieldError, PartnerId, VendorRole};
use trellis_incentives::commissions::{self, NewBonus};
use trellis_incentives::statuses::{CommissionStatus, HoldReason};
use trellis_programs::programs;
use trellis_web::AppState;

use super::deals::{PARTNER_SEARCH, picker_choices};
use crate::amounts::money_to_minor;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::{ListView, page_url};
use crate::money_views::{self, CommissionFilters, CommissionRow};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;

pub(super) const SECTION: &str = "/console/commissions";
const EXPORT: &str = "/console/commissions/export";
const HELD: &str = "/console/commissions/held";
const BONUS: &str = "/console/commissions/bonus";
const BONUS_FIELDS: &[&str] = &["partner", "kind", "amount", "currency", "reason", "program"];

/// Whether the role changes money (the buttons and forms are offered to it alone).
pub(super) fn writes_money(role: VendorRole) -> bool {
    commissions::MONEY_WRITERS.contains(&role)
}

fn program_choices(programs: &[trellis_programs::Program]) -> Vec<Choice> {
    programs.iter().map(|p| Choice { value: p.id.to_string(), label: p.name.clone() }).collect()
}

#[derive(Template)]
#[template(path = "console/commissions.html")]
struct CommissionsPage {
    layout: Layout,
    /// `/console/commissions` or the hold queue.
    path: &'static str,
    heading: &'static str,
    is_queue: bool,
    filters: FormView,
    statuses: Vec<Choice>,
    kinds: Vec<Choice>,
    programs: Vec<Choice>,
    partners: Vec<Choice>,
    partner_q: String,
    partner_search: &'static str,
    rows: Vec<CommissionRow>,
    list: ListView,
    is_filtered: bool,
    export: String,
    /// The buttons' forms carry it; empty for roles that only read.
    csrf_token: String,
    /// Where a button's form returns: this page with its filters.
    return_to: String,
    can_write: bool,
}

async fn list_page(state: &AppState, signed: &Signed, role: VendorRole, query: &FormData, queue: bool) -> PageResult {
    let scope = &signed.scope;
    let path = if queue { HELD } else { SECTION };
    let mut filters = CommissionFilters::read(query, true);
    if queue {
        filters.filter.status = Some(CommissionStatus::OnHold);
        filters.values.retain(|(k, _)| *k != "status");
    }
    let list = filters.list_state(path, query);
    let mut tx = scope.read(&state.ctx).await?;
    let page = commissions::list_in(&mut tx, scope, &filters.filter).await?;
    let partner_q = query.value("partner_q").trim();
    let partners = picker_choices(&mut tx, scope, partner_q, false, query.value("partner")).await?;
    let programs = programs::list_in(&mut tx, scope.workspace_id()).await?;
    drop(tx);
    let can_write = writes_money(role);
    let view = CommissionsPage {
        layout: Layout::signed(state, signed, if queue { "Commissions on hold" } else { "Commissions" }, SECTION).await.with_notice(query),
        path,
        heading: if queue { "Commissions on hold" } else { "Commissions" },
        is_queue: queue,
        filters: FormView::filled("filter", money_views::FILTER_FIELDS, filters.form_values()),
        statuses: money_views::status_choices(),
        kinds: money_views::kind_choices(),
        programs: program_choices(&programs),
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        rows: page.items.iter().map(|c| CommissionRow::new(c, can_write)).collect(),
        is_filtered: list.is_filtered(),
        export: list.url_at(EXPORT),
        return_to: list.url_at(path),
        list: money_views::list_view(&list, &page, query),
        csrf_token: if can_write { signed.session.csrf_token.clone() } else { String::new() },
        can_write,
    };
    Ok(render(&view))
}

/// `GET /console/commissions?partner=&program=&status=&kind=&since=&until=&cursor=&from=`
async fn list(State(state): State<AppState>, StaffPage { signed, role }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    list_page(&state, &signed, role, &query, false).await
}

/// `GET /console/commissions/held`: the hold queue, oldest hold last (newest first, as every list).
async fn held(State(state): State<AppState>, StaffPage { signed, role }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    list_page(&state, &signed, role, &query, true).await
}

/// `GET /console/commissions/export?…`
async fn export(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let csv = money_views::export_csv(&state, &signed.scope, &query, true).await?;
    Ok(crate::downloads::csv_file("commissions.csv", csv))
}

/// Where a button's form goes back to: the list it was pressed on (a console commissions path
/// only), with a notice.
fn back_to(form: &FormData, notice: &str) -> String {
    let target = form.value("return_to");
    let target = if (target.starts_with("/console/commissions") || target.starts_with("/console/conversions/")) && !target.contains("//") {
        target
    } else {
        SECTION
    };
    let separator = if target.contains('?') { '&' } else { '?' };
    format!("{target}{separator}notice={notice}")
}

/// `POST /console/commissions/{id}/hold` (`reason`: fraud_review or manual).
async fn hold(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: CommissionId = path_id(&id)?;
    // The commission first (404 for one the caller does not see), then the role (403), then the reason.
    commissions::get(&state.ctx, &signed.scope, &id).await?;
    signed.scope.require_vendor_role(commissions::MONEY_WRITERS, "hold commissions")?;
    let reason = match HoldReason::parse(form.value("reason")) {
        Some(reason @ (HoldReason::FraudReview | HoldReason::Manual)) => reason,
        _ => return Err(Error::invalid("reason", "choose why: for review or by the finance team").into()),
    };
    commissions::hold(&state.ctx, &signed.scope, &id, reason).await?;
    Ok(see_other(&back_to(&form, "commission_held")))
}

/// `POST /console/commissions/{id}/release`
async fn release(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: CommissionId = path_id(&id)?;
    commissions::release_hold(&state.ctx, &signed.scope, &id).await?;
    Ok(see_other(&back_to(&form, "commission_released")))
}

/// `POST /console/commissions/{id}/reject`: a commission held for review is not owed.
async fn reject(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: CommissionId = path_id(&id)?;
    commissions::reject(&state.ctx, &signed.scope, &id, form.value("note")).await?;
    Ok(see_other(&back_to(&form, "commission_rejected")))
}

#[derive(Template)]
#[template(path = "console/bonus.html")]
struct BonusPage {
    layout: Layout,
    csrf_token: String,
    form: FormView,
    partners: Vec<Choice>,
    partner_q: String,
    partner_search: &'static str,
    programs: Vec<Choice>,
    kinds: Vec<Choice>,
    currencies: Vec<Choice>,
}

fn require_writer(signed: &Signed) -> Result<(), Error> {
    signed.scope.require_vendor_role(commissions::MONEY_WRITERS, "award bonuses")
}

/// The currencies of the workspace's programs (the award is in one of them; EUR without programs).
fn currency_choices(programs: &[trellis_programs::Program]) -> Vec<Choice> {
    let mut codes: Vec<String> = programs.iter().map(|p| p.currency.clone()).collect();
    if codes.is_empty() {
        codes.push("EUR".to_owned());
    }
    codes.sort();
    codes.dedup();
    codes.into_iter().map(|c| Choice { label: c.clone(), value: c }).collect()
}

async fn bonus_page(state: &AppState, signed: &Signed, form: FormView, query: &FormData) -> Result<BonusPage, Error> {
    let scope = &signed.scope;
    let mut tx = scope.read(&state.ctx).await?;
    let partner_q = query.value("partner_q").trim();
    let partners = picker_choices(&mut tx, scope, partner_q, false, form.value("partner")).await?;
    let programs = programs::list_in(&mut tx, scope.workspace_id()).await?;
    drop(tx);
    Ok(BonusPage {
        layout: Layout::signed(state, signed, "Award a bonus or SPIFF", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        form,
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        kinds: vec![
            Choice { value: "bonus".to_owned(), label: "Bonus".to_owned() },
            Choice { value: "spiff".to_owned(), label: "SPIFF (a sales incentive)".to_owned() },
        ],
        currencies: currency_choices(&programs),
        programs: program_choices(&programs),
    })
}

/// `GET /console/commissions/bonus?partner=&partner_q=`: the award form (owners, admins, finance).
async fn show_bonus(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    require_writer(&signed)?;
    let mut values = vec![("kind", "bonus".to_owned())];
    if let Some(partner) = query.optional("partner") {
        values.push(("partner", partner.to_owned()));
    }
    let form = FormView::filled("bonus", BONUS_FIELDS, values);
    Ok(render(&bonus_page(&state, &signed, form, &query).await?))
}

/// `POST /console/commissions/bonus`: awards it and opens the partner's commissions; errors next
/// to the fields.
async fn award(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    require_writer(&signed)?;
    let mut errors = Vec::new();
    let partner_id = match form.value("partner").parse::<PartnerId>() {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(FieldError { field: "partner".into(), message: "choose the partner".into() });
            None
        }
    };
    let currency = Currency::parse(form.value("currency")).ok();
    let amount = match currency {
        Some(currency) => match money_to_minor(form.value("amount"), currency, commissions::MAX_BONUS_MINOR) {
            Ok(0) => {
                errors.push(FieldError { field: "amount".into(), message: "must be more than zero".into() });
                None
            }
            Ok(minor) => Some(minor),
            Err(message) => {
                errors.push(FieldError { field: "amount".into(), message });
                None
            }
        },
        None => {
            errors.push(FieldError { field: "currency".into(), message: "choose the currency".into() });
            None
        }
    };
    let program_id = match form.optional("program").filter(|p| !p.is_empty()) {
        Some(p) => match p.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError { field: "program".into(), message: "no such program".into() });
                None
            }
        },
        None => None,
    };
    if let (true, Some(partner_id), Some(amount_minor)) = (errors.is_empty(), partner_id, amount) {
        let input = NewBonus {
            partner_id: partner_id.clone(),
            amount_minor,
            currency: form.value("currency").to_owned(),
            reason_code: form.value("kind").to_owned(),
            note: form.value("reason").trim().to_owned(),
            program_id,
        };
        match commissions::award_bonus(&state.ctx, &signed.scope, input).await {
            Ok(_) => return Ok(see_other(&page_url(SECTION, &[("partner", partner_id.as_str()), ("notice", "bonus_awarded")]))),
            Err(err) => {
                errors = field_errors(err, "")?
                    .into_iter()
                    .map(|e| {
                        let field = match e.field.as_str() {
                            "partner_id" => "partner",
                            "amount.amount_minor" => "amount",
                            "amount.currency" => "currency",
                            "program_id" => "program",
                            other => other,
                        };
                        FieldError { field: field.to_owned(), message: e.message }
                    })
                    .collect();
            }
        }
    }
    let failed = FormView::failed("bonus", BONUS_FIELDS, form.clone(), errors);
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &bonus_page(&state, &signed, failed, &form).await?))
}

/// Commissions as rows for a page that lists a few (a conversion's): the buttons for writers.
pub(super) fn rows(items: &[commissions::Commission], role: VendorRole) -> Vec<CommissionRow> {
    items.iter().map(|c| CommissionRow::new(c, writes_money(role))).collect()
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list))
        .route(EXPORT, get(export))
        .route(HELD, get(held))
        .route(BONUS, get(show_bonus).post(award))
        .route("/console/commissions/{id}/hold", post(hold))
        .route("/console/commissions/{id}/release", post(release))
        .route("/console/commissions/{id}/reject", post(reject))
}
