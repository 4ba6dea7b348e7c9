//! `/console/programs`: the workspace's programs and a new-program form; a program's editor with
//! its settings, the questions of its application form, and its tiers (requirement rules over the
//! metric registry, benefits), and a button to evaluate every enrolled partner's tier now.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value as Json, json};
use trellis_core::{Currency, Error, FieldError, ProgramId, TierId};
use trellis_directory::metric_registry::Registry;
use trellis_leads::matching::Factor;
use trellis_programs::evaluation;
use trellis_programs::programs::{self, ApplicationQuestion, NewProgram, Program, ProgramPatch};
use trellis_programs::tiers::{self, NewTier, Op, Tier, TierPatch};
use trellis_tracking::settings::{SettingsChange, TrackingSettings};
use trellis_web::AppState;

use super::staff_role;
use crate::amounts;
use crate::display;
use crate::forms::{Choice, FormData, FormView, UrlQuery, field_errors};
use crate::guards::{StaffForm, StaffPage};
use crate::pages::{Layout, PageResult, path_id, render, render_status, see_other};
use crate::routes::{PageRouter, get, post};
use crate::session::Signed;
use crate::tiers::benefit_lines;

const SECTION: &str = "/console/programs";
const NEW_PROGRAM_FIELDS: &[&str] = &["name", "slug", "currency", "description"];
const SETTINGS_FIELDS: &[&str] =
    &["name", "description", "default_protection_days", "deal_registration", "referral_links", "accepting_applications"];
const QUESTION_FIELDS: &[&str] = &["id", "label", "kind", "required", "options"];
/// Requirement rows the console edits; a tier with more rules (made through the API) keeps its
/// rules as they are when edited here.
const RULE_ROWS: usize = 10;
const TIER_FIELDS: &[&str] = &[
    "name",
    "rank",
    "benefit_text",
    "commission_percent",
    "mdf_amount",
    "content_access",
    "rule0_metric",
    "rule0_op",
    "rule0_value",
    "rule1_metric",
    "rule1_op",
    "rule1_value",
    "rule2_metric",
    "rule2_op",
    "rule2_value",
    "rule3_metric",
    "rule3_op",
    "rule3_value",
    "rule4_metric",
    "rule4_op",
    "rule4_value",
    "rule5_metric",
    "rule5_op",
    "rule5_value",
    "rule6_metric",
    "rule6_op",
    "rule6_value",
    "rule7_metric",
    "rule7_op",
    "rule7_value",
    "rule8_metric",
    "rule8_op",
    "rule8_value",
    "rule9_metric",
    "rule9_op",
    "rule9_value",
];
/// The largest allowance the tier service accepts, in minor units (`trellis_programs::tiers`).
const MAX_ALLOWANCE_MINOR: i64 = 1_000_000_000_000;
const QUESTION_KINDS: &[&str] = &["text", "textarea", "select"];

struct ProgramRow {
    id: String,
    name: String,
    slug: String,
    currency: String,
    accepting_applications: bool,
}

#[derive(Template)]
#[template(path = "console/programs.html")]
struct ProgramsPage {
    layout: Layout,
    csrf_token: String,
    programs: Vec<ProgramRow>,
    can_manage: bool,
    new: FormView,
}

/// Owner, admin and channel manager change programs; other staff read them.
fn can_manage(signed: &Signed) -> Result<bool, Error> {
    Ok(staff_role(&signed.scope)?.manages_partners())
}

async fn programs_page(state: &AppState, signed: &Signed, new: FormView, status: StatusCode, query: &FormData) -> PageResult {
    let can_manage = can_manage(signed)?;
    let programs = programs::list(&state.ctx, &signed.scope).await?;
    let page = ProgramsPage {
        layout: Layout::signed(state, signed, "Programs", SECTION).await.with_notice(query),
        csrf_token: signed.session.csrf_token.clone(),
        programs: programs
            .into_iter()
            .map(|p| ProgramRow {
                id: p.id.to_string(),
                name: p.name,
                slug: p.slug,
                currency: p.currency,
                accepting_applications: p.accepting_applications,
            })
            .collect(),
        can_manage,
        new,
    };
    Ok(render_status(status, &page))
}

/// `GET /console/programs`
async fn list_programs(State(state): State<AppState>, StaffPage { signed, .. }: StaffPage, UrlQuery(query): UrlQuery) -> PageResult {
    programs_page(&state, &signed, FormView::new("program", NEW_PROGRAM_FIELDS), StatusCode::OK, &query).await
}

/// `POST /console/programs`: creates a program, then opens its editor.
async fn create_program(State(state): State<AppState>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let input = NewProgram {
        name: form.value("name").to_owned(),
        slug: form.value("slug").to_owned(),
        currency: form.optional("currency").map(str::to_owned),
        description: form.optional("description").map(str::to_owned),
        ..NewProgram::default()
    };
    match programs::create(&state.ctx, &signed.scope, input).await {
        Ok(program) => Ok(see_other(&format!("{SECTION}/{}?notice=program_created", program.id))),
        Err(err) => {
            let errors = field_errors(err, "slug")?;
            let failed = FormView::failed("program", NEW_PROGRAM_FIELDS, form, errors);
            programs_page(&state, &signed, failed, StatusCode::UNPROCESSABLE_ENTITY, &FormData::default()).await
        }
    }
}

/// A question of the application form with its edit form.
struct QuestionRow {
    index: usize,
    /// The start of the form's element ids.
    key: String,
    question: ApplicationQuestion,
    form: FormView,
}

/// A tier's add or edit form. Several are on one page, so element ids start with `key`.
struct TierForm {
    key: String,
    form: FormView,
    /// The currency the allowance is typed in: the tier's allowance's, or else the program's.
    currency: String,
    rule_rows: Vec<usize>,
    /// False when the tier has more rules than the console edits.
    rules_editable: bool,
}

impl TierForm {
    fn rule_value(&self, i: impl std::fmt::Display, part: &str) -> &str {
        self.form.value(format!("rule{i}_{part}"))
    }

    fn rule_selected(&self, i: impl std::fmt::Display, part: &str, value: impl AsRef<str>) -> bool {
        self.form.has(format!("rule{i}_{part}"), value)
    }

    /// The errors of a requirement row, as one sentence.
    fn rule_error(&self, i: impl std::fmt::Display) -> Option<String> {
        let messages: Vec<String> =
            ["metric", "op", "value"].iter().filter_map(|part| self.form.error(format!("rule{i}_{part}")).map(str::to_owned)).collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }
}

/// A tier as a row of the tiers table, with its edit form.
struct TierRow {
    id: String,
    name: String,
    rank: i64,
    rules: Vec<String>,
    benefits: Vec<String>,
    holders: i64,
    form: TierForm,
}

#[derive(Template)]
#[template(path = "console/program.html")]
struct ProgramPage {
    layout: Layout,
    csrf_token: String,
    program: Program,
    can_manage: bool,
    settings: FormView,
    questions: Vec<QuestionRow>,
    new_question: FormView,
    kinds: Vec<Choice>,
    tiers: Vec<TierRow>,
    new_tier: TierForm,
    metrics: Vec<Choice>,
    ops: Vec<Choice>,
    /// The result of "Evaluate tiers now", read back from the redirect's query.
    evaluated: Option<String>,
    /// The deal conflict rules in words (what partners read), and their form for workspace admins.
    conflict_rules: Vec<trellis_deals::rules::Rule>,
    rules_form: Option<FormView>,
    /// Referral tracking in words, and its form for owners, admins and channel managers.
    tracking: Vec<String>,
    tracking_form: Option<FormView>,
    /// Lead distribution in words (SLA, capacity, the public form, the weights), and its form for
    /// owners, admins and channel managers (programs that take deal registrations).
    leads: Vec<String>,
    leads_form: Option<FormView>,
    /// The factors' names and labels, in the form's order.
    lead_factors: Vec<(String, &'static str)>,
}

fn settings_form(program: &Program) -> FormView {
    let mut values = vec![
        ("name", program.name.clone()),
        ("description", program.description.clone()),
        ("default_protection_days", program.default_protection_days.to_string()),
    ];
    for (name, on) in [
        ("deal_registration", program.deal_registration),
        ("referral_links", program.referral_links),
        ("accepting_applications", program.accepting_applications),
    ] {
        if on {
            values.push((name, "1".to_owned()));
        }
    }
    FormView::filled("settings", SETTINGS_FIELDS, values)
}

fn question_form(q: &ApplicationQuestion) -> FormView {
    let mut values = vec![("id", q.id.clone()), ("label", q.label.clone()), ("kind", q.kind.clone())];
    values.extend(q.options.iter().map(|o| ("options", o.clone())));
    if q.required {
        values.push(("required", "1".to_owned()));
    }
    FormView::filled("question", QUESTION_FIELDS, values)
}

fn blank_question_form() -> FormView {
    FormView::filled("question", QUESTION_FIELDS, vec![("kind", "text".to_owned())])
}

/// The currency a tier's allowance is typed in: the one it has, or else the program's.
fn allowance_currency(program_currency: &str, tier: Option<&Tier>) -> Currency {
    let code = tier.and_then(|t| t.benefits.mdf_allowance.as_ref()).map_or(program_currency, |a| a.currency.as_str());
    Currency::parse(code).or_else(|_| Currency::parse(program_currency)).or_else(|_| Currency::parse("EUR")).expect("EUR is a currency")
}

/// The edit form of a tier, filled with its values, and room for a few more rules and content
/// collections.
fn tier_form(key: String, tier: Option<&Tier>, program_currency: &str) -> TierForm {
    let currency = allowance_currency(program_currency, tier);
    let mut values: Vec<(String, String)> = Vec::new();
    let rules = tier.map(|t| t.requirements.all.as_slice()).unwrap_or_default();
    if let Some(t) = tier {
        values.push(("name".into(), t.name.clone()));
        values.push(("rank".into(), t.rank.to_string()));
        values.push(("benefit_text".into(), t.benefits.text.clone()));
        if let Some(bps) = t.benefits.commission_override_bps {
            values.push(("commission_percent".into(), amounts::bps_to_percent(bps)));
        }
        if let Some(mdf) = &t.benefits.mdf_allowance {
            values.push(("mdf_amount".into(), amounts::minor_to_money(mdf.amount_minor, currency)));
        }
        values.extend(t.benefits.content_access.iter().map(|c| ("content_access".to_owned(), c.clone())));
    }
    let rules_editable = rules.len() <= RULE_ROWS;
    if rules_editable {
        for (i, rule) in rules.iter().enumerate() {
            values.push((format!("rule{i}_metric"), rule.metric.clone()));
            values.push((format!("rule{i}_op"), rule.op.as_str().to_owned()));
            values.push((format!("rule{i}_value"), rule.value.to_string()));
        }
    }
    let shown = if rules_editable { (rules.len() + 3).min(RULE_ROWS) } else { 0 };
    for i in rules.len().min(shown)..shown {
        values.push((format!("rule{i}_op"), Op::AtLeast.as_str().to_owned()));
    }
    let borrowed = values.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    TierForm {
        key,
        form: FormView::filled("tier", TIER_FIELDS, borrowed),
        currency: currency.code().to_owned(),
        rule_rows: (0..shown).collect(),
        rules_editable,
    }
}

/// A tier form again after a failed submission, with the rows the person had.
fn failed_tier_form(key: String, form: FormData, errors: Vec<FieldError>, rules_editable: bool, currency: Currency) -> TierForm {
    let rule_rows = if rules_editable { (0..RULE_ROWS).filter(|i| form.is_checked(&format!("rule{i}_op"))).collect() } else { Vec::new() };
    TierForm {
        key,
        form: FormView::failed("tier", TIER_FIELDS, form, errors),
        currency: currency.code().to_owned(),
        rule_rows,
        rules_editable,
    }
}

/// The editor with blank add forms. An unknown program (or one of another workspace) is 404.
async fn program_page(state: &AppState, signed: &Signed, id: &ProgramId) -> Result<ProgramPage, Error> {
    let can_manage = can_manage(signed)?;
    let program = programs::get(&state.ctx, &signed.scope, id).await?;
    let conflict_rules = trellis_deals::rules::get(&state.ctx, &signed.scope, id).await?;
    let tracking = trellis_tracking::settings::get(&state.ctx, &signed.scope, id).await?;
    let lead_settings = trellis_leads::settings::get(&state.ctx, &signed.scope, id).await?;
    let tiers = tiers::list(&state.ctx, &signed.scope, id).await?;
    let holders = tiers::holder_counts(&state.ctx, &signed.scope, id).await?;
    let tier_rows = tiers
        .iter()
        .rev()
        .map(|t| TierRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            rank: t.rank,
            rules: t.requirements.all.iter().map(|r| format!("{} {} {}", r.metric, r.op.words(), r.value)).collect(),
            benefits: benefit_lines(&t.benefits),
            holders: holders.iter().find(|(tier, _)| tier == &t.id).map_or(0, |(_, n)| *n),
            form: tier_form(format!("tier-{}", t.id), Some(t), &program.currency),
        })
        .collect();
    Ok(ProgramPage {
        layout: Layout::signed(state, signed, program.name.clone(), SECTION).await,
        csrf_token: signed.session.csrf_token.clone(),
        can_manage,
        settings: settings_form(&program),
        questions: program
            .application_questions
            .iter()
            .enumerate()
            .map(|(index, q)| QuestionRow { index, key: format!("q{index}"), question: q.clone(), form: question_form(q) })
            .collect(),
        new_question: blank_question_form(),
        kinds: QUESTION_KINDS.iter().map(|k| Choice { value: (*k).to_owned(), label: (*k).to_owned() }).collect(),
        tiers: tier_rows,
        new_tier: tier_form("tier-new".to_owned(), None, &program.currency),
        metrics: Registry::of(&state.ctx)?
            .all()
            .iter()
            .map(|m| Choice { value: m.name.to_owned(), label: format!("{} ({})", m.name, m.kind.as_str()) })
            .collect(),
        ops: Op::ALL.iter().map(|op| Choice { value: op.as_str().to_owned(), label: op.words().to_owned() }).collect(),
        evaluated: None,
        conflict_rules: conflict_rules.in_words(),
        rules_form: signed.scope.has_vendor_role(trellis_core::VendorRole::WORKSPACE_ADMINS).then(|| rules_form(&conflict_rules)),
        tracking: tracking_in_words(&tracking),
        tracking_form: can_manage.then(|| tracking_form(&tracking)),
        leads: if program.deal_registration { leads_in_words(&lead_settings, &program.slug) } else { Vec::new() },
        leads_form: (can_manage && program.deal_registration).then(|| leads_form(&lead_settings)),
        lead_factors: Factor::ALL.iter().map(|f| (format!("weight_{}", f.as_str()), f.label())).collect(),
        program,
    })
}

/// The lead settings form's fields; a factor's weight is `weight_{factor}` (a factor is named
/// `capacity` too).
const LEADS_FIELDS: &[&str] = &[
    "sla_hours",
    "capacity",
    "public_form",
    "auto_offer",
    "weight_territory",
    "weight_product",
    "weight_tier",
    "weight_certification",
    "weight_win_rate",
    "weight_speed",
    "weight_acceptance",
    "weight_responsiveness",
    "weight_capacity",
];

fn leads_in_words(s: &trellis_leads::settings::LeadSettings, slug: &str) -> Vec<String> {
    let mut lines = vec![
        if s.auto_offer {
            "Each new lead is offered at once to its best match.".to_owned()
        } else {
            "New leads wait in the inbox until someone offers them.".to_owned()
        },
        format!("A partner has {} hours to accept an offered lead; then it goes to the next best partner.", s.sla_hours),
        format!("A partner holds at most {} open leads at once, unless it set its own limit.", s.capacity),
        if s.public_form {
            format!("The public lead form is open at /leads/{slug}.")
        } else {
            "The public lead form is closed.".to_owned()
        },
    ];
    let weights: Vec<String> =
        Factor::ALL.iter().filter(|f| s.weights.of(**f) > 0.0).map(|f| format!("{} {}", f.label(), s.weights.of(*f))).collect();
    lines.push(format!("Matching weights (points): {}.", weights.join(", ")));
    if let Some(summary) = &s.fit_summary {
        let adopted = s.fitted.is_some();
        lines.push(if adopted {
            "A model fitted to this program's own outcomes ranks the candidates: it ranked recent outcomes better than these weights."
                .to_owned()
        } else {
            format!("The weights as set rank the candidates (the last refit: {summary}).")
        });
    }
    lines
}

fn leads_form(s: &trellis_leads::settings::LeadSettings) -> FormView {
    let mut values = vec![("sla_hours", s.sla_hours.to_string()), ("capacity", s.capacity.to_string())];
    if s.public_form {
        values.push(("public_form", "1".to_owned()));
    }
    if s.auto_offer {
        values.push(("auto_offer", "1".to_owned()));
    }
    let names: Vec<String> = Factor::ALL.iter().map(|f| format!("weight_{}", f.as_str())).collect();
    for (name, factor) in names.iter().zip(Factor::ALL) {
        values.push((name.as_str(), format!("{}", s.weights.of(factor))));
    }
    FormView::filled("leads", LEADS_FIELDS, values)
}

/// `POST /console/programs/{id}/leads`: the program's lead settings and weights.
async fn update_leads(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let mut errors = Vec::new();
    let number = |name: &str, errors: &mut Vec<FieldError>| -> Option<f64> {
        let text = form.optional(name)?.trim();
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                errors.push(FieldError { field: name.to_owned(), message: "must be a number".to_owned() });
                None
            }
        }
    };
    let sla_hours = number("sla_hours", &mut errors).map(|n| n as i64);
    let capacity = number("capacity", &mut errors).map(|n| n as i64);
    let weights: Vec<(String, f64)> = Factor::ALL
        .iter()
        .filter_map(|f| number(&format!("weight_{}", f.as_str()), &mut errors).map(|w| (f.as_str().to_owned(), w)))
        .collect();
    let patch = trellis_leads::settings::SettingsPatch {
        sla_hours,
        capacity,
        public_form: Some(form.is_checked("public_form")),
        auto_offer: Some(form.is_checked("auto_offer")),
        weights,
    };
    let result = if errors.is_empty() {
        trellis_leads::settings::update(&state.ctx, &signed.scope, &id, patch).await.map(|_| ()).map_err(|err| field_errors(err, ""))
    } else {
        Err(Ok(errors))
    };
    match result {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved#leads"))),
        Err(errors) => {
            let errors: Vec<FieldError> =
                errors?.into_iter().map(|e| FieldError { field: e.field.replace("weights.", "weight_"), ..e }).collect();
            show_failed(&state, &signed, &id, |page| page.leads_form = Some(FormView::failed("leads", LEADS_FIELDS, form, errors))).await
        }
    }
}

const TRACKING_FIELDS: &[&str] = &[
    "attribution_window_days",
    "last_touch",
    "min_seconds_after_click",
    "max_clicks_per_hour",
    "flag_self_referral",
    "flag_disposable_email",
];

fn tracking_form(t: &TrackingSettings) -> FormView {
    let mut values = vec![
        ("attribution_window_days", t.attribution_window_days.to_string()),
        ("min_seconds_after_click", t.min_seconds_after_click.to_string()),
        ("max_clicks_per_hour", t.max_clicks_per_hour.to_string()),
    ];
    for (name, on) in
        [("last_touch", t.last_touch), ("flag_self_referral", t.flag_self_referral), ("flag_disposable_email", t.flag_disposable_email)]
    {
        if on {
            values.push((name, "1".to_owned()));
        }
    }
    FormView::filled("tracking", TRACKING_FIELDS, values)
}

/// The program's referral tracking as the channel team reads it.
fn tracking_in_words(t: &TrackingSettings) -> Vec<String> {
    let mut lines = vec![
        format!("A click attributes a conversion for {} days (the cookie lives as long).", t.attribution_window_days),
        if t.last_touch {
            "A returning customer's conversion goes to the partner of its last click.".to_owned()
        } else {
            "A customer stays with the partner who brought it first (first touch).".to_owned()
        },
        format!("Held for review: a conversion less than {} s after its click", t.min_seconds_after_click),
        format!("… or through a link with more than {} clicks in the hour before", display::thousands(t.max_clicks_per_hour)),
    ];
    if t.flag_self_referral {
        lines.push("… or whose customer is the partner itself (its emails or sign-in addresses)".to_owned());
    }
    if t.flag_disposable_email {
        lines.push("… or with a disposable email address".to_owned());
    }
    lines
}

/// `POST /console/programs/{id}/tracking`: the attribution window, first or last touch and the
/// fraud rules' thresholds (owners, admins, channel managers).
async fn update_tracking(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let mut errors = Vec::new();
    let mut number = |name: &str| -> Option<i64> {
        let text = form.optional(name)?;
        match text.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError { field: name.to_owned(), message: "must be a whole number".to_owned() });
                None
            }
        }
    };
    let change = SettingsChange {
        attribution_window_days: number("attribution_window_days"),
        min_seconds_after_click: number("min_seconds_after_click"),
        max_clicks_per_hour: number("max_clicks_per_hour"),
        last_touch: Some(form.is_checked("last_touch")),
        flag_self_referral: Some(form.is_checked("flag_self_referral")),
        flag_disposable_email: Some(form.is_checked("flag_disposable_email")),
    };
    let result = if errors.is_empty() {
        trellis_tracking::settings::update(&state.ctx, &signed.scope, &id, &change).await.map(|_| ()).map_err(|err| field_errors(err, ""))
    } else {
        Err(Ok(errors))
    };
    match result {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved#tracking"))),
        Err(errors) => {
            let errors = errors?;
            show_failed(&state, &signed, &id, |page| page.tracking_form = Some(FormView::failed("tracking", TRACKING_FIELDS, form, errors)))
                .await
        }
    }
}

const RULES_FIELDS: &[&str] = &["race_window_minutes", "protection_days", "similarity_percent", "auto_approve"];

fn rules_form(rules: &trellis_deals::rules::ConflictRules) -> FormView {
    let mut values = vec![
        ("race_window_minutes", rules.race_window_minutes.to_string()),
        ("protection_days", rules.protection_days.to_string()),
        ("similarity_percent", rules.threshold_percent().to_string()),
    ];
    if rules.auto_approve {
        values.push(("auto_approve", "1".to_owned()));
    }
    FormView::filled("rules", RULES_FIELDS, values)
}

/// `POST /console/programs/{id}/conflict-rules`: race window, protection days, similarity (as a
/// percent), auto-approval (workspace admins). A blank number leaves the setting as it is.
async fn update_conflict_rules(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let mut errors = Vec::new();
    let mut number = |name: &str, message: &str| -> Option<i64> {
        let text = form.optional(name)?;
        match text.trim_end_matches('%').trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError { field: name.to_owned(), message: message.to_owned() });
                None
            }
        }
    };
    let race = number("race_window_minutes", "must be a whole number of minutes");
    let days = number("protection_days", "must be a whole number of days");
    let percent = number("similarity_percent", "must be a whole percent such as 88");
    let result = if errors.is_empty() {
        let patch = trellis_deals::rules::RulesPatch {
            race_window_minutes: race,
            protection_days: days,
            similarity_threshold: percent.map(|p| p as f64 / 100.0),
            auto_approve: Some(form.is_checked("auto_approve")),
        };
        trellis_deals::rules::update(&state.ctx, &signed.scope, &id, patch).await.map(|_| ()).map_err(|err| {
            field_errors(err, "").map(|errs| {
                errs.into_iter()
                    .map(|e| match e.field.as_str() {
                        "similarity_threshold" => {
                            FieldError { field: "similarity_percent".into(), message: "must be between 50% and 100%".into() }
                        }
                        _ => e,
                    })
                    .collect()
            })
        })
    } else {
        Err(Ok(errors))
    };
    match result {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved#conflict-rules"))),
        Err(errors) => {
            let errors = errors?;
            show_failed(&state, &signed, &id, |page| page.rules_form = Some(FormView::failed("rules", RULES_FIELDS, form, errors))).await
        }
    }
}

/// The editor again with one form showing what was wrong (422).
async fn show_failed(state: &AppState, signed: &Signed, id: &ProgramId, set_form: impl FnOnce(&mut ProgramPage)) -> PageResult {
    let mut page = program_page(state, signed, id).await?;
    set_form(&mut page);
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// "Evaluated 12 enrollments: 2 promoted, 1 demoted, 1 left as set by hand." from the numbers
/// of the redirect (numbers only: no text from the query is shown).
fn evaluation_text(query: &FormData) -> Option<String> {
    let count = |name: &str| query.optional(name).and_then(|v| v.parse::<u64>().ok());
    let evaluated = count("evaluated")?;
    let (promoted, demoted, overridden) = (count("promoted").unwrap_or(0), count("demoted").unwrap_or(0), count("overridden").unwrap_or(0));
    Some(format!(
        "Evaluated {evaluated} enrollment{}: {promoted} promoted, {demoted} demoted, {overridden} left as set by hand.",
        if evaluated == 1 { "" } else { "s" }
    ))
}

/// `GET /console/programs/{id}`
async fn show_program(
    State(state): State<AppState>,
    StaffPage { signed, .. }: StaffPage,
    Path(id): Path<String>,
    UrlQuery(query): UrlQuery,
) -> PageResult {
    let mut page = program_page(&state, &signed, &path_id(&id)?).await?;
    page.layout = page.layout.with_notice(&query);
    page.evaluated = evaluation_text(&query);
    Ok(render(&page))
}

/// `POST /console/programs/{id}`: saves the settings form.
async fn update_settings(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let patch = ProgramPatch {
        name: Some(form.value("name").to_owned()),
        description: Some(form.value("description").to_owned()),
        deal_registration: Some(form.is_checked("deal_registration")),
        referral_links: Some(form.is_checked("referral_links")),
        // A number that does not parse is out of range for the service, which says what is allowed.
        default_protection_days: Some(form.value("default_protection_days").trim().parse().unwrap_or(-1)),
        accepting_applications: Some(form.is_checked("accepting_applications")),
        application_questions: None,
    };
    match programs::update(&state.ctx, &signed.scope, &id, patch).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved"))),
        Err(err) => {
            let errors = field_errors(err, "")?;
            show_failed(&state, &signed, &id, |page| page.settings = FormView::failed("settings", SETTINGS_FIELDS, form, errors)).await
        }
    }
}

/// `Annual revenue (EUR)` → `annual_revenue_eur`: a question's key when the form leaves it blank.
fn key_of(label: &str) -> String {
    let mut key = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').chars().take(60).collect()
}

fn read_question(form: &FormData) -> ApplicationQuestion {
    let label = form.value("label").trim().to_owned();
    ApplicationQuestion {
        id: form.optional("id").map_or_else(|| key_of(&label), str::to_owned),
        label,
        kind: form.value("kind").to_owned(),
        required: form.is_checked("required"),
        options: form.values("options").flat_map(|v| v.split(',')).map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect(),
    }
}

/// The service reports `application_questions[2].label`; the form shows `label` when 2 is the
/// question being edited, anything else above the form.
fn question_errors(errors: Vec<FieldError>, index: usize) -> Vec<FieldError> {
    let prefix = format!("application_questions[{index}].");
    errors
        .into_iter()
        .map(|e| match e.field.strip_prefix(&prefix) {
            Some(field) => FieldError { field: field.to_owned(), message: e.message },
            None => FieldError { field: String::new(), message: e.message },
        })
        .collect()
}

/// Saves the program's questions with question `index` replaced (or added, or removed).
async fn save_questions(
    state: &AppState,
    signed: &Signed,
    id: &ProgramId,
    change: impl FnOnce(&mut Vec<ApplicationQuestion>) -> Result<usize, Error>,
) -> Result<(), (usize, Error)> {
    let program = programs::get(&state.ctx, &signed.scope, id).await.map_err(|e| (0, e))?;
    let mut questions = program.application_questions;
    let index = change(&mut questions).map_err(|e| (0, e))?;
    let patch = ProgramPatch { application_questions: Some(questions), ..ProgramPatch::default() };
    programs::update(&state.ctx, &signed.scope, id, patch).await.map(|_| ()).map_err(|e| (index, e))
}

/// `POST /console/programs/{id}/questions`: adds a question to the application form.
async fn add_question(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let question = read_question(&form);
    let saved = save_questions(&state, &signed, &id, |questions| {
        questions.push(question);
        Ok(questions.len() - 1)
    })
    .await;
    match saved {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved#questions"))),
        Err((index, err)) => {
            let errors = question_errors(field_errors(err, "")?, index);
            show_failed(&state, &signed, &id, |page| page.new_question = FormView::failed("question", QUESTION_FIELDS, form, errors)).await
        }
    }
}

/// `POST /console/programs/{id}/questions/{index}`: changes a question.
async fn update_question(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, usize)>,
    StaffForm { signed, form }: StaffForm,
) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let question = read_question(&form);
    let saved = save_questions(&state, &signed, &id, |questions| {
        let slot = questions.get_mut(index).ok_or(Error::NotFound)?;
        *slot = question;
        Ok(index)
    })
    .await;
    match saved {
        Ok(()) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved#questions"))),
        Err((index, err)) => {
            let errors = question_errors(field_errors(err, "")?, index);
            show_failed(&state, &signed, &id, |page| {
                if let Some(row) = page.questions.get_mut(index) {
                    row.form = FormView::failed("question", QUESTION_FIELDS, form, errors);
                }
            })
            .await
        }
    }
}

/// `POST /console/programs/{id}/questions/{index}/remove`
async fn remove_question(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, usize)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let saved = save_questions(&state, &signed, &id, |questions| {
        if index >= questions.len() {
            return Err(Error::NotFound);
        }
        questions.remove(index);
        Ok(index)
    })
    .await;
    saved.map_err(|(_, err)| err)?;
    Ok(see_other(&format!("{SECTION}/{id}?notice=saved#questions")))
}

/// A form value as JSON: a whole number, yes/no as a boolean, anything else as text (which the
/// service then reports as invalid where it expects a number).
fn typed(text: &str) -> Json {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    match text.to_lowercase().as_str() {
        "yes" | "true" => json!(true),
        "no" | "false" => json!(false),
        _ => json!(text),
    }
}

/// The tier form as the API's requirements and benefits, and which form row each rule came from.
struct TierInput {
    name: String,
    rank: i64,
    requirements: Option<Json>,
    benefits: Json,
    rows: Vec<usize>,
    /// Why a rate or an amount did not read, in the form's words.
    problems: Vec<FieldError>,
}

fn read_tier(form: &FormData, rules_editable: bool, currency: Currency) -> TierInput {
    let mut rules = Vec::new();
    let mut rows = Vec::new();
    for i in 0..RULE_ROWS {
        let metric = form.value(&format!("rule{i}_metric")).trim();
        let value = form.value(&format!("rule{i}_value")).trim();
        if metric.is_empty() && value.is_empty() {
            continue;
        }
        rules.push(json!({"metric": metric, "op": form.value(&format!("rule{i}_op")), "value": typed(value)}));
        rows.push(i);
    }
    // A rate or an amount that does not read goes to the service as typed, so that the service
    // reports it with every other problem at once; the form then shows why it did not read.
    let mut problems = Vec::new();
    let mut benefits = Map::new();
    benefits.insert("text".into(), json!(form.value("benefit_text")));
    if let Some(percent) = form.optional("commission_percent") {
        let bps = amounts::percent_to_bps(percent).map_or_else(
            |message| {
                problems.push(FieldError { field: "commission_percent".into(), message });
                json!(percent)
            },
            |bps| json!(bps),
        );
        benefits.insert("commission_override_bps".into(), bps);
    }
    if let Some(amount) = form.optional("mdf_amount") {
        let minor = amounts::money_to_minor(amount, currency, MAX_ALLOWANCE_MINOR).map_or_else(
            |message| {
                problems.push(FieldError { field: "mdf_amount".into(), message });
                json!(amount)
            },
            |minor| json!(minor),
        );
        benefits.insert("mdf_allowance".into(), json!({"amount_minor": minor, "currency": currency.code()}));
    }
    let tags: Vec<&str> = form.values("content_access").flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()).collect();
    benefits.insert("content_access".into(), json!(tags));
    TierInput {
        name: form.value("name").to_owned(),
        // A rank that does not parse is out of range for the service, which says what is allowed.
        rank: form.value("rank").trim().parse().unwrap_or(-1),
        requirements: rules_editable.then(|| json!({"all": rules})),
        benefits: Json::Object(benefits),
        rows,
        problems,
    }
}

/// The service's field paths as the tier form's fields; where the form could not read a value,
/// its reason replaces the service's.
fn tier_errors(errors: Vec<FieldError>, rows: &[usize], problems: &[FieldError]) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = errors
        .into_iter()
        .map(|e| {
            let field = if let Some(rest) = e.field.strip_prefix("requirements.all[") {
                match rest.split_once("].") {
                    Some((k, part)) => {
                        k.parse::<usize>().ok().and_then(|k| rows.get(k)).map_or(String::new(), |row| format!("rule{row}_{part}"))
                    }
                    None => String::new(),
                }
            } else {
                match e.field.as_str() {
                    "benefits.text" => "benefit_text".to_owned(),
                    "benefits.commission_override_bps" => {
                        return FieldError { field: "commission_percent".into(), message: "must be a percent between 0% and 100%".into() };
                    }
                    "benefits.mdf_allowance.amount_minor" | "benefits.mdf_allowance.currency" => "mdf_amount".to_owned(),
                    "benefits.content_access" => "content_access".to_owned(),
                    "name" | "rank" => e.field.clone(),
                    _ => String::new(),
                }
            };
            FieldError { field, message: e.message }
        })
        .collect();
    errors.retain(|e| !problems.iter().any(|p| p.field == e.field));
    errors.extend(problems.iter().cloned());
    errors
}

/// `POST /console/programs/{id}/tiers`: adds a tier.
async fn add_tier(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, form }: StaffForm) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let program = programs::get(&state.ctx, &signed.scope, &id).await?;
    let currency = allowance_currency(&program.currency, None);
    let input = read_tier(&form, true, currency);
    let new = NewTier { name: input.name, rank: input.rank, requirements: input.requirements, benefits: Some(input.benefits) };
    match tiers::create(&state.ctx, &signed.scope, &id, new).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}/{id}?notice=tier_added#tiers"))),
        Err(err) => {
            let errors = tier_errors(field_errors(err, "")?, &input.rows, &input.problems);
            show_failed(&state, &signed, &id, |page| page.new_tier = failed_tier_form("tier-new".into(), form, errors, true, currency))
                .await
        }
    }
}

/// `POST /console/programs/{id}/tiers/{tier_id}`: changes a tier.
async fn update_tier(
    State(state): State<AppState>,
    Path((id, tier_id)): Path<(String, String)>,
    StaffForm { signed, form }: StaffForm,
) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let tier_id: TierId = path_id(&tier_id)?;
    let before = tiers::get(&state.ctx, &signed.scope, &id, &tier_id).await?;
    let rules_editable = before.requirements.all.len() <= RULE_ROWS;
    let program = programs::get(&state.ctx, &signed.scope, &id).await?;
    let currency = allowance_currency(&program.currency, Some(&before));
    let input = read_tier(&form, rules_editable, currency);
    let patch =
        TierPatch { name: Some(input.name), rank: Some(input.rank), requirements: input.requirements, benefits: Some(input.benefits) };
    match tiers::update(&state.ctx, &signed.scope, &id, &tier_id, patch).await {
        Ok(_) => Ok(see_other(&format!("{SECTION}/{id}?notice=saved#tiers"))),
        Err(err) => {
            let errors = tier_errors(field_errors(err, "")?, &input.rows, &input.problems);
            show_failed(&state, &signed, &id, |page| {
                if let Some(row) = page.tiers.iter_mut().find(|t| t.id == tier_id.as_str()) {
                    row.form = failed_tier_form(format!("tier-{tier_id}"), form, errors, rules_editable, currency);
                }
            })
            .await
        }
    }
}

/// `POST /console/programs/{id}/tiers/{tier_id}/delete`: deletes a tier nobody holds.
async fn delete_tier(
    State(state): State<AppState>,
    Path((id, tier_id)): Path<(String, String)>,
    StaffForm { signed, .. }: StaffForm,
) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    tiers::delete(&state.ctx, &signed.scope, &id, &path_id(&tier_id)?).await?;
    Ok(see_other(&format!("{SECTION}/{id}?notice=tier_deleted#tiers")))
}

/// `POST /console/programs/{id}/evaluate`: evaluates every enrolled partner's tier now.
async fn evaluate(State(state): State<AppState>, Path(id): Path<String>, StaffForm { signed, .. }: StaffForm) -> PageResult {
    let id: ProgramId = path_id(&id)?;
    let summary = evaluation::evaluate_program(&state.ctx, &signed.scope, &id).await?;
    Ok(see_other(&format!(
        "{SECTION}/{id}?evaluated={}&promoted={}&demoted={}&overridden={}#tiers",
        summary.evaluated, summary.promoted, summary.demoted, summary.overridden
    )))
}

pub fn routes() -> PageRouter {
    PageRouter::new()
        .route("/console/programs", get(list_programs).post(create_program))
        .route("/console/programs/{id}", get(show_program).post(update_settings))
        .route("/console/programs/{id}/questions", post(add_question))
        .route("/console/programs/{id}/questions/{index}", post(update_question))
        .route("/console/programs/{id}/questions/{index}/remove", post(remove_question))
        .route("/console/programs/{id}/tiers", post(add_tier))
        .route("/console/programs/{id}/tiers/{tier_id}", post(update_tier))
        .route("/console/programs/{id}/tiers/{tier_id}/delete", post(delete_tier))
        .route("/console/programs/{id}/evaluate", post(evaluate))
        .route("/console/programs/{id}/conflict-rules", post(update_conflict_rules))
        .route("/console/programs/{id}/leads", post(update_leads))
        .route("/console/programs/{id}/tracking", post(update_tracking))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_keys_come_from_labels() {
        assert_eq!(key_of("Annual revenue (EUR)"), "annual_revenue_eur");
        assert_eq!(key_of("  How many sales reps?  "), "how_many_sales_reps");
    }

    #[test]
    fn rule_errors_land_on_the_row_they_came_from() {
        let errors = vec![
            FieldError { field: "requirements.all[1].value".into(), message: "must be a whole number".into() },
            FieldError { field: "benefits.mdf_allowance.currency".into(), message: "bad".into() },
        ];
        let problems = [FieldError { field: "mdf_amount".into(), message: "must be an amount in EUR such as 5,000.00".into() }];
        let mapped = tier_errors(errors, &[0, 3], &problems);
        assert_eq!(mapped[0].field, "rule3_value");
        assert_eq!(mapped[1].field, "mdf_amount");
        assert_eq!(mapped[1].message, "must be an amount in EUR such as 5,000.00", "the form's reason replaces the service's");
        assert_eq!(mapped.len(), 2);
    }
}
