//! What the deal pages of the console and the portal share: a deal as a row of a list and of its
//! CSV export, the list's filters, a deal's facts, history and conflicts in words (each audience's
//! view of a conflict built here, so a partner's can never hold the other deal), the registration
//! form's fields, their reading and its submission, the status buttons of the transition table
//! (`trellis_deals::statuses`) and the pipeline form, and a dispute's timeline.

use trellis_core::{Currency, DealId, Error, FieldError, Page, PartnerId, ProgramId, Timestamp};
use trellis_deals::deals::{self, Conflict, Deal, DealFilter, DealRole, DealSource, DealStage, NewDeal};
use trellis_deals::disputes::TimelineEntry;
use trellis_deals::pipeline;
use trellis_deals::rules::{self, ConflictRules, Rule};
use trellis_deals::statuses::{self, Actor, DealStatus};
use trellis_identity::{Ctx, Scope, ScopedTx};
use trellis_programs::programs::Program;
use trellis_records::dates;
use trellis_web::AppState;

use crate::display;
use crate::forms::{Choice, FormData, FormView, field_errors};
use crate::listing::{COUNT_CAP, ListState, PAGE_SIZE};
use crate::session::Signed;

/// Rows an export holds at most; the file says so in its last line when there are more.
const EXPORT_CAP: usize = 100_000;

/// The fields of the registration form (portal and console).
pub const NEW_DEAL_FIELDS: &[&str] = &[
    "customer_name",
    "customer_domain",
    "amount",
    "expected_close_date",
    "partner_role",
    "program_id",
    "partner_id",
    "source",
    "customer_email",
    "country",
    "description",
];

/// The fields of the pipeline form.
pub const PIPELINE_FIELDS: &[&str] = &["stage", "amount", "expected_close_date", "description"];

/// The fields of a status button's form.
pub const ACTION_FIELDS: &[&str] = &["reason", "protected_days"];

/// A deal as a row of a list.
pub struct DealRow {
    pub id: String,
    pub customer: String,
    pub domain: String,
    /// The registering partner ("Direct" for the vendor's own opportunity).
    pub partner: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub stage: String,
    pub amount: String,
    pub currency: String,
    /// "until 2026-03-01", or blank.
    pub protection: String,
    /// The day of registration, for lists.
    pub registered: String,
    /// The day and time of registration, for a deal's page (a race between two registrations is
    /// a matter of minutes).
    pub registered_at: String,
    /// "3 days" since registration.
    pub age: String,
    pub expected_close: String,
}

impl DealRow {
    pub fn new(d: &Deal, now: Timestamp) -> Self {
        Self {
            id: d.id.to_string(),
            customer: d.customer_name.clone(),
            domain: d.customer_domain.clone().unwrap_or_default(),
            partner: partner_label(d),
            status: d.status.as_str(),
            status_label: d.status.label(),
            stage: capitalised(&display::words(d.stage.as_str())),
            amount: display::money(d.amount.amount_minor, &d.amount.currency),
            currency: d.amount.currency.clone(),
            protection: protection_text(d, now),
            registered: day(d.created_at),
            registered_at: display::time(d.created_at),
            age: age_text(d.created_at, now),
            expected_close: d.expected_close_date.clone().unwrap_or_default(),
        }
    }
}

fn partner_label(d: &Deal) -> String {
    match (&d.source, &d.partner_name) {
        (DealSource::Direct, _) => "Direct (vendor's own)".to_owned(),
        (_, Some(name)) => name.clone(),
        (_, None) => d.partner_id.as_ref().map(PartnerId::to_string).unwrap_or_default(),
    }
}

/// `YYYY-MM-DD` of a moment.
pub fn day(at: Timestamp) -> String {
    display::date(dates::today(at))
}

fn whole_days(from: Timestamp, to: Timestamp) -> i64 {
    (to.micros() - from.micros()).div_euclid(86_400_000_000)
}

/// "today", "1 day", "12 days" since `at`.
pub fn age_text(at: Timestamp, now: Timestamp) -> String {
    match whole_days(at, now) {
        n if n <= 0 => "today".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// "until 2026-03-01 (in 40 days)", "ended 2026-01-01", or blank without protection.
pub fn protection_text(d: &Deal, now: Timestamp) -> String {
    match d.protected_until {
        Some(until) if until.micros() > now.micros() => {
            format!("until {} ({})", day(until), display::days_from_today(whole_days(now, until)))
        }
        Some(until) => format!("ended {}", day(until)),
        None => String::new(),
    }
}

/// The list filters both pipelines share, read leniently from the query (a stale link still
/// shows a list).
pub struct DealFilters {
    pub status: Option<DealStatus>,
    pub stage: Option<DealStage>,
    pub partner: Option<PartnerId>,
    pub program: Option<ProgramId>,
    pub source: Option<DealSource>,
    /// Older than this many days.
    pub older_than: Option<i64>,
}

impl DealFilters {
    pub fn read(query: &FormData) -> Self {
        Self {
            status: query.optional("status").and_then(DealStatus::parse),
            stage: query.optional("stage").and_then(DealStage::parse),
            partner: query.optional("partner").and_then(|p| PartnerId::parse(p).ok()),
            program: query.optional("program").and_then(|p| ProgramId::parse(p).ok()),
            source: query.optional("source").and_then(DealSource::parse),
            older_than: query.optional("older_than").and_then(|d| d.parse::<i64>().ok()).filter(|d| (1..=3650).contains(d)),
        }
    }

    /// As `(name, value)` for links, blank when unset; `console` adds the vendor's filters.
    pub fn params(&self, console: bool) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("status", self.status.map_or("", DealStatus::as_str).to_owned()),
            ("stage", self.stage.map_or("", DealStage::as_str).to_owned()),
        ];
        if console {
            params.extend([
                ("partner", self.partner.as_ref().map(PartnerId::to_string).unwrap_or_default()),
                ("program", self.program.as_ref().map(ProgramId::to_string).unwrap_or_default()),
                ("source", self.source.map_or("", DealSource::as_str).to_owned()),
                ("older_than", self.older_than.map(|d| d.to_string()).unwrap_or_default()),
            ]);
        }
        params
    }

    pub fn deal_filter(&self, now: Timestamp) -> DealFilter {
        DealFilter {
            statuses: self.status.into_iter().collect(),
            partner_id: self.partner.clone(),
            program_id: self.program.clone(),
            stage: self.stage,
            source: self.source,
            created_before: self.older_than.map(|days| now.plus_seconds(-days * 86_400)),
            ..DealFilter::default()
        }
    }
}

/// A page of a pipeline as both sides list it: the filters read from the query, the list's
/// state, the page of deals and how many the filter matches.
pub struct PipelinePage {
    pub filters: DealFilters,
    pub list: ListState,
    pub filter: DealFilter,
    pub deals: Page<Deal>,
    pub total: i64,
}

impl PipelinePage {
    /// `console` keeps the vendor's filters in the list's links.
    pub async fn read(
        tx: &mut ScopedTx,
        scope: &Scope,
        section: &'static str,
        query: &FormData,
        console: bool,
        now: Timestamp,
    ) -> Result<Self, Error> {
        let filters = DealFilters::read(query);
        let list = ListState::read(section, query, filters.params(console), &["newest"], "newest");
        let mut filter = filters.deal_filter(now);
        filter.cursor = list.cursor().map(str::to_owned);
        filter.limit = Some(PAGE_SIZE);
        let deals = deals::list_in(tx, scope, &filter).await?;
        let total = pipeline::count_in(tx, scope, &filter, COUNT_CAP).await?;
        Ok(Self { filters, list, filter, deals, total })
    }
}

pub fn status_choices() -> Vec<Choice> {
    DealStatus::ALL.iter().map(|s| Choice { value: s.as_str().to_owned(), label: s.label().to_owned() }).collect()
}

pub fn stage_choices() -> Vec<Choice> {
    Choice::all_of(DealStage::ALL, DealStage::as_str).into_iter().map(|c| Choice { label: capitalised(&c.label), ..c }).collect()
}

pub fn role_choices() -> Vec<Choice> {
    vec![
        Choice { value: "resell".to_owned(), label: "Resell — you sell it to the customer".to_owned() },
        Choice { value: "referral".to_owned(), label: "Referral — you introduce the customer, the vendor sells".to_owned() },
        Choice { value: "influence".to_owned(), label: "Influence — you advise the customer".to_owned() },
    ]
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// One CSV field: quoted, quotes doubled; a value a spreadsheet would run as a formula starts
/// with `'` (OWASP "CSV injection").
pub(crate) fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    format!("\"{}\"", value.replace('"', "\"\""))
}

const CSV_HEAD: &str =
    "id,customer_name,customer_domain,partner,status,stage,amount,currency,expected_close_date,protected_until,registered_on\r\n";

/// A deal as a CSV line (amounts in major units, as a spreadsheet sums them).
fn csv_line(d: &Deal) -> String {
    let exponent = Currency::parse(&d.amount.currency).map(|c| c.exponent()).unwrap_or(2);
    let amount = if exponent == 0 {
        d.amount.amount_minor.to_string()
    } else {
        let unit = 10_i64.pow(u32::from(exponent));
        format!("{}.{:0w$}", d.amount.amount_minor / unit, (d.amount.amount_minor % unit).abs(), w = usize::from(exponent))
    };
    let fields = [
        d.id.to_string(),
        d.customer_name.clone(),
        d.customer_domain.clone().unwrap_or_default(),
        partner_label(d),
        d.status.as_str().to_owned(),
        d.stage.as_str().to_owned(),
        amount,
        d.amount.currency.clone(),
        d.expected_close_date.clone().unwrap_or_default(),
        d.protected_until.map(day).unwrap_or_default(),
        day(d.created_at),
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// A conflict as a page shows it to one audience.
pub struct ConflictView {
    pub kind: &'static str,
    /// The sentence the partner reads (it never names the other partner).
    pub reason: String,
    /// Whether the other deal came first (its registration has priority): the domain's
    /// `Conflict::earlier` is said of the other deal.
    pub other_first: bool,
    /// "You came first" or "The other came first", in the audience's words.
    pub order: &'static str,
    /// The other deal side by side (staff who may see it).
    pub other: Option<DealRow>,
    /// Staff whose scope hides the other deal are told so; a partner is never shown it at all.
    pub other_unseen: bool,
}

impl ConflictView {
    /// A partner's view: the kind, the reason and the order, nothing of the other deal.
    pub fn for_partner(c: &Conflict) -> Self {
        Self {
            kind: c.kind.label(),
            reason: c.reason.clone(),
            other_first: c.earlier,
            order: if c.earlier { "The other came first" } else { "You came first" },
            other: None,
            other_unseen: false,
        }
    }

    /// Staff's view: the other deal beside this one where the staff member sees it.
    pub fn for_staff(c: &Conflict, other: Option<&Deal>, now: Timestamp) -> Self {
        Self {
            kind: c.kind.label(),
            reason: c.reason.clone(),
            other_first: c.earlier,
            order: if c.earlier { "The other deal came first" } else { "This deal came first" },
            other: other.map(|d| DealRow::new(d, now)),
            other_unseen: other.is_none(),
        }
    }
}

/// What both deal pages show of a deal beside its row.
pub struct DealFacts {
    pub role: String,
    pub country: String,
    pub email: String,
    pub description: String,
    pub decision_note: Option<String>,
    pub milestones: Vec<Milestone>,
}

impl DealFacts {
    pub fn new(d: &Deal) -> Self {
        Self {
            role: d.partner_role.map(|r| display::words(r.as_str())).unwrap_or_default(),
            country: d.country.as_deref().map(display::country_name).unwrap_or_default().to_owned(),
            email: d.customer_email.clone().unwrap_or_default(),
            description: d.description.clone(),
            decision_note: d.decision_note.clone(),
            milestones: milestones(d),
        }
    }
}

/// A moment of a deal's history.
pub struct Milestone {
    pub label: &'static str,
    /// Day and time ("2026-03-01 14:05 UTC").
    pub when: String,
}

/// A deal's history in the order it happened.
fn milestones(d: &Deal) -> Vec<Milestone> {
    let mut out = vec![Milestone { label: "Registered", when: display::time(d.created_at) }];
    if d.updated_at != d.created_at {
        out.push(Milestone { label: "Last changed", when: display::time(d.updated_at) });
    }
    if let Some(until) = d.protected_until {
        out.push(Milestone { label: "Protection ends", when: display::time(until) });
    }
    if let Some(closed) = d.closed_at {
        out.push(Milestone { label: if d.status == DealStatus::Won { "Won" } else { "Closed" }, when: display::time(closed) });
    }
    out
}

/// What a status means for the partner, in a sentence.
pub fn partner_status_help(status: DealStatus) -> &'static str {
    match status {
        DealStatus::Submitted => "The channel team reviews your registration; you are told of the decision by email.",
        DealStatus::UnderReview => "Your registration conflicts with another one and is being reviewed; see the conflicts below.",
        DealStatus::NeedsInfo => "The channel team needs more information: update the deal below, then send it for review.",
        DealStatus::Approved => "Approved: the customer is protected for you until the date below.",
        DealStatus::Rejected => "Rejected: the reason is below. You may dispute the decision.",
        DealStatus::Won => "Won. Congratulations!",
        DealStatus::Lost => "Lost.",
        DealStatus::Expired => "The protection ended. You may still mark the deal won or lost.",
    }
}

/// What a status means for staff, in a sentence (the partner's where they agree).
pub fn staff_status_help(status: DealStatus) -> &'static str {
    match status {
        DealStatus::Submitted => "Waiting for a decision.",
        DealStatus::UnderReview => "Conflicts with another registration: compare the two below, then decide.",
        DealStatus::NeedsInfo => "Waiting for the partner's information; you may still decide.",
        DealStatus::Rejected => "Rejected. The partner may dispute the decision.",
        other => partner_status_help(other),
    }
}

/// Whether the deal is still worked (its pipeline form offered).
pub fn is_open(d: &Deal) -> bool {
    !matches!(d.status, DealStatus::Won | DealStatus::Lost | DealStatus::Rejected)
}

/// A status button of the transition table with its form.
pub struct ActionView {
    pub to: &'static str,
    pub label: &'static str,
    /// Whether the form asks for a reason (and requires it).
    pub reason: Option<&'static str>,
    /// Approval asks for the days of protection (the program's by default).
    pub protected_days: Option<i64>,
    pub danger: bool,
    pub form: FormView,
}

/// The buttons `actor` has for a deal in `status`: the transition table's, nothing else.
pub fn actions(status: DealStatus, actor: Actor, rules: Option<&ConflictRules>, failed: Option<(&str, FormView)>) -> Vec<ActionView> {
    statuses::buttons(status, actor)
        .filter_map(|tr| {
            let label = tr.button?;
            let reason = match tr.to {
                DealStatus::Rejected => Some("Reason the partner reads"),
                DealStatus::NeedsInfo => Some("What information is needed"),
                DealStatus::Lost => Some("Why was it lost?"),
                _ => None,
            };
            let protected_days = (tr.to == DealStatus::Approved).then(|| rules.map_or(90, |r| r.protection_days));
            let form = match &failed {
                Some((to, form)) if *to == tr.to.as_str() => form.clone(),
                _ => {
                    let mut values = Vec::new();
                    if let Some(days) = protected_days {
                        values.push(("protected_days", days.to_string()));
                    }
                    FormView::filled(form_prefix(tr.to), ACTION_FIELDS, values)
                }
            };
            Some(ActionView {
                to: tr.to.as_str(),
                label,
                reason,
                protected_days,
                danger: matches!(tr.to, DealStatus::Rejected | DealStatus::Lost),
                form,
            })
        })
        .collect()
}

/// Each button's form has its own field ids.
pub fn form_prefix(to: DealStatus) -> &'static str {
    match to {
        DealStatus::Submitted => "to-submitted",
        DealStatus::UnderReview => "to-under-review",
        DealStatus::NeedsInfo => "to-needs-info",
        DealStatus::Approved => "to-approved",
        DealStatus::Rejected => "to-rejected",
        DealStatus::Won => "to-won",
        DealStatus::Lost => "to-lost",
        DealStatus::Expired => "to-expired",
    }
}

/// The target status of a button's form and its decision; a missing reason where the page asks
/// for one is an error next to the field.
pub fn read_action(form: &FormData) -> Result<(DealStatus, trellis_deals::deals::Decision), Error> {
    let to = form.choice("to", DealStatus::parse)?;
    let reason = form.optional("reason").map(str::to_owned);
    if to == DealStatus::Lost && reason.is_none() {
        return Err(Error::invalid("reason", "is required: say why the deal was lost"));
    }
    let protected_days = match form.optional("protected_days") {
        Some(text) => Some(text.parse::<i64>().map_err(|_| Error::invalid("protected_days", "must be a whole number of days"))?),
        None => None,
    };
    Ok((to, trellis_deals::deals::Decision { protected_days, note: reason }))
}

/// A form of a deal's page that failed, to show again with its errors: `"pipeline"`, `"credit"`
/// or the target status of a button's form.
pub type FailedForm = (&'static str, FormView);

/// Runs a status button's form on a deal the caller sees; `Some` is the form to show again.
pub async fn submit_action(ctx: &Ctx, scope: &Scope, id: &DealId, form: FormData) -> Result<Option<FailedForm>, Error> {
    deals::get(ctx, scope, id).await?;
    let result = match read_action(&form) {
        Ok((to, decision)) => deals::transition(ctx, scope, id, to, decision).await.map(|_| ()),
        Err(err) => Err(err),
    };
    let Err(err) = result else { return Ok(None) };
    let errors = field_errors(err, "reason")?;
    let Some(to) = DealStatus::parse(form.value("to")) else { return Err(Error::Validation(errors)) };
    Ok(Some((to.as_str(), FormView::failed(form_prefix(to), ACTION_FIELDS, form, errors))))
}

/// Saves the pipeline form of a deal the caller sees; `Some` is the form to show again.
pub async fn submit_pipeline(ctx: &Ctx, scope: &Scope, id: &DealId, form: FormData) -> Result<Option<FailedForm>, Error> {
    let detail = deals::get(ctx, scope, id).await?;
    let errors = match read_pipeline(&form, &detail.deal.amount.currency) {
        Ok(patch) => match deals::update(ctx, scope, id, patch).await {
            Ok(_) => return Ok(None),
            Err(err) => field_errors(err, "stage")?,
        },
        Err(errors) => errors,
    };
    Ok(Some(("pipeline", FormView::failed("pipeline", PIPELINE_FIELDS, form, errors))))
}

/// The pipeline form filled from the deal.
pub fn pipeline_form(d: &Deal) -> FormView {
    let amount = Currency::parse(&d.amount.currency)
        .map(|c| crate::amounts::minor_to_money(d.amount.amount_minor, c))
        .unwrap_or_else(|_| d.amount.amount_minor.to_string());
    FormView::filled(
        "pipeline",
        PIPELINE_FIELDS,
        vec![
            ("stage", d.stage.as_str().to_owned()),
            ("amount", amount),
            ("expected_close_date", d.expected_close_date.clone().unwrap_or_default()),
            ("description", d.description.clone()),
        ],
    )
}

/// The pipeline form as a change of the deal; an unreadable amount is an error next to it.
pub fn read_pipeline(form: &FormData, currency: &str) -> Result<trellis_deals::deals::DealPatch, Vec<FieldError>> {
    let mut errors = Vec::new();
    let stage = match form.optional("stage") {
        Some(s) => match DealStage::parse(s) {
            Some(stage) => Some(stage),
            None => {
                errors.push(FieldError { field: "stage".into(), message: "is not one of the offered choices".into() });
                None
            }
        },
        None => None,
    };
    let amount_minor = match (form.optional("amount"), Currency::parse(currency)) {
        (Some(text), Ok(c)) => match crate::amounts::money_to_minor(text, c, trellis_deals::deals::MAX_AMOUNT_MINOR) {
            Ok(minor) => Some(minor),
            Err(message) => {
                errors.push(FieldError { field: "amount".into(), message });
                None
            }
        },
        (None, _) => {
            errors.push(FieldError { field: "amount".into(), message: "is required".into() });
            None
        }
        (Some(_), Err(_)) => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(trellis_deals::deals::DealPatch {
        stage,
        amount_minor,
        expected_close_date: Some(form.optional("expected_close_date").map(str::to_owned)),
        description: Some(form.value("description").to_owned()),
    })
}

/// The registration form as a new deal. `currency` is the program's (the amount is typed in it);
/// `require_partner_fields` asks for the website and the close date as the portal's form does.
pub fn read_new_deal(form: &FormData, currency: Option<Currency>, require_partner_fields: bool) -> Result<NewDeal, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut missing = |field: &str, message: &str| errors.push(FieldError { field: field.into(), message: message.into() });
    if form.optional("customer_name").is_none() {
        missing("customer_name", "is required");
    }
    if require_partner_fields && form.optional("customer_domain").is_none() {
        missing("customer_domain", "is required: the customer's website, such as acme.com");
    }
    if require_partner_fields && form.optional("expected_close_date").is_none() {
        missing("expected_close_date", "is required");
    }
    let amount_minor = match (form.optional("amount"), currency) {
        (None, _) => {
            missing("amount", "is required");
            None
        }
        (Some(text), Some(c)) => match crate::amounts::money_to_minor(text, c, trellis_deals::deals::MAX_AMOUNT_MINOR) {
            Ok(minor) => Some(minor),
            Err(message) => {
                errors.push(FieldError { field: "amount".into(), message });
                None
            }
        },
        (Some(text), None) => match text.trim().replace([',', ' '], "").parse::<f64>() {
            Ok(major) if major >= 0.0 => Some((major * 100.0).round() as i64),
            _ => {
                errors.push(FieldError { field: "amount".into(), message: "must be an amount such as 12,500.00".into() });
                None
            }
        },
    };
    let partner_role = match form.optional("partner_role") {
        Some(role) => match DealRole::parse(role) {
            Some(role) => Some(role),
            None => {
                errors.push(FieldError { field: "partner_role".into(), message: "is not one of the offered choices".into() });
                None
            }
        },
        None => None,
    };
    let program_id = form.optional("program_id").map(|p| p.parse::<ProgramId>());
    let program_id = match program_id {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError { field: "program_id".into(), message: "is not one of the offered choices".into() });
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(NewDeal {
        customer_name: form.value("customer_name").trim().to_owned(),
        customer_domain: form.optional("customer_domain").map(str::to_owned),
        customer_email: form.optional("customer_email").map(str::to_owned),
        country: form.optional("country").map(str::to_owned),
        amount_minor,
        currency: currency.map(|c| c.code().to_owned()),
        expected_close_date: form.optional("expected_close_date").map(str::to_owned),
        partner_role,
        description: form.optional("description").map(str::to_owned),
        program_id,
        ..NewDeal::default()
    })
}

/// The service's errors as the form places them: the currency's error on the amount.
fn place_errors(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.into_iter().map(|e| if e.field == "amount.currency" { FieldError { field: "amount".into(), ..e } } else { e }).collect()
}

/// What a registration form's submission came to.
pub enum Registration {
    Registered(DealId),
    /// Nothing stored: errors next to the fields, and the reason an organisation may not register
    /// (not enrolled, suspended, lapsed licence) for the top of the form.
    Failed {
        errors: Vec<FieldError>,
        refused: Option<String>,
    },
}

/// Reads the registration form and registers the deal; `complete` adds what only one side's form
/// says (the console's partner or direct opportunity).
pub async fn register(
    ctx: &Ctx,
    scope: &Scope,
    programs: &[Program],
    form: &FormData,
    complete: impl FnOnce(&mut NewDeal),
) -> Result<Registration, Error> {
    let mut input = match read_new_deal(form, registration_currency(programs, form), true) {
        Ok(input) => input,
        Err(errors) => return Ok(Registration::Failed { errors, refused: None }),
    };
    complete(&mut input);
    match deals::register(ctx, scope, input).await {
        Ok(detail) => Ok(Registration::Registered(detail.deal.id)),
        Err(Error::Conflict(reason)) => Ok(Registration::Failed { errors: Vec::new(), refused: Some(reason) }),
        Err(err) => Ok(Registration::Failed { errors: place_errors(field_errors(err, "")?), refused: None }),
    }
}

/// The currency a registration's amount is typed in: the chosen program's, or the first one's.
fn registration_currency(programs: &[Program], form: &FormData) -> Option<Currency> {
    let program = match form.optional("program_id") {
        Some(id) => programs.iter().find(|p| p.id.as_str() == id),
        None => programs.first(),
    };
    program.and_then(|p| Currency::parse(&p.currency).ok())
}

/// The currency the form shows beside the amount: the programs' own when they share one, blank
/// when they differ.
pub fn shared_currency(programs: &[Program]) -> String {
    match programs.first() {
        Some(first) if programs.iter().all(|p| p.currency == first.currency) => first.currency.clone(),
        _ => String::new(),
    }
}

/// A program's conflict rules in words, under its name when the form offers several programs.
pub struct RulesView {
    pub program: String,
    pub rules: Vec<Rule>,
}

pub async fn rules_in_words(ctx: &Ctx, scope: &Scope, programs: &[Program]) -> Result<Vec<RulesView>, Error> {
    let mut views = Vec::with_capacity(programs.len());
    for p in programs {
        views.push(RulesView { program: p.name.clone(), rules: rules::get(ctx, scope, &p.id).await?.in_words() });
    }
    Ok(views)
}

/// Every page of the deals a filter matches, as CSV (both sides' exports: the caller's scope
/// decides what it holds).
pub async fn export_csv(state: &AppState, signed: &Signed, query: &FormData) -> Result<String, Error> {
    let scope = &signed.scope;
    let mut filter = DealFilters::read(query).deal_filter(state.ctx.now());
    filter.limit = Some(trellis_core::page::MAX_PAGE_SIZE);
    let mut tx = scope.read(&state.ctx).await?;
    let mut csv = String::from(CSV_HEAD);
    let mut rows = 0;
    loop {
        let page = deals::list_in(&mut tx, scope, &filter).await?;
        for d in &page.items {
            csv.push_str(&csv_line(d));
        }
        rows += page.items.len();
        match page.next_cursor {
            Some(next) if rows < EXPORT_CAP => filter.cursor = Some(next),
            Some(_) => {
                csv.push_str(&csv_field(&format!("The export stops at {EXPORT_CAP} deals: narrow the filters for the rest.")));
                csv.push_str("\r\n");
                break;
            }
            None => break,
        }
    }
    Ok(csv)
}

/// One entry of a dispute's timeline as both sides' pages show it.
pub struct TimelineRow {
    /// Day and time.
    pub at: String,
    pub what: &'static str,
    pub by: Option<String>,
    pub text: Option<String>,
}

pub fn timeline_rows(entries: Vec<TimelineEntry>) -> Vec<TimelineRow> {
    entries.into_iter().map(|e| TimelineRow { at: display::time(e.at), what: e.label, by: e.by, text: e.text }).collect()
}

/// What a dispute is about, as its heading names it: the deal's customer, or the commission
/// ("Clawback commission of −€50.00").
pub fn dispute_title(d: &trellis_deals::disputes::Dispute) -> String {
    match (&d.deal, &d.commission) {
        (Some(deal), _) => deal.customer_name.clone(),
        (None, Some(c)) => format!("{} commission of {}", c.kind.label(), crate::money_views::signed_money(c.amount_minor, c.currency)),
        (None, None) => String::new(),
    }
}
