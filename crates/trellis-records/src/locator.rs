//! The public partner locator ("Find a partner"): active partners who opted in, filtered by
//! country, named region, partner type, tier and specialisation, live from the database. A
//! partner that is not compliant (a licence lapsed without a valid successor) is not listed.
//!
//! Nobody is signed in: every read runs in the system context of the workspace the locator is
//! for (the [`PUBLIC_LOCATOR`] grant, listed in docs/ARCHITECTURE.md), and only locator fields leave it.
//! Term filters are `IN (…)` subqueries over `partner_profile_terms` (indexed by kind and key), the
//! tier filter probes each partner's enrollments by primary key; pages walk `partners` by
//! (status, name, id) with a keyset cursor, so a page costs about its own rows.

use std::collections::BTreeMap;
use std::path::Path;

use time::Date;
use trellis_core::{Error, FileId, Page, PartnerId, PartnerStatus, PartnerType, PartnerTypes, Result, WorkspaceId, page};
use trellis_db::{Sql, SystemGrant, sql};
use trellis_directory::countries;
use trellis_identity::{Ctx, Scope};

use crate::files::{self, FilePurpose, StoredFile};
use crate::{compliance, dates};

/// Nobody is signed in to the public locator (`/partners`, `/api/v1/public/partners`, logos).
pub const PUBLIC_LOCATOR: SystemGrant = SystemGrant {
    name: "public_locator",
    reason: "the public partner locator and its logos: nobody is signed in; only locator fields leave it",
};

/// The filters of a search; blank values are no filter.
#[derive(Debug, Clone, Default)]
pub struct LocatorFilter {
    /// ISO 3166-1 alpha-2 code of a country the partner serves.
    pub country: Option<String>,
    /// A named region the partner serves (case-insensitive).
    pub region: Option<String>,
    pub partner_type: Option<PartnerType>,
    /// A tier name, in any program (case-insensitive).
    pub tier: Option<String>,
    /// A specialisation (case-insensitive).
    pub specialisation: Option<String>,
    /// Words in the name or description.
    pub q: Option<String>,
    /// The last partner of the previous page.
    pub after: Option<PartnerId>,
    /// Partners on the page (50 unless named).
    pub limit: Option<i64>,
}

/// A partner as the locator shows it: public fields only.
#[derive(Debug, Clone)]
pub struct ListedPartner {
    pub id: PartnerId,
    pub name: String,
    pub description: String,
    pub website: Option<String>,
    pub logo_file_id: Option<FileId>,
    pub countries: Vec<String>,
    pub regions: Vec<String>,
    pub types: Vec<PartnerType>,
    /// Tier names held in any program.
    pub tiers: Vec<String>,
    pub specialisations: Vec<String>,
}

fn blank_to_none(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The workspace a public locator request is for: the one named (`wks_…`), or the instance's only
/// workspace when none is named.
pub async fn workspace_for(ctx: &Ctx, named: Option<&str>) -> Result<WorkspaceId> {
    let mut tx = ctx.db().read_granted(&PUBLIC_LOCATOR).await?;
    match blank_to_none(named) {
        Some(text) => {
            let id = WorkspaceId::parse(text).map_err(|_| Error::NotFound)?;
            tx.fetch_optional(sql!("SELECT id FROM workspaces WHERE id = $1", id)).await?.ok_or(Error::NotFound)?;
            Ok(id)
        }
        None => {
            let rows = tx.fetch_all(sql!("SELECT id FROM workspaces ORDER BY id LIMIT 2")).await?;
            match rows.as_slice() {
                [only] => Ok(only.get("id")?),
                [] => Err(Error::NotFound),
                _ => Err(Error::invalid("workspace", "this instance hosts several workspaces: name one (wks_…)")),
            }
        }
    }
}

fn country_of(filter: &LocatorFilter) -> Result<Option<&'static str>> {
    match blank_to_none(filter.country.as_deref()) {
        Some(text) => {
            Ok(Some(countries::parse(text).ok_or_else(|| Error::invalid("country", "must be an ISO 3166-1 alpha-2 code such as DE"))?))
        }
        None => Ok(None),
    }
}

/// Appends the FROM and WHERE of the listed partners matching `filter` (every filter but the
/// cursor) to a query's select list: active, opted in, compliant on `today` (no licence lapsed
/// without a valid successor: `compliance::push_compliant`). Answers the workspace's placeholder.
fn push_listed(q: &mut Sql, system: &Scope, filter: &LocatorFilter, country: Option<&str>, today: Date) -> String {
    // `CROSS JOIN` keeps `partners` the outer loop on SQLite (its documented join-order hint), so
    // the page walks the (workspace, status, name, id) index in order and stops at the limit
    // instead of sorting every listed partner; PostgreSQL plans it like an inner join.
    q.push(" FROM partners p CROSS JOIN partner_profiles pp WHERE pp.workspace_id = p.workspace_id AND pp.partner_id = p.id AND p.workspace_id = ");
    let ws = q.bind(system.workspace_id());
    q.push(&ws).push(" AND p.status = ").push_bind(PartnerStatus::Active.as_str());
    q.push(" AND pp.locator_opt_in = ").push_bind(true);
    let term_filters = [
        ("country", country.map(str::to_lowercase)),
        ("region", blank_to_none(filter.region.as_deref()).map(str::to_lowercase)),
        ("specialisation", blank_to_none(filter.specialisation.as_deref()).map(str::to_lowercase)),
    ];
    for (kind, key) in term_filters {
        if let Some(key) = key {
            let (kind, key) = (q.bind(kind), q.bind(key));
            q.push(&format!(
                " AND p.id IN (SELECT t.partner_id FROM partner_profile_terms t WHERE t.workspace_id = {ws} AND t.kind = {kind} AND t.match_key = {key})"
            ));
        }
    }
    if let Some(kind) = filter.partner_type {
        q.push(" AND (p.types & ").push_bind(kind.bit()).push(") <> 0");
    }
    if let Some(tier) = blank_to_none(filter.tier.as_deref()) {
        let tier = q.bind(tier.to_lowercase());
        // Tiers are dense (every enrolled partner holds one): probing each partner's enrollments by
        // primary key while walking the page beats materialising every holder of the tier.
        q.push(&format!(
            " AND EXISTS (SELECT 1 FROM enrollments e JOIN tiers tr ON tr.workspace_id = e.workspace_id AND tr.id = e.tier_id
               WHERE e.workspace_id = p.workspace_id AND e.partner_id = p.id AND LOWER(tr.name) = {tier})"
        ));
    }
    if let Some(text) = blank_to_none(filter.q.as_deref()) {
        let pattern = q.bind(format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        q.push(&format!(" AND (LOWER(p.name) LIKE {pattern} ESCAPE '\\' OR LOWER(pp.description) LIKE {pattern} ESCAPE '\\')"));
    }
    compliance::push_compliant(q, "p", today);
    ws
}

/// The most partners [`count`] counts; past it the locator says "more than 1,000".
pub const MAX_COUNTED: i64 = 1000;

/// How many partners a search finds (over all its pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// At most [`MAX_COUNTED`].
    pub count: i64,
    /// More than `count` match.
    pub more: bool,
}

/// How many listed partners match `filter` (its cursor ignored). Counting stops after
/// [`MAX_COUNTED`] + 1 rows, so a broad search of a workspace with 50,000 partners costs what
/// a thousand rows cost, not the whole directory.
pub async fn count(ctx: &Ctx, workspace_id: &WorkspaceId, filter: &LocatorFilter) -> Result<Found> {
    let system = Scope::system(workspace_id.clone(), &PUBLIC_LOCATOR);
    let country = country_of(filter)?;
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM (SELECT 1 AS one");
    push_listed(&mut q, &system, filter, country, dates::today(ctx.now()));
    q.push(" LIMIT ").push_bind(MAX_COUNTED + 1).push(") counted");
    let mut tx = system.read(ctx).await?;
    let n: i64 = tx.fetch_one(q).await?.get("n")?;
    Ok(Found { count: n.min(MAX_COUNTED), more: n > MAX_COUNTED })
}

/// One page of listed partners of a workspace, by name.
pub async fn search(ctx: &Ctx, workspace_id: &WorkspaceId, filter: &LocatorFilter) -> Result<Page<ListedPartner>> {
    let system = Scope::system(workspace_id.clone(), &PUBLIC_LOCATOR);
    let country = country_of(filter)?;
    let mut q = Sql::build("SELECT p.id, p.name, p.website, p.types, pp.description, pp.logo_file_id");
    let ws = push_listed(&mut q, &system, filter, country, dates::today(ctx.now()));
    if let Some(after) = &filter.after {
        let after = q.bind(after);
        q.push(&format!(" AND (p.name, p.id) > (SELECT c.name, c.id FROM partners c WHERE c.workspace_id = {ws} AND c.id = {after})"));
    }
    q.push(" ORDER BY p.name, p.id LIMIT ").push_bind(page::fetch_limit(filter.limit));

    let mut tx = system.read(ctx).await?;
    let mut listed = Vec::new();
    for row in tx.fetch_all(q).await? {
        listed.push(ListedPartner {
            id: row.get("id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            website: row.get("website")?,
            logo_file_id: row.get("logo_file_id")?,
            countries: Vec::new(),
            regions: Vec::new(),
            types: PartnerTypes::from_mask(row.get("types")?).to_vec(),
            tiers: Vec::new(),
            specialisations: Vec::new(),
        });
    }
    // The terms and tiers of the partners on the page only, not of the row that says more exist.
    let mut page = Page::from_rows(listed, filter.limit, |p| p.id.to_string());
    let listed = &mut page.items;
    if listed.is_empty() {
        return Ok(page);
    }
    let ids: Vec<&PartnerId> = listed.iter().map(|p| &p.id).collect();
    let mut at: BTreeMap<PartnerId, usize> = BTreeMap::new();
    for (index, partner) in listed.iter().enumerate() {
        at.insert(partner.id.clone(), index);
    }
    let mut q = Sql::build("SELECT partner_id, kind, value FROM partner_profile_terms WHERE workspace_id = ");
    q.push_bind(system.workspace_id()).push(" AND kind IN ('country', 'region', 'specialisation') AND partner_id IN ");
    q.push_in_list(&ids).push(" ORDER BY partner_id, kind, position");
    let terms = tx.fetch_all(q).await?;
    let mut q = Sql::build(
        "SELECT e.partner_id, tr.name FROM enrollments e JOIN tiers tr ON tr.workspace_id = e.workspace_id AND tr.id = e.tier_id WHERE e.workspace_id = ",
    );
    q.push_bind(system.workspace_id()).push(" AND e.partner_id IN ");
    q.push_in_list(&ids).push(" ORDER BY e.partner_id, tr.rank DESC, tr.name");
    let tiers = tx.fetch_all(q).await?;
    for row in terms {
        let partner_id: PartnerId = row.get("partner_id")?;
        let (kind, value): (String, String) = (row.get("kind")?, row.get("value")?);
        let Some(partner) = at.get(&partner_id).and_then(|i| listed.get_mut(*i)) else { continue };
        match kind.as_str() {
            "country" => partner.countries.push(value),
            "region" => partner.regions.push(value),
            _ => partner.specialisations.push(value),
        }
    }
    for row in tiers {
        let partner_id: PartnerId = row.get("partner_id")?;
        let name: String = row.get("name")?;
        if let Some(partner) = at.get(&partner_id).and_then(|i| listed.get_mut(*i))
            && !partner.tiers.contains(&name)
        {
            partner.tiers.push(name);
        }
    }
    Ok(page)
}

/// What the locator's filters offer: the values listed partners actually have.
#[derive(Debug, Clone, Default)]
pub struct LocatorChoices {
    pub countries: Vec<String>,
    pub regions: Vec<String>,
    pub specialisations: Vec<String>,
    pub tiers: Vec<String>,
}

pub async fn choices(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<LocatorChoices> {
    let system = Scope::system(workspace_id.clone(), &PUBLIC_LOCATOR);
    let mut tx = system.read(ctx).await?;
    let mut q = Sql::build(
        "SELECT t.kind, MIN(t.value) AS value FROM partner_profile_terms t
         JOIN partner_profiles pp ON pp.workspace_id = t.workspace_id AND pp.partner_id = t.partner_id
         JOIN partners p ON p.workspace_id = t.workspace_id AND p.id = t.partner_id
         WHERE t.workspace_id = ",
    );
    q.push_bind(system.workspace_id()).push(" AND t.kind IN ('country', 'region', 'specialisation') AND pp.locator_opt_in = ");
    q.push_bind(true).push(" AND p.status = 'active'");
    compliance::push_compliant(&mut q, "p", dates::today(ctx.now()));
    q.push(" GROUP BY t.kind, t.match_key ORDER BY t.kind, MIN(t.value)");
    let terms = tx.fetch_all(q).await?;
    let tiers = tx.fetch_all(sql!("SELECT DISTINCT name FROM tiers WHERE workspace_id = $1 ORDER BY name", system.workspace_id())).await?;
    let mut choices = LocatorChoices::default();
    for row in terms {
        let (kind, value): (String, String) = (row.get("kind")?, row.get("value")?);
        match kind.as_str() {
            "country" => choices.countries.push(value),
            "region" => choices.regions.push(value),
            _ => choices.specialisations.push(value),
        }
    }
    choices.countries.sort_by_key(|c| countries::name(c).to_owned());
    choices.tiers = tiers.iter().map(|r| r.get("name")).collect::<Result<_, _>>()?;
    Ok(choices)
}

/// A logo for the public locator: only the current logo of a listed partner (active, opted in,
/// compliant),
/// whatever workspace it is in; anything else is not found.
pub async fn listed_logo(ctx: &Ctx, data_dir: &Path, file_id: &FileId) -> Result<(StoredFile, Vec<u8>)> {
    let workspace_id: WorkspaceId = {
        let mut tx = ctx.db().read_granted(&PUBLIC_LOCATOR).await?;
        let mut q = Sql::build(
            "SELECT pp.workspace_id FROM partner_profiles pp JOIN partners p ON p.workspace_id = pp.workspace_id AND p.id = pp.partner_id
             WHERE pp.logo_file_id = ",
        );
        q.push_bind(file_id).push(" AND pp.locator_opt_in = ").push_bind(true).push(" AND p.status = 'active'");
        compliance::push_compliant(&mut q, "p", dates::today(ctx.now()));
        let row = tx.fetch_optional(q).await?.ok_or(Error::NotFound)?;
        row.get("workspace_id")?
    };
    let system = Scope::system(workspace_id, &PUBLIC_LOCATOR);
    let file = {
        let mut tx = system.read(ctx).await?;
        files::find_in(&mut tx, &system, file_id).await?
    };
    if file.purpose != FilePurpose::Logo {
        return Err(Error::NotFound);
    }
    let bytes = files::bytes_of(data_dir, &file).await?;
    Ok((file, bytes))
}
