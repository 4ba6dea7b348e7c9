//! Transactions over either backend, and the row-security context a PostgreSQL transaction runs
//! under.

use std::sync::Arc;

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Column};

use crate::sql::Sql;
use crate::value::{Row, Value};
use crate::{DbError, DbResult};

/// What the database itself lets a transaction see of partner-owned rows (the second wall, after
/// the application's `Scope`). Only PostgreSQL enforces it; SQLite has no row security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSecurity {
    /// Vendor staff, operators and the system context: every row of the tables.
    Unrestricted,
    /// A partner: the transaction switches to the runtime role `trellis_app` (not the tables'
    /// owner, no BYPASSRLS) with this partner's id in `trellis.acting_partner_id`; it sees that
    /// partner's rows and its descendants'.
    Partner(String),
    /// A channel manager limited to the partners they manage: `trellis_app` with this user's id in
    /// `trellis.acting_manager_id`; it sees those partners' rows and their descendants'.
    Manager(String),
}

pub(crate) enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// An open transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    pub(crate) inner: TxInner,
    /// Opened with `Db::write`: its commit may be held (see `held`).
    pub(crate) writes: bool,
    /// The head of a hash chain this transaction extends (see [`ChainHead`]).
    pub(crate) chain_head: Option<ChainHead>,
}

/// The head of an append-only hash chain (the audit log's, per workspace) as this transaction
/// left it: the chain's key, its last sequence number and hash, and the statement that stores
/// them. A transaction that appends several links locks the stored head once, keeps it here,
/// and writes it once, just before it commits (or when it moves on to another chain), instead of
/// reading and writing the head row for every link.
#[derive(Debug)]
pub struct ChainHead {
    pub key: String,
    pub seq: i64,
    pub hash: String,
    pub store: Sql,
}

fn bind_sqlite<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    params: Vec<Value>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    for value in params {
        query = match value {
            Value::Int(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query
}

fn bind_postgres<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    params: Vec<Value>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for value in params {
        query = match value {
            Value::Int(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query
}

fn column_names<R: sqlx::Row>(row: &R) -> Arc<[String]> {
    row.columns().iter().map(|c| c.name().to_owned()).collect()
}

impl Tx {
    /// Runs a statement and returns the number of rows it changed.
    pub async fn execute(&mut self, sql: Sql) -> DbResult<u64> {
        let Sql { text, params } = sql;
        let text = AssertSqlSafe(text);
        match &mut self.inner {
            TxInner::Sqlite(tx) => Ok(bind_sqlite(sqlx::query(text), params).execute(&mut **tx).await?.rows_affected()),
            TxInner::Postgres(tx) => Ok(bind_postgres(sqlx::query(text), params).execute(&mut **tx).await?.rows_affected()),
        }
    }

    /// Fetches every row of a query.
    pub async fn fetch_all(&mut self, sql: Sql) -> DbResult<Vec<Row>> {
        let Sql { text, params } = sql;
        let text = AssertSqlSafe(text);
        let mut rows = Vec::new();
        match &mut self.inner {
            TxInner::Sqlite(tx) => {
                let mut stream = bind_sqlite(sqlx::query(text), params).fetch(&mut **tx);
                let mut columns: Option<Arc<[String]>> = None;
                while let Some(row) = stream.try_next().await? {
                    let names = columns.get_or_insert_with(|| column_names(&row));
                    rows.push(Row::from_sqlite(names, &row)?);
                }
            }
            TxInner::Postgres(tx) => {
                let mut stream = bind_postgres(sqlx::query(text), params).fetch(&mut **tx);
                let mut columns: Option<Arc<[String]>> = None;
                while let Some(row) = stream.try_next().await? {
                    let names = columns.get_or_insert_with(|| column_names(&row));
                    rows.push(Row::from_postgres(names, &row)?);
                }
            }
        }
        Ok(rows)
    }

    /// Fetches at most one row (the first).
    pub async fn fetch_optional(&mut self, sql: Sql) -> DbResult<Option<Row>> {
        Ok(self.fetch_all(sql).await?.into_iter().next())
    }

    /// Fetches exactly one row; none is [`DbError::NotFound`].
    pub async fn fetch_one(&mut self, sql: Sql) -> DbResult<Row> {
        self.fetch_optional(sql).await?.ok_or(DbError::NotFound)
    }

    /// Fetches one integer (e.g. a `COUNT(*)`); write `CAST(… AS BIGINT)` for sums on PostgreSQL.
    pub async fn fetch_i64(&mut self, sql: Sql) -> DbResult<i64> {
        let row = self.fetch_one(sql).await?;
        let first = row_first_column(&row);
        row.get::<i64>(&first)
    }

    /// Commits. Inside `held::hold_commits` a write transaction is parked instead, and the
    /// scope's owner commits it.
    pub async fn commit(self) -> DbResult<()> {
        if !self.writes {
            return self.commit_now().await;
        }
        match crate::held::park(self) {
            crate::held::Parking::Parked => Ok(()),
            crate::held::Parking::NoScope(tx) => tx.commit_now().await,
            crate::held::Parking::Occupied(mut tx, mark) => {
                tx.execute(mark).await?;
                tx.commit_now().await
            }
        }
    }

    /// The chain head this transaction holds for `key`, if it has appended to that chain.
    pub fn chain_head(&self, key: &str) -> Option<(i64, &str)> {
        self.chain_head.as_ref().filter(|h| h.key == key).map(|h| (h.seq, h.hash.as_str()))
    }

    /// Keeps `head` as the chain's head for this transaction; a head of another chain held
    /// before is stored first.
    pub async fn set_chain_head(&mut self, head: ChainHead) -> DbResult<()> {
        if let Some(previous) = self.chain_head.take_if(|h| h.key != head.key) {
            self.execute(previous.store).await?;
        }
        self.chain_head = Some(head);
        Ok(())
    }

    /// Commits for real, whatever scope the task is in; the chain head it holds is stored first.
    pub async fn commit_now(mut self) -> DbResult<()> {
        if let Some(head) = self.chain_head.take() {
            self.execute(head.store).await?;
        }
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Lifts the caller's row security for the rest of this transaction, for the work `grant`
    /// names: on PostgreSQL the transaction leaves the runtime role `trellis_app` (`RESET ROLE`)
    /// and sees every row; SQLite has no row security. Only `ScopedTx::into_granted` calls it,
    /// which consumes the caller's scoped transaction, so nothing filtered by the caller's rule
    /// runs after the lift.
    pub async fn lift_row_security(&mut self, grant: &'static crate::SystemGrant) -> DbResult<()> {
        tracing::debug!(grant = grant.name, "row security lifted for the rest of a transaction");
        if let TxInner::Postgres(_) = self.inner {
            self.execute(Sql::new("RESET ROLE", Vec::new())).await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> crate::Backend {
        match self.inner {
            TxInner::Sqlite(_) => crate::Backend::Sqlite,
            TxInner::Postgres(_) => crate::Backend::Postgres,
        }
    }
}

fn row_first_column(row: &Row) -> String {
    row.column_names().first().cloned().unwrap_or_default()
}

impl Row {
    pub fn column_names(&self) -> &[String] {
        self.columns_ref()
    }
}
