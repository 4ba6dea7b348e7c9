//! What the portal's earnings pages and the console's commission pages share: a commission as a
//! row (its kind, status and hold reason in words, a give-back as a signed amount that says so),
//! the list's filters read from the query, the CSV export of the same filters, balances per
//! currency and the earnings chart by month.

use trellis_core::{Currency, Error, Page, PartnerId, ProgramId, Timestamp};
use trellis_identity::Scope;
use trellis_incentives::commissions::{self, Commission, CommissionFilter, CommissionKind, CurrencyBalance, MonthTotal};
use trellis_incentives::statuses::{self, CommissionStatus, HoldReason};
use trellis_web::AppState;

use crate::charts::{Bar, BarChart, money_bars};
use crate::deal_views::csv_field;
use crate::display;
use crate::forms::{Choice, FormData};
use crate::listing::ListState;

/// The filters of a commissions list, as its query names them.
/// The dates are `since` and `until` (inclusive): `from` is the list component's position.
pub const FILTER_FIELDS: &[&str] = &["status", "kind", "program", "since", "until", "partner"];

/// The most commissions one export holds.
pub const EXPORT_CAP: usize = 10_000;

/// A button of the status table on a commission's row (console).
pub struct ButtonView {
    pub label: &'static str,
    /// `hold`, `release` or `reject`: the form's action under the commission's path.
    pub action: &'static str,
}

/// A commission as a row of a table.
pub struct CommissionRow {
    pub id: String,
    /// The day it was created.
    pub date: String,
    pub partner: String,
    pub partner_id: String,
    pub kind: &'static str,
    /// `€1,200.00`, or `−€50.00` for a reversal or clawback.
    pub amount: String,
    pub negative: bool,
    pub status: &'static str,
    pub status_code: &'static str,
    /// Why it is held, in words; empty when it is not.
    pub hold: String,
    /// Why a clawback, reversal or award exists, in words, with its note.
    pub reason: String,
    /// "20% of €10,000.00" for a share of a sale.
    pub basis: String,
    pub invoice: String,
    pub conversion_id: String,
    pub buttons: Vec<ButtonView>,
}

/// Why an adjustment or award exists, as the partner reads it.
fn reason_in_words(c: &Commission) -> String {
    let code = match c.reason_code.as_deref() {
        Some("refund") => "Refund of the sale".to_owned(),
        Some("bonus") => "Bonus".to_owned(),
        Some("spiff") => "SPIFF".to_owned(),
        Some("dispute_overturned") => "Dispute overturned: the amount taken back is restored".to_owned(),
        Some(other) => display::words(other),
        None if c.kind == CommissionKind::Reversal => "Reversed before payment".to_owned(),
        None if c.kind == CommissionKind::Clawback => "Paid money taken back".to_owned(),
        None => String::new(),
    };
    match c.note.as_deref().filter(|n| !n.is_empty()) {
        Some(note) if code.is_empty() => note.to_owned(),
        Some(note) => format!("{code}: {note}"),
        None => code,
    }
}

/// A signed amount as people read it: a give-back starts with a minus sign people see.
pub fn signed_money(amount_minor: i64, currency: Currency) -> String {
    let text = display::money(amount_minor, currency.code());
    match text.strip_prefix('-') {
        Some(rest) => format!("−{rest}"),
        None => text,
    }
}

impl CommissionRow {
    pub fn new(c: &Commission, with_buttons: bool) -> Self {
        let basis = match (c.basis_minor, c.rate_bps) {
            (Some(basis), Some(rate)) => {
                let mut text = format!("{} of {}", display::percent_bps(rate), display::money(basis, c.currency.code()));
                if let Some(share) = c.share_bps.filter(|s| *s != 10_000) {
                    text.push_str(&format!(" × a {} share", display::percent_bps(share)));
                }
                text
            }
            _ => String::new(),
        };
        let buttons = if with_buttons {
            statuses::buttons(c.status)
                .into_iter()
                .filter_map(|tr| tr.button)
                // A licence hold ends with the renewal: nobody rejects it.
                .filter(|label| !(*label == "Reject" && c.hold_reason == Some(HoldReason::LicenceExpired)))
                .map(|label| ButtonView {
                    label,
                    action: match label {
                        "Hold" => "hold",
                        "Reject" => "reject",
                        _ => "release",
                    },
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            id: c.id.to_string(),
            date: display::time(c.created_at).chars().take(10).collect(),
            partner: c.partner_name.clone(),
            partner_id: c.partner_id.to_string(),
            kind: c.kind.label(),
            amount: signed_money(c.amount_minor, c.currency),
            negative: c.amount_minor < 0,
            status: c.status.label(),
            status_code: c.status.as_str(),
            hold: if c.status == CommissionStatus::OnHold {
                c.hold_reason.map(|h| h.label().to_owned()).unwrap_or_default()
            } else {
                String::new()
            },
            reason: reason_in_words(c),
            basis,
            invoice: c.invoice_id.clone().unwrap_or_default(),
            conversion_id: c.conversion_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            buttons,
        }
    }
}

pub fn status_choices() -> Vec<Choice> {
    CommissionStatus::ALL.iter().map(|s| Choice { value: s.as_str().to_owned(), label: s.label().to_owned() }).collect()
}

pub fn kind_choices() -> Vec<Choice> {
    CommissionKind::ALL.iter().map(|k| Choice { value: k.as_str().to_owned(), label: k.label().to_owned() }).collect()
}

/// A day typed in a date field as the start of that day (UTC); `None` when blank or not a date.
fn day(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if text.len() != 10 {
        return None;
    }
    Timestamp::parse(text)
}

/// The list's filters as the query has them (unknown values are left out, so a stale link still
/// shows a list) and the service's filter. `own_partner`: a partner's pages, which never filter by
/// another partner.
pub struct CommissionFilters {
    pub values: Vec<(&'static str, String)>,
    pub filter: CommissionFilter,
}

impl CommissionFilters {
    pub fn read(query: &FormData, staff: bool) -> Self {
        let status = query.optional("status").and_then(CommissionStatus::parse);
        let kind = query.optional("kind").and_then(CommissionKind::parse);
        let program = query.optional("program").and_then(|p| p.parse::<ProgramId>().ok());
        let partner = if staff { query.optional("partner").and_then(|p| p.parse::<PartnerId>().ok()) } else { None };
        let from = query.optional("since").and_then(day);
        let to = query.optional("until").and_then(day);
        let values = vec![
            ("status", status.map(|s| s.as_str().to_owned()).unwrap_or_default()),
            ("kind", kind.map(|k| k.as_str().to_owned()).unwrap_or_default()),
            ("program", program.as_ref().map(ToString::to_string).unwrap_or_default()),
            ("since", if from.is_some() { query.value("since").trim().to_owned() } else { String::new() }),
            ("until", if to.is_some() { query.value("until").trim().to_owned() } else { String::new() }),
            ("partner", partner.as_ref().map(ToString::to_string).unwrap_or_default()),
        ];
        let filter = CommissionFilter {
            partner_id: partner,
            status,
            kind,
            program_id: program,
            created_from: from,
            // The last day is included.
            created_before: to.map(|t| t.plus_seconds(86_400)),
            cursor: query.optional("cursor").and_then(|c| c.parse().ok()),
            ..CommissionFilter::default()
        };
        Self { values, filter }
    }

    pub fn list_state(&self, path: &'static str, query: &FormData) -> ListState {
        ListState::read(path, query, self.values.clone(), &["newest"], "newest")
    }

    pub fn form_values(&self) -> Vec<(&'static str, String)> {
        self.values.clone()
    }
}

/// "Showing 1–50 commissions" and the page links: commissions are not counted (the balances
/// answer "how much"), so the words say what this page holds.
pub fn list_view(list: &ListState, page: &Page<Commission>, query: &FormData) -> crate::listing::ListView {
    let mut view = list.view(page.items.len(), 0, page.next_cursor.clone(), "commissions");
    let from: usize = if query.optional("cursor").is_some() { query.optional("from").and_then(|n| n.parse().ok()).unwrap_or(0) } else { 0 };
    view.showing = if page.items.is_empty() {
        "No commissions on this page".to_owned()
    } else {
        format!(
            "Showing {}–{} commissions, newest first{}",
            display::thousands(from as i64 + 1),
            display::thousands((from + page.items.len()) as i64),
            if page.next_cursor.is_some() { "; more follow" } else { "" }
        )
    };
    view
}

const CSV_HEAD: &str = "id,date,partner,kind,amount,currency,status,hold_reason,reason,invoice_id,conversion_id\r\n";

/// Minor units as a spreadsheet sums them: `-12.50`.
fn csv_amount(amount_minor: i64, currency: Currency) -> String {
    let exponent = u32::from(currency.exponent());
    if exponent == 0 {
        return amount_minor.to_string();
    }
    let unit = 10_i64.pow(exponent);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let magnitude = amount_minor.unsigned_abs();
    let unit = unit.unsigned_abs();
    format!("{sign}{}.{:0w$}", magnitude / unit, magnitude % unit, w = exponent as usize)
}

fn csv_line(c: &Commission) -> String {
    let text = [c.id.to_string(), display::time(c.created_at), c.partner_name.clone(), c.kind.label().to_owned()];
    let rest = [
        c.status.label().to_owned(),
        c.hold_reason.filter(|_| c.status == CommissionStatus::OnHold).map(|h| h.label().to_owned()).unwrap_or_default(),
        reason_in_words(c),
        c.invoice_id.clone().unwrap_or_default(),
        c.conversion_id.as_ref().map(ToString::to_string).unwrap_or_default(),
    ];
    let mut fields: Vec<String> = text.iter().map(|f| csv_field(f)).collect();
    // Amounts are numbers (a minus sign is no formula here), written bare.
    fields.push(csv_amount(c.amount_minor, c.currency));
    fields.push(c.currency.code().to_owned());
    fields.extend(rest.iter().map(|f| csv_field(f)));
    format!("{}\r\n", fields.join(","))
}

/// The commissions of the query's filters as a CSV file, at most [`EXPORT_CAP`] of them.
pub async fn export_csv(state: &AppState, scope: &Scope, query: &FormData, staff: bool) -> Result<String, Error> {
    let mut filter = CommissionFilters::read(query, staff).filter;
    filter.cursor = None;
    filter.limit = Some(trellis_core::page::MAX_PAGE_SIZE);
    let mut tx = scope.read(&state.ctx).await?;
    let mut csv = String::from(CSV_HEAD);
    let mut rows = 0;
    loop {
        let page = commissions::list_in(&mut tx, scope, &filter).await?;
        for c in &page.items {
            csv.push_str(&csv_line(c));
        }
        rows += page.items.len();
        match page.next_cursor {
            Some(next) if rows < EXPORT_CAP => filter.cursor = next.parse().ok(),
            Some(_) => {
                csv.push_str(&csv_field(&format!("The export stops at {EXPORT_CAP} commissions: narrow the filters for the rest.")));
                csv.push_str("\r\n");
                break;
            }
            None => break,
        }
    }
    Ok(csv)
}

/// A balance as a card shows it.
pub struct BalanceView {
    pub currency: String,
    pub pending: String,
    pub payable: String,
    pub in_payout: String,
    pub paid: String,
    /// Payable is below zero: more was clawed back than is payable.
    pub owes: bool,
}

pub fn balance_views(balances: &[CurrencyBalance]) -> Vec<BalanceView> {
    balances
        .iter()
        .map(|b| BalanceView {
            currency: b.currency.code().to_owned(),
            pending: signed_money(b.pending_minor, b.currency),
            payable: signed_money(b.payable_minor, b.currency),
            in_payout: signed_money(b.in_payout_minor, b.currency),
            paid: signed_money(b.paid_minor, b.currency),
            owes: b.payable_minor < 0,
        })
        .collect()
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The start of the month `months_back` calendar months before `now`'s (UTC).
pub fn month_start(now: Timestamp, months_back: i64) -> Timestamp {
    let date = now.to_datetime();
    let first = date.replace_day(1).unwrap_or(date).replace_time(time::Time::MIDNIGHT);
    trellis_incentives::plans::add_months(Timestamp::from_datetime(first), -months_back)
}

/// The earnings chart: the last twelve months, oldest first, in the currency earned most (the
/// table below the chart has every currency's months). `href` links a month's bar to its list.
pub fn earnings_chart(totals: &[MonthTotal], now: Timestamp, href: impl Fn(Timestamp, Timestamp) -> String) -> Option<(BarChart, String)> {
    let mut by_currency: Vec<(Currency, i64)> = Vec::new();
    for t in totals {
        match by_currency.iter_mut().find(|(c, _)| *c == t.currency) {
            Some((_, n)) => *n += t.amount_minor.abs(),
            None => by_currency.push((t.currency, t.amount_minor.abs())),
        }
    }
    by_currency.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.code().cmp(b.0.code())));
    let (currency, _) = *by_currency.first()?;
    let bars = (0..12)
        .rev()
        .map(|back| {
            let start = month_start(now, back);
            let end = month_start(now, back - 1);
            let d = start.to_datetime();
            let value = totals
                .iter()
                .filter(|t| t.currency == currency && t.year == d.year() && t.month == u8::from(d.month()))
                .map(|t| t.amount_minor)
                .sum();
            Bar { label: format!("{} {}", MONTHS[usize::from(u8::from(d.month())) - 1], d.year()), value, href: Some(href(start, end)) }
        })
        .collect();
    let mut note = format!("Commissions earned per month in {}, reversals and clawbacks subtracted.", currency.code());
    if by_currency.len() > 1 {
        note.push_str(" Earnings in other currencies are in the table below.");
    }
    Some((money_bars(format!("Earnings by month ({})", currency.code()), bars, currency.code()), note))
}

/// A month of the earnings table (every currency).
pub struct MonthRow {
    pub month: String,
    pub amount: String,
    pub count: i64,
}

pub fn month_rows(totals: &[MonthTotal]) -> Vec<MonthRow> {
    totals
        .iter()
        .rev()
        .map(|t| MonthRow {
            month: format!("{} {}", MONTHS[usize::from(t.month.clamp(1, 12)) - 1], t.year),
            amount: signed_money(t.amount_minor, t.currency),
            count: t.count,
        })
        .collect()
}

/// A timestamp as the `YYYY-MM-DD` a date field and a filter link take.
pub fn date_value(at: Timestamp) -> String {
    display::time(at).chars().take(10).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn give_backs_read_with_a_minus_sign_and_csv_amounts_keep_theirs() {
        let eur = Currency::parse("EUR").expect("EUR");
        assert_eq!(signed_money(120_000, eur), "€1,200.00");
        assert_eq!(signed_money(-5_000, eur), "−€50.00");
        assert_eq!(csv_amount(-50, eur), "-0.50");
        assert_eq!(csv_amount(123_456, eur), "1234.56");
        assert_eq!(csv_amount(-7, Currency::parse("JPY").expect("JPY")), "-7");
    }

    #[test]
    fn a_month_starts_on_its_first_day_at_midnight() {
        let now = Timestamp::parse("2026-12-06T17:30:00Z").expect("time");
        assert_eq!(month_start(now, 0).to_rfc3339(), Timestamp::parse("2026-12-01T00:00:00Z").expect("t").to_rfc3339());
        assert_eq!(month_start(now, 11).to_rfc3339(), Timestamp::parse("2026-01-01T00:00:00Z").expect("t").to_rfc3339());
        assert_eq!(month_start(now, -1).to_rfc3339(), Timestamp::parse("2027-01-01T00:00:00Z").expect("t").to_rfc3339());
    }
}
