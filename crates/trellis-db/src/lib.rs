//! Storage: one `Db` over SQLite or PostgreSQL, chosen from the URL, with the same SQL for both.
//!
//! What this crate owns: connecting (WAL, `synchronous=FULL`, foreign keys on SQLite), applying the
//! migrations of `trellis-migrations`, transactions, the value/row types that let one SQL string with
//! `$n` placeholders run on both backends, and the PostgreSQL row-security context of a transaction.
//! What it does not own: any table's meaning. Store functions live in the domain crates and reach
//! partner-owned rows only through a `Scope` from `trellis-identity` (its scoped transactions), or
//! for work no person performs through a named [`SystemGrant`].
//!
//! Writes on SQLite all go through one writer connection (a pool of exactly one connection, taken
//! in FIFO order), so `SQLITE_BUSY` cannot happen between our own writers; reads use a separate
//! pool of reader connections (WAL readers never block the writer).
//! See docs/decisions/0003-sqlite-single-writer.md.

mod connect;
mod grant;
pub mod held;
mod sql;
mod tx;
mod value;

pub use connect::{Backend, Db, DbConfig};
pub use grant::SystemGrant;
pub use sql::Sql;
pub use tx::{ChainHead, RowSecurity, Tx};
pub use value::{FromValue, Row, ToValue, Value};

/// Errors from storage. Constraint violations are told apart so that the write that hit them can
/// turn them into a field error or a 409 (launchbadge/realworld-axum-sqlx `on_constraint`).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    #[error("foreign key violated: {0}")]
    ForeignKeyViolation(String),
    #[error("column {column}: {message}")]
    Decode { column: String, message: String },
    #[error("no row returned")]
    NotFound,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
}

impl DbError {
    /// True when a unique constraint whose name or message mentions `needle` was violated.
    pub fn is_unique(&self, needle: &str) -> bool {
        matches!(self, DbError::UniqueViolation(what) if what.contains(needle))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let what = db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned);
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return DbError::UniqueViolation(what),
                sqlx::error::ErrorKind::ForeignKeyViolation => return DbError::ForeignKeyViolation(what),
                _ => {}
            }
        }
        if matches!(err, sqlx::Error::RowNotFound) {
            return DbError::NotFound;
        }
        DbError::Sqlx(err)
    }
}

pub type DbResult<T> = Result<T, DbError>;

impl From<DbError> for trellis_core::Error {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => trellis_core::Error::NotFound,
            other => trellis_core::Error::Internal(other.to_string()),
        }
    }
}
