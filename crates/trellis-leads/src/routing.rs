//! Routing: who the candidates for a lead are and how they rank ([`crate::matching`] on facts read
//! here), offers to one partner at a time with an SLA, the partner's answer (accept, decline,
//! return, convert into a deal), and the SLA clock that expires an offer and moves the lead to the
//! next candidate — all through the job queue, enqueued in the offer's transaction.
//!
//! Candidates are active partners without a compliance blocker, enrolled in a program that takes
//! deal registrations (the lead's program when it names one), serving the lead's country (their
//! own country or a territory of their profile; all such partners when none serves it), with room
//! for another lead. What a match reads grows with the candidates in the lead's country, never
//! with the deals or offers of the workspace: deal records come from `lead_partner_stats` (rebuilt
//! daily), offer records are moved by each answer.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use trellis_core::{DealId, Email, Error, LeadId, LeadOfferId, PartnerId, Result, Timestamp, UserId, Validation, WorkspaceId};
use trellis_db::{Sql, SystemGrant, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope};
use trellis_jobs::{Job, JobOptions, NewEmail, enqueue, queue_email};
use trellis_records::{compliance, dates};

use crate::leads::{self, Lead, LeadDetail, OfferOutcome};
use crate::matching::{self, Factor, LeadFacts, Match, OfferRecord, PartnerFacts, Record, Weights};
use crate::settings::{self, LeadSettings};
use crate::statuses::{Actor, LeadStatus};

/// The matching engine and the SLA clock work for no person and across partners.
pub const LEAD_ROUTING: SystemGrant = SystemGrant {
    name: "lead_routing",
    reason: "the matching engine reads every candidate partner's figures and moves a lead from one partner to the next (whom the first may not see); the SLA clock expires offers; no person runs them",
};

/// The most candidates one match scores in full: when more serve the lead's country, the best by
/// [`push_prior`] (the parts of the score SQL reads cheaply) are scored.
pub const MAX_CANDIDATES: i64 = 5_000;

/// Weights bound into SQL as whole numbers (SQL here binds no floats): the pre-selection only
/// orders by them, and a common scale keeps the order.
const WEIGHT_SCALE: f64 = 1_000_000.0;

/// A candidate with what the matching needs of it.
struct CandidateFacts {
    partner_id: PartnerId,
    name: String,
    countries: Vec<String>,
    regions: Vec<String>,
    products: Vec<String>,
    tier_level: f64,
    similar: Record,
    overall: Record,
    days_to_close: Option<f64>,
    offers: OfferRecord,
    response_hours: Option<f64>,
    open_leads: u32,
    capacity: u32,
}

impl CandidateFacts {
    fn facts(&self) -> PartnerFacts<'_> {
        PartnerFacts {
            countries: &self.countries,
            regions: &self.regions,
            products: &self.products,
            tier_level: self.tier_level,
            certifications: 0,
            similar: self.similar,
            overall: self.overall,
            median_days_to_close: self.days_to_close,
            offers: self.offers,
            median_response_hours: self.response_hours,
            open_leads: self.open_leads,
            capacity: self.capacity,
        }
    }
}

/// A ranked candidate as the console shows it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub partner_id: PartnerId,
    pub partner_name: String,
    pub matched: Match<PartnerId>,
    pub open_leads: u32,
    pub capacity: u32,
    /// Offered this lead before (declined, let expire or returned it): the engine passes over it.
    pub offered_before: bool,
}

fn lead_facts(lead: &Lead) -> LeadFacts<'_> {
    LeadFacts { country: &lead.country, region: lead.region.as_deref(), product: lead.product_interest.as_deref() }
}

/// Whom [`eligible_in`] looks for.
enum Among<'a> {
    /// The engine: the partners serving the lead's country (all of them when none does); beyond
    /// [`MAX_CANDIDATES`] the best by [`push_prior`] under these weights, not the first by id, so
    /// that a large country's partners all get their chance.
    Serving(&'a Weights),
    /// A manual offer or a pass-on: this partner, if it can take leads.
    Only(&'a PartnerId),
}

/// The eligible partners for a lead: active, compliant, enrolled in a program that takes deal
/// registrations (the lead's, when it names one).
async fn eligible_in(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    lead: &Lead,
    among: Among<'_>,
    now: Timestamp,
) -> Result<Vec<(PartnerId, String, Option<String>)>> {
    let only = match &among {
        Among::Serving(_) => None,
        Among::Only(partner_id) => Some(*partner_id),
    };
    // `ranked`: ordered by the pre-selection's prior, else by id (all of them fit).
    let query = |territory: bool, ranked: Option<&Weights>, limit: i64| {
        let mut q = Sql::build("SELECT p.id, p.name, p.country FROM partners p");
        if ranked.is_some() {
            q.push(" LEFT JOIN lead_partner_stats so ON so.workspace_id = p.workspace_id AND so.partner_id = p.id AND so.country = ''");
            q.push(" LEFT JOIN lead_partner_stats sc ON sc.workspace_id = p.workspace_id AND sc.partner_id = p.id AND sc.country = ")
                .push_bind(lead.country.as_str());
        }
        q.push(" WHERE p.workspace_id = ").push_bind(workspace_id).push(" AND p.status = 'active'");
        q.push(
            " AND EXISTS (SELECT 1 FROM enrollments e JOIN programs pr ON pr.workspace_id = e.workspace_id AND pr.id = e.program_id
               WHERE e.workspace_id = p.workspace_id AND e.partner_id = p.id AND pr.deal_registration = ",
        )
        .push_bind(true);
        if let Some(program_id) = &lead.program_id {
            q.push(" AND e.program_id = ").push_bind(program_id);
        }
        q.push(")");
        if let Some(partner_id) = only {
            q.push(" AND p.id = ").push_bind(partner_id);
        }
        if territory {
            q.push(" AND (p.country = ").push_bind(lead.country.as_str());
            q.push(" OR p.id IN (SELECT t.partner_id FROM partner_profile_terms t WHERE t.workspace_id = ").push_bind(workspace_id);
            q.push(" AND t.kind = 'country' AND t.match_key = ").push_bind(lead.country.to_lowercase()).push("))");
        }
        compliance::push_compliant(&mut q, "p", dates::today(now));
        q.push(" ORDER BY ");
        if let Some(weights) = ranked {
            push_prior(&mut q, workspace_id, lead, weights);
            q.push(" DESC, ");
        }
        q.push("p.id LIMIT ").push_bind(limit);
        q
    };
    let Among::Serving(weights) = among else {
        let rows = tx.fetch_all(query(false, None, 1)).await?;
        return rows.iter().map(|r| Ok((r.get("id")?, r.get("name")?, r.get("country")?))).collect();
    };
    // Where they all fit, reading them by id is cheaper than ordering them: the prior (about 5 µs
    // a partner in SQL) is paid only where a country holds more.
    let mut territory = true;
    let mut rows = tx.fetch_all(query(territory, None, MAX_CANDIDATES + 1)).await?;
    if rows.is_empty() {
        territory = false;
        rows = tx.fetch_all(query(territory, None, MAX_CANDIDATES + 1)).await?;
    }
    if rows.len() as i64 > MAX_CANDIDATES {
        rows = tx.fetch_all(query(territory, Some(weights), MAX_CANDIDATES)).await?;
    }
    rows.iter().map(|r| Ok((r.get("id")?, r.get("name")?, r.get("country")?))).collect()
}

/// The part of a candidate's score that SQL computes without reading more than its own rows:
/// region and product (from the profile's terms, through their index), and win rate, closing
/// speed, acceptance and responsiveness (from its figures, `so` overall and `sc` in the lead's
/// country), each as [`matching::features`] computes it, times its weight. Tier, certifications
/// and capacity are left to the full score. Countries need no term: every candidate of the
/// territory pass serves the lead's.
fn push_prior(q: &mut Sql, workspace_id: &WorkspaceId, lead: &Lead, weights: &Weights) {
    let weight = |factor: Factor| (weights.of(factor) * WEIGHT_SCALE).round() as i64;
    let term_match = |q: &mut Sql, kinds: &[&str], value: &str| {
        q.push("(CASE WHEN p.id IN (SELECT t.partner_id FROM partner_profile_terms t WHERE t.workspace_id = ").push_bind(workspace_id);
        q.push(" AND t.kind IN ").push_in_list(kinds).push(" AND t.match_key = ").push_bind(value.to_lowercase());
        q.push(") THEN 1.0 ELSE 0.0 END)");
    };
    q.push("(0.0");
    if let Some(region) = lead.region.as_deref() {
        // Territory: 1 with the region, 0.4 with the country only.
        q.push(" + ").push_bind(weight(Factor::Territory)).push(" * (0.4 + 0.6 * ");
        term_match(q, &["region"], region);
        q.push(")");
    }
    if let Some(product) = lead.product_interest.as_deref() {
        q.push(" + ").push_bind(weight(Factor::Product)).push(" * ");
        term_match(q, &["specialisation", "product"], product);
    }
    let overall = "((COALESCE(so.won, 0) + 1.0) / (COALESCE(so.won, 0) + COALESCE(so.lost, 0) + 2.0))";
    q.push(" + ").push_bind(weight(Factor::WinRate));
    q.push(&format!(" * ((COALESCE(sc.won, 0) + 2.0 * {overall}) / (COALESCE(sc.won, 0) + COALESCE(sc.lost, 0) + 2.0))"));
    q.push(" + ").push_bind(weight(Factor::Speed));
    q.push(
        " * (CASE WHEN COALESCE(so.won, 0) + COALESCE(so.lost, 0) = 0 THEN 0.5
                  ELSE 1.0 / (1.0 + so.close_days_sum / (so.won + so.lost + 0.0) / 30.0) END)",
    );
    q.push(" + ").push_bind(weight(Factor::Acceptance));
    q.push(" * ((COALESCE(so.offers_accepted, 0) + 1.0) / (COALESCE(so.offers_accepted, 0) + COALESCE(so.offers_refused, 0) + 2.0))");
    q.push(" + ").push_bind(weight(Factor::Responsiveness));
    q.push(
        " * (CASE WHEN COALESCE(so.offers_accepted, 0) + COALESCE(so.offers_refused, 0) = 0 THEN 0.5
                  ELSE 1.0 / (1.0 + so.response_minutes_sum / 60.0 / (so.offers_accepted + so.offers_refused + 0.0) / 24.0) END)",
    );
    q.push(")");
}

/// Reads the matching's facts of `partners` (profile terms, tier, figures, open leads, limits):
/// a handful of queries over the candidates' own rows, in chunks.
async fn facts_in(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    lead: &Lead,
    settings: &LeadSettings,
    partners: Vec<(PartnerId, String, Option<String>)>,
) -> Result<Vec<CandidateFacts>> {
    let mut out: Vec<CandidateFacts> = partners
        .into_iter()
        .map(|(partner_id, name, country)| CandidateFacts {
            partner_id,
            name,
            countries: country.into_iter().collect(),
            regions: Vec::new(),
            products: Vec::new(),
            tier_level: 0.0,
            similar: Record::default(),
            overall: Record::default(),
            days_to_close: None,
            offers: OfferRecord::default(),
            response_hours: None,
            open_leads: 0,
            capacity: settings.capacity as u32,
        })
        .collect();
    for chunk in out.chunks_mut(500) {
        let index: HashMap<PartnerId, usize> = chunk.iter().enumerate().map(|(i, c)| (c.partner_id.clone(), i)).collect();
        let ids: Vec<PartnerId> = chunk.iter().map(|c| c.partner_id.clone()).collect();
        let mut q = Sql::build("SELECT partner_id, kind, value FROM partner_profile_terms WHERE workspace_id = ");
        q.push_bind(workspace_id).push(" AND partner_id IN ").push_in_list(&ids);
        for row in tx.fetch_all(q).await? {
            let Some(i) = index.get(&row.get::<PartnerId>("partner_id")?) else { continue };
            let kind: String = row.get("kind")?;
            let value: String = row.get("value")?;
            let c = &mut chunk[*i];
            match kind.as_str() {
                "country" => c.countries.push(value),
                "region" => c.regions.push(value),
                _ => c.products.push(value),
            }
        }
        // Tier: its rank over the top rank of the program (the best of its programs without one).
        let mut q = Sql::build(
            "SELECT e.partner_id, t.rank, (SELECT MAX(t2.rank) FROM tiers t2 WHERE t2.workspace_id = e.workspace_id AND t2.program_id = e.program_id) AS top
               FROM enrollments e JOIN tiers t ON t.workspace_id = e.workspace_id AND t.id = e.tier_id WHERE e.workspace_id = ",
        );
        q.push_bind(workspace_id).push(" AND e.partner_id IN ").push_in_list(&ids);
        if let Some(program_id) = &lead.program_id {
            q.push(" AND e.program_id = ").push_bind(program_id);
        }
        for row in tx.fetch_all(q).await? {
            let Some(i) = index.get(&row.get::<PartnerId>("partner_id")?) else { continue };
            let (rank, top): (i64, Option<i64>) = (row.get("rank")?, row.get("top")?);
            let level = match top {
                Some(top) if top > 0 => rank as f64 / top as f64,
                _ => 0.0,
            };
            chunk[*i].tier_level = chunk[*i].tier_level.max(level);
        }
        let mut q = Sql::build(
            "SELECT partner_id, country, won, lost, close_days_sum, offers_accepted, offers_refused, response_minutes_sum
               FROM lead_partner_stats WHERE workspace_id = ",
        );
        q.push_bind(workspace_id).push(" AND partner_id IN ").push_in_list(&ids);
        q.push(" AND country IN ").push_in_list(&["", lead.country.as_str()]);
        for row in tx.fetch_all(q).await? {
            let Some(i) = index.get(&row.get::<PartnerId>("partner_id")?) else { continue };
            let country: String = row.get("country")?;
            let (won, lost): (i64, i64) = (row.get("won")?, row.get("lost")?);
            let record = Record { won: won as u32, lost: lost as u32 };
            let c = &mut chunk[*i];
            if country.is_empty() {
                c.overall = record;
                let closed = won + lost;
                if closed > 0 {
                    c.days_to_close = Some(row.get::<i64>("close_days_sum")? as f64 / closed as f64);
                }
                let (accepted, refused): (i64, i64) = (row.get("offers_accepted")?, row.get("offers_refused")?);
                c.offers = OfferRecord { accepted: accepted as u32, refused: refused as u32 };
                if accepted + refused > 0 {
                    c.response_hours = Some(row.get::<i64>("response_minutes_sum")? as f64 / 60.0 / (accepted + refused) as f64);
                }
            } else {
                c.similar = record;
            }
        }
        let mut q = Sql::build("SELECT holder_partner_id, COUNT(*) AS n FROM leads WHERE workspace_id = ");
        q.push_bind(workspace_id).push(" AND status IN ('offered', 'accepted') AND holder_partner_id IN ").push_in_list(&ids);
        q.push(" GROUP BY holder_partner_id");
        for row in tx.fetch_all(q).await? {
            if let Some(i) = index.get(&row.get::<PartnerId>("holder_partner_id")?) {
                chunk[*i].open_leads = row.get::<i64>("n")? as u32;
            }
        }
        let mut q = Sql::build("SELECT partner_id, capacity FROM lead_partner_limits WHERE workspace_id = ");
        q.push_bind(workspace_id).push(" AND partner_id IN ").push_in_list(&ids);
        for row in tx.fetch_all(q).await? {
            if let Some(i) = index.get(&row.get::<PartnerId>("partner_id")?) {
                chunk[*i].capacity = row.get::<i64>("capacity")? as u32;
            }
        }
    }
    Ok(out)
}

/// The partners offered this lead before.
async fn offered_before_in(tx: &mut Tx, workspace_id: &WorkspaceId, lead_id: &LeadId) -> Result<Vec<PartnerId>> {
    let rows = tx
        .fetch_all(sql!("SELECT DISTINCT partner_id FROM lead_offers WHERE workspace_id = $1 AND lead_id = $2", workspace_id, lead_id))
        .await?;
    rows.iter().map(|r| Ok(r.get("partner_id")?)).collect()
}

/// Every candidate with room for the lead, best first (in the routing grant's transaction).
async fn ranked_in(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    lead: &Lead,
    settings: &LeadSettings,
    now: Timestamp,
) -> Result<Vec<Candidate>> {
    let eligible = eligible_in(tx, workspace_id, lead, Among::Serving(settings.in_force()), now).await?;
    let facts = facts_in(tx, workspace_id, lead, settings, eligible).await?;
    let before = offered_before_in(tx, workspace_id, &lead.id).await?;
    let by_id: HashMap<&PartnerId, &CandidateFacts> = facts.iter().map(|c| (&c.partner_id, c)).collect();
    let pairs: Vec<(PartnerId, PartnerFacts<'_>)> = facts.iter().map(|c| (c.partner_id.clone(), c.facts())).collect();
    let ranked = matching::rank(settings.in_force(), &lead_facts(lead), &pairs);
    Ok(ranked
        .into_iter()
        .filter_map(|m| {
            let c = by_id.get(&m.partner)?;
            Some(Candidate {
                partner_id: c.partner_id.clone(),
                partner_name: c.name.clone(),
                open_leads: c.open_leads,
                capacity: c.capacity,
                offered_before: before.contains(&c.partner_id),
                matched: m,
            })
        })
        .collect())
}

/// A partner chosen by a person (a manual offer, a pass-on), scored as the engine would score it.
fn chosen_one(settings: &LeadSettings, lead: &Lead, c: &CandidateFacts) -> Candidate {
    let x = matching::features(&lead_facts(lead), &c.facts());
    Candidate {
        partner_id: c.partner_id.clone(),
        partner_name: c.name.clone(),
        matched: matching::score(settings.in_force(), c.partner_id.clone(), &x),
        open_leads: c.open_leads,
        capacity: c.capacity,
        offered_before: false,
    }
}

/// The channel team's view of a lead's candidates (staff only: a partner holding the lead never
/// learns who else could have it).
fn require_staff(scope: &Scope) -> Result<()> {
    if scope.partner().is_some() { Err(Error::forbidden("the candidates for a lead are the channel team's")) } else { Ok(()) }
}

/// Keeps the candidates the caller sees (a restricted channel manager: the partners it manages;
/// one query per 500 candidates).
async fn visible_to(ctx: &Ctx, scope: &Scope, candidates: Vec<Candidate>) -> Result<Vec<Candidate>> {
    if scope.is_system() || candidates.is_empty() {
        return Ok(candidates);
    }
    let mut tx = scope.read(ctx).await?;
    let mut seen = std::collections::HashSet::new();
    for chunk in candidates.chunks(500) {
        let ids: Vec<&PartnerId> = chunk.iter().map(|c| &c.partner_id).collect();
        let mut q = Sql::build("SELECT id FROM partners WHERE workspace_id = ");
        q.push_bind(scope.workspace_id()).push(" AND id IN ").push_in_list(&ids).push(" AND ");
        tx.push_partner_filter(&mut q, "partners.id");
        for row in tx.fetch_all(q).await? {
            seen.insert(row.get::<PartnerId>("id")?);
        }
    }
    Ok(candidates.into_iter().filter(|c| seen.contains(&c.partner_id)).collect())
}

/// `GET /api/v1/leads/{id}/matches`: the ranked candidates with their reasons (those the caller
/// sees: a restricted channel manager, the partners it manages).
pub async fn matches(ctx: &Ctx, scope: &Scope, id: &LeadId) -> Result<Vec<Candidate>> {
    let now = ctx.now();
    let mut tx = scope.read(ctx).await?;
    let lead = leads::find_in(&mut tx, scope, id).await?;
    require_staff(scope)?;
    let mut tx = tx.into_granted(&LEAD_ROUTING).await?;
    let settings = settings::of_in(&mut tx, scope.workspace_id(), lead.program_id.as_ref()).await?;
    let ranked = ranked_in(&mut tx, scope.workspace_id(), &lead, &settings, now).await?;
    drop(tx);
    visible_to(ctx, scope, ranked).await
}

/// Offers a lead to one candidate in the routing grant's transaction: the offer row with the
/// match as it stands, the lead's new holder, the audit event, the email with the reasons, and
/// the SLA's jobs (a reminder halfway, the expiry at the end).
#[allow(clippy::too_many_arguments)]
async fn offer_in(
    ctx: &Ctx,
    tx: &mut Tx,
    scope: &Scope,
    lead: &Lead,
    chosen: &Candidate,
    offered_by: Option<&UserId>,
    settings: &LeadSettings,
    action: &'static str,
    now: Timestamp,
) -> Result<LeadOfferId> {
    let offer_id = LeadOfferId::generate();
    let expires_at = now.plus_seconds(settings.sla_hours * 3_600);
    tx.execute(sql!(
        "INSERT INTO lead_offers (workspace_id, id, lead_id, partner_id, outcome, score_bp, reasons, offered_by_user_id, offered_at, expires_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9)",
        scope.workspace_id(),
        &offer_id,
        &lead.id,
        &chosen.partner_id,
        (chosen.matched.score * 10_000.0).round() as i64,
        leads::reasons_json(&chosen.matched.reasons),
        offered_by.cloned(),
        now,
        expires_at
    ))
    .await?;
    let moved = tx
        .execute(sql!(
            "UPDATE leads SET status = 'offered', holder_partner_id = $3, current_offer_id = $4, offer_expires_at = $5, updated_at = $6
              WHERE workspace_id = $1 AND id = $2 AND status = $7",
            scope.workspace_id(),
            &lead.id,
            &chosen.partner_id,
            &offer_id,
            expires_at,
            now,
            lead.status.as_str()
        ))
        .await?;
    if moved == 0 {
        return Err(Error::conflict("the lead changed meanwhile; reload it"));
    }
    let entry = AuditEntry::new(action, "lead", lead.id.as_str())
        .change("status", lead.status.as_str(), "offered")
        .set("partner_id", chosen.partner_id.as_str())
        .set("offer_id", offer_id.as_str())
        .set("score", chosen.matched.score)
        .set("by_engine", offered_by.is_none())
        .set("expires_at", expires_at.to_rfc3339());
    audit::record(tx, scope, now, entry).await?;
    let remind = RemindLeadOffer { lead_id: lead.id.clone(), offer_id: offer_id.clone() };
    let halfway = now.plus_seconds(settings.sla_hours * 1_800);
    enqueue(
        tx,
        &remind,
        JobOptions::in_workspace(scope.workspace_id(), halfway).dedupe_key(format!("lead_offer_reminder:{offer_id}")),
        now,
    )
    .await?;
    let expire = ExpireLeadOffer { lead_id: lead.id.clone(), offer_id: offer_id.clone() };
    enqueue(
        tx,
        &expire,
        JobOptions::in_workspace(scope.workspace_id(), expires_at).dedupe_key(format!("lead_offer_expiry:{offer_id}")),
        now,
    )
    .await?;
    let reasons: Vec<String> = chosen
        .matched
        .reasons
        .iter()
        .filter(|r| r.contribution() > 0.0)
        .map(|r| format!("- {}: {:.0}% × {} = {:.1}", r.factor.label(), r.value * 100.0, fmt_weight(r.weight), r.contribution()))
        .collect();
    let text = format!(
        "{company} ({country}) is offered to you as a lead{product}. Accept it by {until} (UTC), or decline it with a reason, on its page: {link}\n\n\
         Why you: a match score of {score:.1}\n{reasons}",
        company = lead.company_name,
        country = lead.country,
        product = lead.product_interest.as_deref().map(|p| format!(" interested in {p}")).unwrap_or_default(),
        until = fmt_time(expires_at),
        link = ctx.link(&format!("/portal/leads/{}", lead.id)),
        score = chosen.matched.score,
        reasons = reasons.join("\n"),
    );
    to_partner_in(
        tx,
        scope.workspace_id(),
        &chosen.partner_id,
        "lead_offered",
        &format!("A new lead for you: {}", lead.company_name),
        &text,
        now,
    )
    .await?;
    Ok(offer_id)
}

fn fmt_weight(weight: f64) -> String {
    if weight.fract() == 0.0 { format!("{weight:.0}") } else { format!("{weight:.2}") }
}

fn fmt_time(at: Timestamp) -> String {
    let text = at.to_rfc3339();
    format!("{} {}", &text[..10], &text[11..16])
}

/// Queues an email to a partner's admins and sales people (its contact address when it has none).
async fn to_partner_in(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    partner_id: &PartnerId,
    kind: &'static str,
    subject: &str,
    text: &str,
    now: Timestamp,
) -> Result<()> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT DISTINCT u.email FROM partner_users pu JOIN users u ON u.id = pu.user_id
              WHERE pu.workspace_id = $1 AND pu.partner_id = $2 AND pu.role IN ('admin', 'sales') ORDER BY u.email",
            workspace_id,
            partner_id
        ))
        .await?;
    let mut emails: Vec<Email> = rows.iter().map(|r| r.get("email")).collect::<Result<_, _>>()?;
    if emails.is_empty()
        && let Some(row) = tx
            .fetch_optional(sql!("SELECT contact_email FROM partners WHERE workspace_id = $1 AND id = $2", workspace_id, partner_id))
            .await?
    {
        emails.push(row.get("contact_email")?);
    }
    for to in emails {
        queue_email(tx, workspace_id, NewEmail::from_text(kind, to, subject, text), now).await?;
    }
    Ok(())
}

/// `POST /api/v1/leads/{id}/offer` `{partner_id?}` (staff): to the partner named (which must be
/// eligible), or to the engine's best candidate not offered the lead before. A pending offer is
/// withdrawn first (a reassignment).
pub async fn offer(ctx: &Ctx, scope: &Scope, id: &LeadId, partner_id: Option<&PartnerId>) -> Result<LeadDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let lead = leads::find_in(&mut tx, scope, id).await?;
    require_staff(scope)?;
    leads::require_lead_manager(scope, "offer leads")?;
    // The engine's choice among the partners the caller sees (a restricted channel manager
    // offers to the partners it manages), read before the routing grant lifts row security.
    let engine_choice = match partner_id {
        Some(_) => None,
        None => {
            let settings = settings::of_in(&mut tx, scope.workspace_id(), lead.program_id.as_ref()).await?;
            let mut granted = ctx.db().read_granted(&LEAD_ROUTING).await?;
            let ranked = ranked_in(&mut granted, scope.workspace_id(), &lead, &settings, now).await?;
            drop(granted);
            let open: Vec<Candidate> =
                ranked.into_iter().filter(|c| !c.offered_before && lead.holder_partner_id.as_ref() != Some(&c.partner_id)).collect();
            Some(visible_to(ctx, scope, open).await?.into_iter().next().ok_or_else(|| {
                Error::conflict("no partner is left to offer this lead to: every candidate was offered it or has no room")
            })?)
        }
    };
    let action = leads::transition(lead.status, LeadStatus::Offered, Actor::Staff)?.action;
    if let Some(partner_id) = partner_id {
        // A partner the caller does not see is a field error, as elsewhere.
        tx.see_partner(partner_id).await.map_err(|e| match e {
            Error::NotFound => Error::invalid("partner_id", "no such partner"),
            other => other,
        })?;
    }
    let mut tx = tx.into_granted(&LEAD_ROUTING).await?;
    let settings = settings::of_in(&mut tx, scope.workspace_id(), lead.program_id.as_ref()).await?;
    let chosen = match partner_id {
        Some(partner_id) => {
            let eligible = eligible_in(&mut tx, scope.workspace_id(), &lead, Among::Only(partner_id), now).await?;
            if eligible.is_empty() {
                return Err(Error::invalid(
                    "partner_id",
                    "this partner cannot take leads: it must be active, without a compliance blocker, and enrolled in a program that takes deal registrations",
                ));
            }
            let facts = facts_in(&mut tx, scope.workspace_id(), &lead, &settings, eligible).await?;
            let c = facts.first().ok_or_else(|| Error::Internal("eligible partner".into()))?;
            chosen_one(&settings, &lead, c)
        }
        None => engine_choice.ok_or_else(|| Error::Internal("the engine's choice".into()))?,
    };
    if lead.holder_partner_id.as_ref() == Some(&chosen.partner_id) && lead.status == LeadStatus::Offered {
        return Err(Error::conflict("the lead is offered to this partner already"));
    }
    if let Some(offer_id) = &lead.current_offer_id {
        answer_offer_in(&mut tx, scope, offer_id, OfferOutcome::Withdrawn, None, now).await?;
    }
    offer_in(ctx, &mut tx, scope, &lead, &chosen, scope.user_id(), &settings, action, now).await?;
    tx.commit().await?;
    leads::get(ctx, scope, id).await
}

/// Records the end of an offer: its outcome and reason, and (for a partner's answer) the
/// partner's offer record (accepted or refused, the minutes it took).
pub(crate) async fn answer_offer_in(
    tx: &mut Tx,
    scope: &Scope,
    offer_id: &LeadOfferId,
    outcome: OfferOutcome,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT partner_id, offered_at, outcome FROM lead_offers WHERE workspace_id = $1 AND id = $2",
            scope.workspace_id(),
            offer_id
        ))
        .await?
        .ok_or_else(|| Error::Internal("lead offer".into()))?;
    let current: String = row.get("outcome")?;
    let partner_id: PartnerId = row.get("partner_id")?;
    let offered_at: Timestamp = row.get("offered_at")?;
    // A return answers an accepted offer; everything else a pending one.
    let from = if outcome == OfferOutcome::Returned { "accepted" } else { "pending" };
    if current != from {
        return Err(Error::conflict("the offer was answered meanwhile; reload the lead"));
    }
    tx.execute(sql!(
        "UPDATE lead_offers SET outcome = $3, reason = $4, answered_at = $5 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        offer_id,
        outcome.as_str(),
        reason.map(str::to_owned),
        now
    ))
    .await?;
    let (accepted, refused) = match outcome {
        OfferOutcome::Accepted => (1_i64, 0_i64),
        OfferOutcome::Declined | OfferOutcome::Expired => (0, 1),
        // A return counts against the acceptance it undid; a withdrawal is the vendor's doing.
        OfferOutcome::Returned => (-1, 1),
        OfferOutcome::Withdrawn | OfferOutcome::Pending => (0, 0),
    };
    if accepted != 0 || refused != 0 {
        let minutes = if outcome == OfferOutcome::Returned { 0 } else { (now.micros() - offered_at.micros()).max(0) / 60_000_000 };
        tx.execute(sql!(
            "INSERT INTO lead_partner_stats (workspace_id, partner_id, country, offers_accepted, offers_refused, response_minutes_sum)
             VALUES ($1, $2, '', $3, $4, $5)
             ON CONFLICT (workspace_id, partner_id, country) DO UPDATE SET
                 offers_accepted = lead_partner_stats.offers_accepted + $3, offers_refused = lead_partner_stats.offers_refused + $4,
                 response_minutes_sum = lead_partner_stats.response_minutes_sum + $5",
            scope.workspace_id(),
            &partner_id,
            accepted.max(0),
            refused,
            minutes
        ))
        .await?;
        if accepted < 0 {
            tx.execute(sql!(
                "UPDATE lead_partner_stats SET offers_accepted = offers_accepted - 1
                  WHERE workspace_id = $1 AND partner_id = $2 AND country = '' AND offers_accepted > 0",
                scope.workspace_id(),
                &partner_id
            ))
            .await?;
        }
    }
    Ok(())
}

/// `POST /api/v1/leads/{id}/accept` (the offered partner's admins and sales people).
pub async fn accept(ctx: &Ctx, scope: &Scope, id: &LeadId) -> Result<LeadDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let lead = leads::find_in(&mut tx, scope, id).await?;
    leads::require_holder(scope, &lead, "accept it")?;
    let tr = leads::transition(lead.status, LeadStatus::Accepted, Actor::Partner)?;
    let offer_id = lead.current_offer_id.clone().ok_or_else(|| Error::Internal("offered lead without offer".into()))?;
    let mut tx = tx.into_granted(&LEAD_ROUTING).await?;
    answer_offer_in(&mut tx, scope, &offer_id, OfferOutcome::Accepted, None, now).await?;
    let moved = tx
        .execute(sql!(
            "UPDATE leads SET status = 'accepted', offer_expires_at = NULL, updated_at = $3 WHERE workspace_id = $1 AND id = $2 AND status = 'offered'",
            scope.workspace_id(),
            id,
            now
        ))
        .await?;
    if moved == 0 {
        return Err(Error::conflict("the lead changed meanwhile; reload it"));
    }
    let entry = AuditEntry::new(tr.action, "lead", id.as_str()).change("status", "offered", "accepted").set("offer_id", offer_id.as_str());
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    leads::get(ctx, scope, id).await
}

/// `POST /api/v1/leads/{id}/pass-on` `{partner_id}`: a distributor that accepted a lead offers
/// it to one of its resellers (its own admins and sales people). The reseller must be a
/// descendant that can take leads; the offer runs with the program's SLA like any other, and the
/// distributor keeps seeing the lead (the reseller is in its tree). A reseller that declines or
/// lets it expire sends it on through the engine.
pub async fn pass_on(ctx: &Ctx, scope: &Scope, id: &LeadId, reseller: &PartnerId) -> Result<LeadDetail> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let lead = leads::find_in(&mut tx, scope, id).await?;
    let holder = leads::require_holder(scope, &lead, "pass it on")?;
    let action = leads::transition(lead.status, LeadStatus::Offered, Actor::Partner)?.action;
    let not_a_reseller = || Error::invalid("partner_id", "must be one of your resellers that can take leads");
    if reseller == &holder {
        return Err(not_a_reseller());
    }
    let below = tx
        .fetch_optional(sql!(
            "SELECT 1 AS found FROM partner_ancestry WHERE workspace_id = $1 AND ancestor_id = $2 AND descendant_id = $3",
            scope.workspace_id(),
            &holder,
            reseller
        ))
        .await?;
    if below.is_none() {
        return Err(not_a_reseller());
    }
    let mut tx = tx.into_granted(&LEAD_ROUTING).await?;
    let eligible = eligible_in(&mut tx, scope.workspace_id(), &lead, Among::Only(reseller), now).await?;
    if eligible.is_empty() {
        return Err(not_a_reseller());
    }
    let settings = settings::of_in(&mut tx, scope.workspace_id(), lead.program_id.as_ref()).await?;
    let facts = facts_in(&mut tx, scope.workspace_id(), &lead, &settings, eligible).await?;
    let c = facts.first().ok_or_else(|| Error::Internal("eligible reseller".into()))?;
    let chosen = chosen_one(&settings, &lead, c);
    offer_in(ctx, &mut tx, scope, &lead, &chosen, scope.user_id(), &settings, action, now).await?;
    tx.commit().await?;
    leads::get(ctx, scope, id).await
}

fn checked_reason(reason: &str) -> Result<String> {
    let mut v = Validation::new();
    let reason = v.text("reason", reason, 1000);
    v.finish().map_err(Error::Validation)?;
    reason.ok_or_else(|| Error::Internal("validated".into()))
}

/// `POST /api/v1/leads/{id}/decline` `{reason}` and `/return` `{reason}`: the partner gives the
/// lead back; the engine offers it to the next candidate at once (the partner does not learn to
/// whom: the lead leaves its view).
pub async fn give_back(ctx: &Ctx, scope: &Scope, id: &LeadId, to: LeadStatus, reason: &str) -> Result<Lead> {
    let reason = checked_reason(reason)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let lead = leads::find_in(&mut tx, scope, id).await?;
    let what = if to == LeadStatus::Returned { "return it" } else { "decline it" };
    let partner_id = leads::require_holder(scope, &lead, what)?;
    let tr = leads::transition(lead.status, to, Actor::Partner)?;
    let outcome = if to == LeadStatus::Returned { OfferOutcome::Returned } else { OfferOutcome::Declined };
    let offer_id = lead.current_offer_id.clone().ok_or_else(|| Error::Internal("held lead without offer".into()))?;
    let mut tx = tx.into_granted(&LEAD_ROUTING).await?;
    answer_offer_in(&mut tx, scope, &offer_id, outcome, Some(&reason), now).await?;
    let after = release_in(&mut tx, scope, &lead, to, Some(&reason), now).await?;
    let entry = AuditEntry::new(tr.action, "lead", id.as_str())
        .change("status", lead.status.as_str(), to.as_str())
        .set("partner_id", partner_id.as_str())
        .set("reason", reason.clone());
    audit::record(&mut tx, scope, now, entry).await?;
    route_next_in(ctx, &mut tx, scope.workspace_id(), &after, now).await?;
    tx.commit().await?;
    Ok(Lead { holder_partner_id: None, holder_name: None, current_offer_id: None, offer_expires_at: None, ..after })
}

/// The lead leaves its holder and waits with the vendor as `status`.
async fn release_in(tx: &mut Tx, scope: &Scope, lead: &Lead, status: LeadStatus, reason: Option<&str>, now: Timestamp) -> Result<Lead> {
    let moved = tx
        .execute(sql!(
            "UPDATE leads SET status = $3, status_reason = $4, holder_partner_id = NULL, current_offer_id = NULL, offer_expires_at = NULL,
                    updated_at = $5
              WHERE workspace_id = $1 AND id = $2 AND status = $6",
            scope.workspace_id(),
            &lead.id,
            status.as_str(),
            reason.map(str::to_owned),
            now,
            lead.status.as_str()
        ))
        .await?;
    if moved == 0 {
        return Err(Error::conflict("the lead changed meanwhile; reload it"));
    }
    Ok(Lead { status, status_reason: reason.map(str::to_owned), updated_at: now, ..lead.clone() })
}

/// After a decline, an expiry or a return: offers the lead to the best candidate not offered it
/// before; when none is left it stays with the vendor (the console's inbox shows it).
async fn route_next_in(ctx: &Ctx, tx: &mut Tx, workspace_id: &WorkspaceId, lead: &Lead, now: Timestamp) -> Result<Option<PartnerId>> {
    let system = Scope::system(workspace_id.clone(), &LEAD_ROUTING);
    let settings = settings::of_in(tx, workspace_id, lead.program_id.as_ref()).await?;
    let next = ranked_in(tx, workspace_id, lead, &settings, now).await?.into_iter().find(|c| !c.offered_before);
    let Some(next) = next else { return Ok(None) };
    let action = leads::transition(lead.status, LeadStatus::Offered, Actor::System)?.action;
    let released = Lead { holder_partner_id: None, current_offer_id: None, ..lead.clone() };
    offer_in(ctx, tx, &system, &released, &next, None, &settings, action, now).await?;
    Ok(Some(next.partner_id))
}

/// `POST /api/v1/leads/{id}/convert`: what the deal adds to the lead.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    /// The deal's amount in minor units (the lead's estimate, else 0).
    pub amount_minor: Option<i64>,
    pub expected_close_date: Option<String>,
    pub description: Option<String>,
}

/// Converts an accepted lead into a deal registration of the accepting partner, through the
/// conflict engine like any registration, atomically with the lead's change.
pub async fn convert(ctx: &Ctx, scope: &Scope, id: &LeadId, input: Conversion) -> Result<DealId> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let lead = leads::find_in(&mut tx, scope, id).await?;
    let holder = leads::require_holder(scope, &lead, "convert it")?;
    let tr = leads::transition(lead.status, LeadStatus::Converted, Actor::Partner)?;
    // Takes the lead's row first: a second conversion waits here, then finds it converted.
    let taken = tx
        .execute(sql!(
            "UPDATE leads SET updated_at = $3 WHERE workspace_id = $1 AND id = $2 AND status = 'accepted'",
            scope.workspace_id(),
            id,
            now
        ))
        .await?;
    if taken == 0 {
        return Err(Error::conflict("the lead changed meanwhile; reload it"));
    }
    let (value, currency) = match &lead.estimated_value {
        Some((amount, currency)) => (Some(*amount), Some(currency.clone())),
        None => (None, None),
    };
    let mut description = lead.notes.clone();
    if let Some(extra) = input.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        description = if description.is_empty() { extra.to_owned() } else { format!("{extra}\n\n{description}") };
    }
    let deal = trellis_deals::deals::NewDeal {
        customer_name: lead.company_name.clone(),
        customer_domain: lead.domain.clone(),
        customer_email: lead.contact_email.clone(),
        country: Some(lead.country.clone()),
        amount_minor: Some(input.amount_minor.or(value).unwrap_or(0)),
        currency: if input.amount_minor.is_some() { None } else { currency },
        expected_close_date: input.expected_close_date,
        description: Some(description),
        program_id: lead.program_id.clone(),
        // A partner registers for itself; the system (demo seeding) names the holder.
        partner_id: scope.partner().is_none().then_some(holder),
        ..Default::default()
    };
    let (mut tx, deal) = trellis_deals::deals::register_within(ctx, tx, scope, deal).await?;
    tx.execute(sql!(
        "UPDATE leads SET status = 'converted', deal_id = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        &deal.id,
        now
    ))
    .await?;
    let entry = AuditEntry::new(tr.action, "lead", id.as_str()).change("status", "accepted", "converted").set("deal_id", deal.id.as_str());
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(deal.id)
}

/// Offers a new lead to its best match, for a program that offers new leads automatically
/// (`lead_settings.auto_offer`): enqueued in the transaction that creates the lead, whichever way
/// it came in (the API, an import, the public form).
#[derive(Debug, Serialize, Deserialize)]
pub struct OfferNewLead {
    pub lead_id: LeadId,
}

impl Job for OfferNewLead {
    const KIND: &'static str = "lead_auto_offer";
}

/// Runs an automatic offer: a lead still new goes to its best candidate, as "Offer to the best
/// match" would send it; without a candidate it stays in the channel team's inbox. A lead offered
/// or closed by hand meanwhile is left alone.
pub async fn offer_new(ctx: &Ctx, workspace_id: &WorkspaceId, job: &OfferNewLead) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&LEAD_ROUTING).await?;
    let mut q = Sql::build("SELECT ");
    q.push(leads::COLUMNS).push(leads::FROM).push(" WHERE l.workspace_id = ").push_bind(workspace_id);
    q.push(" AND l.id = ").push_bind(&job.lead_id).push(" AND l.status = 'new'");
    let Some(lead) = tx.fetch_optional(q).await?.as_ref().map(leads::from_row).transpose()? else { return Ok(()) };
    match route_next_in(ctx, &mut tx, workspace_id, &lead, now).await {
        Ok(_) => Ok(tx.commit().await?),
        // Offered by hand between the read and the offer: dropping the transaction undoes ours.
        Err(Error::Conflict(_)) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Expires an offer at the end of its SLA.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpireLeadOffer {
    pub lead_id: LeadId,
    pub offer_id: LeadOfferId,
}

impl Job for ExpireLeadOffer {
    const KIND: &'static str = "lead_offer_expiry";
}

/// Reminds the partner halfway through the SLA.
#[derive(Debug, Serialize, Deserialize)]
pub struct RemindLeadOffer {
    pub lead_id: LeadId,
    pub offer_id: LeadOfferId,
}

impl Job for RemindLeadOffer {
    const KIND: &'static str = "lead_offer_reminder";
}

async fn pending_lead(tx: &mut Tx, workspace_id: &WorkspaceId, lead_id: &LeadId, offer_id: &LeadOfferId) -> Result<Option<Lead>> {
    let mut q = Sql::build("SELECT ");
    q.push(leads::COLUMNS).push(leads::FROM).push(" WHERE l.workspace_id = ").push_bind(workspace_id);
    q.push(" AND l.id = ").push_bind(lead_id).push(" AND l.status = 'offered' AND l.current_offer_id = ").push_bind(offer_id);
    tx.fetch_optional(q).await?.as_ref().map(leads::from_row).transpose()
}

/// Runs an expiry job: an offer still pending at its end expires, and the lead goes to the next
/// candidate (or waits with the vendor). An offer answered or withdrawn meanwhile is left alone.
pub async fn expire(ctx: &Ctx, workspace_id: &WorkspaceId, job: &ExpireLeadOffer) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&LEAD_ROUTING).await?;
    if let Some(lead) = pending_lead(&mut tx, workspace_id, &job.lead_id, &job.offer_id).await?
        && lead.offer_expires_at.is_some_and(|at| at <= now)
    {
        let system = Scope::system(workspace_id.clone(), &LEAD_ROUTING);
        let tr = leads::transition(LeadStatus::Offered, LeadStatus::Expired, Actor::System)?;
        let partner_id = lead.holder_partner_id.clone().ok_or_else(|| Error::Internal("offered lead without holder".into()))?;
        answer_offer_in(&mut tx, &system, &job.offer_id, OfferOutcome::Expired, None, now).await?;
        let after = release_in(&mut tx, &system, &lead, LeadStatus::Expired, Some("not accepted in time"), now).await?;
        let entry = AuditEntry::new(tr.action, "lead", lead.id.as_str())
            .change("status", "offered", "expired")
            .set("partner_id", partner_id.as_str())
            .set("offer_id", job.offer_id.as_str());
        audit::record(&mut tx, &system, now, entry).await?;
        let text = format!(
            "The lead {} was offered to you until {} (UTC) and was not accepted in time, so it has gone to another partner. Accepting offers quickly keeps more leads coming your way.",
            lead.company_name,
            lead.offer_expires_at.map(fmt_time).unwrap_or_default()
        );
        to_partner_in(
            &mut tx,
            workspace_id,
            &partner_id,
            "lead_offer_expired",
            &format!("The lead {} has expired", lead.company_name),
            &text,
            now,
        )
        .await?;
        route_next_in(ctx, &mut tx, workspace_id, &after, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Runs a reminder job: emails the partner while the offer is still pending.
pub async fn remind(ctx: &Ctx, workspace_id: &WorkspaceId, job: &RemindLeadOffer) -> Result<()> {
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&LEAD_ROUTING).await?;
    if let Some(lead) = pending_lead(&mut tx, workspace_id, &job.lead_id, &job.offer_id).await?
        && let (Some(partner_id), Some(until)) = (lead.holder_partner_id.clone(), lead.offer_expires_at)
        && until > now
    {
        let text = format!(
            "The lead {} ({}) waits for your answer until {} (UTC); after that it goes to another partner. Accept or decline it: {}",
            lead.company_name,
            lead.country,
            fmt_time(until),
            ctx.link(&format!("/portal/leads/{}", lead.id))
        );
        to_partner_in(
            &mut tx,
            workspace_id,
            &partner_id,
            "lead_offer_reminder",
            &format!("Reminder: the lead {} waits for you", lead.company_name),
            &text,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Daily: rebuilds the partners' deal records the matching reads (won and lost, overall and per
/// country, and the days they took) from the deals closed in the workspace — one grouped read per
/// workspace a day instead of one per match.
pub async fn refresh_stats(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<usize> {
    let mut tx = ctx.db().write_granted(&LEAD_ROUTING).await?;
    let rows = tx
        .fetch_all(sql!(
            "SELECT partner_id, COALESCE(country, '') AS country, status, COUNT(*) AS n,
                    CAST(SUM((COALESCE(closed_at, updated_at) - created_at) / 86400000000) AS BIGINT) AS days
               FROM deals WHERE workspace_id = $1 AND partner_id IS NOT NULL AND status IN ('won', 'lost')
              GROUP BY partner_id, COALESCE(country, ''), status",
            workspace_id
        ))
        .await?;
    // (partner, country) → (won, lost, days); '' sums every country.
    let mut records: HashMap<(PartnerId, String), (i64, i64, i64)> = HashMap::new();
    for row in rows {
        let partner_id: PartnerId = row.get("partner_id")?;
        let country: String = row.get("country")?;
        let status: String = row.get("status")?;
        let (n, days): (i64, Option<i64>) = (row.get("n")?, row.get("days")?);
        let won = status == "won";
        let mut keys = vec![(partner_id.clone(), String::new())];
        if !country.is_empty() {
            keys.push((partner_id, country));
        }
        for key in keys {
            let entry = records.entry(key).or_default();
            if won {
                entry.0 += n
            } else {
                entry.1 += n
            }
            entry.2 += days.unwrap_or(0);
        }
    }
    tx.execute(sql!("UPDATE lead_partner_stats SET won = 0, lost = 0, close_days_sum = 0 WHERE workspace_id = $1", workspace_id)).await?;
    let count = records.len();
    for ((partner_id, country), (won, lost, days)) in records {
        tx.execute(sql!(
            "INSERT INTO lead_partner_stats (workspace_id, partner_id, country, won, lost, close_days_sum) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (workspace_id, partner_id, country) DO UPDATE SET won = $4, lost = $5, close_days_sum = $6",
            workspace_id,
            &partner_id,
            country.as_str(),
            won,
            lost,
            days
        ))
        .await?;
    }
    tx.commit().await?;
    Ok(count)
}
