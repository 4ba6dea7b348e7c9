//! A partner's payout method (API.md "Commissions, balances, payouts"; ADR 0018). The views live
//! here with their handlers: nothing else answers them.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use trellis_core::PartnerId;
use trellis_incentives::payout_methods::{self, PayoutMethod, PayoutMethodInput, PayoutMethodType};
use trellis_web::AppState;
use trellis_web::problem::{ApiResult, Problem};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Caller, path_id};

/// How payouts are paid: `sepa`, a SEPA credit transfer.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum PayoutMethodKind {
    Sepa,
}

impl From<PayoutMethodKind> for PayoutMethodType {
    fn from(kind: PayoutMethodKind) -> Self {
        match kind {
            PayoutMethodKind::Sepa => PayoutMethodType::Sepa,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPayoutMethodRequest {
    #[serde(rename = "type")]
    pub method_type: PayoutMethodKind,
    /// The account holder's name as the bank knows it, at most 70 characters (the SEPA limit).
    #[schema(max_length = 70, example = "Northwind GmbH")]
    pub account_holder: String,
    /// Spaces allowed, either case; the length of its country and the ISO 13616 check digits are
    /// verified.
    #[schema(example = "DE89 3704 0044 0532 0130 00")]
    pub iban: String,
    /// 8 or 11 characters (ISO 9362); optional for SEPA.
    #[schema(example = "COBADEFFXXX")]
    pub bic: Option<String>,
}

/// A payout method: the IBAN masked (its country and last four characters), never in clear.
#[derive(Serialize, ToSchema)]
pub struct PayoutMethodView {
    #[schema(example = "pm_01jgx2m5k8b3q7r9t0vwxyz123")]
    pub id: String,
    pub partner_id: String,
    /// `sepa`.
    #[serde(rename = "type")]
    pub method_type: String,
    pub account_holder: String,
    #[schema(example = "DE•••• 3000")]
    pub iban_masked: String,
    pub bic: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The end of the hold on the partner's payouts after the last replacement (72 hours); null
    /// for a first method. Payouts wait while it is in the future.
    pub cooling_off_until: Option<String>,
}

impl From<PayoutMethod> for PayoutMethodView {
    fn from(m: PayoutMethod) -> Self {
        Self {
            id: m.id.to_string(),
            partner_id: m.partner_id.to_string(),
            method_type: m.method_type.as_str().to_owned(),
            account_holder: m.account_holder,
            iban_masked: m.iban_masked,
            bic: m.bic,
            created_at: m.created_at.to_rfc3339(),
            updated_at: m.updated_at.to_rfc3339(),
            cooling_off_until: m.cooling_off_until.map(|t| t.to_rfc3339()),
        }
    }
}

/// The partner's payout method (its admins and finance people, or staff owner, admin and
/// finance). 404 when it has none, and for another organisation's money: a distributor does not
/// read its resellers' methods.
#[utoipa::path(get, path = "/api/v1/partners/{id}/payout-method", tag = "payouts", params(("id" = String, Path)),
    responses((status = 200, body = PayoutMethodView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn find_payout_method(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutMethodView>> {
    let partner_id: PartnerId = path_id(&id)?;
    Ok(Json(payout_methods::get(&state.ctx, &scope, &partner_id).await?.into()))
}

/// Set or replace the partner's payout method (the same callers as reading it); 200 also the
/// first time. Replacing it holds the partner's payouts for 72 hours (`cooling_off_until`) and
/// emails its admins; the same details again change nothing. 409 when the server has no
/// `TRELLIS_SECRET_KEY` to encrypt bank details with.
#[utoipa::path(put, path = "/api/v1/partners/{id}/payout-method", tag = "payouts", params(("id" = String, Path)), request_body = SetPayoutMethodRequest,
    responses((status = 200, body = PayoutMethodView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_payout_method(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetPayoutMethodRequest>,
) -> ApiResult<Json<PayoutMethodView>> {
    let partner_id: PartnerId = path_id(&id)?;
    let input =
        PayoutMethodInput { method_type: body.method_type.into(), account_holder: body.account_holder, iban: body.iban, bic: body.bic };
    Ok(Json(payout_methods::set(&state.ctx, &scope, &partner_id, &input).await?.into()))
}
