//! Imports of the vendor's direct opportunities from a CRM export (API.md "Importing direct
//! opportunities"): a CSV file whose columns are recognised from the header of a Salesforce,
//! HubSpot or Pipedrive export, or Trellis's own names, or mapped by the caller.
//!
//! [`preview`] reads the file and answers, row by row, what an import would do and what is wrong,
//! writing nothing. [`import`] reads it again in its write transaction and refuses the whole file
//! while any row has an error (nothing is written then, as the preview promised); otherwise every
//! new row is registered as a direct opportunity through the registration path
//! ([`crate::deals::register_direct_batch_in`]: the same checks, the conflict index, the
//! `deal.registered` events), all in one transaction with one `deal.imported` event.
//!
//! Idempotent by external id (the CRM's record id, required on every row): a row whose external
//! id a deal already carries is `unchanged` and never updated (its pipeline moves in Trellis
//! through `PATCH /api/v1/deals/{id}`), so importing the same file again creates nothing. Rows the
//! CRM has closed ("Closed Won", "Closed Lost") are `skipped`: a closed deal protects no customer
//! and conflicts with nothing, so it would only add rows.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;
use trellis_core::{Currency, DealId, Error, FieldError, Result, VendorRole};
use trellis_db::Sql;
use trellis_directory::countries;
use trellis_identity::audit::{self, AuditEntry};
use trellis_identity::{Ctx, Scope, ScopedTx};
use trellis_records::dates;

use crate::deals::{self, DealSource, DealStage, NewDeal};

/// The most rows one file may hold.
pub const MAX_ROWS: usize = 5_000;

/// The largest file, in bytes.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;

/// The most row errors an import's refusal lists (the preview shows them all).
const MAX_LISTED_ERRORS: usize = 50;

/// A field of a direct opportunity that a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    ExternalId,
    CustomerName,
    CustomerDomain,
    Amount,
    Currency,
    ExpectedCloseDate,
    Stage,
    Country,
    Description,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::ExternalId,
        Field::CustomerName,
        Field::CustomerDomain,
        Field::Amount,
        Field::Currency,
        Field::ExpectedCloseDate,
        Field::Stage,
        Field::Country,
        Field::Description,
    ];

    /// Its name in Trellis (API fields, mapping keys, error fields).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::ExternalId => "external_id",
            Field::CustomerName => "customer_name",
            Field::CustomerDomain => "customer_domain",
            Field::Amount => "amount",
            Field::Currency => "currency",
            Field::ExpectedCloseDate => "expected_close_date",
            Field::Stage => "stage",
            Field::Country => "country",
            Field::Description => "description",
        }
    }

    pub fn parse(text: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == text.trim())
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Field::ExternalId => "external id",
            Field::CustomerName => "customer name",
            Field::CustomerDomain => "customer domain",
            Field::Amount => "amount",
            Field::Currency => "currency",
            Field::ExpectedCloseDate => "expected close date",
            Field::Stage => "stage",
            Field::Country => "country",
            Field::Description => "description",
        }
    }

    /// The headers recognised for the field, compared case-insensitively with runs of spaces,
    /// `_` and `-` as one space; the first one a file has wins (HubSpot's "Company name" before
    /// its "Deal Name"). Salesforce, HubSpot and Pipedrive exports with their default labels.
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            Field::ExternalId => &["external id", "opportunity id", "record id", "deal id", "id"],
            Field::CustomerName => {
                &["customer name", "account name", "company name", "company", "organization", "organisation", "deal name"]
            }
            Field::CustomerDomain => &["customer domain", "website", "company domain name", "domain", "organization website"],
            Field::Amount => &["amount", "value", "deal value", "opportunity amount"],
            Field::Currency => &["currency", "opportunity currency", "deal currency", "currency code", "value currency"],
            Field::ExpectedCloseDate => &["expected close date", "close date", "closing date"],
            Field::Stage => &["stage", "deal stage", "opportunity stage", "pipeline stage"],
            Field::Country => &["country", "billing country", "company country", "organization country"],
            Field::Description => &["description", "notes", "next step"],
        }
    }

    /// Fields every row needs.
    fn required(self) -> bool {
        matches!(self, Field::ExternalId | Field::CustomerName | Field::Amount)
    }
}

/// A header compared with the recognised ones.
pub fn header_key(text: &str) -> String {
    text.trim_start_matches('\u{feff}')
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// One column of the file and the field it fills (none: ignored).
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    pub field: Option<Field>,
}

/// What an import does with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    /// A new direct opportunity.
    Create,
    /// A deal already carries its external id: left as it is.
    Unchanged,
    /// Closed in the CRM: not imported.
    Skipped,
    /// Something is wrong with the row: nothing of the file is imported.
    Error,
}

impl RowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RowAction::Create => "create",
            RowAction::Unchanged => "unchanged",
            RowAction::Skipped => "skipped",
            RowAction::Error => "error",
        }
    }
}

/// One row of the preview.
#[derive(Debug, Clone)]
pub struct PreviewRow {
    /// The line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub external_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_domain: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub expected_close_date: Option<String>,
    pub stage: Option<DealStage>,
    pub country: Option<String>,
    pub action: RowAction,
    /// The deal that already carries the external id (`unchanged`).
    pub deal_id: Option<DealId>,
    /// Why a row is skipped or unchanged.
    pub note: Option<String>,
    pub errors: Vec<FieldError>,
}

/// How many rows get each action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub create: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub error: usize,
}

/// What an import of a file would do, row by row.
#[derive(Debug, Clone)]
pub struct Preview {
    pub columns: Vec<Column>,
    pub rows: Vec<PreviewRow>,
    pub counts: Counts,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub counts: Counts,
    /// The deals created, in the file's order.
    pub created: Vec<DealId>,
}

/// `{our_field: "their header"}`: columns the recognised headers do not find (or find wrongly).
pub type Mapping = BTreeMap<String, String>;

/// Who may import: those who record direct opportunities one by one.
fn require_importer(scope: &Scope) -> Result<()> {
    scope.require_vendor_role(VendorRole::PARTNER_MANAGERS, "import direct opportunities")
}

/// `POST /api/v1/deals/import` with `dry_run`: what an import of the file would do. Writes nothing.
pub async fn preview(ctx: &Ctx, scope: &Scope, csv_text: &str, mapping: &Mapping) -> Result<Preview> {
    require_importer(scope)?;
    let mut tx = scope.read(ctx).await?;
    Ok(analyse(&mut tx, scope, csv_text, mapping).await?.preview)
}

/// `POST /api/v1/deals/import`: imports the file in one transaction, or refuses it whole (422,
/// the row errors listed) while any row has an error.
pub async fn import(ctx: &Ctx, scope: &Scope, csv_text: &str, mapping: &Mapping) -> Result<Imported> {
    require_importer(scope)?;
    let now = ctx.now();
    let mut tx = scope.write(ctx).await?;
    let Analysed { preview, new_deals } = analyse(&mut tx, scope, csv_text, mapping).await?;
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
    let (mut tx, created) = deals::register_direct_batch_in(ctx, tx, scope, new_deals).await?;
    let counts = preview.counts;
    let entry = AuditEntry::new("deal.imported", "workspace", scope.workspace_id().as_str())
        .set("created", counts.create)
        .set("unchanged", counts.unchanged)
        .set("skipped", counts.skipped)
        .set("rows", preview.rows.len())
        .set(
            "columns",
            json!(preview.columns.iter().filter_map(|c| c.field.map(|f| (f.as_str(), c.header.clone()))).collect::<BTreeMap<_, _>>()),
        );
    audit::record(&mut tx, scope, now, entry).await?;
    tx.commit().await?;
    Ok(Imported { counts, created: created.into_iter().map(|d| d.id).collect() })
}

struct Analysed {
    preview: Preview,
    /// The rows to create, as registrations.
    new_deals: Vec<NewDeal>,
}

/// Reads the file, maps its columns, checks every row as a registration would, and looks the
/// external ids up in the caller's transaction.
async fn analyse(tx: &mut ScopedTx, scope: &Scope, csv_text: &str, mapping: &Mapping) -> Result<Analysed> {
    if csv_text.len() > MAX_BYTES {
        return Err(Error::invalid("csv", format!("the file is over {} MB: split it into smaller files", MAX_BYTES / (1024 * 1024))));
    }
    let text = csv_text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(Error::invalid("csv", "is empty: a header line and at least one row are needed"));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).delimiter(delimiter_of(text)).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("csv", format!("the header line could not be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let columns = map_columns(&headers, mapping)?;
    let position = |field: Field| columns.iter().position(|c| c.field == Some(field));
    let positions: HashMap<Field, usize> = Field::ALL.into_iter().filter_map(|f| position(f).map(|p| (f, p))).collect();
    let workspace = trellis_identity::workspaces::get_in(tx, scope.workspace_id()).await?;
    let mut rows = Vec::new();
    let mut inputs: Vec<Option<NewDeal>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(String::new(), |p| format!(" at line {}", p.line()));
            Error::invalid("csv", format!("the file could not be read{line}: check its quoting"))
        })?;
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(Error::invalid("csv", format!("has more than {MAX_ROWS} rows: split it into smaller files")));
        }
        let line = record.position().map_or(0, |p| p.line());
        let value = |field: Field| positions.get(&field).and_then(|p| record.get(*p)).map(str::trim).filter(|v| !v.is_empty());
        let (row, input) = read_row(line, &value, &workspace.default_currency);
        rows.push(row);
        inputs.push(input);
    }
    if rows.is_empty() {
        return Err(Error::invalid("csv", "has a header line but no rows"));
    }
    // An external id twice in one file: the later row is an error (which one is meant?).
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for row in &mut rows {
        if let Some(id) = &row.external_id {
            match first_line.get(id) {
                Some(line) => row.errors.push(FieldError { field: "external_id".into(), message: format!("repeats line {line}") }),
                None => {
                    first_line.insert(id.clone(), row.line);
                }
            }
        }
    }
    let existing = existing_deals(tx, scope, rows.iter().filter_map(|r| r.external_id.clone()).collect()).await?;
    let mut counts = Counts::default();
    let mut new_deals = Vec::new();
    for (row, input) in rows.iter_mut().zip(inputs) {
        if !row.errors.is_empty() {
            row.action = RowAction::Error;
            counts.error += 1;
            continue;
        }
        if let Some(deal_id) = row.external_id.as_ref().and_then(|id| existing.get(id)) {
            row.action = RowAction::Unchanged;
            row.deal_id = Some(deal_id.clone());
            row.note = Some("already imported: a deal has this external id; it is left as it is".into());
            counts.unchanged += 1;
            continue;
        }
        match input {
            Some(input) => {
                row.action = RowAction::Create;
                counts.create += 1;
                new_deals.push(input);
            }
            None => {
                row.action = RowAction::Skipped;
                counts.skipped += 1;
            }
        }
    }
    Ok(Analysed { preview: Preview { columns, rows, counts }, new_deals })
}

/// Comma, or the semicolon of spreadsheets in locales whose decimal separator is the comma, or a
/// tab: whichever the header line has most of.
pub fn delimiter_of(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    [b',', b';', b'\t'].into_iter().max_by_key(|d| header.bytes().filter(|b| b == d).count()).filter(|_| !header.is_empty()).unwrap_or(b',')
}

/// The field of every column: the caller's mapping first, then the recognised headers.
fn map_columns(headers: &[String], mapping: &Mapping) -> Result<Vec<Column>> {
    let mut columns: Vec<Column> = headers.iter().map(|h| Column { header: h.clone(), field: None }).collect();
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let mut errors = Vec::new();
    for (field, header) in mapping {
        let Some(field) = Field::parse(field) else {
            errors.push(FieldError {
                field: format!("mapping.{field}"),
                message: format!("is not a field; the fields are {}", Field::ALL.map(Field::as_str).join(", ")),
            });
            continue;
        };
        match keys.iter().position(|k| *k == header_key(header)) {
            Some(p) => columns[p].field = Some(field),
            None => errors
                .push(FieldError { field: format!("mapping.{}", field.as_str()), message: format!("the file has no column \"{header}\"") }),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    for field in Field::ALL {
        if columns.iter().any(|c| c.field == Some(field)) {
            continue;
        }
        let found =
            field.headers().iter().find_map(|wanted| (0..columns.len()).find(|p| columns[*p].field.is_none() && keys[*p] == *wanted));
        if let Some(p) = found {
            columns[p].field = Some(field);
        }
    }
    let missing: Vec<FieldError> = Field::ALL
        .into_iter()
        .filter(|f| f.required() && !columns.iter().any(|c| c.field == Some(*f)))
        .map(|f| FieldError {
            field: format!("mapping.{}", f.as_str()),
            message: format!(
                "no column found for the {}: name one (recognised headers: {})",
                f.label(),
                f.headers().iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
            ),
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::Validation(missing));
    }
    Ok(columns)
}

/// One row as a preview row and, unless it is skipped, the registration it becomes (checked as
/// [`deals::register`] checks one; the errors are on the preview row).
fn read_row<'a>(line: u64, value: &dyn Fn(Field) -> Option<&'a str>, default_currency: &str) -> (PreviewRow, Option<NewDeal>) {
    let mut errors = Vec::new();
    let mut error = |field: Field, message: String| errors.push(FieldError { field: field.as_str().into(), message });
    let external_id = value(Field::ExternalId).map(str::to_owned);
    if external_id.is_none() {
        error(Field::ExternalId, "is required: imports are idempotent by the CRM's record id".into());
    }
    let customer_name = value(Field::CustomerName).map(str::to_owned);
    let currency = match value(Field::Currency) {
        Some(code) => match Currency::parse(code) {
            Ok(c) => Some(c),
            Err(e) => {
                error(Field::Currency, e.to_string());
                None
            }
        },
        None => Currency::parse(default_currency).ok(),
    };
    let amount_minor = match (value(Field::Amount), currency) {
        (Some(text), Some(currency)) => match amount_minor(text, currency) {
            Ok(amount) => Some(amount),
            Err(message) => {
                error(Field::Amount, message);
                None
            }
        },
        (Some(_), None) => None,
        (None, _) => {
            error(Field::Amount, "is required".into());
            None
        }
    };
    let expected_close_date = match value(Field::ExpectedCloseDate) {
        Some(text) => match parse_date(text) {
            Some(date) => Some(date),
            None => {
                error(Field::ExpectedCloseDate, format!("\"{text}\" is not a date such as 2026-12-31, 12/31/2026 or 31.12.2026"));
                None
            }
        },
        None => None,
    };
    let (stage, closed) = match value(Field::Stage) {
        Some(text) => match parse_stage(text) {
            Some(StageOf::Open(stage)) => (Some(stage), None),
            Some(StageOf::Closed) => (None, Some(text.to_owned())),
            None => {
                error(
                    Field::Stage,
                    format!(
                        "\"{text}\" is not a stage Trellis knows: prospecting, qualification, proposal, negotiation or closing (or a CRM's name for one)"
                    ),
                );
                (None, None)
            }
        },
        None => (None, None),
    };
    let country = match value(Field::Country) {
        Some(text) => match country_code(text) {
            Some(code) => Some(code.to_owned()),
            None => {
                error(Field::Country, format!("\"{text}\" is not a country: use an ISO 3166-1 code such as DE or an English name"));
                None
            }
        },
        None => None,
    };
    let customer_domain = value(Field::CustomerDomain).map(str::to_owned);
    let input = NewDeal {
        customer_name: customer_name.clone().unwrap_or_default(),
        customer_domain: customer_domain.clone(),
        country: country.clone(),
        amount_minor,
        currency: currency.map(|c| c.code().to_owned()),
        expected_close_date: expected_close_date.clone(),
        description: value(Field::Description).map(str::to_owned),
        stage,
        source: Some(DealSource::Direct),
        external_id: external_id.clone(),
        ..NewDeal::default()
    };
    // The registration's own checks (name, domain, lengths, ranges), for what is not already
    // reported above.
    if let Err(Error::Validation(found)) = deals::check_input(&input) {
        for e in found {
            let field = if e.field == "amount.currency" { "currency".to_owned() } else { e.field };
            if !errors.iter().any(|known| known.field == field) {
                errors.push(FieldError { field, message: e.message });
            }
        }
    }
    let mut row = PreviewRow {
        line,
        external_id,
        customer_name,
        customer_domain,
        amount_minor,
        currency: currency.map(|c| c.code().to_owned()),
        expected_close_date,
        stage,
        country,
        action: RowAction::Error,
        deal_id: None,
        note: None,
        errors,
    };
    match closed {
        Some(stage) => {
            row.note = Some(format!("closed in the CRM ({stage}): not imported"));
            (row, None)
        }
        None => (row, Some(input)),
    }
}

/// The deals of the workspace that carry these external ids.
async fn existing_deals(tx: &mut ScopedTx, scope: &Scope, ids: Vec<String>) -> Result<HashMap<String, DealId>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut q = Sql::build("SELECT id, external_id FROM deals WHERE workspace_id = ");
        q.push_bind(scope.workspace_id()).push(" AND external_id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_bind(id);
        }
        q.push(")");
        for row in tx.fetch_all(q).await? {
            found.insert(row.get("external_id")?, row.get("id")?);
        }
    }
    Ok(found)
}

/// An amount as text ("12,500.00", "12500", "12.500,00", "$ 1 200", "1'200.50") in minor units of
/// `currency`. The last `.` or `,` followed by one, two or (for three-decimal currencies) three
/// digits is the decimal separator; a lone separator followed by exactly three digits groups
/// thousands ("12,500" is twelve thousand five hundred) unless the currency has three decimals.
pub fn amount_minor(text: &str, currency: Currency) -> std::result::Result<i64, String> {
    let exponent = u32::from(currency.exponent());
    let mut cleaned: String = text.chars().filter(|c| !(c.is_whitespace() || matches!(c, '\'' | '$' | '€' | '£' | '¥'))).collect();
    // A currency code written beside the number ("EUR 12,500" or "12500 USD").
    let code = currency.code();
    if let Some(rest) = cleaned.strip_prefix(code).or_else(|| cleaned.strip_suffix(code)) {
        cleaned = rest.to_owned();
    }
    let wrong = || format!("\"{}\" is not an amount such as 12500 or 12,500.00", text.trim());
    if cleaned.starts_with('-') {
        return Err("must be zero or more".into());
    }
    if cleaned.is_empty()
        || !cleaned.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        || !cleaned.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(wrong());
    }
    let separators: Vec<(usize, char)> = cleaned.char_indices().filter(|(_, c)| matches!(c, '.' | ',')).collect();
    let decimal_at = match separators.last() {
        None => None,
        Some(&(at, sep)) => {
            let after = cleaned.len() - at - 1;
            let lone = separators.iter().all(|(_, c)| *c == sep);
            if after == 0 || after > 3 {
                return Err(wrong());
            }
            if lone && after == 3 && exponent != 3 {
                // Thousands: "12,500", "1,250,000", "1.250.000".
                None
            } else if lone && separators.len() > 1 {
                return Err(wrong());
            } else {
                Some(at)
            }
        }
    };
    let (whole, fraction) = match decimal_at {
        Some(at) => (&cleaned[..at], &cleaned[at + 1..]),
        None => (cleaned.as_str(), ""),
    };
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > exponent as usize {
        return Err(format!("has more decimals than {code} has ({exponent})"));
    }
    let scale = 10_i64.pow(exponent);
    let whole: i64 = whole.parse().map_err(|_| wrong())?;
    let fraction: i64 =
        if fraction.is_empty() { 0 } else { format!("{fraction:0<width$}", width = exponent as usize).parse().map_err(|_| wrong())? };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .filter(|a| *a <= deals::MAX_AMOUNT_MINOR)
        .ok_or_else(|| "must be less than a quadrillion".to_owned())
}

/// A date as `YYYY-MM-DD` (also with a time after it, as HubSpot exports), `MM/DD/YYYY` (US
/// exports) or `DD.MM.YYYY`, answered as `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<String> {
    let text = text.trim();
    let numbers = |parts: Vec<&str>| -> Option<Vec<u32>> { parts.iter().map(|p| p.trim().parse::<u32>().ok()).collect() };
    let (year, month, day) = if text.len() >= 10 && text.as_bytes()[4] == b'-' {
        let date = text.split([' ', 'T']).next()?;
        let n = numbers(date.split('-').collect())?;
        (*n.first()?, *n.get(1)?, *n.get(2)?)
    } else if text.contains('/') {
        let n = numbers(text.split(' ').next()?.split('/').collect())?;
        (*n.get(2)?, *n.first()?, *n.get(1)?)
    } else if text.contains('.') {
        let n = numbers(text.split(' ').next()?.split('.').collect())?;
        (*n.get(2)?, *n.get(1)?, *n.first()?)
    } else {
        return None;
    };
    if year < 1000 {
        return None;
    }
    let iso = format!("{year:04}-{month:02}-{day:02}");
    dates::parse(&iso).map(dates::format)
}

enum StageOf {
    Open(DealStage),
    Closed,
}

/// Trellis's stages and the default stage names of Salesforce, HubSpot (labels and internal
/// values) and Pipedrive, compared without case, spaces or punctuation.
fn parse_stage(text: &str) -> Option<StageOf> {
    let key: String = text.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    let stage = match key.as_str() {
        "prospecting" | "prospect" | "lead" | "leadin" | "new" | "appointmentscheduled" | "discovery" => DealStage::Prospecting,
        "qualification" | "qualified" | "qualifiedtobuy" | "needsanalysis" | "iddecisionmakers" | "perceptionanalysis" | "contactmade"
        | "needsdefined" | "demoscheduled" => DealStage::Qualification,
        "proposal" | "proposalpricequote" | "valueproposition" | "presentationscheduled" | "proposalmade" | "quote" => DealStage::Proposal,
        "negotiation" | "negotiationreview" | "negotiationsstarted" | "decisionmakerboughtin" => DealStage::Negotiation,
        "closing" | "contractsent" | "commit" => DealStage::Closing,
        "closedwon" | "won" | "closedlost" | "lost" | "closed" => return Some(StageOf::Closed),
        _ => return None,
    };
    Some(StageOf::Open(stage))
}

/// A country as an ISO 3166-1 alpha-2 code or an English name (Salesforce's "Billing Country" is
/// free text), answered as its code.
pub fn country_code(text: &str) -> Option<&'static str> {
    if let Some(code) = countries::parse(text) {
        return Some(code);
    }
    let name = text.trim().to_lowercase();
    let alias = match name.as_str() {
        "usa" | "us" | "united states of america" | "u.s.a." | "u.s." => "united states",
        "uk" | "great britain" | "england" | "scotland" | "wales" | "northern ireland" => "united kingdom",
        other => other,
    };
    countries::COUNTRIES.iter().find(|(_, n)| n.to_lowercase() == alias).map(|(code, _)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").expect("EUR")
    }

    #[test]
    fn amounts_read_as_crms_write_them() {
        for (text, minor) in [
            ("12500", 1_250_000),
            ("12,500.00", 1_250_000),
            ("12.500,00", 1_250_000),
            ("12,500", 1_250_000),
            ("1,250,000", 125_000_000),
            ("12500.5", 1_250_050),
            ("12,5", 1_250),
            ("$ 1 200", 120_000),
            ("EUR 99.90", 9_990),
            ("0", 0),
        ] {
            assert_eq!(amount_minor(text, eur()), Ok(minor), "{text}");
        }
        assert_eq!(amount_minor("12500", Currency::parse("JPY").expect("JPY")), Ok(12_500));
        assert_eq!(amount_minor("1.250", Currency::parse("KWD").expect("KWD")), Ok(1_250));
        for text in ["abc", "-5", "12.345.6", "1.2.3", "12.", "12.3456", ".5"] {
            assert!(amount_minor(text, eur()).is_err(), "{text}");
        }
        assert!(amount_minor("12.5", Currency::parse("JPY").expect("JPY")).is_err());
    }

    #[test]
    fn dates_in_three_formats() {
        assert_eq!(parse_date("2026-12-31").as_deref(), Some("2026-12-31"));
        assert_eq!(parse_date("2026-12-31 00:00").as_deref(), Some("2026-12-31"));
        assert_eq!(parse_date("12/31/2026").as_deref(), Some("2026-12-31"));
        assert_eq!(parse_date("3/4/2026").as_deref(), Some("2026-03-04"));
        assert_eq!(parse_date("31.12.2026").as_deref(), Some("2026-12-31"));
        for text in ["31/12/2026", "2026-02-30", "tomorrow", "12/31/26"] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }

    #[test]
    fn crm_stages_map_to_ours() {
        for (text, stage) in [
            ("Prospecting", DealStage::Prospecting),
            ("Needs Analysis", DealStage::Qualification),
            ("Proposal/Price Quote", DealStage::Proposal),
            ("Negotiation/Review", DealStage::Negotiation),
            ("qualifiedtobuy", DealStage::Qualification),
            ("Contract Sent", DealStage::Closing),
            ("negotiation", DealStage::Negotiation),
        ] {
            assert!(matches!(parse_stage(text), Some(StageOf::Open(s)) if s == stage), "{text}");
        }
        assert!(matches!(parse_stage("Closed Won"), Some(StageOf::Closed)));
        assert!(matches!(parse_stage("closedlost"), Some(StageOf::Closed)));
        assert!(parse_stage("Somewhere").is_none());
    }

    #[test]
    fn headers_of_the_three_crms_are_recognised() {
        let fields = |headers: &[&str]| -> Vec<Option<Field>> {
            map_columns(&headers.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>(), &Mapping::new())
                .expect("mapped")
                .into_iter()
                .map(|c| c.field)
                .collect()
        };
        assert_eq!(
            fields(&[
                "Opportunity ID",
                "Account Name",
                "Amount",
                "Opportunity Currency",
                "Close Date",
                "Stage",
                "Website",
                "Billing Country"
            ]),
            vec![
                Some(Field::ExternalId),
                Some(Field::CustomerName),
                Some(Field::Amount),
                Some(Field::Currency),
                Some(Field::ExpectedCloseDate),
                Some(Field::Stage),
                Some(Field::CustomerDomain),
                Some(Field::Country)
            ]
        );
        assert_eq!(
            fields(&["Record ID", "Deal Name", "Company name", "Amount", "Close Date", "Deal Stage"]),
            vec![
                Some(Field::ExternalId),
                None,
                Some(Field::CustomerName),
                Some(Field::Amount),
                Some(Field::ExpectedCloseDate),
                Some(Field::Stage)
            ]
        );
        assert_eq!(
            fields(&["ID", "Organization", "Value", "Currency", "Expected close date", "Stage", "Owner"]),
            vec![
                Some(Field::ExternalId),
                Some(Field::CustomerName),
                Some(Field::Amount),
                Some(Field::Currency),
                Some(Field::ExpectedCloseDate),
                Some(Field::Stage),
                None
            ]
        );
        let mapped = map_columns(
            &["Ref".to_owned(), "Client".to_owned(), "Amount".to_owned()],
            &Mapping::from([("external_id".to_owned(), "ref".to_owned()), ("customer_name".to_owned(), "Client".to_owned())]),
        )
        .expect("mapped");
        assert_eq!(
            mapped.iter().map(|c| c.field).collect::<Vec<_>>(),
            vec![Some(Field::ExternalId), Some(Field::CustomerName), Some(Field::Amount)]
        );
        assert!(map_columns(&["Name".to_owned()], &Mapping::new()).is_err());
    }
}
