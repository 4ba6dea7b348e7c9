//! Partner profiles: legal name, website, logo, addresses, territories (countries and named
//! regions), specialisations, products, a public description and the locator opt-in.
//!
//! Who edits: the vendor's partner managers, and the partner's own admins and marketing (and a
//! distributor's admins for their resellers, when the workspace allows it). A partner's change of
//! the legal name or the territories does not apply at once: it becomes a change request the
//! vendor approves or rejects (`profile_changes`). Everything else applies directly.
//!
//! When a profile first becomes complete ([`profile_is_complete`]), `partner.profile_completed` is
//! recorded once, in the same transaction — the seam the onboarding checklist hooks into.

use serde_json::json;
use trellis_core::{Error, FileId, PartnerId, PartnerStatus, Result, Timestamp, Validation, WorkspaceId};
use trellis_db::{Tx, sql};
use trellis_directory::events::{self, PartnerEventKind};
use trellis_directory::{countries, partners};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::partner_users::require_visible_partner;
use trellis_identity::{Ctx, Scope, ScopedTx, SeenPartner};

use crate::files::{self, FilePurpose};
use crate::{access, profile_changes};

/// A postal address of the partner.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    /// What the address is, e.g. "Head office".
    pub label: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    #[serde(default)]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// Where the partner works: countries (ISO 3166-1 alpha-2) and named regions (e.g. "DACH").
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Territories {
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
}

impl Territories {
    pub fn is_empty(&self) -> bool {
        self.countries.is_empty() && self.regions.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    pub partner_id: PartnerId,
    /// The partner's (trading) name, from the partner record.
    pub partner_name: String,
    pub status: PartnerStatus,
    pub legal_name: Option<String>,
    /// The partner record's website (one source of truth).
    pub website: Option<String>,
    pub logo_file_id: Option<FileId>,
    pub addresses: Vec<Address>,
    pub territories: Territories,
    pub specialisations: Vec<String>,
    pub products: Vec<String>,
    /// Shown publicly in the partner locator.
    pub description: String,
    /// Listed in the public partner locator (when active).
    pub locator_opt_in: bool,
    pub completed_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

/// A profile is complete with a legal name, a description, at least one territory and at least
/// one address (the onboarding step "complete the profile").
pub fn profile_is_complete(profile: &Profile) -> bool {
    profile.legal_name.as_deref().is_some_and(|n| !n.trim().is_empty())
        && !profile.description.trim().is_empty()
        && !profile.territories.is_empty()
        && !profile.addresses.is_empty()
}

/// A change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub legal_name: Option<String>,
    pub website: Option<Option<String>>,
    pub logo_file_id: Option<Option<FileId>>,
    pub addresses: Option<Vec<Address>>,
    pub territories: Option<Territories>,
    pub specialisations: Option<Vec<String>>,
    pub products: Option<Vec<String>>,
    pub description: Option<String>,
    pub locator_opt_in: Option<bool>,
}

// Caps on what a profile holds (docs/API.md "Input limits"); a longer list is refused before its
// entries are read.
const MAX_ADDRESSES: usize = 20;
/// Every assigned ISO 3166-1 code fits: a partner may work worldwide.
const MAX_COUNTRIES: usize = 249;
const MAX_REGIONS: usize = 50;
const MAX_TAGS: usize = 30;
const MAX_DESCRIPTION: usize = 2000;

/// A list of short texts: trimmed, blanks dropped, duplicates (ignoring case) dropped.
fn clean_list(v: &mut Validation, field: &str, items: &[String], max_items: usize, max_len: usize) -> Option<Vec<String>> {
    if items.len() > max_items {
        v.add(field, format!("at most {max_items} entries"));
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        if item.chars().count() > max_len || item.chars().any(char::is_control) {
            v.add(field, format!("\"{item}\" must be at most {max_len} characters of text"));
            ok = false;
        } else if !out.iter().any(|o| o.to_lowercase() == item.to_lowercase()) {
            out.push(item.to_owned());
        }
    }
    ok.then_some(out)
}

fn clean_countries(v: &mut Validation, field: &str, items: &[String]) -> Option<Vec<String>> {
    if items.len() > MAX_COUNTRIES {
        v.add(field, format!("at most {MAX_COUNTRIES} entries"));
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        match countries::parse(item) {
            Some(code) if !out.iter().any(|c| c == code) => out.push(code.to_owned()),
            Some(_) => {}
            None => {
                v.add(field, format!("\"{item}\" is not an ISO 3166-1 alpha-2 country code such as DE"));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn clean_territories(v: &mut Validation, territories: &Territories) -> Option<Territories> {
    let countries = clean_countries(v, "territories.countries", &territories.countries);
    let regions = clean_list(v, "territories.regions", &territories.regions, MAX_REGIONS, 100);
    Some(Territories { countries: countries?, regions: regions? })
}

fn clean_address(v: &mut Validation, index: usize, a: &Address) -> Option<Address> {
    let field = |name: &str| format!("addresses[{index}].{name}");
    let label = v.text(&field("label"), &a.label, 100);
    let line1 = v.text(&field("line1"), &a.line1, 200);
    let line2 = v.optional_text(&field("line2"), a.line2.as_deref(), 200);
    let city = v.text(&field("city"), &a.city, 100);
    let postal_code = v.text(&field("postal_code"), &a.postal_code, 20);
    let region = v.optional_text(&field("region"), a.region.as_deref(), 100);
    let country = countries::parse(&a.country);
    if country.is_none() {
        v.add(&field("country"), "must be an ISO 3166-1 alpha-2 country code such as DE");
    }
    Some(Address {
        label: label?,
        line1: line1?,
        line2: line2?,
        city: city?,
        postal_code: postal_code?,
        region: region?,
        country: country?.to_owned(),
    })
}

/// The patch with every field checked and normalised; every problem at once.
pub(crate) fn clean(patch: ProfilePatch) -> Result<ProfilePatch> {
    let mut v = Validation::new();
    let legal_name = patch.legal_name.as_deref().map(|n| v.text("legal_name", n, 200));
    let website = patch.website.as_ref().map(|w| partners::clean_website(&mut v, w.as_deref()));
    let addresses = patch.addresses.as_ref().map(|list| {
        if list.len() > MAX_ADDRESSES {
            v.add("addresses", format!("at most {MAX_ADDRESSES} addresses"));
            return None;
        }
        list.iter().enumerate().map(|(i, a)| clean_address(&mut v, i, a)).collect::<Option<Vec<_>>>()
    });
    let territories = patch.territories.as_ref().map(|t| clean_territories(&mut v, t));
    let specialisations = patch.specialisations.as_ref().map(|s| clean_list(&mut v, "specialisations", s, MAX_TAGS, 60));
    let products = patch.products.as_ref().map(|s| clean_list(&mut v, "products", s, MAX_TAGS, 60));
    let description = patch.description.as_deref().map(|d| {
        let d = d.trim();
        if d.chars().count() > MAX_DESCRIPTION {
            v.add("description", format!("must be at most {MAX_DESCRIPTION} characters"));
        }
        d.to_owned()
    });
    v.finish().map_err(Error::Validation)?;
    let checked = "validated";
    Ok(ProfilePatch {
        legal_name: legal_name.map(|n| n.ok_or_else(|| Error::Internal(checked.into()))).transpose()?,
        website: website.map(|w| w.ok_or_else(|| Error::Internal(checked.into()))).transpose()?,
        logo_file_id: patch.logo_file_id,
        addresses: addresses.map(|a| a.ok_or_else(|| Error::Internal(checked.into()))).transpose()?,
        territories: territories.map(|t| t.ok_or_else(|| Error::Internal(checked.into()))).transpose()?,
        specialisations: specialisations.map(|s| s.ok_or_else(|| Error::Internal(checked.into()))).transpose()?,
        products: products.map(|s| s.ok_or_else(|| Error::Internal(checked.into()))).transpose()?,
        description,
        locator_opt_in: patch.locator_opt_in,
    })
}

/// The profile of a partner inside `tx` (no visibility check: the caller made it). A partner
/// without a profile row has an empty profile.
pub(crate) async fn load_in(tx: &mut Tx, workspace_id: &WorkspaceId, partner_id: &PartnerId) -> Result<Profile> {
    let row = tx
        .fetch_optional(sql!(
            "SELECT p.name, p.status, p.website, pp.legal_name, pp.logo_file_id, pp.addresses, pp.description, pp.locator_opt_in, pp.completed_at, pp.updated_at
             FROM partners p LEFT JOIN partner_profiles pp ON pp.workspace_id = p.workspace_id AND pp.partner_id = p.id
             WHERE p.workspace_id = $1 AND p.id = $2",
            workspace_id,
            partner_id
        ))
        .await?
        .ok_or(Error::NotFound)?;
    let status: String = row.get("status")?;
    let addresses: Option<String> = row.get("addresses")?;
    let mut profile = Profile {
        partner_id: partner_id.clone(),
        partner_name: row.get("name")?,
        status: PartnerStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored status {status}")))?,
        legal_name: row.get("legal_name")?,
        website: row.get("website")?,
        logo_file_id: row.get("logo_file_id")?,
        addresses: match addresses {
            Some(text) => serde_json::from_str(&text).map_err(|e| Error::Internal(format!("stored addresses: {e}")))?,
            None => Vec::new(),
        },
        territories: Territories::default(),
        specialisations: Vec::new(),
        products: Vec::new(),
        description: row.get::<Option<String>>("description")?.unwrap_or_default(),
        locator_opt_in: row.get::<Option<bool>>("locator_opt_in")?.unwrap_or(false),
        completed_at: row.get("completed_at")?,
        updated_at: row.get("updated_at")?,
    };
    let terms = tx
        .fetch_all(sql!(
            "SELECT kind, value FROM partner_profile_terms WHERE workspace_id = $1 AND partner_id = $2 ORDER BY kind, position",
            workspace_id,
            partner_id
        ))
        .await?;
    for term in terms {
        let kind: String = term.get("kind")?;
        let value: String = term.get("value")?;
        match kind.as_str() {
            "country" => profile.territories.countries.push(value),
            "region" => profile.territories.regions.push(value),
            "specialisation" => profile.specialisations.push(value),
            "product" => profile.products.push(value),
            other => return Err(Error::Internal(format!("stored profile term kind {other}"))),
        }
    }
    Ok(profile)
}

/// A visible partner's profile.
pub async fn get(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId) -> Result<Profile> {
    let mut tx = scope.read(ctx).await?;
    let seen = tx.see_partner(partner_id).await?;
    get_in(&mut tx, scope, &seen).await
}

/// [`get`] of a partner already checked in the caller's transaction.
pub async fn get_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner) -> Result<Profile> {
    let partner_id = tx.seen(seen)?.clone();
    load_in(tx, scope.workspace_id(), &partner_id).await
}

/// Writes `after` (which differs from `before`) and records it; the first time the profile is
/// complete, also records `partner.profile_completed`.
pub(crate) async fn save_in(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    before: &Profile,
    after: &mut Profile,
    now: Timestamp,
) -> Result<()> {
    let workspace_id = scope.workspace_id();
    let partner_id = &after.partner_id;
    after.updated_at = Some(now);
    let newly_complete = before.completed_at.is_none() && profile_is_complete(after);
    if newly_complete {
        after.completed_at = Some(now);
    }
    let addresses = serde_json::to_string(&after.addresses).map_err(|e| Error::Internal(e.to_string()))?;
    tx.execute(sql!(
        "INSERT INTO partner_profiles (workspace_id, partner_id, legal_name, logo_file_id, addresses, description, locator_opt_in, completed_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (workspace_id, partner_id) DO UPDATE SET legal_name = excluded.legal_name, logo_file_id = excluded.logo_file_id,
             addresses = excluded.addresses, description = excluded.description, locator_opt_in = excluded.locator_opt_in,
             completed_at = excluded.completed_at, updated_at = excluded.updated_at",
        workspace_id, partner_id, after.legal_name, after.logo_file_id, addresses, after.description, after.locator_opt_in,
        after.completed_at, now
    ))
    .await?;
    if before.website != after.website {
        partners::set_website_in(tx, scope, partner_id, after.website.as_deref(), now).await?;
    }
    tx.execute(sql!("DELETE FROM partner_profile_terms WHERE workspace_id = $1 AND partner_id = $2", workspace_id, partner_id)).await?;
    let lists: [(&str, &Vec<String>); 4] = [
        ("country", &after.territories.countries),
        ("region", &after.territories.regions),
        ("specialisation", &after.specialisations),
        ("product", &after.products),
    ];
    for (kind, values) in lists {
        for (position, value) in values.iter().enumerate() {
            tx.execute(sql!(
                "INSERT INTO partner_profile_terms (workspace_id, partner_id, kind, match_key, value, position) VALUES ($1, $2, $3, $4, $5, $6)",
                workspace_id,
                partner_id,
                kind,
                value.to_lowercase(),
                value,
                position as i64
            ))
            .await?;
        }
    }
    let entry = AuditEntry::new("partner.profile_updated", "partner", partner_id.as_str())
        .change("legal_name", json!(before.legal_name), json!(after.legal_name))
        .change("website", json!(before.website), json!(after.website))
        .change("logo_file_id", json!(before.logo_file_id), json!(after.logo_file_id))
        .change("addresses", json!(before.addresses), json!(after.addresses))
        .change("territories", json!(before.territories), json!(after.territories))
        .change("specialisations", json!(before.specialisations), json!(after.specialisations))
        .change("products", json!(before.products), json!(after.products))
        .change("description", before.description.clone(), after.description.clone())
        .change("locator_opt_in", before.locator_opt_in, after.locator_opt_in);
    audit::record(tx, scope, now, entry).await?;
    if newly_complete {
        profile_completed(ctx, tx, scope, partner_id, now).await?;
    }
    Ok(())
}

/// Runs once, in the transaction that first makes the partner's profile complete, and raises
/// `ProfileCompleted` there (onboarding's "complete the profile" step is completed from it).
async fn profile_completed(ctx: &Ctx, tx: &mut ScopedTx, scope: &Scope, partner_id: &PartnerId, now: Timestamp) -> Result<()> {
    audit::record(tx, scope, now, AuditEntry::new("partner.profile_completed", "partner", partner_id.as_str())).await?;
    events::raise(ctx, tx, scope, partner_id, PartnerEventKind::ProfileCompleted, now).await
}

/// Changes a visible partner's profile. Staff changes apply at once; a partner's change of the
/// legal name or the territories becomes a pending change request (the rest applies at once).
/// Answers the profile as it now is.
pub async fn update(ctx: &Ctx, scope: &Scope, partner_id: &PartnerId, patch: ProfilePatch) -> Result<Profile> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    require_visible_partner(&mut tx, scope, partner_id).await?;
    access::require_profile_editor(&mut tx, scope, partner_id).await?;
    let patch = clean(patch)?;
    if let Some(Some(logo)) = &patch.logo_file_id {
        files::require_file_of(&mut tx, scope, partner_id, logo, FilePurpose::Logo, "logo_file_id").await?;
    }
    let before = load_in(&mut tx, scope.workspace_id(), partner_id).await?;
    let mut after = before.clone();
    let needs_vendor = scope.partner().is_some();
    let mut for_vendor = profile_changes::ProposedChanges::default();
    if let Some(legal_name) = patch.legal_name {
        if needs_vendor {
            for_vendor.legal_name = Some(legal_name);
        } else {
            after.legal_name = Some(legal_name);
        }
    }
    if let Some(territories) = patch.territories {
        if needs_vendor {
            for_vendor.territories = Some(territories);
        } else {
            after.territories = territories;
        }
    }
    if let Some(website) = patch.website {
        after.website = website;
    }
    if let Some(logo) = patch.logo_file_id {
        after.logo_file_id = logo;
    }
    if let Some(addresses) = patch.addresses {
        after.addresses = addresses;
    }
    if let Some(specialisations) = patch.specialisations {
        after.specialisations = specialisations;
    }
    if let Some(products) = patch.products {
        after.products = products;
    }
    if let Some(description) = patch.description {
        after.description = description;
    }
    if let Some(opt_in) = patch.locator_opt_in {
        after.locator_opt_in = opt_in;
    }
    if after != before {
        save_in(ctx, &mut tx, scope, &before, &mut after, now).await?;
    }
    if needs_vendor && (for_vendor.legal_name.is_some() || for_vendor.territories.is_some()) {
        profile_changes::request_in(&mut tx, scope, &after, for_vendor, now).await?;
    }
    tx.commit().await?;
    Ok(after)
}
