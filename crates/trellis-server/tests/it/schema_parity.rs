//! The two dialects' migrations build the same schema, and docs/ARCHITECTURE.md "Table ownership"
//! lists exactly the tables they build.
//!
//! Each backend gets a fresh database migrated by `Db::migrate`. Compared: the set of tables and,
//! per table, the set of column names (not types, which are written per dialect, ADR 0001).
//! sqlx's own `_sqlx_migrations` is left out. No dialect difference is allowed today; one that
//! must exist belongs in this file with the reason.
//!
//! The PostgreSQL half runs when `TRELLIS_TEST_POSTGRES_URL` is set; without it the SQLite schema
//! is still checked against the documentation.

use std::collections::{BTreeMap, BTreeSet};

use trellis_db::{Db, DbConfig, Sql, sql};
use trellis_testkit::{TEST_FIXTURES, TestDatabase, postgres_url};

/// Table name → column names.
type Schema = BTreeMap<String, BTreeSet<String>>;

const ARCHITECTURE: &str = include_str!("../../../../docs/ARCHITECTURE.md");
const OWNERSHIP_HEADING: &str = "## Table ownership";

async fn migrated(url: &str) -> Db {
    let db = Db::connect(&DbConfig::new(url)).await.expect("connect");
    db.migrate().await.expect("migrate");
    db
}

async fn rows(db: &Db, query: Sql) -> Vec<trellis_db::Row> {
    let mut tx = db.read_granted(&TEST_FIXTURES).await.expect("read transaction");
    let rows = tx.fetch_all(query).await.expect("catalog query");
    tx.commit().await.expect("end read transaction");
    rows
}

fn schema_of(rows: &[trellis_db::Row]) -> Schema {
    let mut schema = Schema::new();
    for row in rows {
        let table: String = row.get("table_name").expect("table_name");
        let column: String = row.get("column_name").expect("column_name");
        schema.entry(table).or_default().insert(column);
    }
    schema
}

async fn sqlite_schema(db: &Db) -> Schema {
    schema_of(
        &rows(
            db,
            sql!(
                "SELECT m.name AS table_name, c.name AS column_name
                 FROM sqlite_master m, pragma_table_info(m.name) c
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> '_sqlx_migrations'"
            ),
        )
        .await,
    )
}

async fn postgres_schema(db: &Db) -> Schema {
    schema_of(
        &rows(
            db,
            sql!(
                "SELECT CAST(c.table_name AS TEXT) AS table_name, CAST(c.column_name AS TEXT) AS column_name
                 FROM information_schema.columns c
                 JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                 WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> '_sqlx_migrations'"
            ),
        )
        .await,
    )
}

/// The tables of the PostgreSQL schema that force row-level security.
async fn postgres_row_security_tables(db: &Db) -> BTreeSet<String> {
    rows(
        db,
        sql!(
            "SELECT CAST(c.relname AS TEXT) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relrowsecurity AND c.relforcerowsecurity
               AND c.relname <> '_sqlx_migrations'"
        ),
    )
    .await
    .iter()
    .map(|row| row.get("name").expect("name"))
    .collect()
}

/// Every difference between the two schemas, one line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut lines = Vec::new();
    for table in sqlite.keys().filter(|t| !postgres.contains_key(*t)) {
        lines.push(format!("table {table} only on SQLite"));
    }
    for table in postgres.keys().filter(|t| !sqlite.contains_key(*t)) {
        lines.push(format!("table {table} only on PostgreSQL"));
    }
    for (table, sqlite_columns) in sqlite {
        let Some(postgres_columns) = postgres.get(table) else { continue };
        for column in sqlite_columns.difference(postgres_columns) {
            lines.push(format!("column {table}.{column} only on SQLite"));
        }
        for column in postgres_columns.difference(sqlite_columns) {
            lines.push(format!("column {table}.{column} only on PostgreSQL"));
        }
    }
    lines
}

/// The text of the "Table ownership" section, up to the next section.
fn ownership_section() -> &'static str {
    let start = ARCHITECTURE.find(OWNERSHIP_HEADING).unwrap_or_else(|| panic!("docs/ARCHITECTURE.md has no {OWNERSHIP_HEADING:?} section"));
    let body = &ARCHITECTURE[start + OWNERSHIP_HEADING.len()..];
    body.find("\n## ").map_or(body, |end| &body[..end])
}

/// The tables of the "Table ownership" section: table name → whether it is marked partner-owned.
/// A row is `| `name` | what it holds | yes/no |`.
fn documented_tables() -> BTreeMap<String, bool> {
    let mut tables = BTreeMap::new();
    for line in ownership_section().lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let name = cells[0].trim_matches('`').to_owned();
        let partner_owned = match cells.last().copied() {
            Some("yes") => true,
            Some("no") => false,
            other => panic!("the row of {name} in {OWNERSHIP_HEADING:?} must end in yes or no, not {other:?}"),
        };
        assert!(tables.insert(name.clone(), partner_owned).is_none(), "{name} is listed twice in {OWNERSHIP_HEADING:?}");
    }
    tables
}

/// Lines for the tables migrated but not documented and documented but not migrated.
fn undocumented(schema: &Schema, documented: &BTreeMap<String, bool>) -> Vec<String> {
    let mut lines = Vec::new();
    for table in schema.keys().filter(|t| !documented.contains_key(*t)) {
        lines.push(format!("table {table} is migrated but missing from {OWNERSHIP_HEADING:?}"));
    }
    for table in documented.keys().filter(|t| !schema.contains_key(*t)) {
        lines.push(format!("table {table} is in {OWNERSHIP_HEADING:?} but no migration creates it"));
    }
    lines
}

/// Tables are grouped under `### <crate>` headings; each must name a crate of the workspace, so
/// that the list follows a split or a rename of the crates.
#[test]
fn the_table_ownership_groups_are_crates_of_the_workspace() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let unknown: Vec<&str> = ownership_section()
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter(|name| !crates.join(name).join("Cargo.toml").is_file())
        .collect();
    assert!(unknown.is_empty(), "{OWNERSHIP_HEADING:?} groups tables under headings that are not crates: {unknown:?}");
}

#[tokio::test]
async fn both_backends_migrate_to_the_same_tables_and_columns_and_the_architecture_lists_every_table() {
    let documented = documented_tables();

    let (sqlite_url, _sqlite_database) = TestDatabase::create_sqlite();
    let sqlite_db = migrated(&sqlite_url).await;
    let sqlite = sqlite_schema(&sqlite_db).await;
    sqlite_db.close().await;
    assert!(!sqlite.is_empty(), "the SQLite migrations create tables");
    // Every problem is collected first, so that one run shows all of them.
    let mut problems = undocumented(&sqlite, &documented);

    let Some(admin_url) = postgres_url() else {
        println!(
            "SKIP schema parity with PostgreSQL: set TRELLIS_TEST_POSTGRES_URL to compare it (SQLite: {} tables checked against the docs)",
            sqlite.len()
        );
        assert!(problems.is_empty(), "docs/ARCHITECTURE.md disagrees with the SQLite migrations:\n  {}", problems.join("\n  "));
        return;
    };
    let (schema_url, _postgres_database) = TestDatabase::create_postgres(admin_url).await;
    let postgres_db = migrated(&schema_url).await;
    let postgres = postgres_schema(&postgres_db).await;
    let row_security = postgres_row_security_tables(&postgres_db).await;
    // Close the pool before the schema is dropped (the drop ends its connections otherwise).
    postgres_db.close().await;

    let drift = differences(&sqlite, &postgres);
    println!(
        "FIGURE schema_parity tables={} columns={} differences={} partner_owned={}",
        sqlite.len(),
        sqlite.values().map(BTreeSet::len).sum::<usize>(),
        drift.len(),
        row_security.len()
    );
    problems.extend(drift);
    for (table, partner_owned) in documented.iter().filter(|(table, _)| postgres.contains_key(*table)) {
        let forced = row_security.contains(table);
        if *partner_owned != forced {
            let catalog = if forced { "forces row-level security" } else { "does not force row-level security" };
            problems.push(format!(
                "table {table} is marked partner-owned = {partner_owned} in {OWNERSHIP_HEADING:?}, but on PostgreSQL it {catalog}"
            ));
        }
    }
    assert!(problems.is_empty(), "the migrations of the two backends and docs/ARCHITECTURE.md disagree:\n  {}", problems.join("\n  "));
}
