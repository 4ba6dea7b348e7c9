//! Payout runs (API.md "Commissions, balances, payouts"): create a draft, approve it (another
//! person), mark it paid, cancel it, export it. The views live here with their handlers.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trellis_core::{CommissionId, PartnerId, PayoutRunId};
use trellis_identity::Scope;
use trellis_incentives::payouts::{self, PayoutRun, RunDetail};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::handlers::deals::MoneyView;
use crate::views::Page;

#[derive(Serialize, ToSchema)]
pub struct PayoutItemView {
    pub partner_id: String,
    pub partner_name: String,
    pub amount: MoneyView,
    pub commission_count: i64,
    /// The commissions the item pays (clawbacks netted in); empty once the run is cancelled.
    pub commission_ids: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PayoutSkipView {
    pub partner_id: String,
    pub partner_name: String,
    /// no_payout_method, negative_balance, cooling_off or below_minimum.
    pub reason: String,
    /// The partner's payable sum in the run's currency.
    pub balance_minor: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PayoutRunView {
    #[schema(example = "pay_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub currency: String,
    /// draft, approved, paid or cancelled.
    pub status: String,
    pub total: MoneyView,
    pub item_count: i64,
    pub created_by_user_id: Option<String>,
    pub approved_by_user_id: Option<String>,
    pub created_at: String,
    pub approved_at: Option<String>,
    pub paid_at: Option<String>,
    pub cancelled_at: Option<String>,
    /// One per partner paid (in a list: empty; read the run).
    pub items: Vec<PayoutItemView>,
    /// The partners with payable money left out, and why (in a list: empty).
    pub skipped: Vec<PayoutSkipView>,
}

type RunParts = (Vec<payouts::PayoutItem>, Vec<payouts::PayoutSkip>, HashMap<PartnerId, Vec<CommissionId>>);

fn run_view(run: PayoutRun, detail: Option<RunParts>) -> PayoutRunView {
    let currency = run.currency.code().to_owned();
    let (items, skipped, mut commission_ids) = detail.unwrap_or_default();
    PayoutRunView {
        id: run.id.to_string(),
        currency: currency.clone(),
        status: run.status.as_str().to_owned(),
        total: MoneyView { amount_minor: run.total_minor, currency: currency.clone() },
        item_count: run.item_count,
        created_by_user_id: run.created_by_user_id.map(|u| u.to_string()),
        approved_by_user_id: run.approved_by_user_id.map(|u| u.to_string()),
        created_at: run.created_at.to_rfc3339(),
        approved_at: run.approved_at.map(|t| t.to_rfc3339()),
        paid_at: run.paid_at.map(|t| t.to_rfc3339()),
        cancelled_at: run.cancelled_at.map(|t| t.to_rfc3339()),
        items: items
            .into_iter()
            .map(|i| PayoutItemView {
                partner_id: i.partner_id.to_string(),
                partner_name: i.partner_name,
                amount: MoneyView { amount_minor: i.amount_minor, currency: currency.clone() },
                commission_count: i.commission_count,
                commission_ids: commission_ids.remove(&i.partner_id).unwrap_or_default().iter().map(ToString::to_string).collect(),
            })
            .collect(),
        skipped: skipped
            .into_iter()
            .map(|s| PayoutSkipView {
                partner_id: s.partner_id.to_string(),
                partner_name: s.partner_name,
                reason: s.reason.as_str().to_owned(),
                balance_minor: s.balance_minor,
            })
            .collect(),
    }
}

/// A run with its items, each with the ids of the commissions it pays (read after the change
/// that answered, from the run's commissions).
async fn detail_view(state: &AppState, scope: &Scope, d: RunDetail) -> ApiResult<PayoutRunView> {
    let ids = payouts::commission_ids(&state.ctx, scope, &d.run.id).await?;
    Ok(run_view(d.run, Some((d.items, d.skipped, ids))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayoutRunRequest {
    /// ISO 4217: the currency whose payable balances the run pays.
    pub currency: String,
}

/// Create a draft payout run (owner, admin, finance): one item per partner whose payable balance
/// in the currency is positive, at least its minimum, with a payout method out of its cooling-off
/// period; the others with payable money are listed as skipped with the reason. Its commissions
/// become `in_payout`; a second run started at the same time finds them taken.
#[utoipa::path(post, path = "/api/v1/payout-runs", tag = "commissions", request_body = CreatePayoutRunRequest,
    responses((status = 201, body = PayoutRunView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_payout_run(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreatePayoutRunRequest>,
) -> ApiResult<(StatusCode, Json<PayoutRunView>)> {
    let detail = payouts::create(&state.ctx, &scope, &body.currency).await?;
    Ok((StatusCode::CREATED, Json(detail_view(&state, &scope, detail).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PayoutRunListParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<PayoutRunId>>,
}

/// Payout runs, newest first (staff).
#[utoipa::path(get, path = "/api/v1/payout-runs", tag = "commissions", params(PayoutRunListParams),
    responses((status = 200, body = Page<PayoutRunView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_payout_runs(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<PayoutRunListParams>,
) -> ApiResult<Json<Page<PayoutRunView>>> {
    let cursor = Cursor::into_inner(params.cursor);
    let page = payouts::list(&state.ctx, &scope, cursor.as_ref(), Some(PageLimit::of(params.limit))).await?;
    Ok(Json(Page::of(page, |run| run_view(run, None))))
}

/// One payout run with its items and skipped partners (staff).
#[utoipa::path(get, path = "/api/v1/payout-runs/{id}", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = PayoutRunView), (status = 404, body = Problem)))]
pub async fn find_payout_run(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutRunView>> {
    let detail = payouts::get(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(detail_view(&state, &scope, detail).await?))
}

/// Approve a draft run (owner, admin, finance; not the person who created it: four eyes). Its
/// money moves to payout clearing.
#[utoipa::path(post, path = "/api/v1/payout-runs/{id}/approve", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = PayoutRunView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve_payout_run(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutRunView>> {
    let detail = payouts::approve(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(detail_view(&state, &scope, detail).await?))
}

/// Mark an approved run paid (owner, admin, finance): its commissions are `paid`. Safe to repeat.
#[utoipa::path(post, path = "/api/v1/payout-runs/{id}/mark-paid", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = PayoutRunView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn mark_payout_run_paid(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutRunView>> {
    let detail = payouts::mark_paid(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(detail_view(&state, &scope, detail).await?))
}

/// Cancel a draft or approved run (owner, admin, finance): its commissions are payable again.
#[utoipa::path(post, path = "/api/v1/payout-runs/{id}/cancel", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = PayoutRunView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_payout_run(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutRunView>> {
    let detail = payouts::cancel(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(detail_view(&state, &scope, detail).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `csv` (any run, for the books) or `sepa` (an approved or paid run in euros, for the bank).
    pub format: String,
}

/// A run as a file for the bank or the books (staff): `format=csv`, one line per partner paid;
/// `format=sepa`, a SEPA credit transfer (ISO 20022 pain.001.001.09) from the workspace's
/// `sepa_debtor` account to each partner's payout method — owners, admins and finance, an approved
/// or paid run in EUR (409 otherwise), every export audited with its totals and masked IBANs.
#[utoipa::path(get, path = "/api/v1/payout-runs/{id}/export", tag = "commissions", params(("id" = String, Path), ExportParams),
    responses((status = 200, content((String = "text/csv"), (String = "application/xml"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn export_payout_run(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let run_id: PayoutRunId = path_id(&id)?;
    let (content_type, extension, body) = match params.format.as_str() {
        "csv" => ("text/csv; charset=utf-8", "csv", payouts::export_csv(&state.ctx, &scope, &run_id).await?),
        "sepa" => ("application/xml; charset=utf-8", "xml", payouts::export_sepa(&state.ctx, &scope, &run_id).await?),
        _ => return Err(ApiError::field("format", "must be csv or sepa")),
    };
    let disposition = format!("attachment; filename=\"{run_id}.{extension}\"");
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct StatementView {
    pub payout_run_id: String,
    pub partner_id: String,
    pub amount: MoneyView,
    pub commission_count: i64,
    /// approved (being paid) or paid.
    pub status: String,
    pub approved_at: Option<String>,
    pub paid_at: Option<String>,
    /// The commissions it pays, clawbacks netted in (in a list: empty).
    pub commissions: Vec<crate::handlers::commissions::CommissionView>,
}

fn statement_view(s: payouts::Statement, commissions: Vec<trellis_incentives::commissions::Commission>) -> StatementView {
    StatementView {
        payout_run_id: s.payout_run_id.to_string(),
        partner_id: s.partner_id.to_string(),
        amount: MoneyView { amount_minor: s.amount_minor, currency: s.currency.code().to_owned() },
        commission_count: s.commission_count,
        status: s.status.as_str().to_owned(),
        approved_at: s.approved_at.map(|t| t.to_rfc3339()),
        paid_at: s.paid_at.map(|t| t.to_rfc3339()),
        commissions: commissions.into_iter().map(Into::into).collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct StatementsView {
    pub partner_id: String,
    /// Newest first, at most 500.
    pub statements: Vec<StatementView>,
}

/// A partner's payouts, newest first: its own admins and finance, or staff. A distributor asking
/// for a reseller's: 404.
#[utoipa::path(get, path = "/api/v1/partners/{id}/statements", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = StatementsView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_statements(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<StatementsView>> {
    let partner_id: trellis_core::PartnerId = path_id(&id)?;
    let rows = payouts::statements(&state.ctx, &scope, &partner_id).await?;
    Ok(Json(StatementsView {
        partner_id: partner_id.to_string(),
        statements: rows.into_iter().map(|s| statement_view(s, Vec::new())).collect(),
    }))
}

/// One payout to a partner with the commissions it pays.
#[utoipa::path(get, path = "/api/v1/partners/{id}/statements/{run_id}", tag = "commissions", params(("id" = String, Path), ("run_id" = String, Path)),
    responses((status = 200, body = StatementView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn find_statement(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, run_id)): Path<(String, String)>,
) -> ApiResult<Json<StatementView>> {
    let partner_id: trellis_core::PartnerId = path_id(&id)?;
    let run_id: PayoutRunId = path_id(&run_id)?;
    let detail = payouts::statement(&state.ctx, &scope, &partner_id, &run_id).await?;
    Ok(Json(statement_view(detail.statement, detail.commissions)))
}
