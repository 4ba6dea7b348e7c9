//! `/console/conversions`: the leads, sales and refunds the vendor's systems reported, of the
//! partners the caller sees (every staff role reads them), filtered by kind, partner (the bounded
//! picker) and invoice; a conversion's page shows how it was attributed and the commissions it
//! earned as they stand now, with the Hold and Release buttons for owners, admins and finance.

use askama::Template;
use axum::extract::{Path, State};
use trellis_core::{ConversionId, PartnerId};
use trellis_incentives::conversions::{self, Attribution, Conversion, ConversionFilter, ConversionKind};
use trellis_web::AppState;

use super::commissions::{SECTION, rows};
use super::deals::{PARTNER_SEARCH, picker_choices};
use crate::display;
use crate::forms::{Choice, FormView, UrlQuery};
use crate::guards::StaffPage;
use crate::listing::{ListState, ListView};
use crate::money_views::CommissionRow;
use crate::pages::{Layout, PageResult, path_id, render};
use crate::routes::{PageRouter, get};

const LIST: &str = "/console/conversions";
const FILTER_FIELDS: &[&str] = &["kind", "partner", "invoice"];

struct ConversionRow {
    id: String,
    date: String,
    kind: &'static str,
    invoice: String,
    partner: String,
    amount: String,
    invoice_status: String,
    attribution: &'static str,
}

fn kind_label(kind: ConversionKind) -> &'static str {
    match kind {
        ConversionKind::Lead => "Lead",
        ConversionKind::Sale => "Sale",
        ConversionKind::Refund => "Refund",
    }
}

fn attribution_label(a: Attribution) -> &'static str {
    match a {
        Attribution::Deal => "By the deal it names",
        Attribution::Click => "By a referral link's click",
        Attribution::Customer => "By the customer's earlier attribution",
        Attribution::Partner => "By the partner named",
        Attribution::None => "No partner: earns nothing",
    }
}

impl ConversionRow {
    fn new(c: &Conversion) -> Self {
        Self {
            id: c.id.to_string(),
            date: display::time(c.occurred_at),
            kind: kind_label(c.kind),
            invoice: match &c.refunds_invoice_id {
                Some(refunded) => format!("{} (refunds {refunded})", c.invoice_id),
                None => c.invoice_id.clone(),
            },
            partner: c.partner_name.clone().unwrap_or_else(|| "—".to_owned()),
            amount: match (c.amount_minor, &c.currency) {
                (Some(minor), Some(code)) => display::money(minor, code),
                _ => "—".to_owned(),
            },
            invoice_status: match (c.kind, c.invoice_status.as_deref(), c.invoice_paid_at) {
                (ConversionKind::Sale, _, Some(at)) => format!("Paid {}", display::time(at).chars().take(10).collect::<String>()),
                (ConversionKind::Sale, Some(status), None) => format!("Invoice {}", display::words(status)),
                (ConversionKind::Sale, None, None) => "Invoice not paid yet".to_owned(),
                _ => String::new(),
            },
            attribution: attribution_label(c.attribution),
        }
    }
}

#[derive(Template)]
#[template(path = "console/conversions.html")]
struct ConversionsPage {
    layout: Layout,
    filters: FormView,
    kinds: Vec<Choice>,
    partners: Vec<Choice>,
    partner_q: String,
    partner_search: &'static str,
    rows: Vec<ConversionRow>,
    list: ListView,
    is_filtered: bool,
}

/// `GET /console/conversions?kind=&partner=&invoice=&cursor=`
async fn list(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let kind = query.optional("kind").and_then(ConversionKind::parse);
    let partner = query.optional("partner").and_then(|p| p.parse::<PartnerId>().ok());
    let invoice = query.optional("invoice").map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned);
    let values = vec![
        ("kind", kind.map(|k| k.as_str().to_owned()).unwrap_or_default()),
        ("partner", partner.as_ref().map(ToString::to_string).unwrap_or_default()),
        ("invoice", invoice.clone().unwrap_or_default()),
    ];
    let list = ListState::read(LIST, &query, values.clone(), &["newest"], "newest");
    let filter = ConversionFilter {
        partner_id: partner,
        kind,
        invoice_id: invoice,
        cursor: query.optional("cursor").and_then(|c| c.parse().ok()),
        limit: None,
    };
    let page = conversions::list(&state.ctx, scope, &filter).await?;
    let mut tx = scope.read(&state.ctx).await?;
    let partner_q = query.value("partner_q").trim();
    let partners = picker_choices(&mut tx, scope, partner_q, false, query.value("partner")).await?;
    drop(tx);
    let view = list.uncounted_view(page.items.len(), page.next_cursor.clone(), "conversions");
    let page_view = ConversionsPage {
        layout: Layout::signed(&state, &signed, "Conversions", SECTION).await,
        filters: FormView::filled("filter", FILTER_FIELDS, values),
        kinds: ConversionKind::ALL.iter().map(|k| Choice { value: k.as_str().to_owned(), label: kind_label(*k).to_owned() }).collect(),
        partners,
        partner_q: partner_q.to_owned(),
        partner_search: PARTNER_SEARCH,
        rows: page.items.iter().map(ConversionRow::new).collect(),
        is_filtered: list.is_filtered(),
        list: view,
    };
    Ok(render(&page_view))
}

#[derive(Template)]
#[template(path = "console/conversion.html")]
struct ConversionPage {
    layout: Layout,
    c: ConversionRow,
    customer: String,
    deal_id: String,
    plan_version: String,
    /// The fraud rules it tripped, in words (its commissions wait in the hold queue).
    flags: Vec<String>,
    commissions: Vec<CommissionRow>,
    csrf_token: String,
    return_to: String,
}

/// `GET /console/conversions/{id}`
async fn show(
    State(state): State<AppState>,
    StaffPage { signed, role }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let id: ConversionId = path_id(&id)?;
    let (conversion, earned) = conversions::get(&state.ctx, &signed.scope, &id).await?;
    let can_write = super::commissions::writes_money(role);
    let page = ConversionPage {
        layout: Layout::signed(&state, &signed, format!("{} {}", kind_label(conversion.kind), conversion.invoice_id), SECTION)
            .await
            .with_notice(&query),
        customer: conversion.customer_external_id.clone(),
        deal_id: conversion.deal_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        plan_version: conversion.plan_version.map(|v| format!("version {v}")).unwrap_or_default(),
        flags: conversion.flags.iter().map(|(_, detail)| detail.clone()).collect(),
        commissions: rows(&earned, role),
        csrf_token: if can_write { signed.session.csrf_token.clone() } else { String::new() },
        return_to: format!("{LIST}/{id}"),
        c: ConversionRow::new(&conversion),
    };
    Ok(render(&page))
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(LIST, get(list)).route("/console/conversions/{id}", get(show))
}
