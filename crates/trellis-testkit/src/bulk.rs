//! Seeding large data sets by multi-row inserts (benchmarks and the wide-tree tests): tens of
//! thousands of partners in seconds, where the services would take minutes. Rows inserted here
//! still pass every trigger and constraint of the schema (the partner ancestry is kept by triggers).

use trellis_core::{PartnerId, PartnerType, PartnerTypes, Timestamp, WorkspaceId, new_id_body};
use trellis_db::{Sql, ToValue, Value};

use crate::TestApp;

/// Rows per statement: well under SQLite's and PostgreSQL's limits on bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// `INSERT INTO table (columns) VALUES (…), (…)` for rows of bound values.
pub fn insert_rows(table: &str, columns: &str, rows: &[Vec<Value>]) -> Sql {
    let mut sql = Sql::build("INSERT INTO ");
    sql.push(table).push(" (").push(columns).push(") VALUES ");
    for (i, row) in rows.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        let placeholders: Vec<String> = row.iter().map(|v| sql.bind(v.clone())).collect();
        sql.push(&placeholders.join(", ")).push(")");
    }
    sql
}

/// Inserts `count` active resellers under `parent` in one transaction, named `{prefix} {n}`;
/// returns their ids in insertion order.
pub async fn add_resellers(app: &TestApp, workspace: &WorkspaceId, parent: &PartnerId, prefix: &str, count: usize) -> Vec<PartnerId> {
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let types: PartnerTypes = [PartnerType::Reseller].into_iter().collect();
    let ids: Vec<PartnerId> = (0..count).map(|_| format!("ptn_{}", new_id_body()).parse().expect("a partner id")).collect();
    let rows: Vec<Vec<Value>> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            vec![
                workspace.to_value(),
                id.to_value(),
                format!("{prefix} {n}").to_value(),
                format!("{}-{n}@bulk.example", prefix.to_lowercase().replace(' ', "-")).to_value(),
                types.mask().to_value(),
                "active".to_value(),
                parent.to_value(),
                now.to_value(),
                now.to_value(),
            ]
        })
        .collect();
    let statements = rows
        .chunks(ROWS_PER_STATEMENT)
        .map(|chunk| {
            insert_rows("partners", "workspace_id, id, name, contact_email, types, status, parent_id, created_at, updated_at", chunk)
        })
        .collect();
    app.execute(statements).await.expect("bulk insert of resellers");
    ids
}

/// Deal statuses a bulk deal takes in turn: one in ten is won (a filter that matches a tenth).
const BULK_DEAL_STATUSES: [&str; 10] =
    ["submitted", "under_review", "approved", "approved", "approved", "won", "lost", "approved", "submitted", "approved"];

/// Inserts `per_partner` registrations for each partner (statuses in turn, one in ten won) in one
/// transaction; the triggers on `deals` list each under its partner's ancestors as they do for
/// the service's own inserts. Answers how many were inserted.
pub async fn add_deals(app: &TestApp, workspace: &WorkspaceId, partners: &[PartnerId], per_partner: usize) -> usize {
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(partners.len() * per_partner);
    for (p, partner) in partners.iter().enumerate() {
        for d in 0..per_partner {
            let n = p * per_partner + d;
            rows.push(vec![
                workspace.to_value(),
                format!("deal_{}", new_id_body()).to_value(),
                "partner".to_value(),
                partner.to_value(),
                "resell".to_value(),
                BULK_DEAL_STATUSES[n % BULK_DEAL_STATUSES.len()].to_value(),
                "qualification".to_value(),
                format!("Customer {n} Holdings").to_value(),
                format!("customer {n}").to_value(),
                (1_000 * (n as i64 % 500 + 1)).to_value(),
                "EUR".to_value(),
                "".to_value(),
                now.to_value(),
                now.to_value(),
            ]);
        }
    }
    let columns = "workspace_id, id, source, partner_id, partner_role, status, stage, customer_name, name_key, amount_minor, currency, description, created_at, updated_at";
    let statements = rows.chunks(ROWS_PER_STATEMENT).map(|chunk| insert_rows("deals", columns, chunk)).collect();
    app.execute(statements).await.expect("bulk insert of deals");
    rows.len()
}
