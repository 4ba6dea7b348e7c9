//! Money (API.md "Programs" commission plan, "Referral tracking" conversions and invoices,
//! "Commissions, balances, payouts"): commission plans, conversions, invoices paid, commissions,
//! bonuses, holds and balances. The views live here with their handlers: nothing else answers them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json_, json};
use trellis_core::{CommissionId, ConversionId, PartnerId, ProgramId, Timestamp};
use trellis_incentives::commissions::{self, Commission, CommissionFilter, CommissionKind, CurrencyBalance, NewBonus};
use trellis_incentives::conversions::{self, Conversion, ConversionFilter, ConversionKind, InvoicePaid, NewConversion};
use trellis_incentives::plans::{self, PlanVersion};
use trellis_incentives::statuses::{CommissionStatus, HoldReason};
use trellis_web::AppState;
use trellis_web::problem::{ApiError, ApiResult, Problem};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Caller, Cursor, PageLimit, path_id};
use crate::handlers::deals::MoneyView;
use crate::views::Page;

/// An amount with its currency.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountInput {
    pub amount_minor: i64,
    /// ISO 4217: the program's currency.
    pub currency: String,
}

/// Money in a plan: in the program's currency.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanMoney {
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadTerms {
    /// Paid per lead.
    pub flat: PlanMoney,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleTerms {
    /// The share of each sale, in basis points (2000 = 20%).
    #[schema(minimum = 0, maximum = 10000)]
    pub percent_bps: i64,
    /// How long a customer's sales keep earning after its first: `null` for life, `0` the first
    /// sale only, `n` the sales of the first `n` months.
    #[schema(minimum = 0, maximum = 600)]
    pub recurring_months: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierOverride {
    pub tier_id: String,
    #[schema(minimum = 0, maximum = 10000)]
    pub sale_percent_bps: i64,
}

/// A program's commission plan (every part optional; `hold_days` defaults to 30).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommissionPlanRequest {
    pub lead: Option<LeadTerms>,
    pub sale: Option<SaleTerms>,
    /// Days a commission waits after its invoice is paid (after a lead) before it is payable.
    #[schema(minimum = 0, maximum = 365)]
    pub hold_days: Option<i64>,
    /// A partner is paid once its payable balance reaches this.
    pub min_payout: Option<PlanMoney>,
    /// A distributor's share of its resellers' sales, in basis points.
    #[schema(minimum = 0, maximum = 10000)]
    pub parent_override_bps: Option<i64>,
    /// A sale rate per tier (before the tier's own `commission_override_bps` benefit).
    pub tier_overrides: Option<Vec<TierOverride>>,
    /// Backdates the new version (RFC 3339 or a date; default now) to pay conversions recorded
    /// late; never before the version in force then, never in the future.
    pub effective_from: Option<String>,
}

/// The plan in force, with its version.
#[derive(Serialize, ToSchema)]
pub struct CommissionPlanView {
    pub program_id: String,
    /// 1 for the first plan; every change that alters it adds one.
    pub version: i64,
    pub effective_from: String,
    pub lead: Option<LeadTerms>,
    pub sale: Option<SaleTerms>,
    pub hold_days: i64,
    pub min_payout: Option<PlanMoney>,
    pub parent_override_bps: Option<i64>,
    pub tier_overrides: Vec<TierOverride>,
}

fn plan_view(version: &PlanVersion) -> Json_ {
    let mut doc = version.plan.document();
    if let Some(map) = doc.as_object_mut() {
        map.insert("program_id".into(), json!(version.program_id));
        map.insert("version".into(), json!(version.version));
        map.insert("effective_from".into(), json!(version.effective_from.to_rfc3339()));
    }
    doc
}

/// The commission plan in force (staff; partners for the programs they are in). 404 when the
/// program has none.
#[utoipa::path(get, path = "/api/v1/programs/{id}/commission-plan", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = CommissionPlanView), (status = 404, body = Problem)))]
pub async fn get_plan(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<Json_>> {
    let program_id: ProgramId = path_id(&id)?;
    Ok(Json(plan_view(&plans::current(&state.ctx, &scope, &program_id).await?)))
}

/// Set a program's commission plan (owner, admin, finance): a new version in force from now,
/// applied to conversions that happen from now on. Answers 200, also the first time; the plan as
/// it stands changes nothing.
#[utoipa::path(put, path = "/api/v1/programs/{id}/commission-plan", tag = "commissions", params(("id" = String, Path)), request_body = CommissionPlanRequest,
    responses((status = 200, body = CommissionPlanView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_plan(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CommissionPlanRequest>,
) -> ApiResult<Json<Json_>> {
    let program_id: ProgramId = path_id(&id)?;
    let effective_from = match body.effective_from.as_deref() {
        Some(text) => Some(Timestamp::parse(text).ok_or_else(|| ApiError::field("effective_from", "must be an RFC 3339 time or a date"))?),
        None => None,
    };
    let value = serde_json::to_value(&body).map_err(|e| ApiError::field("plan", e.to_string()))?;
    // Absent parts are left out; `recurring_months: null` means for life, which is also the default.
    let mut value = strip_nulls(value);
    if let Some(map) = value.as_object_mut() {
        map.remove("effective_from");
    }
    Ok(Json(plan_view(&plans::put_effective(&state.ctx, &scope, &program_id, &value, effective_from).await?)))
}

fn strip_nulls(value: Json_) -> Json_ {
    match value {
        Json_::Object(map) => Json_::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect()),
        other => other,
    }
}

/// Every version of a program's plan, newest first (staff).
#[utoipa::path(get, path = "/api/v1/programs/{id}/commission-plan/versions", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = Vec<CommissionPlanView>), (status = 404, body = Problem)))]
pub async fn plan_versions(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<Vec<Json_>>> {
    let program_id: ProgramId = path_id(&id)?;
    Ok(Json(plans::history(&state.ctx, &scope, &program_id).await?.iter().map(plan_view).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversionRequest {
    /// lead, sale or refund.
    pub kind: String,
    /// The invoice (or, for a lead, the lead's id in your system): one conversion per kind and id.
    pub invoice_id: String,
    /// Your id of the customer: its later sales earn for the same partner.
    pub customer_external_id: String,
    /// A referral click id (`trellis_click` of the redirect): attributes the conversion to its
    /// link's partner inside the program's attribution window (docs/API.md).
    pub click_id: Option<String>,
    /// The partner to credit when the customer has no earlier attribution.
    pub partner_id: Option<String>,
    /// The program, when the partner earns in several.
    pub program_id: Option<String>,
    /// A won deal: its credited partners earn by their credit split.
    pub deal_id: Option<String>,
    /// Required for a sale and a refund (a refund may be partial).
    pub amount: Option<AmountInput>,
    /// A sale's invoice: `paid` (the default) or `open` (commissions wait for `POST /invoices/{id}/paid`).
    pub invoice_status: Option<String>,
    /// The sale's invoice a refund refunds.
    pub refunds_invoice_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_ip: Option<String>,
    /// When it happened (default: now); the plan in force then applies.
    pub occurred_at: Option<String>,
}

/// A commission in a conversion's answer.
#[derive(Serialize, ToSchema)]
pub struct ConversionCommissionView {
    pub id: String,
    pub partner_id: String,
    /// lead, sale, override, reversal or clawback.
    pub kind: String,
    pub amount: MoneyView,
    pub status: String,
}

/// A recorded conversion, as first answered (a retry gets the same body back).
#[derive(Serialize, ToSchema)]
pub struct ConversionView {
    #[schema(example = "cnv_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub kind: String,
    pub invoice_id: String,
    pub customer_external_id: String,
    /// The partner credited (the first, for a deal's split); null when nothing attributed it.
    pub partner_id: Option<String>,
    pub program_id: Option<String>,
    /// deal, click, customer, partner or none.
    pub attribution: String,
    pub amount: Option<MoneyView>,
    pub occurred_at: String,
    pub commissions: Vec<ConversionCommissionView>,
    /// The fraud rules it tripped; its commissions are then held for review (`fraud_review`).
    pub flags: Vec<FraudFlagView>,
}

/// A fraud rule a conversion tripped.
#[derive(Serialize, ToSchema)]
pub struct FraudFlagView {
    /// self_referral, click_flood, fast_conversion or disposable_email.
    pub rule: String,
    pub detail: String,
}

/// Record a lead, sale or refund (owner, admin, finance). Exactly once per `(kind, invoice_id)`:
/// the same request again answers 200 with the first body and creates nothing; different details
/// for the same pair are 409.
#[utoipa::path(post, path = "/api/v1/conversions", tag = "commissions", request_body = CreateConversionRequest,
    responses((status = 201, body = ConversionView), (status = 200, body = ConversionView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_conversion(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateConversionRequest>,
) -> ApiResult<(StatusCode, Json<Json_>)> {
    let input = NewConversion {
        kind: body.kind,
        invoice_id: body.invoice_id,
        customer_external_id: body.customer_external_id,
        click_id: body.click_id,
        partner_id: body.partner_id,
        program_id: body.program_id,
        deal_id: body.deal_id,
        amount: body.amount.map(|a| (a.amount_minor, a.currency)),
        invoice_status: body.invoice_status,
        refunds_invoice_id: body.refunds_invoice_id,
        customer_email: body.customer_email,
        customer_ip: body.customer_ip,
        occurred_at: body.occurred_at,
    };
    let recorded = conversions::record(&state.ctx, &scope, &input).await?;
    let status = if recorded.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(recorded.answer)))
}

/// A conversion as it stands.
#[derive(Serialize, ToSchema)]
pub struct ConversionDetailView {
    pub id: String,
    pub kind: String,
    pub invoice_id: String,
    pub customer_external_id: String,
    pub partner_id: Option<String>,
    pub partner_name: Option<String>,
    pub program_id: Option<String>,
    pub plan_version: Option<i64>,
    pub attribution: String,
    pub deal_id: Option<String>,
    pub click_id: Option<String>,
    /// The referral link whose click attributed it.
    pub link_id: Option<String>,
    pub flags: Vec<FraudFlagView>,
    pub amount: Option<MoneyView>,
    /// open or paid (sales).
    pub invoice_status: Option<String>,
    pub invoice_paid_at: Option<String>,
    pub refunds_invoice_id: Option<String>,
    pub occurred_at: String,
    pub created_at: String,
    /// Its commissions now (in a list: empty).
    pub commissions: Vec<CommissionView>,
}

fn conversion_view(c: Conversion, earned: Vec<Commission>) -> ConversionDetailView {
    ConversionDetailView {
        id: c.id.to_string(),
        kind: c.kind.as_str().to_owned(),
        invoice_id: c.invoice_id,
        customer_external_id: c.customer_external_id,
        partner_id: c.partner_id.map(|p| p.to_string()),
        partner_name: c.partner_name,
        program_id: c.program_id.map(|p| p.to_string()),
        plan_version: c.plan_version,
        attribution: c.attribution.as_str().to_owned(),
        deal_id: c.deal_id.map(|d| d.to_string()),
        click_id: c.click_id,
        link_id: c.link_id.map(|l| l.to_string()),
        flags: c.flags.into_iter().map(|(rule, detail)| FraudFlagView { rule, detail }).collect(),
        amount: c.amount_minor.zip(c.currency).map(|(amount_minor, currency)| MoneyView { amount_minor, currency }),
        invoice_status: c.invoice_status,
        invoice_paid_at: c.invoice_paid_at.map(|t| t.to_rfc3339()),
        refunds_invoice_id: c.refunds_invoice_id,
        occurred_at: c.occurred_at.to_rfc3339(),
        created_at: c.created_at.to_rfc3339(),
        commissions: earned.into_iter().map(CommissionView::from).collect(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversionListParams {
    #[param(value_type = Option<String>)]
    pub partner_id: Option<String>,
    /// lead, sale or refund.
    pub kind: Option<String>,
    /// A sale's invoice and its refunds.
    pub invoice_id: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<ConversionId>>,
}

/// Conversions, newest first (staff).
#[utoipa::path(get, path = "/api/v1/conversions", tag = "commissions", params(ConversionListParams),
    responses((status = 200, body = Page<ConversionDetailView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_conversions(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<ConversionListParams>,
) -> ApiResult<Json<Page<ConversionDetailView>>> {
    let kind = match params.kind.as_deref() {
        Some(text) => Some(ConversionKind::parse(text).ok_or_else(|| ApiError::field("kind", "must be lead, sale or refund"))?),
        None => None,
    };
    let filter = ConversionFilter {
        partner_id: params.partner_id.as_deref().map(foreign_or_id),
        kind,
        invoice_id: params.invoice_id,
        cursor: Cursor::into_inner(params.cursor),
        limit: Some(PageLimit::of(params.limit)),
    };
    Ok(Json(Page::of(conversions::list(&state.ctx, &scope, &filter).await?, |c| conversion_view(c, Vec::new()))))
}

/// A partner filter: a malformed id names nobody the caller sees (an empty list, like a foreign one).
pub(crate) fn foreign_or_id(text: &str) -> PartnerId {
    PartnerId::parse(text.trim()).unwrap_or_else(|_| PartnerId::generate())
}

/// One conversion with its commissions as they stand (staff).
#[utoipa::path(get, path = "/api/v1/conversions/{id}", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = ConversionDetailView), (status = 404, body = Problem)))]
pub async fn find_conversion(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversionDetailView>> {
    let (conversion, earned) = conversions::get(&state.ctx, &scope, &path_id(&id)?).await?;
    Ok(Json(conversion_view(conversion, earned)))
}

/// What marking an invoice paid did.
#[derive(Serialize, ToSchema)]
pub struct InvoicePaidView {
    pub invoice_id: String,
    pub conversion_id: String,
    pub paid_at: String,
    /// false when it was already paid (nothing changed).
    pub changed: bool,
    pub commissions: Vec<CommissionView>,
}

impl From<InvoicePaid> for InvoicePaidView {
    fn from(p: InvoicePaid) -> Self {
        Self {
            invoice_id: p.invoice_id,
            conversion_id: p.conversion_id.to_string(),
            paid_at: p.paid_at.to_rfc3339(),
            changed: p.changed,
            commissions: p.commissions.into_iter().map(CommissionView::from).collect(),
        }
    }
}

/// Mark a sale's invoice paid (owner, admin, finance): its commissions become payable after the
/// plan's hold (at once with `hold_days: 0`). Safe to repeat. 404 for an invoice no sale names.
#[utoipa::path(post, path = "/api/v1/invoices/{invoice_id}/paid", tag = "commissions", params(("invoice_id" = String, Path)),
    responses((status = 200, body = InvoicePaidView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn invoice_paid(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(invoice_id): Path<String>,
) -> ApiResult<Json<InvoicePaidView>> {
    Ok(Json(conversions::mark_invoice_paid(&state.ctx, &scope, &invoice_id).await?.into()))
}

/// A commission.
#[derive(Serialize, ToSchema)]
pub struct CommissionView {
    #[schema(example = "com_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub partner_id: String,
    pub partner_name: String,
    pub program_id: Option<String>,
    pub conversion_id: Option<String>,
    /// lead, sale, override, bonus, reversal or clawback.
    pub kind: String,
    /// Negative for a reversal or a clawback.
    pub amount: MoneyView,
    /// pending, payable, in_payout, paid, on_hold or reversed.
    pub status: String,
    /// Why it is on hold: licence_expired, fraud_review or manual.
    pub hold_reason: Option<String>,
    /// Why a clawback, reversal or bonus exists: refund, bonus, spiff, or dispute_overturned (a
    /// positive reversal undoing a give-back after a dispute).
    pub reason_code: Option<String>,
    pub note: Option<String>,
    /// The sale amount it is a share of.
    pub basis_minor: Option<i64>,
    pub rate_bps: Option<i64>,
    /// The partner's share of the sale (a deal's credit split), in basis points.
    pub share_bps: Option<i64>,
    pub plan_version: Option<i64>,
    pub invoice_id: Option<String>,
    pub invoice_paid_at: Option<String>,
    /// When its hold ends (null while its invoice is unpaid).
    pub payable_at: Option<String>,
    /// The commission a reversal or clawback adjusts.
    pub adjusts_commission_id: Option<String>,
    pub payout_run_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Commission> for CommissionView {
    fn from(c: Commission) -> Self {
        Self {
            id: c.id.to_string(),
            partner_id: c.partner_id.to_string(),
            partner_name: c.partner_name,
            program_id: c.program_id.map(|p| p.to_string()),
            conversion_id: c.conversion_id.map(|p| p.to_string()),
            kind: c.kind.as_str().to_owned(),
            amount: MoneyView { amount_minor: c.amount_minor, currency: c.currency.code().to_owned() },
            status: c.status.as_str().to_owned(),
            hold_reason: c.hold_reason.map(|h| h.as_str().to_owned()),
            reason_code: c.reason_code,
            note: c.note,
            basis_minor: c.basis_minor,
            rate_bps: c.rate_bps,
            share_bps: c.share_bps,
            plan_version: c.plan_version,
            invoice_id: c.invoice_id,
            invoice_paid_at: c.invoice_paid_at.map(|t| t.to_rfc3339()),
            payable_at: c.payable_at.map(|t| t.to_rfc3339()),
            adjusts_commission_id: c.adjusts_commission_id.map(|t| t.to_string()),
            payout_run_id: c.payout_run_id,
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CommissionListParams {
    #[param(value_type = Option<String>)]
    pub partner_id: Option<String>,
    /// pending, payable, in_payout, paid, on_hold or reversed.
    pub status: Option<String>,
    /// lead, sale, override, bonus, reversal or clawback.
    pub kind: Option<String>,
    #[param(value_type = Option<String>)]
    pub program_id: Option<String>,
    #[param(value_type = Option<String>)]
    pub conversion_id: Option<String>,
    /// licence_expired, fraud_review or manual: the hold queue.
    pub hold_reason: Option<String>,
    pub currency: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<PageLimit>,
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor<CommissionId>>,
}

/// Commissions, newest first: a partner's admins and finance people read their organisation's
/// own (a distributor never its resellers'), staff those of the partners they see. A filter by
/// a partner whose money you may not read is an empty list.
#[utoipa::path(get, path = "/api/v1/commissions", tag = "commissions", params(CommissionListParams),
    responses((status = 200, body = Page<CommissionView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_commissions(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(params): ApiQuery<CommissionListParams>,
) -> ApiResult<Json<Page<CommissionView>>> {
    let filter = commission_filter(params)?;
    Ok(Json(Page::of(commissions::list(&state.ctx, &scope, &filter).await?, CommissionView::from)))
}

fn commission_filter(params: CommissionListParams) -> Result<CommissionFilter, ApiError> {
    let status = match params.status.as_deref() {
        Some(text) => Some(
            CommissionStatus::parse(text)
                .ok_or_else(|| ApiError::field("status", "must be pending, payable, in_payout, paid, on_hold or reversed"))?,
        ),
        None => None,
    };
    let kind = match params.kind.as_deref() {
        Some(text) => Some(
            CommissionKind::parse(text)
                .ok_or_else(|| ApiError::field("kind", "must be lead, sale, override, bonus, reversal or clawback"))?,
        ),
        None => None,
    };
    let hold_reason = match params.hold_reason.as_deref() {
        Some(text) => {
            Some(HoldReason::parse(text).ok_or_else(|| ApiError::field("hold_reason", "must be licence_expired, fraud_review or manual"))?)
        }
        None => None,
    };
    let currency = match params.currency.as_deref() {
        Some(text) => Some(
            trellis_core::Currency::parse(text)
                .ok()
                .filter(|c| c.code() == text)
                .ok_or_else(|| ApiError::field("currency", "must be an ISO 4217 code in capitals such as EUR"))?,
        ),
        None => None,
    };
    Ok(CommissionFilter {
        partner_id: params.partner_id.as_deref().map(foreign_or_id),
        status,
        kind,
        program_id: params.program_id.as_deref().map(|p| ProgramId::parse(p.trim()).unwrap_or_else(|_| ProgramId::generate())),
        conversion_id: params.conversion_id.as_deref().map(|c| ConversionId::parse(c.trim()).unwrap_or_else(|_| ConversionId::generate())),
        hold_reason,
        currency,
        created_from: None,
        created_before: None,
        cursor: Cursor::into_inner(params.cursor),
        limit: Some(PageLimit::of(params.limit)),
    })
}

/// One commission (404 when it is not your money).
#[utoipa::path(get, path = "/api/v1/commissions/{id}", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = CommissionView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn find_commission(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CommissionView>> {
    Ok(Json(commissions::get(&state.ctx, &scope, &path_id(&id)?).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardBonusRequest {
    pub partner_id: String,
    pub amount: AmountInput,
    /// bonus or spiff.
    pub kind: String,
    /// Why, in words the partner reads.
    pub reason: String,
    pub program_id: Option<String>,
}

/// Award a bonus or SPIFF (owner, admin, finance): payable at once (on hold while the partner's
/// licence has lapsed).
#[utoipa::path(post, path = "/api/v1/commissions", tag = "commissions", request_body = AwardBonusRequest,
    responses((status = 201, body = CommissionView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn award_bonus(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<AwardBonusRequest>,
) -> ApiResult<(StatusCode, Json<CommissionView>)> {
    let partner_id = PartnerId::parse(body.partner_id.trim()).map_err(|_| ApiError::field("partner_id", "no such partner"))?;
    let program_id = match body.program_id.as_deref() {
        Some(text) => Some(ProgramId::parse(text.trim()).map_err(|_| ApiError::field("program_id", "no such program"))?),
        None => None,
    };
    let input = NewBonus {
        partner_id,
        amount_minor: body.amount.amount_minor,
        currency: body.amount.currency,
        reason_code: body.kind,
        note: body.reason,
        program_id,
    };
    Ok((StatusCode::CREATED, Json(commissions::award_bonus(&state.ctx, &scope, input).await?.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldCommissionRequest {
    /// fraud_review or manual.
    pub reason: String,
}

/// Hold a pending or payable commission (owner, admin, finance): payout runs leave it out until
/// it is released.
#[utoipa::path(post, path = "/api/v1/commissions/{id}/hold", tag = "commissions", params(("id" = String, Path)), request_body = HoldCommissionRequest,
    responses((status = 200, body = CommissionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn hold_commission(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<HoldCommissionRequest>,
) -> ApiResult<Json<CommissionView>> {
    let commission_id: CommissionId = path_id(&id)?;
    let reason = match HoldReason::parse(&body.reason) {
        Some(reason @ (HoldReason::FraudReview | HoldReason::Manual)) => reason,
        _ => return Err(ApiError::field("reason", "must be fraud_review or manual")),
    };
    Ok(Json(commissions::hold(&state.ctx, &scope, &commission_id, reason).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectCommissionRequest {
    /// Why, for the partner (shown with the reversal); default "Rejected after review".
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Reject a commission held for review (owner, admin, finance): it is not owed. An equal negative
/// `reversal` (reason code `rejected`, with the note) nets its money and both become `reversed`.
/// A commission not held for review (or held for a lapsed licence) is 409.
#[utoipa::path(post, path = "/api/v1/commissions/{id}/reject", tag = "commissions", params(("id" = String, Path)), request_body = RejectCommissionRequest,
    responses((status = 200, body = CommissionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reject_commission(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectCommissionRequest>,
) -> ApiResult<Json<CommissionView>> {
    let commission_id: CommissionId = path_id(&id)?;
    let note = body.note.unwrap_or_default();
    if note.chars().count() > 500 {
        return Err(ApiError::field("note", "must be at most 500 characters"));
    }
    Ok(Json(commissions::reject(&state.ctx, &scope, &commission_id, &note).await?.into()))
}

/// Release a held commission (owner, admin, finance): it returns to payable, or to pending until
/// its hold period ends. A licence hold is released when the licence is renewed (409 before).
#[utoipa::path(post, path = "/api/v1/commissions/{id}/release", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = CommissionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn release_commission(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CommissionView>> {
    let commission_id: CommissionId = path_id(&id)?;
    Ok(Json(commissions::release_hold(&state.ctx, &scope, &commission_id).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct CurrencyBalanceView {
    pub currency: String,
    pub pending_minor: i64,
    /// Negative after a clawback of an already paid commission.
    pub payable_minor: i64,
    /// In an approved payout run, not yet confirmed paid.
    pub in_payout_minor: i64,
    pub paid_minor: i64,
}

impl From<CurrencyBalance> for CurrencyBalanceView {
    fn from(b: CurrencyBalance) -> Self {
        Self {
            currency: b.currency.code().to_owned(),
            pending_minor: b.pending_minor,
            payable_minor: b.payable_minor,
            in_payout_minor: b.in_payout_minor,
            paid_minor: b.paid_minor,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BalanceView {
    pub partner_id: String,
    pub balances: Vec<CurrencyBalanceView>,
}

/// A partner's balances per currency, from the ledger (its own admins and finance people, or
/// staff). 404 for a partner whose money is not yours (a distributor asking for a reseller's).
#[utoipa::path(get, path = "/api/v1/partners/{id}/balance", tag = "commissions", params(("id" = String, Path)),
    responses((status = 200, body = BalanceView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn partner_balance(State(state): State<AppState>, Caller(scope): Caller, Path(id): Path<String>) -> ApiResult<Json<BalanceView>> {
    let partner_id: PartnerId = path_id(&id)?;
    let balances = commissions::balance(&state.ctx, &scope, &partner_id).await?;
    Ok(Json(BalanceView { partner_id: partner_id.to_string(), balances: balances.into_iter().map(Into::into).collect() }))
}
