//! Leads (API.md "Leads"): what the vendor passes to partners, who holds each one now, and what
//! the caller may see of it.
//!
//! Visibility: a lead is partner-owned through its holder — the partner it is offered to or that
//! accepted it. The holder and its ancestors see it (`lead_ancestry`, one primary-key probe per
//! lead, and a partner's list walks its own rows); a lead with the vendor (new, or given back) is
//! seen by staff only. A partner sees the offers made to it and its descendants, never another
//! partner's: who else was or will be offered a lead is never shown to it.

use serde_json::json;
use trellis_core::{
    Currency, DealId, Domain, Email, Error, LeadId, LeadOfferId, Page, PartnerId, PartnerRole, ProgramId, Result, Timestamp, UserId,
    Validation, VendorRole, string_enum,
};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_directory::countries;
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Membership, Scope, ScopedTx};
use trellis_jobs::{JobOptions, enqueue};

use crate::matching::{Factor, Reason};
use crate::statuses::{self, Actor, LeadStatus};

string_enum!(
    /// How a lead came in.
    LeadSource {
        Api => "api",
        Import => "import",
        Form => "form",
    }
);

string_enum!(
    /// What became of one offer.
    OfferOutcome {
        Pending => "pending",
        Accepted => "accepted",
        Declined => "declined",
        Expired => "expired",
        Returned => "returned",
        Withdrawn => "withdrawn",
    }
);

/// The largest estimated value a lead may carry, in minor units (a typo guard).
pub const MAX_VALUE_MINOR: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone)]
pub struct Lead {
    pub id: LeadId,
    pub program_id: Option<ProgramId>,
    pub status: LeadStatus,
    pub company_name: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub domain: Option<String>,
    pub country: String,
    pub region: Option<String>,
    pub product_interest: Option<String>,
    /// Minor units and currency.
    pub estimated_value: Option<(i64, String)>,
    pub notes: String,
    pub external_id: Option<String>,
    pub source: LeadSource,
    pub holder_partner_id: Option<PartnerId>,
    pub holder_name: Option<String>,
    pub current_offer_id: Option<LeadOfferId>,
    pub offer_expires_at: Option<Timestamp>,
    pub status_reason: Option<String>,
    pub deal_id: Option<DealId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One offer of a lead to one partner.
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: LeadOfferId,
    pub lead_id: LeadId,
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub outcome: OfferOutcome,
    pub reason: Option<String>,
    pub score: f64,
    pub reasons: Vec<Reason>,
    /// `None`: the matching engine chose the partner.
    pub offered_by_user_id: Option<UserId>,
    pub offered_at: Timestamp,
    pub expires_at: Timestamp,
    pub answered_at: Option<Timestamp>,
}

/// A lead with the offers the caller may see (staff: all; a partner: those to it and its
/// descendants).
#[derive(Debug, Clone)]
pub struct LeadDetail {
    pub lead: Lead,
    pub offers: Vec<Offer>,
}

impl LeadDetail {
    /// The pending offer, when the caller sees it.
    pub fn current_offer(&self) -> Option<&Offer> {
        let id = self.lead.current_offer_id.as_ref()?;
        self.offers.iter().find(|o| &o.id == id)
    }
}

/// `POST /api/v1/leads` (and a row of an import, the public form).
#[derive(Debug, Clone, Default)]
pub struct NewLead {
    pub company_name: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub domain: Option<String>,
    pub country: String,
    pub region: Option<String>,
    pub product_interest: Option<String>,
    pub estimated_value: Option<(i64, Option<String>)>,
    pub notes: Option<String>,
    pub program_id: Option<ProgramId>,
    pub external_id: Option<String>,
}

/// Which leads a list shows.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub statuses: Vec<LeadStatus>,
    pub partner_id: Option<PartnerId>,
    pub program_id: Option<ProgramId>,
    pub country: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

pub(crate) const COLUMNS: &str = "l.id, l.program_id, l.status, l.company_name, l.contact_name, l.contact_email, l.domain, l.country,
     l.region, l.product_interest, l.estimated_value_minor, l.currency, l.notes, l.external_id, l.source, l.holder_partner_id,
     p.name AS holder_name, l.current_offer_id, l.offer_expires_at, l.status_reason, l.deal_id, l.created_at, l.updated_at";

pub(crate) const FROM: &str = " FROM leads l LEFT JOIN partners p ON p.workspace_id = l.workspace_id AND p.id = l.holder_partner_id";

pub(crate) fn parse_stored<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(text).ok_or_else(|| Error::Internal(format!("stored {what} {text}")))
}

pub(crate) fn from_row(row: &Row) -> Result<Lead> {
    let status: String = row.get("status")?;
    let source: String = row.get("source")?;
    let value: Option<i64> = row.get("estimated_value_minor")?;
    let currency: Option<String> = row.get("currency")?;
    Ok(Lead {
        id: row.get("id")?,
        program_id: row.get("program_id")?,
        status: parse_stored(&status, LeadStatus::parse, "lead status")?,
        company_name: row.get("company_name")?,
        contact_name: row.get("contact_name")?,
        contact_email: row.get("contact_email")?,
        domain: row.get("domain")?,
        country: row.get("country")?,
        region: row.get("region")?,
        product_interest: row.get("product_interest")?,
        estimated_value: value.zip(currency),
        notes: row.get("notes")?,
        external_id: row.get("external_id")?,
        source: parse_stored(&source, LeadSource::parse, "lead source")?,
        holder_partner_id: row.get("holder_partner_id")?,
        holder_name: row.get("holder_name")?,
        current_offer_id: row.get("current_offer_id")?,
        offer_expires_at: row.get("offer_expires_at")?,
        status_reason: row.get("status_reason")?,
        deal_id: row.get("deal_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Appends the visibility rule of leads (`l`) for the caller: a partner's own listing rows (one
/// primary-key probe); staff every lead, a restricted manager those with the vendor and those
/// held by partners they manage.
pub(crate) fn push_visible(tx: &ScopedTx, scope: &Scope, q: &mut Sql) {
    match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            q.push("EXISTS (SELECT 1 FROM lead_ancestry la WHERE la.workspace_id = l.workspace_id AND la.ancestor_id = ")
                .push_bind(partner_id)
                .push(" AND la.lead_id = l.id LIMIT 1 OFFSET 0)");
        }
        _ => {
            q.push("(l.holder_partner_id IS NULL OR ");
            tx.push_partner_filter(q, "l.holder_partner_id");
            q.push(")");
        }
    }
}

/// One lead the caller may see, in its transaction; 404 otherwise.
pub async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &LeadId) -> Result<Lead> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(FROM).push(" WHERE l.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND l.id = ").push_bind(id).push(" AND ");
    push_visible(tx, scope, &mut q);
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

pub(crate) fn reasons_json(reasons: &[Reason]) -> String {
    json!(reasons.iter().map(|r| json!({"factor": r.factor.as_str(), "value": r.value, "weight": r.weight})).collect::<Vec<_>>())
        .to_string()
}

fn reasons_of(text: &str) -> Vec<Reason> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(text) else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| {
            let factor = Factor::ALL.into_iter().find(|f| Some(f.as_str()) == item["factor"].as_str())?;
            Some(Reason { factor, value: item["value"].as_f64()?, weight: item["weight"].as_f64()? })
        })
        .collect()
}

fn offer_from_row(row: &Row) -> Result<Offer> {
    let outcome: String = row.get("outcome")?;
    let reasons: String = row.get("reasons")?;
    Ok(Offer {
        id: row.get("id")?,
        lead_id: row.get("lead_id")?,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        outcome: parse_stored(&outcome, OfferOutcome::parse, "offer outcome")?,
        reason: row.get("reason")?,
        score: row.get::<i64>("score_bp")? as f64 / 10_000.0,
        reasons: reasons_of(&reasons),
        offered_by_user_id: row.get("offered_by_user_id")?,
        offered_at: row.get("offered_at")?,
        expires_at: row.get("expires_at")?,
        answered_at: row.get("answered_at")?,
    })
}

/// The offers of a lead the caller sees, oldest first: a partner only those made to it or its
/// descendants (never who else was offered the lead).
pub async fn offers_in(tx: &mut ScopedTx, scope: &Scope, lead_id: &LeadId) -> Result<Vec<Offer>> {
    let mut q = Sql::build(
        "SELECT o.id, o.lead_id, o.partner_id, p.name AS partner_name, o.outcome, o.reason, o.score_bp, o.reasons, o.offered_by_user_id,
                o.offered_at, o.expires_at, o.answered_at
           FROM lead_offers o JOIN partners p ON p.workspace_id = o.workspace_id AND p.id = o.partner_id WHERE o.workspace_id = ",
    );
    q.push_bind(scope.workspace_id()).push(" AND o.lead_id = ").push_bind(lead_id).push(" AND ");
    tx.push_partner_filter(&mut q, "o.partner_id");
    q.push(" ORDER BY o.offered_at, o.id");
    tx.fetch_all(q).await?.iter().map(offer_from_row).collect()
}

/// What a partner sees of a lead: the contact's name and address only once the lead is accepted
/// (an offer shows the company, where and what; the person waits for a partner that commits).
fn as_seen_by(scope: &Scope, lead: Lead) -> Lead {
    if scope.partner().is_some() && lead.status == LeadStatus::Offered {
        Lead { contact_name: None, contact_email: None, ..lead }
    } else {
        lead
    }
}

/// `GET /api/v1/leads/{id}`.
pub async fn get(ctx: &Ctx, scope: &Scope, id: &LeadId) -> Result<LeadDetail> {
    let mut tx = scope.read(ctx).await?;
    let lead = as_seen_by(scope, find_in(&mut tx, scope, id).await?);
    let offers = offers_in(&mut tx, scope, id).await?;
    Ok(LeadDetail { lead, offers })
}

/// `GET /api/v1/leads`: newest first. A partner's list walks its own listing rows
/// (`lead_ancestry`), so a page costs its length whatever the size of its subtree.
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &LeadFilter) -> Result<Page<Lead>> {
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS);
    let order_column = match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            q.push(" FROM lead_ancestry la JOIN leads l ON l.workspace_id = la.workspace_id AND l.id = la.lead_id");
            q.push(" LEFT JOIN partners p ON p.workspace_id = l.workspace_id AND p.id = l.holder_partner_id");
            q.push(" WHERE la.workspace_id = ").push_bind(scope.workspace_id()).push(" AND la.ancestor_id = ").push_bind(partner_id);
            "la.lead_id"
        }
        _ => {
            q.push(FROM).push(" WHERE l.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
            push_visible(&tx, scope, &mut q);
            "l.id"
        }
    };
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        q.push(" AND l.status IN ").push_in_list(&statuses);
    }
    if let Some(partner_id) = &filter.partner_id {
        q.push(" AND l.holder_partner_id = ").push_bind(partner_id);
    }
    if let Some(program_id) = &filter.program_id {
        q.push(" AND l.program_id = ").push_bind(program_id);
    }
    if let Some(country) = &filter.country {
        q.push(" AND l.country = ").push_bind(country.to_ascii_uppercase());
    }
    if let Some(cursor) = &filter.cursor {
        q.push(&format!(" AND {order_column} < ")).push_bind(cursor.as_str());
    }
    q.push(&format!(" ORDER BY {order_column} DESC LIMIT ")).push_bind(trellis_core::page::fetch_limit(filter.limit));
    let rows: Vec<Lead> = tx.fetch_all(q).await?.iter().map(|row| from_row(row).map(|l| as_seen_by(scope, l))).collect::<Result<_>>()?;
    Ok(Page::from_rows(rows, filter.limit, |l| l.id.to_string()))
}

/// A lead's fields as checked, before anything is stored.
pub(crate) struct Checked {
    company_name: String,
    contact_name: Option<String>,
    contact_email: Option<String>,
    domain: Option<String>,
    country: String,
    region: Option<String>,
    product_interest: Option<String>,
    value_minor: Option<i64>,
    currency: Option<String>,
    notes: String,
    external_id: Option<String>,
}

/// The checks of a lead's fields that need no database (an import's preview runs them per row).
pub(crate) fn check_input(input: &NewLead) -> Result<Checked> {
    let mut v = Validation::new();
    let company_name = v.text("company_name", &input.company_name, 200);
    let contact_name = v.optional_text("contact_name", input.contact_name.as_deref(), 200);
    let contact_email = match input.contact_email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(text) => v.check("contact_email", Email::parse(text)).map(|e| Some(e.as_str().to_owned())),
        None => Some(None),
    };
    let domain = match input.domain.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(text) => v.check("domain", Domain::from_website(text)).map(|d| Some(d.as_str().to_owned())),
        None => Some(None),
    };
    let country = match countries::parse(input.country.trim()) {
        Some(code) => Some(code.to_owned()),
        None => {
            v.add("country", "must be an ISO 3166-1 alpha-2 country code, such as DE");
            None
        }
    };
    let region = v.optional_text("region", input.region.as_deref(), 100);
    let product_interest = v.optional_text("product_interest", input.product_interest.as_deref(), 100);
    let (value_minor, currency) = match &input.estimated_value {
        None => (Some(None), Some(None)),
        Some((amount, currency)) => {
            let amount = if (0..=MAX_VALUE_MINOR).contains(amount) {
                Some(Some(*amount))
            } else {
                v.add("estimated_value.amount_minor", "must be zero or more (and less than a quadrillion)");
                None
            };
            let currency = match currency.as_deref() {
                Some(code) => v.check("estimated_value.currency", Currency::parse(code)).map(|c| Some(c.code().to_owned())),
                None => Some(None),
            };
            (amount, currency)
        }
    };
    let notes = v.optional_text("notes", input.notes.as_deref(), 5000);
    let external_id = v.optional_text("external_id", input.external_id.as_deref(), 200);
    v.finish().map_err(Error::Validation)?;
    match (company_name, contact_name, contact_email, domain, country, region, product_interest, value_minor, currency, notes, external_id)
    {
        (
            Some(company_name),
            Some(contact_name),
            Some(contact_email),
            Some(domain),
            Some(country),
            Some(region),
            Some(product_interest),
            Some(value_minor),
            Some(currency),
            Some(notes),
            Some(external_id),
        ) => Ok(Checked {
            company_name,
            contact_name,
            contact_email,
            domain,
            country,
            region,
            product_interest,
            value_minor,
            currency,
            notes: notes.unwrap_or_default(),
            external_id,
        }),
        _ => Err(Error::Internal("validated".into())),
    }
}

/// The currency of a lead's value: the one given, else the program's, else the workspace's.
async fn currency_for(tx: &mut Tx, scope: &Scope, program_id: Option<&ProgramId>) -> Result<String> {
    if let Some(program_id) = program_id
        && let Some(row) = tx
            .fetch_optional(sql!("SELECT currency FROM programs WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), program_id))
            .await?
    {
        return Ok(row.get("currency")?);
    }
    let row = tx
        .fetch_optional(sql!("SELECT default_currency FROM workspaces WHERE id = $1", scope.workspace_id()))
        .await?
        .ok_or_else(|| Error::Internal("workspace".into()))?;
    Ok(row.get("default_currency")?)
}

/// Inserts a checked lead in the caller's transaction (staff's, or the public form's grant) and
/// audits it. An external id already taken answers 409 (an import skips those rows instead).
pub(crate) async fn insert_in(
    tx: &mut Tx,
    scope: &Scope,
    checked: Checked,
    program_id: Option<&ProgramId>,
    source: LeadSource,
    now: Timestamp,
) -> Result<Lead> {
    if let Some(program_id) = program_id {
        let found = tx
            .fetch_optional(sql!("SELECT 1 AS found FROM programs WHERE workspace_id = $1 AND id = $2", scope.workspace_id(), program_id))
            .await?;
        if found.is_none() {
            return Err(Error::invalid("program_id", "no such program"));
        }
    }
    if let Some(external_id) = &checked.external_id {
        let taken = tx
            .fetch_optional(sql!(
                "SELECT id FROM leads WHERE workspace_id = $1 AND external_id = $2",
                scope.workspace_id(),
                external_id.as_str()
            ))
            .await?;
        if taken.is_some() {
            return Err(Error::conflict(format!("a lead with the external id {external_id} exists already")));
        }
    }
    let currency = match (checked.value_minor, checked.currency) {
        (None, _) => None,
        (Some(_), Some(currency)) => Some(currency),
        (Some(_), None) => Some(currency_for(tx, scope, program_id).await?),
    };
    let id = LeadId::generate();
    tx.execute(sql!(
        "INSERT INTO leads (workspace_id, id, program_id, status, company_name, contact_name, contact_email, domain, country, region,
                            product_interest, estimated_value_minor, currency, notes, external_id, source, created_by_user_id, created_at, updated_at)
         VALUES ($1, $2, $3, 'new', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
        scope.workspace_id(),
        &id,
        program_id.cloned(),
        checked.company_name.as_str(),
        checked.contact_name.clone(),
        checked.contact_email.clone(),
        checked.domain.clone(),
        checked.country.as_str(),
        checked.region.clone(),
        checked.product_interest.clone(),
        checked.value_minor,
        currency.clone(),
        checked.notes.as_str(),
        checked.external_id.clone(),
        source.as_str(),
        scope.user_id().cloned(),
        now
    ))
    .await?;
    let entry = AuditEntry::new("lead.created", "lead", id.as_str())
        .set("source", source.as_str())
        .set("company_name", checked.company_name.clone())
        .set("country", checked.country.clone())
        .set("program_id", json!(program_id));
    audit::record(tx, scope, now, entry).await?;
    if crate::settings::of_in(tx, scope.workspace_id(), program_id).await?.auto_offer {
        let job = crate::routing::OfferNewLead { lead_id: id.clone() };
        enqueue(tx, &job, JobOptions::in_workspace(scope.workspace_id(), now).dedupe_key(format!("lead_auto_offer:{id}")), now).await?;
    }
    Ok(Lead {
        id,
        program_id: program_id.cloned(),
        status: LeadStatus::New,
        company_name: checked.company_name,
        contact_name: checked.contact_name,
        contact_email: checked.contact_email,
        domain: checked.domain,
        country: checked.country,
        region: checked.region,
        product_interest: checked.product_interest,
        estimated_value: checked.value_minor.zip(currency),
        notes: checked.notes,
        external_id: checked.external_id,
        source,
        holder_partner_id: None,
        holder_name: None,
        current_offer_id: None,
        offer_expires_at: None,
        status_reason: None,
        deal_id: None,
        created_at: now,
        updated_at: now,
    })
}

/// Whether the caller works leads for the channel team (creates, offers, closes).
pub fn require_lead_manager(scope: &Scope, what: &str) -> Result<()> {
    if scope.is_system() {
        return Ok(());
    }
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, what)
}

/// `POST /api/v1/leads` (owner, admin, channel manager).
pub async fn create(ctx: &Ctx, scope: &Scope, input: NewLead) -> Result<Lead> {
    if scope.partner().is_some() {
        return Err(Error::forbidden("leads come from the vendor; partners receive them as offers"));
    }
    require_lead_manager(scope, "create leads")?;
    let checked = check_input(&input)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let lead = insert_in(&mut tx, scope, checked, input.program_id.as_ref(), LeadSource::Api, now).await?;
    tx.commit().await?;
    Ok(lead)
}

/// The holder's people who work a lead: the holding partner's own admins and sales people (its
/// ancestors see the lead but do not answer for the holder).
pub(crate) fn require_holder(scope: &Scope, lead: &Lead, what: &str) -> Result<PartnerId> {
    match scope.membership() {
        Membership::Partner { partner_id, role, .. } => {
            if lead.holder_partner_id.as_ref() != Some(partner_id) {
                return Err(Error::forbidden(format!("only the partner the lead is offered to may {what}")));
            }
            if !matches!(role, PartnerRole::Admin | PartnerRole::Sales) {
                return Err(Error::forbidden(format!("only a partner's admins and sales people may {what}")));
            }
            Ok(partner_id.clone())
        }
        // Demo seeding answers as the holder would.
        Membership::System => lead.holder_partner_id.clone().ok_or_else(|| Error::conflict("the lead is with no partner")),
        Membership::Staff { .. } => Err(Error::forbidden(format!("only the partner the lead is offered to may {what}"))),
    }
}

/// Checks a change against the transition table; 409 with the reason otherwise.
pub(crate) fn transition(from: LeadStatus, to: LeadStatus, actor: Actor) -> Result<&'static statuses::Transition> {
    statuses::find(from, to, actor).ok_or_else(|| {
        Error::conflict(format!("a lead that is {} cannot become {}", from.label().to_lowercase(), to.label().to_lowercase()))
    })
}

/// `POST /api/v1/leads/{id}/close` `{reason}` (staff): the lead is not worth passing on; a
/// pending offer is withdrawn.
pub async fn close(ctx: &Ctx, scope: &Scope, id: &LeadId, reason: &str) -> Result<Lead> {
    let mut v = Validation::new();
    let reason = v.text("reason", reason, 1000);
    v.finish().map_err(Error::Validation)?;
    let reason = reason.unwrap_or_default();
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let lead = find_in(&mut tx, scope, id).await?;
    require_lead_manager(scope, "close leads")?;
    let tr = transition(lead.status, LeadStatus::Closed, Actor::Staff)?;
    let mut tx = tx.into_granted(&crate::routing::LEAD_ROUTING).await?;
    if let Some(offer_id) = &lead.current_offer_id {
        crate::routing::answer_offer_in(&mut tx, scope, offer_id, OfferOutcome::Withdrawn, Some(&reason), now).await?;
    }
    tx.execute(sql!(
        "UPDATE leads SET status = 'closed', status_reason = $3, holder_partner_id = NULL, current_offer_id = NULL, offer_expires_at = NULL,
                updated_at = $4
          WHERE workspace_id = $1 AND id = $2 AND status = $5",
        scope.workspace_id(),
        id,
        reason.as_str(),
        now,
        lead.status.as_str()
    ))
    .await?;
    let entry =
        AuditEntry::new(tr.action, "lead", id.as_str()).change("status", lead.status.as_str(), "closed").set("reason", reason.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    let mut read = scope.read(ctx).await?;
    find_in(&mut read, scope, id).await
}
