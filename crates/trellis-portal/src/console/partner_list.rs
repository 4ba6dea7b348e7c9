//! `/console/partners`: the partner list (search, filters by type, status, tier, channel manager
//! and compliance, sortable columns, "Showing 51–100 of 2,340", pages), its CSV export, and the
//! bulk actions on the partners ticked on a page (assign a channel manager, add to a program,
//! change status after a confirmation).

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use trellis_core::{Error, Page, PartnerId, PartnerStatus, PartnerType, ProgramId, TierId, Timestamp, UserId};
use trellis_directory::partners::{PartnerCondition, PartnerSort};
use trellis_directory::{Partner, PartnerFilter, PartnerPatch, partners, statuses};
use trellis_identity::{Scope, ScopedTx, members};
use trellis_programs::enrollments::{self, Enrollment};
use trellis_programs::{programs, tiers};
use trellis_records::compliance;
use trellis_web::AppState;

use super::partners::{create_partner, manager_choices, require_partner_manager};
use crate::display;
use crate::forms::{Choice, FormData, FormView, UrlQuery};
use crate::guards::{StaffForm, StaffPage};
use crate::listing::{COUNT_CAP, ColumnHead, ListState, ListView, PAGE_SIZE, SortOrder};
use crate::pages::{Layout, PageResult, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};

const SECTION: &str = "/console/partners";
const EXPORT: &str = "/console/partners/export";
const BULK: &str = "/console/partners/bulk";
const FILTER_FIELDS: &[&str] = &["q", "type", "status", "tier", "manager", "compliance", "sort"];
/// Partners one bulk action changes at most (a page holds 50).
const MAX_BULK: usize = 200;
/// Rows an export holds at most; the file says so in its last line when there are more.
const EXPORT_CAP: usize = 100_000;

/// The filters of the list, read from the query; unknown values are ignored (a stale link still
/// shows a list).
struct Filters {
    q: String,
    partner_type: Option<PartnerType>,
    status: Option<PartnerStatus>,
    tier: Option<TierId>,
    manager: Option<UserId>,
    /// `Some(true)`: compliant only; `Some(false)`: not compliant only.
    compliant: Option<bool>,
}

impl Filters {
    fn read(query: &FormData) -> Self {
        Self {
            q: query.value("q").trim().to_owned(),
            partner_type: query.optional("type").and_then(PartnerType::parse),
            status: query.optional("status").and_then(PartnerStatus::parse),
            tier: query.optional("tier").and_then(|t| TierId::parse(t).ok()),
            manager: query.optional("manager").and_then(|m| UserId::parse(m).ok()),
            compliant: match query.optional("compliance") {
                Some("compliant") => Some(true),
                Some("not_compliant") => Some(false),
                _ => None,
            },
        }
    }

    /// As `(name, value)` for links, blank when unset.
    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("q", self.q.clone()),
            ("type", self.partner_type.map_or("", PartnerType::as_str).to_owned()),
            ("status", self.status.map_or("", PartnerStatus::as_str).to_owned()),
            ("tier", self.tier.as_ref().map(TierId::to_string).unwrap_or_default()),
            ("manager", self.manager.as_ref().map(UserId::to_string).unwrap_or_default()),
            ("compliance", self.compliant.map_or("", |c| if c { "compliant" } else { "not_compliant" }).to_owned()),
        ]
    }

    /// The store's filter: the directory's own fields, and the conditions the programs (tier) and
    /// records (compliance) capabilities contribute.
    fn partner_filter(&self, sort: PartnerSort, now: Timestamp) -> PartnerFilter {
        let mut conditions: Vec<PartnerCondition> = Vec::new();
        if let Some(tier) = &self.tier {
            conditions.push(enrollments::holds_tier(tier));
        }
        if let Some(compliant) = self.compliant {
            conditions.push(compliance::partner_condition(compliant, now));
        }
        PartnerFilter {
            q: Some(self.q.clone()),
            partner_type: self.partner_type,
            status: self.status,
            manager_user_id: self.manager.clone(),
            conditions,
            sort,
            ..PartnerFilter::default()
        }
    }
}

/// A partner as a row of the list.
struct ListedPartner {
    id: String,
    name: String,
    types: String,
    status: PartnerStatus,
    /// "Reseller program: Gold", one per program.
    tiers: Vec<String>,
    manager: String,
    /// `None`: compliant.
    compliance_issue: Option<&'static str>,
    country: String,
    contact_email: String,
    joined: String,
}

#[derive(Template)]
#[template(path = "console/partners.html")]
struct PartnersPage {
    layout: Layout,
    csrf_token: String,
    filters: FormView,
    types: Vec<Choice>,
    statuses: Vec<Choice>,
    tiers: Vec<Choice>,
    managers: Vec<Choice>,
    compliance_choices: Vec<Choice>,
    sorts: Vec<Choice>,
    partners: Vec<ListedPartner>,
    columns: Vec<ColumnHead>,
    list: ListView,
    is_filtered: bool,
    /// The CSV export of the same filters.
    export: String,
    /// The list with the same filters, sort and page, where a bulk action returns.
    here: String,
    can_create: bool,
    /// Bulk actions are offered to staff who manage partners.
    bulk: Option<BulkChoices>,
}

/// The pickers of the bulk actions.
struct BulkChoices {
    managers: Vec<Choice>,
    programs: Vec<Choice>,
    statuses: Vec<Choice>,
}

/// The tiers of every program as picker choices, "Program: Tier", by program name then rank.
async fn tier_choices(tx: &mut ScopedTx, scope: &Scope) -> Result<Vec<Choice>, Error> {
    let programs: HashMap<ProgramId, String> =
        programs::list_in(tx, scope.workspace_id()).await?.into_iter().map(|p| (p.id, p.name)).collect();
    let mut tiers = tiers::list_all_in(tx, scope.workspace_id()).await?;
    tiers.sort_by(|a, b| {
        let (pa, pb) = (programs.get(&a.program_id), programs.get(&b.program_id));
        pa.map(|n| n.to_lowercase()).cmp(&pb.map(|n| n.to_lowercase())).then(b.rank.cmp(&a.rank))
    });
    Ok(tiers
        .into_iter()
        .filter_map(|t| Some(Choice { label: format!("{}: {}", programs.get(&t.program_id)?, t.name), value: t.id.to_string() }))
        .collect())
}

fn compliance_choices() -> Vec<Choice> {
    vec![
        Choice { value: "compliant".to_owned(), label: "Compliant".to_owned() },
        Choice { value: "not_compliant".to_owned(), label: "Not compliant".to_owned() },
    ]
}

fn sort_choices() -> Vec<Choice> {
    PartnerSort::ALL.iter().map(|s| Choice { value: s.as_str().to_owned(), label: s.label().to_owned() }).collect()
}

fn sort_codes() -> Vec<&'static str> {
    PartnerSort::ALL.iter().map(|s| s.as_str()).collect()
}

/// The tier, manager and compliance columns of a page of partners: three queries for the page,
/// whatever its length, in the page's transaction.
struct RowFacts {
    tiers: HashMap<PartnerId, Vec<Enrollment>>,
    managers: HashMap<String, String>,
    non_compliant: HashSet<PartnerId>,
}

async fn row_facts(tx: &mut ScopedTx, scope: &Scope, rows: &[Partner], now: Timestamp) -> Result<RowFacts, Error> {
    let ids: Vec<PartnerId> = rows.iter().map(|p| p.id.clone()).collect();
    Ok(RowFacts {
        tiers: enrollments::tiers_of_in(tx, scope, &ids).await?,
        managers: manager_names(tx, scope).await?,
        non_compliant: compliance::non_compliant_among_in(tx, scope, &ids, now).await?,
    })
}

/// Staff members' display names by user id.
async fn manager_names(tx: &mut ScopedTx, scope: &Scope) -> Result<HashMap<String, String>, Error> {
    Ok(members::list_in(tx, scope)
        .await?
        .into_iter()
        .map(|m| (m.user_id.to_string(), if m.name.is_empty() { m.email.to_string() } else { m.name }))
        .collect())
}

impl RowFacts {
    fn row(&self, p: Partner) -> ListedPartner {
        let tiers = self
            .tiers
            .get(&p.id)
            .map(|list| list.iter().map(|e| format!("{}: {}", e.program_name, e.tier_name.as_deref().unwrap_or("no tier yet"))).collect())
            .unwrap_or_default();
        ListedPartner {
            tiers,
            manager: p.manager_user_id.as_ref().and_then(|m| self.managers.get(m.as_str())).cloned().unwrap_or_default(),
            compliance_issue: self.non_compliant.contains(&p.id).then_some("Licence lapsed"),
            joined: display::date(trellis_records::dates::today(p.created_at)),
            id: p.id.to_string(),
            types: display::partner_types(&p.types),
            status: p.status,
            country: p.country.unwrap_or_default(),
            contact_email: p.contact_email,
            name: p.name,
        }
    }
}

/// `GET /console/partners?q=&type=&status=&tier=&manager=&compliance=&sort=&cursor=&from=`
async fn list_partners(State(state): State<AppState>, StaffPage { signed, role }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let filters = Filters::read(&query);
    let list = ListState::read(SECTION, &query, filters.params(), &sort_codes(), PartnerSort::Newest.as_str());
    let sort = PartnerSort::parse(list.sort()).unwrap_or_default();
    let now = state.ctx.now();
    let mut filter = filters.partner_filter(sort, now);
    filter.before = list.cursor().and_then(|c| PartnerId::parse(c).ok());
    filter.limit = Some(PAGE_SIZE);
    // The page, its count and its columns in one read transaction, so they agree.
    let mut tx = scope.read(&state.ctx).await?;
    let Page { items: rows, next_cursor } = partners::list_in(&mut tx, scope, &filter).await?;
    let total = partners::count_matching_in(&mut tx, scope, &filter, COUNT_CAP).await?;
    let facts = row_facts(&mut tx, scope, &rows, now).await?;
    let tiers = tier_choices(&mut tx, scope).await?;
    let managers = manager_choices(&mut tx, scope).await?;
    let bulk = if role.manages_partners() {
        let programs = programs::list_in(&mut tx, scope.workspace_id())
            .await?
            .into_iter()
            .map(|p| Choice { value: p.id.to_string(), label: p.name })
            .collect();
        let statuses = PartnerStatus::ALL
            .iter()
            .filter(|to| statuses::TRANSITIONS.iter().any(|tr| tr.to == **to && tr.button.is_some()))
            .map(|s| Choice { value: s.as_str().to_owned(), label: display::words(s.as_str()) })
            .collect();
        Some(BulkChoices { managers: managers.clone(), programs, statuses })
    } else {
        None
    };
    drop(tx);
    let mut values = filters.params();
    values.push(("sort", list.sort().to_owned()));
    let page = PartnersPage {
        layout: Layout::signed(&state, &signed, "Partners", SECTION).await.with_notice(&query),
        csrf_token: signed.session.csrf_token.clone(),
        filters: FormView::filled("filter", FILTER_FIELDS, values),
        types: Choice::all_of(PartnerType::ALL, PartnerType::as_str),
        statuses: Choice::all_of(PartnerStatus::ALL, PartnerStatus::as_str),
        tiers,
        managers,
        compliance_choices: compliance_choices(),
        sorts: sort_choices(),
        columns: vec![
            list.column(
                "Name",
                SortOrder { code: PartnerSort::Name.as_str(), ascending: true },
                SortOrder { code: PartnerSort::NameDescending.as_str(), ascending: false },
            ),
            ListState::plain_column("Status"),
            ListState::plain_column("Tier"),
            ListState::plain_column("Channel manager"),
            ListState::plain_column("Compliance"),
            ListState::plain_column("Country"),
            list.column(
                "Joined",
                SortOrder { code: PartnerSort::Newest.as_str(), ascending: false },
                SortOrder { code: PartnerSort::Oldest.as_str(), ascending: true },
            ),
        ],
        is_filtered: list.is_filtered(),
        export: list.url_at(EXPORT),
        here: match list.cursor() {
            // A bulk action returns to the page it was made on (its rows may have moved).
            Some(_) => format!("{}{}", SECTION, query_string(&query)),
            None => list.url_at(SECTION),
        },
        list: list.view(rows.len(), total, next_cursor, "partners"),
        partners: rows.into_iter().map(|p| facts.row(p)).collect(),
        can_create: role.manages_partners(),
        bulk,
    };
    Ok(render(&page))
}

/// `?a=b&…` of a list page's own query (filters, sort, cursor, position), re-encoded.
fn query_string(query: &FormData) -> String {
    let names = ["q", "type", "status", "tier", "manager", "compliance", "sort", "cursor", "from"];
    let pairs: Vec<(&str, &str)> = names.iter().map(|n| (*n, query.value(n))).collect();
    crate::listing::page_url("", &pairs)
}

/// One CSV field: quoted, quotes doubled; a value a spreadsheet would run as a formula (starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) starts with `'` (OWASP "CSV injection").
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// `GET /console/partners/export?…`: the partners the list shows for the same filters and sort,
/// every page of them (up to 100,000), as a CSV file, read in one read transaction.
async fn export_partners(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    let scope = &signed.scope;
    let now = state.ctx.now();
    let sort = query.optional("sort").and_then(PartnerSort::parse).unwrap_or_default();
    let mut filter = Filters::read(&query).partner_filter(sort, now);
    filter.limit = Some(trellis_core::page::MAX_PAGE_SIZE);
    let mut tx = scope.read(&state.ctx).await?;
    let mut csv = String::from("id,name,contact_email,types,status,tiers,channel_manager,compliant,country,distributor_id,created_on\r\n");
    let mut rows = 0;
    loop {
        let page = partners::list_in(&mut tx, scope, &filter).await?;
        let facts = row_facts(&mut tx, scope, &page.items, now).await?;
        for p in &page.items {
            let row = facts.row(p.clone());
            let fields = [
                row.id,
                row.name,
                row.contact_email,
                row.types,
                row.status.as_str().to_owned(),
                row.tiers.join("; "),
                row.manager,
                if row.compliance_issue.is_some() { "no" } else { "yes" }.to_owned(),
                row.country,
                p.parent_id.as_ref().map(PartnerId::to_string).unwrap_or_default(),
                row.joined,
            ];
            csv.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            csv.push_str("\r\n");
        }
        rows += page.items.len();
        match page.next_cursor {
            Some(next) if rows < EXPORT_CAP => filter.before = PartnerId::parse(&next).ok(),
            Some(_) => {
                csv.push_str(&csv_field(&format!("The export stops at {EXPORT_CAP} partners: narrow the filters for the rest.")));
                csv.push_str("\r\n");
                break;
            }
            None => break,
        }
    }
    Ok(crate::downloads::csv_file("partners.csv", csv))
}

/// A bulk action on the ticked partners.
#[derive(Clone, PartialEq, Eq)]
enum BulkAction {
    AssignManager(Option<UserId>),
    AddToProgram(ProgramId),
    ChangeStatus(PartnerStatus),
}

impl BulkAction {
    fn read(form: &FormData) -> Result<Self, Error> {
        match form.value("action") {
            "assign_manager" => Ok(Self::AssignManager(form.optional_id("manager_user_id")?)),
            "add_to_program" => {
                form.optional_id("program_id")?.map(Self::AddToProgram).ok_or_else(|| Error::invalid("program_id", "choose a program"))
            }
            "change_status" => form
                .optional("status")
                .and_then(PartnerStatus::parse)
                .map(Self::ChangeStatus)
                .ok_or_else(|| Error::invalid("status", "choose a status")),
            _ => Err(Error::invalid("action", "choose an action")),
        }
    }

    /// The form fields that say what the action is, for the confirmation's hidden inputs.
    fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::AssignManager(m) => {
                vec![("action", "assign_manager".to_owned()), ("manager_user_id", m.as_ref().map(UserId::to_string).unwrap_or_default())]
            }
            Self::AddToProgram(p) => vec![("action", "add_to_program".to_owned()), ("program_id", p.to_string())],
            Self::ChangeStatus(s) => vec![("action", "change_status".to_owned()), ("status", s.as_str().to_owned())],
        }
    }
}

/// What a bulk action does to one partner.
struct Outcome {
    id: String,
    name: String,
    /// `None`: it changes (or changed); otherwise why not.
    skipped: Option<String>,
}

#[derive(Template)]
#[template(path = "console/partners_bulk.html")]
struct BulkPage {
    layout: Layout,
    csrf_token: String,
    /// "Suspend 12 partners?" before, "12 partners suspended" after.
    heading: String,
    /// `Some` on the confirmation: the hidden fields to post again.
    confirm: Option<Vec<(&'static str, String)>>,
    danger: bool,
    changing: Vec<Outcome>,
    skipped: Vec<Outcome>,
    back: String,
}

/// Where a bulk action returns: the list page it was made on, never another site or section.
fn back_link(form: &FormData) -> String {
    let back = form.value("return");
    if back.starts_with("/console/partners") && !back.starts_with("//") && !back.contains('\\') {
        back.to_owned()
    } else {
        SECTION.to_owned()
    }
}

/// `POST /console/partners/bulk`: applies an action to the ticked partners (`partner`, repeated)
/// in one write transaction, each change checked and audited as the partner page's own. A status
/// change first shows what it will do and asks to confirm. Partners the action cannot change are
/// listed with the reason; partners the caller may not see are "not found" like missing ones.
async fn bulk_action(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let scope = &signed.scope;
    require_partner_manager(scope)?;
    let back = back_link(&form);
    let action = BulkAction::read(&form)?;
    let mut ids: Vec<PartnerId> = Vec::new();
    for value in form.values("partner") {
        let id = PartnerId::parse(value).map_err(|_| Error::invalid("partner", "must be partner ids"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        let join = if back.contains('?') { '&' } else { '?' };
        return Ok(see_other(&format!("{back}{join}notice=none_ticked")));
    }
    if ids.len() > MAX_BULK {
        return Err(Error::invalid("partner", format!("at most {MAX_BULK} partners at once")).into());
    }
    let confirmed = form.value("confirmed") == "yes";
    let needs_confirmation = matches!(action, BulkAction::ChangeStatus(_)) && !confirmed;
    let now = state.ctx.now();
    let mut tx = if needs_confirmation { scope.read(&state.ctx).await? } else { scope.write(&state.ctx).await? };
    let label = action_label(&mut tx, scope, &action).await?;
    let mut outcomes = Vec::new();
    for id in &ids {
        outcomes.push(apply_one(&mut tx, scope, &action, id, needs_confirmation, now).await?);
    }
    if !needs_confirmation {
        tx.commit().await.map_err(Error::from)?;
    }
    let (changing, skipped): (Vec<Outcome>, Vec<Outcome>) = outcomes.into_iter().partition(|o| o.skipped.is_none());
    let count = |n: usize| if n == 1 { "1 partner".to_owned() } else { format!("{} partners", display::thousands(n as i64)) };
    let heading = if needs_confirmation {
        format!("{label}: {}?", count(changing.len()))
    } else {
        format!("{label}: {} changed", count(changing.len()))
    };
    let confirm = needs_confirmation.then(|| {
        let mut fields = action.fields();
        fields.extend(changing.iter().map(|o| ("partner", o.id.clone())));
        fields.push(("return", back.clone()));
        fields.push(("confirmed", "yes".to_owned()));
        fields
    });
    let danger = matches!(action, BulkAction::ChangeStatus(PartnerStatus::Suspended | PartnerStatus::Terminated));
    let page = BulkPage {
        layout: Layout::signed(&state, &signed, "Bulk action", SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        heading,
        confirm: if changing.is_empty() { None } else { confirm },
        danger,
        changing,
        skipped,
        back,
    };
    Ok(render_status(StatusCode::OK, &page))
}

/// The action in words: "Assign Ana Lopez as channel manager", "Add to Reseller program",
/// "Change status to suspended". An unknown manager or program is a clear error.
async fn action_label(tx: &mut ScopedTx, scope: &Scope, action: &BulkAction) -> Result<String, Error> {
    Ok(match action {
        BulkAction::AssignManager(None) => "Remove the channel manager".to_owned(),
        BulkAction::AssignManager(Some(user)) => {
            let names = manager_names(tx, scope).await?;
            let name = names.get(user.as_str()).ok_or_else(|| Error::invalid("manager_user_id", "must be a staff member"))?;
            format!("Assign {name} as channel manager")
        }
        BulkAction::AddToProgram(program) => {
            let program = programs::get_in(tx, scope.workspace_id(), program).await.map_err(|e| match e {
                Error::NotFound => Error::invalid("program_id", "must be a program of this workspace"),
                other => other,
            })?;
            format!("Add to {}", program.name)
        }
        BulkAction::ChangeStatus(status) => format!("Change status to {}", display::words(status.as_str())),
    })
}

/// Checks (and, unless `dry_run`, makes) the action's change to one partner.
async fn apply_one(
    tx: &mut ScopedTx,
    scope: &Scope,
    action: &BulkAction,
    id: &PartnerId,
    dry_run: bool,
    now: Timestamp,
) -> Result<Outcome, Error> {
    let partner = match partners::fetch_visible(tx, scope, id).await {
        Ok(p) => p,
        Err(Error::NotFound) => return Ok(Outcome { id: id.to_string(), name: id.to_string(), skipped: Some("not found".to_owned()) }),
        Err(err) => return Err(err),
    };
    let skip = |reason: String| Ok(Outcome { id: partner.id.to_string(), name: partner.name.clone(), skipped: Some(reason) });
    match action {
        BulkAction::ChangeStatus(to) => {
            if partner.status == *to {
                return skip(format!("already {}", display::words(to.as_str())));
            }
            if statuses::find(partner.status, *to).is_none_or(|tr| tr.button.is_none()) {
                return skip(format!(
                    "a {} partner cannot be made {} here",
                    display::words(partner.status.as_str()),
                    display::words(to.as_str())
                ));
            }
            if !dry_run {
                partners::update_in(tx, scope, id, PartnerPatch { status: Some(*to), ..PartnerPatch::default() }, now).await?;
            }
        }
        BulkAction::AssignManager(manager) => {
            if &partner.manager_user_id == manager {
                return skip("already so".to_owned());
            }
            if !dry_run {
                let patch = PartnerPatch { manager_user_id: Some(manager.clone()), ..PartnerPatch::default() };
                partners::update_in(tx, scope, id, patch, now).await?;
            }
        }
        BulkAction::AddToProgram(program) => {
            let enrolled = enrollments::tiers_of_in(tx, scope, std::slice::from_ref(id)).await?;
            if enrolled.get(id).is_some_and(|list| list.iter().any(|e| &e.program_id == program)) {
                return skip("already enrolled".to_owned());
            }
            if !dry_run {
                enrollments::enroll_in(tx, scope, id, program, None, now).await?;
            }
        }
    }
    Ok(Outcome { id: partner.id.to_string(), name: partner.name, skipped: None })
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route(SECTION, get(list_partners).post(create_partner))
        .route(EXPORT, get(export_partners))
        .route(BULK, post(bulk_action))
}
