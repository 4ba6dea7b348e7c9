//! Partner organisations (API.md "Partners").

use serde_json::json;
use trellis_core::{
    Domain, Email, Error, Page, PartnerId, PartnerRole, PartnerStatus, PartnerType, PartnerTypes, Result, Timestamp, UserId, Validation,
    VendorRole, page,
};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope, ScopedTx, SeenPartner, auth, workspaces};

use crate::events::{self, PartnerEventKind};
use crate::{countries, statuses};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    pub contact_email: String,
    pub website: Option<String>,
    pub country: Option<String>,
    pub types: Vec<PartnerType>,
    pub status: PartnerStatus,
    pub parent_id: Option<PartnerId>,
    pub manager_user_id: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Input of `create`, as received (validated here).
#[derive(Debug, Clone, Default)]
pub struct NewPartner {
    pub name: String,
    pub contact_email: String,
    pub website: Option<String>,
    pub country: Option<String>,
    pub types: Vec<PartnerType>,
    pub parent_id: Option<PartnerId>,
    pub manager_user_id: Option<UserId>,
}

/// A change; `None` leaves a field; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct PartnerPatch {
    pub name: Option<String>,
    pub contact_email: Option<String>,
    pub website: Option<Option<String>>,
    pub country: Option<Option<String>>,
    pub types: Option<Vec<PartnerType>>,
    pub status: Option<PartnerStatus>,
    pub parent_id: Option<Option<PartnerId>>,
    pub manager_user_id: Option<Option<UserId>>,
}

/// The orders the partner list offers. Each pages by a key the database indexes together with the
/// id, so a page costs its length for the vendor's staff whatever the sort (a restricted channel
/// manager's list sorts the partners it manages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PartnerSort {
    #[default]
    Newest,
    Oldest,
    /// By name, A to Z (case-insensitive).
    Name,
    /// By name, Z to A.
    NameDescending,
}

impl PartnerSort {
    pub const ALL: &[PartnerSort] = &[Self::Newest, Self::Oldest, Self::Name, Self::NameDescending];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Name => "name",
            Self::NameDescending => "name_desc",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Newest => "Newest first",
            Self::Oldest => "Oldest first",
            Self::Name => "Name, A to Z",
            Self::NameDescending => "Name, Z to A",
        }
    }

    fn by_name(self) -> bool {
        matches!(self, Self::Name | Self::NameDescending)
    }

    fn descending(self) -> bool {
        matches!(self, Self::Newest | Self::NameDescending)
    }
}

/// A condition on a listed partner contributed by a capability above the directory (its tier in a
/// program, its compliance): SQL over that capability's own tables, correlated with `partners.id`
/// and starting with ` AND `. The directory lists; the capability keeps its tables to itself.
#[derive(Clone)]
pub struct PartnerCondition {
    push: std::sync::Arc<dyn Fn(&mut Sql) + Send + Sync>,
}

impl PartnerCondition {
    pub fn new(push: impl Fn(&mut Sql) + Send + Sync + 'static) -> Self {
        Self { push: std::sync::Arc::new(push) }
    }
}

impl std::fmt::Debug for PartnerCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PartnerCondition")
    }
}

/// Filters of the partner list.
#[derive(Debug, Clone, Default)]
pub struct PartnerFilter {
    /// Case-insensitive substring of the name or contact email.
    pub q: Option<String>,
    pub partner_type: Option<PartnerType>,
    pub status: Option<PartnerStatus>,
    pub parent_id: Option<PartnerId>,
    pub manager_user_id: Option<UserId>,
    /// Conditions of other capabilities (see [`PartnerCondition`]).
    pub conditions: Vec<PartnerCondition>,
    pub sort: PartnerSort,
    /// The cursor: the last partner of the previous page.
    pub before: Option<PartnerId>,
    /// Partners on the page (50 unless named).
    pub limit: Option<i64>,
}

const COLUMNS: &str = "id, name, contact_email, website, country, types, status, parent_id, manager_user_id, created_at, updated_at";

fn from_row(row: &Row) -> Result<Partner> {
    let status: String = row.get("status")?;
    Ok(Partner {
        id: row.get("id")?,
        name: row.get("name")?,
        contact_email: row.get("contact_email")?,
        website: row.get("website")?,
        country: row.get("country")?,
        types: PartnerTypes::from_mask(row.get("types")?).to_vec(),
        status: PartnerStatus::parse(&status).ok_or_else(|| Error::Internal(format!("stored status {status}")))?,
        parent_id: row.get("parent_id")?,
        manager_user_id: row.get("manager_user_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Reads one partner through the scope's visibility rule (the same rule the list uses).
pub async fn fetch_visible(tx: &mut ScopedTx, scope: &Scope, id: &PartnerId) -> Result<Partner> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM partners WHERE workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND id = ").push_bind(id).push(" AND ");
    tx.push_partner_filter(&mut q, "id");
    from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)
}

pub async fn get(ctx: &Ctx, scope: &Scope, id: &PartnerId) -> Result<Partner> {
    let mut tx = scope.read(ctx).await?;
    fetch_visible(&mut tx, scope, id).await
}

/// Checks once that the caller sees the partner and reads it: the start of a page that shows one
/// partner in one transaction, whose other reads take the [`SeenPartner`].
pub async fn see(tx: &mut ScopedTx, scope: &Scope, id: &PartnerId) -> Result<(SeenPartner, Partner)> {
    let seen = tx.see_partner(id).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM partners WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND id = ").push_bind(seen.id());
    let partner = from_row(&tx.fetch_optional(q).await?.ok_or(Error::NotFound)?)?;
    Ok((seen, partner))
}

/// Lists visible partners, newest first.
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &PartnerFilter) -> Result<Page<Partner>> {
    let mut tx = scope.read(ctx).await?;
    list_in(&mut tx, scope, filter).await
}

/// [`list`] inside the caller's transaction.
pub async fn list_in(tx: &mut ScopedTx, scope: &Scope, filter: &PartnerFilter) -> Result<Page<Partner>> {
    // API.md: a list filtered by an object the caller may not see is empty (a reseller filtering by
    // its distributor learns nothing from the list).
    if let Some(parent) = &filter.parent_id
        && !tx.can_see_partner(parent).await?
    {
        return Ok(Page::empty());
    }
    query_list(tx, scope, filter).await
}

/// The children of a partner already checked in the caller's transaction (newest first, at most
/// `limit`): every child of a visible partner is visible, the rule being closed under descendants.
pub async fn children_in(tx: &mut ScopedTx, scope: &Scope, seen: &SeenPartner, limit: i64) -> Result<Page<Partner>> {
    let parent = tx.seen(seen)?.clone();
    query_list(tx, scope, &PartnerFilter { parent_id: Some(parent), limit: Some(limit), ..PartnerFilter::default() }).await
}

/// The list query; a `parent_id` filter must name a partner the caller sees (checked by the caller).
async fn query_list(tx: &mut ScopedTx, scope: &Scope, filter: &PartnerFilter) -> Result<Page<Partner>> {
    // A page by name starts after the cursor's (name, id): its name is read first, and a cursor
    // naming no partner of the workspace starts the list over.
    let after_name: Option<String> = match (&filter.before, filter.sort.by_name()) {
        (Some(cursor), true) => {
            let mut q = Sql::build("SELECT LOWER(name) AS k FROM partners WHERE workspace_id = ");
            q.push_bind(scope.workspace_id()).push(" AND id = ").push_bind(cursor);
            match tx.fetch_optional(q).await? {
                Some(row) => Some(row.get("k")?),
                None => None,
            }
        }
        _ => None,
    };
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS);
    let id = push_matching(tx, scope, filter, &mut q);
    let (cmp, dir) = if filter.sort.descending() { ("<", "DESC") } else { (">", "ASC") };
    if filter.sort.by_name() {
        if let (Some(name), Some(cursor)) = (after_name, &filter.before) {
            // The first, redundant bound lets SQLite seek the index to the cursor's name (it does
            // not seek on a row value over an expression); the row value then breaks ties by id.
            q.push(&format!(" AND LOWER(partners.name) {cmp}= ")).push_bind(&name);
            q.push(&format!(" AND (LOWER(partners.name), {id}) {cmp} ("));
            q.push_bind(name).push(", ").push_bind(cursor).push(")");
        }
        q.push(&format!(" ORDER BY LOWER(partners.name) {dir}, {id} {dir}"));
    } else {
        if let Some(before) = &filter.before {
            q.push(&format!(" AND {id} {cmp} ")).push_bind(before);
        }
        q.push(&format!(" ORDER BY {id} {dir}"));
    }
    q.push(" LIMIT ").push_bind(page::fetch_limit(filter.limit));
    let rows = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, filter.limit, |p| p.id.to_string()))
}

/// How many visible partners match `filter` (its cursor and limit aside), counting at most `cap`
/// + 1: a list's "of 2,340" costs at most that many index entries ("10,000+" past it).
pub async fn count_matching_in(tx: &mut ScopedTx, scope: &Scope, filter: &PartnerFilter, cap: i64) -> Result<i64> {
    if let Some(parent) = &filter.parent_id
        && !tx.can_see_partner(parent).await?
    {
        return Ok(0);
    }
    let mut q = Sql::build("SELECT COUNT(*) AS n FROM (SELECT 1 AS one");
    push_matching(tx, scope, filter, &mut q);
    q.push(" LIMIT ").push_bind(cap + 1).push(") capped");
    Ok(tx.fetch_i64(q).await?)
}

/// Appends the `FROM … WHERE …` of the visible partners matching `filter`'s conditions; answers
/// the column the list orders and pages by. A `parent_id` filter must name a partner the caller
/// sees (checked by the caller).
fn push_matching(tx: &ScopedTx, scope: &Scope, filter: &PartnerFilter, q: &mut Sql) -> &'static str {
    let order = if filter.parent_id.is_some() {
        // The children of a partner the caller sees (checked above) are all visible, the rule being
        // closed under descendants; the index on (parent, id) then answers the page directly.
        q.push(" FROM partners WHERE partners.workspace_id = ").push_bind(scope.workspace_id());
        "partners.id"
    } else {
        tx.push_visible_partners(q)
    };
    if let Some(text) = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let p = q.bind(pattern);
        q.push(&format!(" AND (LOWER(name) LIKE {p} ESCAPE '\\' OR LOWER(contact_email) LIKE {p} ESCAPE '\\')"));
    }
    if let Some(kind) = filter.partner_type {
        q.push(" AND (types & ").push_bind(kind.bit()).push(") <> 0");
    }
    if let Some(status) = filter.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(parent) = &filter.parent_id {
        q.push(" AND parent_id = ").push_bind(parent);
    }
    if let Some(manager) = &filter.manager_user_id {
        q.push(" AND manager_user_id = ").push_bind(manager);
    }
    for condition in &filter.conditions {
        (condition.push)(q);
    }
    order
}

/// Counts visible partners by status (console dashboard); same visibility rule as the list.
pub async fn count_by_status(ctx: &Ctx, scope: &Scope) -> Result<Vec<(PartnerStatus, i64)>> {
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT status, COUNT(*) AS n FROM partners WHERE workspace_id = ");
    q.push_bind(scope.workspace_id()).push(" AND ");
    tx.push_partner_filter(&mut q, "id");
    q.push(" GROUP BY status ORDER BY status");
    tx.fetch_all(q)
        .await?
        .iter()
        .map(|row| {
            let status: String = row.get("status")?;
            Ok((PartnerStatus::parse(&status).unwrap_or(PartnerStatus::Active), row.get("n")?))
        })
        .collect()
}

/// A partner's country: an officially assigned ISO 3166-1 alpha-2 code (the list the locator
/// filters by), upper-cased; blank is none.
pub fn clean_country(v: &mut Validation, country: Option<&str>) -> Option<Option<String>> {
    match country.map(str::trim).filter(|c| !c.is_empty()) {
        None => Some(None),
        Some(c) => match countries::parse(c) {
            Some(code) => Some(Some(code.to_owned())),
            None => {
                v.add("country", "must be an ISO 3166-1 alpha-2 code such as DE or US");
                None
            }
        },
    }
}

/// Longest website accepted, in bytes of its normalised form.
const MAX_WEBSITE_LEN: usize = 500;

/// A website: parsed as a URL (`https://` assumed without a scheme), http or https, a host that
/// is a domain name (no IP address, no user or password), and no quotes, angle brackets, spaces
/// or control characters anywhere — it is shown on public pages. Stored as the URL's normalised
/// serialisation, without the lone `/` of an empty path (`https://example.com`).
pub fn clean_website(v: &mut Validation, website: Option<&str>) -> Option<Option<String>> {
    match website.map(str::trim).filter(|w| !w.is_empty()) {
        None => Some(None),
        Some(w) => match parse_website(w) {
            Some(url) => Some(Some(url)),
            None => {
                v.add("website", "must be a web address such as https://example.com");
                None
            }
        },
    }
}

fn parse_website(text: &str) -> Option<String> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\')) {
        return None;
    }
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("https://{text}") };
    let url = url::Url::parse(&with_scheme).ok()?;
    let host_is_domain = matches!(url.host(), Some(url::Host::Domain(host)) if Domain::parse(host).is_ok());
    if !matches!(url.scheme(), "http" | "https") || !host_is_domain || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let mut normalised = url.to_string();
    if url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
        normalised.pop();
    }
    (normalised.len() <= MAX_WEBSITE_LEN).then_some(normalised)
}

/// Partner types as given: at least one, and no more entries than there are types (repeats are
/// harmless, thousands of them are not).
pub fn check_types(v: &mut Validation, types: &[PartnerType]) {
    if types.is_empty() {
        v.add("types", "must name at least one partner type");
    } else if types.len() > PartnerType::ALL.len() {
        v.add("types", format!("at most {} entries", PartnerType::ALL.len()));
    }
}

/// The staff member must exist in the workspace to be a manager.
async fn check_manager(tx: &mut Tx, scope: &Scope, manager: &UserId) -> Result<()> {
    let row =
        tx.fetch_optional(sql!("SELECT role FROM members WHERE workspace_id = $1 AND user_id = $2", scope.workspace_id(), manager)).await?;
    match row {
        Some(_) => Ok(()),
        None => Err(Error::invalid("manager_user_id", "must be a staff member of the workspace")),
    }
}

/// The parent must be visible to the caller; a partner may not end up under its own subtree.
async fn check_parent(tx: &mut ScopedTx, scope: &Scope, child: Option<&PartnerId>, parent: &PartnerId) -> Result<()> {
    let exists = fetch_visible(tx, scope, parent).await;
    if exists.is_err() {
        return Err(Error::invalid("parent_id", "must be a partner you can see"));
    }
    if let Some(child) = child {
        // Walks up from the new parent (at most the depth of the tree). Under a restricted
        // caller's row security the walk stops at the first partner it cannot see, which is
        // enough: every partner between a visible child and its descendant is visible too.
        let cycle = tx
            .fetch_optional(sql!(
                "WITH RECURSIVE up (id, parent_id) AS (
                    SELECT id, parent_id FROM partners WHERE workspace_id = $1 AND id = $2
                    UNION SELECT p.id, p.parent_id FROM partners p JOIN up ON p.id = up.parent_id WHERE p.workspace_id = $1
                 ) SELECT id FROM up WHERE id = $3",
                scope.workspace_id(),
                parent,
                child
            ))
            .await?;
        if cycle.is_some() {
            return Err(Error::invalid("parent_id", "would make the partner its own ancestor"));
        }
    }
    Ok(())
}

/// Creates a partner: by owner/admin/channel_manager (status `active`), or by a distributor's
/// admin creating a reseller under itself when the workspace allows it.
pub async fn create(ctx: &Ctx, scope: &Scope, input: NewPartner) -> Result<Partner> {
    let mut tx = scope.write(ctx).await?;
    let partner = create_in(&mut tx, scope, input, ctx.now()).await?;
    tx.commit().await?;
    Ok(partner)
}

/// [`create`] inside the caller's write transaction, which may go on (enroll the new partner:
/// `trellis_programs::enrollments::create_enrolled`) before it commits.
pub async fn create_in(tx: &mut ScopedTx, scope: &Scope, input: NewPartner, now: Timestamp) -> Result<Partner> {
    let distributor = match scope.partner() {
        Some((own, PartnerRole::Admin)) => {
            if !workspaces::distributors_manage_resellers(tx, scope.workspace_id()).await? {
                return Err(Error::forbidden("this workspace does not let distributors create resellers"));
            }
            let own_partner = fetch_visible(tx, scope, own).await?;
            if !own_partner.types.contains(&PartnerType::Distributor) {
                return Err(Error::forbidden("only distributors create resellers"));
            }
            Some(own.clone())
        }
        Some(_) => return Err(Error::forbidden("only the partner's admins may create resellers")),
        None => {
            scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "create partners")?;
            None
        }
    };
    let mut v = Validation::new();
    let name = v.text("name", &input.name, 200);
    let email = v.check("contact_email", Email::parse(&input.contact_email));
    let website = clean_website(&mut v, input.website.as_deref());
    let country = clean_country(&mut v, input.country.as_deref());
    check_types(&mut v, &input.types);
    if distributor.is_some() && input.manager_user_id.is_some() {
        v.add("manager_user_id", "is set by the vendor");
    }
    v.finish().map_err(Error::Validation)?;
    let (Some(name), Some(email), Some(website), Some(country)) = (name, email, website, country) else {
        return Err(Error::Internal("validated".into()));
    };
    let parent_id = match (&distributor, input.parent_id) {
        (Some(own), None) => Some(own.clone()),
        (Some(own), Some(p)) if &p == own => Some(p),
        (Some(_), Some(_)) => return Err(Error::invalid("parent_id", "resellers you create are placed under your own organisation")),
        (None, parent) => parent,
    };
    if let Some(parent) = &parent_id {
        check_parent(tx, scope, None, parent).await?;
    }
    if let Some(manager) = &input.manager_user_id {
        check_manager(tx, scope, manager).await?;
    }
    let types: PartnerTypes = input.types.iter().copied().collect();
    let id = PartnerId::generate();
    tx.execute(sql!(
        "INSERT INTO partners (workspace_id, id, name, contact_email, website, country, types, status, parent_id, manager_user_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $10)",
        scope.workspace_id(), id, name, email, website, country, types.mask(), parent_id, input.manager_user_id, now
    ))
    .await?;
    let partner = Partner {
        id: id.clone(),
        name,
        contact_email: email.to_string(),
        website,
        country,
        types: types.to_vec(),
        status: PartnerStatus::Active,
        parent_id,
        manager_user_id: input.manager_user_id,
        created_at: now,
        updated_at: now,
    };
    let entry = AuditEntry::new("partner.created", "partner", id.as_str())
        .set("name", partner.name.clone())
        .set("contact_email", partner.contact_email.clone())
        .set("types", json!(partner.types))
        .set("status", partner.status.as_str())
        .set("parent_id", json!(partner.parent_id))
        .set("manager_user_id", json!(partner.manager_user_id));
    audit::record(tx, scope, now, entry).await?;
    Ok(partner)
}

/// An organisation that applied through the public form, as the application recorded it
/// (validated by `recruitment::applications`, with this module's checks).
#[derive(Debug, Clone)]
pub struct Applicant {
    pub name: String,
    pub contact_email: Email,
    pub website: Option<String>,
    pub country: Option<String>,
    pub types: PartnerTypes,
}

/// Inserts an applicant as a partner in status `applied`, in the caller's transaction (the
/// application and its audit entry are written beside it); answers the new partner's id.
pub async fn insert_applicant_in(tx: &mut ScopedTx, scope: &Scope, applicant: &Applicant, now: Timestamp) -> Result<PartnerId> {
    let id = PartnerId::generate();
    tx.execute(sql!(
        "INSERT INTO partners (workspace_id, id, name, contact_email, website, country, types, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'applied', $8, $8)",
        scope.workspace_id(),
        id,
        applicant.name,
        applicant.contact_email,
        applicant.website,
        applicant.country,
        applicant.types.mask(),
        now
    ))
    .await?;
    Ok(id)
}

/// Moves a partner from `from` to `to` inside a flow's transaction (approving or rejecting an
/// application, activating a partner whose onboarding is done); the flow records its own audit
/// action. The change must be in [`statuses::TRANSITIONS`], the one table of the partner status
/// machine, and happens only while the partner is still in `from`: answers whether it moved. A
/// status without access ends the partner's sessions and keys, as [`update`] does.
pub async fn move_status_in(
    tx: &mut ScopedTx,
    scope: &Scope,
    id: &PartnerId,
    from: PartnerStatus,
    to: PartnerStatus,
    now: Timestamp,
) -> Result<bool> {
    if statuses::find(from, to).is_none() {
        return Err(Error::conflict(format!("a partner cannot go from {from} to {to}")));
    }
    let mut q = Sql::build("UPDATE partners SET status = ");
    q.push_bind(to.as_str()).push(", updated_at = ").push_bind(now);
    q.push(" WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND id = ").push_bind(id);
    q.push(" AND status = ").push_bind(from.as_str()).push(" AND ");
    tx.push_partner_filter(&mut q, "id");
    let moved = tx.execute(q).await? == 1;
    if moved && !to.allows_access() {
        auth::cut_off_partner(tx, scope.workspace_id(), id, now).await?;
    }
    Ok(moved)
}

/// Sets a visible partner's website inside the caller's transaction: the profile's website and
/// the partner's are one value (`records::profiles` writes both in its change).
pub async fn set_website_in(tx: &mut ScopedTx, scope: &Scope, id: &PartnerId, website: Option<&str>, now: Timestamp) -> Result<()> {
    let mut q = Sql::build("UPDATE partners SET website = ");
    q.push_bind(website).push(", updated_at = ").push_bind(now);
    q.push(" WHERE workspace_id = ").push_bind(scope.workspace_id()).push(" AND id = ").push_bind(id).push(" AND ");
    tx.push_partner_filter(&mut q, "id");
    if tx.execute(q).await? == 1 { Ok(()) } else { Err(Error::NotFound) }
}

/// Whether the caller may change this (visible) partner, and which fields.
fn require_editor(scope: &Scope, partner: &Partner, patch: &PartnerPatch) -> Result<()> {
    if scope.has_vendor_role(VendorRole::PARTNER_MANAGERS) {
        return Ok(());
    }
    // Status, types, hierarchy and manager are the vendor's for every partner: a distributor
    // suspending, reactivating or terminating its resellers would override the vendor's decisions
    // (and end the reseller's access), so a partner caller naming any of them is refused whatever
    // the value.
    let vendor_fields = patch.status.is_some() || patch.parent_id.is_some() || patch.manager_user_id.is_some() || patch.types.is_some();
    match scope.partner() {
        // A partner admin edits its own contact details; a distributor's admin its resellers'
        // when the workspace allows it (checked by the caller).
        Some((own, PartnerRole::Admin)) if own == &partner.id || partner.parent_id.is_some() => {
            if vendor_fields {
                Err(Error::forbidden("status, types, parent and manager are managed by the vendor"))
            } else {
                Ok(())
            }
        }
        _ => Err(Error::forbidden("your role may not change partners")),
    }
}

/// The audit action of a status change staff may make by hand ([`statuses::TRANSITIONS`]);
/// leaving the status as it is is a plain update.
fn check_transition(from: PartnerStatus, to: PartnerStatus) -> Result<&'static str> {
    if from == to {
        return Ok("partner.updated");
    }
    statuses::find(from, to).map(|tr| tr.action).ok_or_else(|| Error::conflict(format!("a partner cannot go from {from} to {to}")))
}

/// Changes a partner. Suspending or terminating it ends its users' sessions and revokes its keys
/// in the same transaction; re-parenting takes effect on the next request.
pub async fn update(ctx: &Ctx, scope: &Scope, id: &PartnerId, patch: PartnerPatch) -> Result<Partner> {
    let mut tx = scope.write(ctx).await?;
    let after = update_in(&mut tx, scope, id, patch, ctx.now()).await?;
    tx.commit().await?;
    Ok(after)
}

/// [`update`] inside the caller's write transaction (the console's bulk actions change many
/// partners in one); on an error the caller rolls back.
pub async fn update_in(tx: &mut ScopedTx, scope: &Scope, id: &PartnerId, patch: PartnerPatch, now: Timestamp) -> Result<Partner> {
    let before = fetch_visible(tx, scope, id).await?;
    require_editor(scope, &before, &patch)?;
    if scope.partner().is_some_and(|(own, _)| own != id) && !workspaces::distributors_manage_resellers(tx, scope.workspace_id()).await? {
        return Err(Error::forbidden("this workspace does not let distributors manage resellers"));
    }
    let mut v = Validation::new();
    let name = patch.name.as_deref().map(|n| v.text("name", n, 200));
    let email = patch.contact_email.as_deref().map(|e| v.check("contact_email", Email::parse(e)));
    let website = patch.website.as_ref().map(|w| clean_website(&mut v, w.as_deref()));
    let country = patch.country.as_ref().map(|c| clean_country(&mut v, c.as_deref()));
    if let Some(types) = &patch.types {
        check_types(&mut v, types);
    }
    v.finish().map_err(Error::Validation)?;
    let mut after = before.clone();
    if let Some(Some(name)) = name {
        after.name = name;
    }
    if let Some(Some(email)) = email {
        after.contact_email = email.to_string();
    }
    if let Some(Some(website)) = website {
        after.website = website;
    }
    if let Some(Some(country)) = country {
        after.country = country;
    }
    if let Some(types) = &patch.types {
        after.types = types.iter().copied().collect::<PartnerTypes>().to_vec();
    }
    let mut action = "partner.updated";
    if let Some(status) = patch.status {
        action = check_transition(before.status, status)?;
        after.status = status;
    }
    if let Some(parent) = &patch.parent_id {
        if let Some(p) = parent {
            if p == id {
                return Err(Error::invalid("parent_id", "would make the partner its own ancestor"));
            }
            check_parent(tx, scope, Some(id), p).await?;
        }
        after.parent_id = parent.clone();
    }
    if let Some(manager) = &patch.manager_user_id {
        if let Some(m) = manager {
            check_manager(tx, scope, m).await?;
        }
        after.manager_user_id = manager.clone();
    }
    after.updated_at = now;
    let types: PartnerTypes = after.types.iter().copied().collect();
    tx.execute(sql!(
        "UPDATE partners SET name = $3, contact_email = $4, website = $5, country = $6, types = $7, status = $8, parent_id = $9, manager_user_id = $10, updated_at = $11
         WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(), id, after.name, after.contact_email, after.website, after.country, types.mask(),
        after.status.as_str(), after.parent_id, after.manager_user_id, now
    ))
    .await?;
    if before.status != after.status && !after.status.allows_access() {
        auth::cut_off_partner(tx, scope.workspace_id(), id, now).await?;
    }
    let entry = AuditEntry::new(action, "partner", id.as_str())
        .change("name", before.name.clone(), after.name.clone())
        .change("contact_email", before.contact_email.clone(), after.contact_email.clone())
        .change("website", json!(before.website), json!(after.website))
        .change("country", json!(before.country), json!(after.country))
        .change("types", json!(before.types), json!(after.types))
        .change("status", before.status.as_str(), after.status.as_str())
        .change("parent_id", json!(before.parent_id), json!(after.parent_id))
        .change("manager_user_id", json!(before.manager_user_id), json!(after.manager_user_id));
    audit::record(tx, scope, now, entry).await?;
    Ok(after)
}

/// Invites a person to a partner organisation (`partner_users::invite_within`) and raises
/// `UserInvited` in the same transaction (onboarding's `invite_colleagues` step completes from
/// it). The API and the pages that invite partner users call this.
pub async fn invite_user(
    ctx: &Ctx,
    scope: &Scope,
    partner_id: &PartnerId,
    email: &str,
    name: Option<&str>,
    role: PartnerRole,
) -> Result<trellis_identity::invitations::IssuedInvitation> {
    let mut tx = scope.write(ctx).await?;
    let issued = invite_user_in(ctx, &mut tx, scope, partner_id, email, name, role).await?;
    tx.commit().await?;
    Ok(issued)
}

/// [`invite_user`] inside the caller's write transaction (a partner created with its first user).
pub async fn invite_user_in(
    ctx: &Ctx,
    tx: &mut ScopedTx,
    scope: &Scope,
    partner_id: &PartnerId,
    email: &str,
    name: Option<&str>,
    role: PartnerRole,
) -> Result<trellis_identity::invitations::IssuedInvitation> {
    let issued = trellis_identity::partner_users::invite_within(ctx, tx, scope, partner_id, email, name, role).await?;
    events::raise(ctx, tx, scope, partner_id, PartnerEventKind::UserInvited, ctx.now()).await?;
    Ok(issued)
}
