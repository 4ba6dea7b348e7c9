//! `/console/programs/{id}/commission-plan`: a program's commission plan as a form — the flat
//! amount of a lead, the percent of a sale (typed as 20, stored as 2000 basis points, shown as
//! 20%), for how long a customer's sales earn (months, or for life), the hold, the minimum payout,
//! the distributor's override and a sale rate per tier of the program (one box per tier: no codes
//! to type) — and every version of it. Every staff role reads the plan; owners, admins and finance
//! save it (`plans::PLAN_WRITERS`, the service's). A save is a new version in force from now;
//! errors come back next to their fields from the service's paths (`sale.percent_bps`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value as Json, json};
use trellis_core::{Currency, Error, FieldError, ProgramId};
use trellis_incentives::plans::{self, MAX_HOLD_DAYS, MAX_PLAN_MINOR, Plan, PlanVersion, Recurrence};
use trellis_programs::{Program, programs, tiers};
use trellis_web::AppState;

use crate::amounts::{bps_to_percent, minor_to_money, money_to_minor, percent_to_bps};
use crate::display;
use crate::forms::{FormData, FormView, UrlQuery};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get};
use crate::session::Signed;

const FIELDS: &[&str] = &["lead_flat", "sale_percent", "recurrence", "recurring_months", "hold_days", "min_payout", "parent_override"];

/// A tier's box: its sale rate in this plan, blank for the plan's own rate.
struct TierBox {
    id: String,
    name: String,
    value: String,
    error: Option<String>,
}

/// A version of the plan in words.
struct VersionRow {
    version: i64,
    from: String,
    terms: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/commission_plan.html")]
struct PlanPage {
    layout: Layout,
    csrf_token: String,
    program: Program,
    currency: String,
    form: FormView,
    tiers: Vec<TierBox>,
    current: Option<VersionRow>,
    versions: Vec<VersionRow>,
    can_edit: bool,
}

/// A plan's terms as sentences.
fn terms(plan: &Plan, tier_names: &[(String, String)]) -> Vec<String> {
    let code = plan.currency.code();
    let mut out = Vec::new();
    if let Some(flat) = plan.lead_flat_minor {
        out.push(format!("A lead earns {}.", display::money(flat, code)));
    }
    if let Some(sale) = plan.sale {
        let how_long = match sale.recurrence {
            Recurrence::Lifetime => "every sale of the customer, for life".to_owned(),
            Recurrence::Months(0) => "the customer's first sale only".to_owned(),
            Recurrence::Months(1) => "the customer's sales in the first month".to_owned(),
            Recurrence::Months(n) => format!("the customer's sales in the first {n} months"),
        };
        out.push(format!("A sale earns {} of its amount: {how_long}.", display::percent_bps(sale.percent_bps)));
    }
    for o in &plan.tier_overrides {
        let name = tier_names.iter().find(|(id, _)| id == o.tier_id.as_str()).map_or(o.tier_id.as_str(), |(_, n)| n.as_str());
        out.push(format!("Partners in the tier {name} earn {} of a sale.", display::percent_bps(o.sale_percent_bps)));
    }
    if let Some(bps) = plan.parent_override_bps {
        out.push(format!("A reseller's distributor earns {} of the sale on top.", display::percent_bps(bps)));
    }
    out.push(match plan.hold_days {
        0 => "Payable as soon as the invoice is paid.".to_owned(),
        1 => "Payable 1 day after the invoice is paid.".to_owned(),
        n => format!("Payable {n} days after the invoice is paid."),
    });
    if let Some(min) = plan.min_payout_minor {
        out.push(format!("Paid out once at least {} is payable.", display::money(min, code)));
    }
    out
}

fn version_row(v: &PlanVersion, tier_names: &[(String, String)]) -> VersionRow {
    VersionRow { version: v.version, from: display::time(v.effective_from), terms: terms(&v.plan, tier_names) }
}

/// The form filled with the plan in force (a blank form with a 30-day hold without one).
fn plan_form(plan: Option<&Plan>) -> FormView {
    let Some(plan) = plan else {
        return FormView::filled("plan", FIELDS, vec![("hold_days", "30".to_owned()), ("recurrence", "life".to_owned())]);
    };
    let (recurrence, months) = match plan.sale.map(|s| s.recurrence) {
        Some(Recurrence::Months(n)) => ("months", n.to_string()),
        _ => ("life", String::new()),
    };
    FormView::filled(
        "plan",
        FIELDS,
        vec![
            ("lead_flat", plan.lead_flat_minor.map(|m| minor_to_money(m, plan.currency)).unwrap_or_default()),
            ("sale_percent", plan.sale.map(|s| bps_to_percent(s.percent_bps)).unwrap_or_default()),
            ("recurrence", recurrence.to_owned()),
            ("recurring_months", months),
            ("hold_days", plan.hold_days.to_string()),
            ("min_payout", plan.min_payout_minor.map(|m| minor_to_money(m, plan.currency)).unwrap_or_default()),
            ("parent_override", plan.parent_override_bps.map(bps_to_percent).unwrap_or_default()),
        ],
    )
}

fn tier_field(id: &str) -> String {
    format!("tier_{id}")
}

async fn plan_page(
    state: &AppState,
    signed: &Signed,
    id: &ProgramId,
    failed: Option<(FormData, Vec<FieldError>)>,
) -> Result<PlanPage, Error> {
    let scope = &signed.scope;
    let program = programs::get(&state.ctx, scope, id).await?;
    let tiers = tiers::list(&state.ctx, scope, id).await?;
    let tier_names: Vec<(String, String)> = tiers.iter().map(|t| (t.id.to_string(), t.name.clone())).collect();
    let history = plans::history(&state.ctx, scope, id).await?;
    let current = match plans::current(&state.ctx, scope, id).await {
        Ok(v) => Some(v),
        Err(Error::NotFound) => None,
        Err(err) => return Err(err),
    };
    let (form, tier_boxes) = match failed {
        Some((submitted, errors)) => {
            let boxes = tiers
                .iter()
                .map(|t| {
                    let field = tier_field(t.id.as_str());
                    TierBox {
                        id: t.id.to_string(),
                        name: t.name.clone(),
                        value: submitted.value(&field).to_owned(),
                        error: errors.iter().find(|e| e.field == field).map(|e| e.message.clone()),
                    }
                })
                .collect();
            let errors = errors.into_iter().filter(|e| !e.field.starts_with("tier_")).collect();
            (FormView::failed("plan", FIELDS, submitted, errors), boxes)
        }
        None => {
            let plan = current.as_ref().map(|v| &v.plan);
            let boxes = tiers
                .iter()
                .map(|t| TierBox {
                    id: t.id.to_string(),
                    name: t.name.clone(),
                    value: plan
                        .and_then(|p| p.tier_overrides.iter().find(|o| o.tier_id == t.id))
                        .map(|o| bps_to_percent(o.sale_percent_bps))
                        .unwrap_or_default(),
                    error: None,
                })
                .collect();
            (plan_form(plan), boxes)
        }
    };
    Ok(PlanPage {
        layout: Layout::signed(state, signed, format!("Commission plan: {}", program.name), "/console/programs").await,
        csrf_token: signed.session.csrf_token.clone(),
        currency: program.currency.clone(),
        program,
        form,
        tiers: tier_boxes,
        current: current.as_ref().map(|v| version_row(v, &tier_names)),
        versions: history.iter().map(|v| version_row(v, &tier_names)).collect(),
        can_edit: signed.scope.vendor_role().is_some_and(|r| plans::PLAN_WRITERS.contains(&r)),
    })
}

/// `GET /console/programs/{id}/commission-plan`
async fn show(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let mut page = plan_page(&state, &signed, &id, None).await?;
    page.layout = page.layout.with_notice(&query);
    Ok(render(&page))
}

/// The plan document the form describes, or the errors of what cannot be read.
fn read_plan(form: &FormData, currency: Currency, tier_ids: &[String]) -> Result<(Json, Vec<String>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut doc = Map::new();
    let mut error = |field: &str, message: String| errors.push(FieldError { field: field.to_owned(), message });
    let money = |minor: i64| json!({"amount_minor": minor, "currency": currency.code()});
    let lead = form.value("lead_flat").trim();
    if !lead.is_empty() {
        match money_to_minor(lead, currency, MAX_PLAN_MINOR) {
            Ok(minor) => {
                doc.insert("lead".into(), json!({"flat": money(minor)}));
            }
            Err(message) => error("lead_flat", message),
        }
    }
    let sale = form.value("sale_percent").trim();
    if !sale.is_empty() {
        let months = match form.value("recurrence") {
            "months" => match form.value("recurring_months").trim().parse::<i64>() {
                Ok(n) if (0..=600).contains(&n) => json!(n),
                _ => {
                    error("recurring_months", "must be a number of months from 0 (the first sale only) to 600".to_owned());
                    Json::Null
                }
            },
            _ => Json::Null,
        };
        match percent_to_bps(sale) {
            Ok(bps) => {
                doc.insert("sale".into(), json!({"percent_bps": bps, "recurring_months": months}));
            }
            Err(message) => error("sale_percent", message),
        }
    }
    match form.value("hold_days").trim() {
        "" => {
            doc.insert("hold_days".into(), json!(0));
        }
        days => match days.parse::<i64>() {
            Ok(n) => {
                doc.insert("hold_days".into(), json!(n));
            }
            Err(_) => error("hold_days", format!("must be a number of days from 0 to {MAX_HOLD_DAYS}")),
        },
    }
    let min = form.value("min_payout").trim();
    if !min.is_empty() {
        match money_to_minor(min, currency, MAX_PLAN_MINOR) {
            Ok(minor) => {
                doc.insert("min_payout".into(), money(minor));
            }
            Err(message) => error("min_payout", message),
        }
    }
    let parent = form.value("parent_override").trim();
    if !parent.is_empty() {
        match percent_to_bps(parent) {
            Ok(bps) => {
                doc.insert("parent_override_bps".into(), json!(bps));
            }
            Err(message) => error("parent_override", message),
        }
    }
    let mut overrides = Vec::new();
    let mut order = Vec::new();
    for id in tier_ids {
        let field = tier_field(id);
        let typed = form.value(&field).trim();
        if typed.is_empty() {
            continue;
        }
        match percent_to_bps(typed) {
            Ok(bps) => {
                overrides.push(json!({"tier_id": id, "sale_percent_bps": bps}));
                order.push(id.clone());
            }
            Err(message) => error(&field, message),
        }
    }
    doc.insert("tier_overrides".into(), Json::Array(overrides));
    if errors.is_empty() { Ok((Json::Object(doc), order)) } else { Err(errors) }
}

/// The form's field of an error the service names by its path in the plan document.
fn form_field(path: &str, tier_order: &[String]) -> String {
    if let Some(rest) = path.strip_prefix("tier_overrides[") {
        let index: Option<usize> = rest.split(']').next().and_then(|i| i.parse().ok());
        if let Some(id) = index.and_then(|i| tier_order.get(i)) {
            return tier_field(id);
        }
    }
    match path {
        p if p.starts_with("lead") => "lead_flat",
        "sale.recurring_months" => "recurring_months",
        p if p.starts_with("sale") => "sale_percent",
        "tier_overrides" => "sale_percent",
        p if p.starts_with("min_payout") => "min_payout",
        "parent_override_bps" => "parent_override",
        "hold_days" => "hold_days",
        other => other,
    }
    .to_owned()
}

/// `POST /console/programs/{id}/commission-plan`: saves the plan as a new version.
async fn save(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let scope = &signed.scope;
    let id: ProgramId = path_id(&id)?;
    let program = programs::get(&state.ctx, scope, &id).await?;
    scope.require_vendor_role(plans::PLAN_WRITERS, "set commission plans")?;
    let currency =
        Currency::parse(&program.currency).map_err(|_| Error::Internal(format!("stored program currency {}", program.currency)))?;
    let tier_ids: Vec<String> = tiers::list(&state.ctx, scope, &id).await?.into_iter().map(|t| t.id.to_string()).collect();
    let errors = match read_plan(&form, currency, &tier_ids) {
        Ok((doc, order)) => {
            let before = plans::history(&state.ctx, scope, &id).await?.first().map(|v| v.version);
            match plans::put(&state.ctx, scope, &id, &doc).await {
                Ok(saved) => {
                    let notice = if Some(saved.version) == before { "plan_unchanged" } else { "plan_saved" };
                    return Ok(see_other(&format!("/console/programs/{id}/commission-plan?notice={notice}")));
                }
                Err(Error::Validation(errors)) => {
                    errors.into_iter().map(|e| FieldError { field: form_field(&e.field, &order), message: e.message }).collect()
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(errors) => errors,
    };
    let page = plan_page(&state, &signed, &id, Some((form, errors))).await?;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route("/console/programs/{id}/commission-plan", get(show).post(save))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_plan_document_and_service_paths_land_on_their_fields() {
        let eur = Currency::parse("EUR").expect("EUR");
        let form = FormData::from_pairs(
            [
                ("lead_flat", "50"),
                ("sale_percent", "20"),
                ("recurrence", "months"),
                ("recurring_months", "12"),
                ("hold_days", "30"),
                ("min_payout", "1,000.00"),
                ("parent_override", "5%"),
                ("tier_tir_b", "25"),
                ("tier_tir_a", ""),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        );
        let (doc, order) = read_plan(&form, eur, &["tir_a".to_owned(), "tir_b".to_owned()]).expect("a plan");
        assert_eq!(doc["sale"], json!({"percent_bps": 2000, "recurring_months": 12}));
        assert_eq!(doc["lead"]["flat"]["amount_minor"], 5000);
        assert_eq!(doc["min_payout"]["amount_minor"], 100_000);
        assert_eq!(doc["parent_override_bps"], 500);
        assert_eq!(doc["tier_overrides"], json!([{"tier_id": "tir_b", "sale_percent_bps": 2500}]));
        assert_eq!(form_field("tier_overrides[0].sale_percent_bps", &order), "tier_tir_b");
        assert_eq!(form_field("sale.percent_bps", &order), "sale_percent");
        assert_eq!(form_field("lead.flat.amount_minor", &order), "lead_flat");
        let bad = FormData::from_pairs(vec![("sale_percent".into(), "lots".into()), ("hold_days".into(), "x".into())]);
        let errors = read_plan(&bad, eur, &[]).expect_err("errors");
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["sale_percent", "hold_days"]);
    }
}
