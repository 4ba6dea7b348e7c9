//! `POST /api/v1/leads/import`: leads from a CSV file (a trade fair's scans, a marketing tool's
//! export), previewed with every row's errors and imported in one transaction, idempotent by the
//! external id. The file is read as deals' imports read theirs (`trellis_deals::imports`: the
//! separator, quoting, amounts and country names); every row is checked as `POST /api/v1/leads`
//! checks one.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use trellis_core::{Currency, Error, FieldError, LeadId, ProgramId, Result};
use trellis_deals::imports::{MAX_BYTES, MAX_ROWS, amount_minor, country_code, delimiter_of, header_key};
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope, ScopedTx};

use crate::leads::{self, LeadSource, NewLead};

/// Row errors a refused import lists (the preview lists them all).
const MAX_LISTED_ERRORS: usize = 50;

/// A lead's field a column may fill, and the headers recognised for it (case-insensitive; runs
/// of spaces, `_` and `-` alike; the first a file has wins).
const FIELDS: &[(&str, &[&str])] = &[
    ("external_id", &["external id", "lead id", "record id", "id"]),
    ("company_name", &["company name", "company", "account name", "organization", "organisation"]),
    ("contact_name", &["contact name", "full name", "name", "contact"]),
    ("contact_email", &["contact email", "email", "e mail", "email address"]),
    ("domain", &["domain", "website", "company domain name"]),
    ("country", &["country", "country/region", "billing country"]),
    ("region", &["region", "state", "state/province", "state/region"]),
    ("product_interest", &["product interest", "product", "interest"]),
    ("estimated_value", &["estimated value", "value", "amount", "budget"]),
    ("notes", &["notes", "description", "comments"]),
];

const REQUIRED: &[&str] = &["external_id", "company_name", "country"];

/// A column and the field it fills (`None`: ignored).
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    pub field: Option<&'static str>,
}

/// What the import does with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    Create,
    /// A lead already carries the external id: left as it is.
    Unchanged,
    Error,
}

impl RowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RowAction::Create => "create",
            RowAction::Unchanged => "unchanged",
            RowAction::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PreviewRow {
    /// Where the row starts in the file (the header is line 1).
    pub line: u64,
    pub external_id: String,
    pub company_name: String,
    pub country: String,
    pub action: RowAction,
    pub lead_id: Option<LeadId>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub create: usize,
    pub unchanged: usize,
    pub error: usize,
}

#[derive(Debug, Clone)]
pub struct Preview {
    pub columns: Vec<Column>,
    pub rows: Vec<PreviewRow>,
    pub counts: Counts,
}

#[derive(Debug, Clone)]
pub struct Imported {
    pub counts: Counts,
    pub created: Vec<LeadId>,
}

fn require_importer(scope: &Scope) -> Result<()> {
    if scope.partner().is_some() {
        return Err(Error::forbidden("leads come from the vendor"));
    }
    leads::require_lead_manager(scope, "import leads")
}

/// `dry_run: true`: what the import would do, writing nothing.
pub async fn preview(ctx: &Ctx, scope: &Scope, csv_text: &str, program_id: Option<&ProgramId>) -> Result<Preview> {
    require_importer(scope)?;
    let mut tx = scope.read(ctx).await?;
    Ok(analyse(&mut tx, scope, csv_text, program_id).await?.0)
}

/// Imports the file in one transaction, or refuses it whole (422, the row errors listed) while
/// any row has an error.
pub async fn import(ctx: &Ctx, scope: &Scope, csv_text: &str, program_id: Option<&ProgramId>) -> Result<Imported> {
    require_importer(scope)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let (preview, inputs) = analyse(&mut tx, scope, csv_text, program_id).await?;
    if preview.counts.error > 0 {
        let mut errors: Vec<FieldError> = preview
            .rows
            .iter()
            .flat_map(|row| {
                row.errors.iter().map(move |e| FieldError {
                    field: format!("csv.line{}.{}", row.line, e.field),
                    message: format!("line {}: {} {}", row.line, e.field.replace('_', " "), e.message),
                })
            })
            .take(MAX_LISTED_ERRORS)
            .collect();
        if preview.counts.error > errors.len() {
            errors.push(FieldError {
                field: "csv".into(),
                message: format!("{} rows have errors: preview the file to see them all; nothing was imported", preview.counts.error),
            });
        }
        return Err(Error::Validation(errors));
    }
    let mut created = Vec::with_capacity(inputs.len());
    for input in inputs {
        let checked = leads::check_input(&input)?;
        created.push(leads::insert_in(&mut tx, scope, checked, program_id, LeadSource::Import, now).await?.id);
    }
    let entry = AuditEntry::new("lead.imported", "workspace", scope.workspace_id().as_str())
        .set("created", preview.counts.create)
        .set("unchanged", preview.counts.unchanged)
        .set("rows", preview.rows.len())
        .set("program_id", json!(program_id));
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(Imported { counts: preview.counts, created })
}

fn map_columns(headers: &[String]) -> Result<Vec<Column>> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let mut columns: Vec<Column> = headers.iter().map(|h| Column { header: h.clone(), field: None }).collect();
    for (field, recognised) in FIELDS {
        if let Some(i) =
            recognised.iter().find_map(|r| keys.iter().enumerate().find(|(i, k)| k == r && columns[*i].field.is_none()).map(|(i, _)| i))
        {
            columns[i].field = Some(field);
        }
    }
    let missing: Vec<FieldError> = REQUIRED
        .iter()
        .filter(|f| !columns.iter().any(|c| c.field == Some(**f)))
        .map(|f| FieldError { field: "csv".into(), message: format!("no column for {} (a header such as {:?})", f.replace('_', " "), f) })
        .collect();
    if missing.is_empty() { Ok(columns) } else { Err(Error::Validation(missing)) }
}

/// Reads the file, maps its columns, checks every row, and looks the external ids up.
async fn analyse(tx: &mut ScopedTx, scope: &Scope, csv_text: &str, program_id: Option<&ProgramId>) -> Result<(Preview, Vec<NewLead>)> {
    if csv_text.len() > MAX_BYTES {
        return Err(Error::invalid("csv", format!("the file is over {} MB: split it into smaller files", MAX_BYTES / (1024 * 1024))));
    }
    let text = csv_text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(Error::invalid("csv", "is empty: a header line and at least one row are needed"));
    }
    if let Some(program_id) = program_id {
        trellis_programs::programs::get_in(tx, scope.workspace_id(), program_id)
            .await
            .map_err(|_| Error::invalid("program_id", "no such program"))?;
    }
    let currency_code = match program_id {
        Some(p) => trellis_programs::programs::get_in(tx, scope.workspace_id(), p).await?.currency,
        None => trellis_identity::workspaces::get_in(tx, scope.workspace_id()).await?.default_currency,
    };
    let currency = Currency::parse(&currency_code).map_err(|_| Error::Internal(format!("stored currency {currency_code}")))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).delimiter(delimiter_of(text)).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("csv", format!("the header line could not be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let columns = map_columns(&headers)?;
    let mut rows = Vec::new();
    let mut inputs: Vec<Option<NewLead>> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::invalid("csv", format!("a row could not be read: {e}")))?;
        if rows.len() >= MAX_ROWS {
            return Err(Error::invalid("csv", format!("has more than {MAX_ROWS} rows: split it into smaller files")));
        }
        let line = record.position().map_or(0, |p| p.line());
        let value = |field: &str| -> Option<&str> {
            columns.iter().position(|c| c.field == Some(field)).and_then(|i| record.get(i)).map(str::trim).filter(|v| !v.is_empty())
        };
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let mut errors = Vec::new();
        let external_id = value("external_id").unwrap_or_default().to_owned();
        if external_id.is_empty() {
            errors.push(FieldError { field: "external_id".into(), message: "is required".into() });
        } else if !seen.insert(external_id.clone()) {
            errors.push(FieldError { field: "external_id".into(), message: "appears on an earlier row of the file".into() });
        }
        let country = match value("country") {
            Some(text) => match country_code(text) {
                Some(code) => code.to_owned(),
                None => {
                    errors.push(FieldError {
                        field: "country".into(),
                        message: format!("{text:?} is no country (a code such as DE, or a name)"),
                    });
                    String::new()
                }
            },
            None => String::new(),
        };
        let estimated_value = match value("estimated_value") {
            Some(text) => match amount_minor(text, currency) {
                Ok(minor) => Some((minor, Some(currency.code().to_owned()))),
                Err(message) => {
                    errors.push(FieldError { field: "estimated_value".into(), message });
                    None
                }
            },
            None => None,
        };
        let input = NewLead {
            company_name: value("company_name").unwrap_or_default().to_owned(),
            contact_name: value("contact_name").map(str::to_owned),
            contact_email: value("contact_email").map(str::to_owned),
            domain: value("domain").map(str::to_owned),
            country: if country.is_empty() { value("country").unwrap_or_default().to_owned() } else { country.clone() },
            region: value("region").map(str::to_owned),
            product_interest: value("product_interest").map(str::to_owned),
            estimated_value,
            notes: value("notes").map(str::to_owned),
            program_id: program_id.cloned(),
            external_id: (!external_id.is_empty()).then(|| external_id.clone()),
        };
        if let Err(Error::Validation(found)) = leads::check_input(&input) {
            for e in found {
                if !errors.iter().any(|have| have.field == e.field) {
                    errors.push(e);
                }
            }
        }
        rows.push(PreviewRow {
            line,
            external_id,
            company_name: input.company_name.clone(),
            country,
            action: if errors.is_empty() { RowAction::Create } else { RowAction::Error },
            lead_id: None,
            errors,
        });
        inputs.push(Some(input));
    }
    if rows.is_empty() {
        return Err(Error::invalid("csv", "has a header line but no rows"));
    }
    // The external ids the workspace has already, in chunks (an index probe each).
    let ids: Vec<String> = rows.iter().filter(|r| !r.external_id.is_empty()).map(|r| r.external_id.clone()).collect();
    let mut existing: HashMap<String, LeadId> = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut q = trellis_db::Sql::build("SELECT external_id, id FROM leads WHERE workspace_id = ");
        q.push_bind(scope.workspace_id()).push(" AND external_id IN ").push_in_list(chunk);
        for row in tx.fetch_all(q).await? {
            existing.insert(row.get("external_id")?, row.get("id")?);
        }
    }
    let mut counts = Counts::default();
    let mut new_leads = Vec::new();
    for (row, input) in rows.iter_mut().zip(inputs) {
        if row.action == RowAction::Create
            && let Some(id) = existing.get(&row.external_id)
        {
            row.action = RowAction::Unchanged;
            row.lead_id = Some(id.clone());
        }
        match row.action {
            RowAction::Create => {
                counts.create += 1;
                new_leads.extend(input);
            }
            RowAction::Unchanged => counts.unchanged += 1,
            RowAction::Error => counts.error += 1,
        }
    }
    Ok((Preview { columns, rows, counts }, new_leads))
}
