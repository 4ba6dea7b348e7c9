//! Referral links (API.md "Referral tracking"): a partner's tracked link `/r/{code}` to a page on
//! one of the workspace's allowed domains.
//!
//! - Who: a partner's own people (any role) create and read their organisation's links, never a
//!   descendant's — a link's figures include earnings, which are private to each organisation
//!   like all money; staff owners, admins and channel managers create links for the partners
//!   they see, every staff role reads them.
//! - Codes are unique across the instance: seven random characters from an alphabet without
//!   look-alikes, or a vanity code the creator chooses (3–40 of `a-z`, `0-9`, `-`).
//! - Every change takes the next number of the link change feed (`referral_link_changes`), so each
//!   server's in-memory table ([`crate::redirects`]) picks it up within a second.
//! - Audited: `referral_link.created`, `referral_link.disabled`, `referral_link.enabled`.

use serde_json::{Value as Json, json};
use trellis_core::page::{Page, fetch_limit};
use trellis_core::{Error, LinkId, PartnerId, ProgramId, Result, Timestamp, Validation, VendorRole, WorkspaceId};
use trellis_db::{Row, Sql, Tx, sql};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Membership, Scope, ScopedTx};

use crate::destinations;

/// Staff roles that create and disable links for partners.
pub const STAFF_WRITERS: &[VendorRole] = &[VendorRole::Owner, VendorRole::Admin, VendorRole::ChannelManager];

/// The UTM parameters a link may add to its destination, in the order they are added.
pub const UTM_PARAMETERS: &[&str] = &["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

/// Random codes: no 0/o, 1/l/i, so a code read aloud or off a flyer is typed right.
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const CODE_LENGTH: usize = 7;
/// Paths the server answers itself could never be vanity codes anyway (they live outside
/// `/r/`), but codes that read as ours would mislead people who see the link.
const RESERVED_CODES: &[&str] = &["api", "admin", "login", "logout", "portal", "console", "trellis", "static", "healthz"];

/// A referral link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub workspace_id: WorkspaceId,
    pub partner_id: PartnerId,
    /// The partner's name, for the console's list.
    pub partner_name: String,
    pub program_id: Option<ProgramId>,
    pub code: String,
    pub vanity: bool,
    pub destination_url: String,
    /// `(parameter, value)` in [`UTM_PARAMETERS`] order.
    pub utm: Vec<(String, String)>,
    pub name: String,
    /// Counted clicks: the sum of its daily counts (moved once per written batch).
    pub clicks: i64,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Link {
    /// The address people are given: the server's public URL and `/r/{code}`.
    pub fn url(&self, public_url: &str) -> String {
        format!("{}/r/{}", public_url.trim_end_matches('/'), self.code)
    }
}

/// A link as the API or a form sent it (strings as sent; [`create`] checks them).
#[derive(Debug, Clone, Default)]
pub struct NewLink {
    pub destination_url: String,
    /// Required from staff; a partner's own people may leave it out (their organisation).
    pub partner_id: Option<String>,
    pub program_id: Option<String>,
    /// A vanity code; a random one when absent.
    pub code: Option<String>,
    pub name: Option<String>,
    /// `(parameter, value)`, parameters among [`UTM_PARAMETERS`].
    pub utm: Vec<(String, String)>,
}

pub(crate) const COLUMNS: &str = "l.id, l.workspace_id, l.partner_id, COALESCE((SELECT p.name FROM partners p WHERE p.workspace_id = l.workspace_id AND p.id = l.partner_id), '') AS partner_name, l.program_id, l.code, l.vanity, l.destination_url, l.utm, l.name, (SELECT CAST(COALESCE(SUM(d.clicks), 0) AS BIGINT) FROM referral_link_days d WHERE d.workspace_id = l.workspace_id AND d.link_id = l.id) AS clicks, l.disabled_at, l.created_at, l.updated_at";

/// A stored `utm` document as `(parameter, value)` in [`UTM_PARAMETERS`] order.
pub(crate) fn stored_utm(text: &str) -> Result<Vec<(&'static str, String)>> {
    let utm: serde_json::Map<String, Json> = serde_json::from_str(text).map_err(|e| Error::Internal(format!("stored utm: {e}")))?;
    Ok(UTM_PARAMETERS.iter().filter_map(|p| utm.get(*p).and_then(Json::as_str).map(|v| (*p, v.to_owned()))).collect())
}

pub(crate) fn from_row(row: &Row) -> Result<Link> {
    let utm = stored_utm(&row.get::<String>("utm")?)?.into_iter().map(|(p, v)| (p.to_owned(), v)).collect();
    Ok(Link {
        id: row.get("id")?,
        workspace_id: row.get("workspace_id")?,
        partner_id: row.get("partner_id")?,
        partner_name: row.get("partner_name")?,
        program_id: row.get("program_id")?,
        code: row.get("code")?,
        vanity: row.get("vanity")?,
        destination_url: row.get("destination_url")?,
        utm,
        name: row.get("name")?,
        clicks: row.get("clicks")?,
        disabled_at: row.get("disabled_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn check_code(v: &mut Validation, code: &str) -> Option<String> {
    let code = code.trim().to_lowercase();
    let ok = (3..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-')
        && !code.ends_with('-');
    if !ok {
        v.add("code", "must be 3 to 40 letters, digits or hyphens (not first or last)");
        return None;
    }
    if RESERVED_CODES.contains(&code.as_str()) {
        v.add("code", "is reserved; choose another");
        return None;
    }
    Some(code)
}

fn random_code() -> String {
    (0..CODE_LENGTH).map(|_| CODE_ALPHABET[rand::random_range(0..CODE_ALPHABET.len())] as char).collect()
}

/// Takes the next number of the link change feed; the row stays locked until the transaction
/// ends, so numbers become visible in the order they were taken.
pub(crate) async fn next_change(tx: &mut Tx) -> Result<i64> {
    let row = tx
        .fetch_one(sql!(
            "INSERT INTO referral_link_changes (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = referral_link_changes.seq + 1 RETURNING seq"
        ))
        .await?;
    Ok(row.get("seq")?)
}

/// The partner a caller creates a link for: a partner's people their own organisation; staff
/// (of [`STAFF_WRITERS`]) the partner named, which they must see.
async fn owner_for_create(tx: &mut ScopedTx, scope: &Scope, v: &mut Validation, named: Option<&str>) -> Result<Option<PartnerId>> {
    match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            if let Some(named) = named
                && named != partner_id.as_str()
            {
                // Another organisation's id (a reseller's included) reads as unknown.
                return Err(Error::NotFound);
            }
            Ok(Some(partner_id.clone()))
        }
        _ => {
            scope.require_vendor_role(STAFF_WRITERS, "create referral links")?;
            let Some(named) = named else {
                v.add("partner_id", "is required: the partner the link belongs to");
                return Ok(None);
            };
            let Ok(partner_id) = PartnerId::parse(named) else {
                v.add("partner_id", "must be a partner id (ptn_…)");
                return Ok(None);
            };
            tx.see_partner(&partner_id).await.map_err(|e| match e {
                Error::NotFound => Error::invalid("partner_id", "no such partner"),
                other => other,
            })?;
            Ok(Some(partner_id))
        }
    }
}

/// The workspace's allowed destination domains.
async fn allowed_domains(tx: &mut ScopedTx, workspace_id: &WorkspaceId) -> Result<Vec<String>> {
    let text: String = tx
        .fetch_one(sql!("SELECT allowed_redirect_domains FROM workspaces WHERE id = $1", workspace_id))
        .await?
        .get("allowed_redirect_domains")?;
    serde_json::from_str(&text).map_err(|e| Error::Internal(format!("stored allowed_redirect_domains: {e}")))
}

/// Creates a link (module documentation); 409 when a vanity code is taken.
pub async fn create(ctx: &Ctx, scope: &Scope, input: &NewLink) -> Result<Link> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let mut v = Validation::new();
    let partner_id = owner_for_create(&mut tx, scope, &mut v, input.partner_id.as_deref()).await?;
    let allowed = allowed_domains(&mut tx, scope.workspace_id()).await?;
    let destination = match destinations::check(&input.destination_url, &allowed) {
        Ok(url) => Some(url),
        Err(refused) => {
            v.add("destination_url", refused.0);
            None
        }
    };
    let program_id = match input.program_id.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(text) => match ProgramId::parse(text) {
            Ok(id) => Some(id),
            Err(_) => {
                v.add("program_id", "must be a program id (prg_…)");
                None
            }
        },
    };
    let vanity = input.code.as_deref().map(str::trim).filter(|c| !c.is_empty()).and_then(|c| check_code(&mut v, c));
    let name = input.name.as_deref().unwrap_or("").trim().to_owned();
    if name.chars().count() > 120 {
        v.add("name", "must be at most 120 characters");
    }
    let mut utm = serde_json::Map::new();
    for (parameter, value) in &input.utm {
        let value = value.trim();
        if !UTM_PARAMETERS.contains(&parameter.as_str()) {
            v.add(parameter, format!("is not a UTM parameter ({})", UTM_PARAMETERS.join(", ")));
        } else if value.is_empty() || value.chars().count() > 200 {
            v.add(parameter, "must be 1 to 200 characters");
        } else {
            utm.insert(parameter.clone(), json!(value));
        }
    }
    v.finish().map_err(Error::Validation)?;
    let (Some(partner_id), Some(destination)) = (partner_id, destination) else {
        return Err(Error::Internal("a checked link lost its partner or destination".into()));
    };
    if let Some(program_id) = &program_id {
        let enrolled = tx
            .fetch_i64(sql!(
                "SELECT COUNT(*) AS n FROM enrollments WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3",
                scope.workspace_id(),
                &partner_id,
                program_id
            ))
            .await?;
        if enrolled == 0 {
            return Err(Error::invalid("program_id", "the partner is not enrolled in this program"));
        }
    }
    let id = LinkId::generate();
    let seq = next_change(&mut tx).await?;
    // A random code is retried on the (rare) collision; a vanity code that is taken is the
    // creator's to change.
    let mut attempts = 0;
    let code = loop {
        let code = vanity.clone().unwrap_or_else(random_code);
        let taken = tx.fetch_optional(sql!("SELECT 1 AS taken FROM referral_links WHERE code = $1", &code)).await?.is_some();
        if !taken {
            break code;
        }
        if vanity.is_some() {
            return Err(Error::conflict(format!("the code {code} is taken; choose another")));
        }
        attempts += 1;
        if attempts > 5 {
            return Err(Error::Internal("no free link code after six attempts".into()));
        }
    };
    let inserted = tx
        .execute(sql!(
            "INSERT INTO referral_links (workspace_id, id, partner_id, program_id, code, vanity, destination_url, utm, name, change_seq,
                                         created_by_user_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            scope.workspace_id(),
            &id,
            &partner_id,
            program_id.clone(),
            &code,
            vanity.is_some(),
            destination.as_str(),
            Json::Object(utm).to_string(),
            &name,
            seq,
            scope.user_id().cloned(),
            now
        ))
        .await;
    if let Err(e) = inserted {
        // Another request took the code between the check and the insert.
        if e.is_unique("referral_links") {
            return Err(Error::conflict(format!("the code {code} is taken; choose another")));
        }
        return Err(e.into());
    }
    let entry = AuditEntry::new("referral_link.created", "referral_link", id.as_str())
        .set("partner_id", json!(partner_id))
        .set("code", code.clone())
        .set("destination_url", destination.as_str());
    audit::record(&mut tx, scope, now, entry).await?;
    let link = find_in(&mut tx, scope, &id).await?;
    tx.commit().await?;
    refresh_table(ctx).await;
    Ok(link)
}

/// Appends who may read which links: a partner's people their organisation's own; staff the
/// partners they see.
fn push_reader_filter(tx: &ScopedTx, scope: &Scope, q: &mut Sql) {
    match scope.membership() {
        Membership::Partner { partner_id, .. } => {
            q.push("l.partner_id = ").push_bind(partner_id);
        }
        _ => tx.push_partner_filter(q, "l.partner_id"),
    }
}

/// One link the caller may read (404 otherwise: another organisation's link does not exist for it).
pub async fn find_in(tx: &mut ScopedTx, scope: &Scope, id: &LinkId) -> Result<Link> {
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM referral_links l WHERE l.workspace_id = ").push_bind(scope.workspace_id());
    q.push(" AND l.id = ").push_bind(id).push(" AND ");
    push_reader_filter(tx, scope, &mut q);
    tx.fetch_optional(q).await?.as_ref().map(from_row).transpose()?.ok_or(Error::NotFound)
}

pub async fn get(ctx: &Ctx, scope: &Scope, id: &LinkId) -> Result<Link> {
    let mut tx = scope.read(ctx).await?;
    find_in(&mut tx, scope, id).await
}

/// Filters of the link list.
#[derive(Debug, Clone, Default)]
pub struct LinkFilter {
    pub partner_id: Option<PartnerId>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// The links the caller may read, newest first, a page at a time.
pub async fn list(ctx: &Ctx, scope: &Scope, filter: &LinkFilter) -> Result<Page<Link>> {
    let mut tx = scope.read(ctx).await?;
    let mut q = Sql::build("SELECT ");
    q.push(COLUMNS).push(" FROM referral_links l WHERE l.workspace_id = ").push_bind(scope.workspace_id()).push(" AND ");
    push_reader_filter(&tx, scope, &mut q);
    if let Some(partner_id) = &filter.partner_id {
        q.push(" AND l.partner_id = ").push_bind(partner_id);
    }
    if let Some(cursor) = &filter.cursor {
        q.push(" AND l.id < ").push_bind(cursor);
    }
    q.push(" ORDER BY l.id DESC LIMIT ").push_bind(fetch_limit(filter.limit));
    let rows = tx.fetch_all(q).await?.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, filter.limit, |l| l.id.to_string()))
}

/// Disables a link (its code then answers 404) or enables it again. Its own partner's people
/// and [`STAFF_WRITERS`]; the same state again changes nothing.
pub async fn set_disabled(ctx: &Ctx, scope: &Scope, id: &LinkId, disabled: bool) -> Result<Link> {
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let link = find_in(&mut tx, scope, id).await?;
    if scope.partner().is_none() {
        scope.require_vendor_role(STAFF_WRITERS, "disable referral links")?;
    }
    if link.disabled_at.is_some() == disabled {
        return Ok(link);
    }
    let seq = next_change(&mut tx).await?;
    tx.execute(sql!(
        "UPDATE referral_links SET disabled_at = $3, change_seq = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        scope.workspace_id(),
        id,
        disabled.then_some(now),
        seq,
        now
    ))
    .await?;
    let action = if disabled { "referral_link.disabled" } else { "referral_link.enabled" };
    audit::record(&mut tx, scope, now, AuditEntry::new(action, "referral_link", id.as_str()).set("partner_id", json!(link.partner_id)))
        .await?;
    let link = find_in(&mut tx, scope, id).await?;
    tx.commit().await?;
    refresh_table(ctx).await;
    Ok(link)
}

/// This server's link table takes a change at once (the others within a second); a failure
/// here only delays it to the next catch-up.
pub(crate) async fn refresh_table(ctx: &Ctx) {
    if let Ok(redirects) = crate::redirects::Redirects::of(ctx)
        && let Err(error) = redirects.follow_once(ctx.db()).await
    {
        tracing::warn!(%error, "the link table could not take a change at once");
    }
}

/// A link's figures: counted clicks, leads and sales attributed through it, what they earned per
/// currency (for the money readers of its partner and staff; `None` for the others), and one row
/// per day of the last `days` days for the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStats {
    pub clicks: i64,
    pub leads: i64,
    pub sales: i64,
    pub earnings: Option<Vec<(String, i64)>>,
    pub days: Vec<DayStats>,
}

/// One UTC day of a link's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStats {
    /// Days since 1970-01-01.
    pub day: i64,
    pub clicks: i64,
    pub leads: i64,
    pub sales: i64,
}

const DAY_MICROS: i64 = 86_400_000_000;

/// A link's figures (see [`LinkStats`]); at most 366 days of chart.
pub async fn stats(ctx: &Ctx, scope: &Scope, id: &LinkId, days: i64) -> Result<LinkStats> {
    let days = days.clamp(1, 366);
    let mut tx = scope.read(ctx).await?;
    let link = find_in(&mut tx, scope, id).await?;
    let today = ctx.now().micros().div_euclid(DAY_MICROS);
    let first_day = today - days + 1;
    let mut chart: Vec<DayStats> = (first_day..=today).map(|day| DayStats { day, clicks: 0, leads: 0, sales: 0 }).collect();
    let rows = tx
        .fetch_all(sql!(
            "SELECT day, clicks FROM referral_link_days WHERE workspace_id = $1 AND link_id = $2 AND day >= $3",
            scope.workspace_id(),
            id,
            first_day
        ))
        .await?;
    for row in rows {
        let day: i64 = row.get("day")?;
        if let Some(slot) = chart.get_mut((day - first_day) as usize) {
            slot.clicks = row.get("clicks")?;
        }
    }
    let figures = trellis_incentives::conversions::link_figures_in(&mut tx, scope, &link.partner_id, id, first_day * DAY_MICROS).await?;
    for (day, kind, count) in &figures.per_day {
        if let Some(slot) = chart.get_mut((day - first_day) as usize) {
            match kind.as_str() {
                "lead" => slot.leads += count,
                "sale" => slot.sales += count,
                _ => {}
            }
        }
    }
    Ok(LinkStats { clicks: link.clicks, leads: figures.leads, sales: figures.sales, earnings: figures.earnings, days: chart })
}

/// The link's address as a QR code (SVG, black on white, with a quiet zone).
pub fn qr_svg(url: &str) -> Result<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(|e| Error::Internal(format!("QR code: {e}")))?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}
