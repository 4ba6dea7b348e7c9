//! Connecting to the database named by a URL, and opening transactions.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::grant::SystemGrant;
use crate::tx::{RowSecurity, Tx, TxInner};
use crate::{DbResult, sql};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to connect. `url` starts with `sqlite:` or `postgres:`/`postgresql:`.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    /// Connections for readers (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
}

impl DbConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 8 }
    }
}

enum Pools {
    Sqlite { reader: SqlitePool, writer: SqlitePool },
    Postgres(PgPool),
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pools: Arc<Pools>,
    /// Transactions begun through this handle and its clones (see [`Db::transactions_begun`]).
    begun: Arc<AtomicU64>,
}

impl Db {
    /// Connects to the database of `config.url`, creating a missing SQLite file.
    pub async fn connect(config: &DbConfig) -> DbResult<Self> {
        let url = config.url.as_str();
        let pools = if url.starts_with("sqlite:") {
            // Money will live in this file: FULL makes every commit durable on power loss.
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // SQLite's default page cache is 2 MB: every write into an index larger than that
            // (clicks by link, commissions by partner) reads its pages back from the OS. The one
            // writer keeps 64 MiB, each reader 16 MiB (negative: KiB).
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone().pragma("cache_size", "-65536"))
                .await?;
            let reader = SqlitePoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.read_only(true).pragma("cache_size", "-16384"))
                .await?;
            Pools::Sqlite { reader, writer }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            Pools::Postgres(pool)
        } else {
            return Err(crate::DbError::Sqlx(sqlx::Error::Configuration(
                format!("unsupported database URL {url:?}: use sqlite://FILE or postgres://…").into(),
            )));
        };
        Ok(Self { pools: Arc::new(pools), begun: Arc::new(AtomicU64::new(0)) })
    }

    pub fn backend(&self) -> Backend {
        match &*self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// How many transactions this handle (and its clones) has begun: a page or request that
    /// should read in one transaction is held to it by a test counting the difference.
    pub fn transactions_begun(&self) -> u64 {
        self.begun.load(Ordering::Relaxed)
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> DbResult<()> {
        match &*self.pools {
            Pools::Sqlite { writer, .. } => trellis_migrations::SQLITE.run(writer).await?,
            Pools::Postgres(pool) => trellis_migrations::POSTGRES.run(pool).await?,
        }
        Ok(())
    }

    /// A transaction for reading. On SQLite it uses a reader connection and never blocks writers.
    /// Code outside this crate opens it through a request scope (`Scope::read`) or a grant
    /// ([`Self::read_granted`]); clippy.toml rejects other calls.
    pub async fn read(&self, security: &RowSecurity) -> DbResult<Tx> {
        // A change held back by `held::hold_commits` must be visible to the read.
        crate::held::flush().await?;
        self.begun.fetch_add(1, Ordering::Relaxed);
        match &*self.pools {
            Pools::Sqlite { reader, .. } => Ok(Tx { inner: TxInner::Sqlite(reader.begin().await?), writes: false, chain_head: None }),
            Pools::Postgres(pool) => self.postgres_tx(pool, security, false).await,
        }
    }

    /// A transaction for writing. On SQLite it waits for the single writer connection and starts
    /// with `BEGIN IMMEDIATE`, so it holds the write lock from the first statement (a deferred
    /// transaction that reads then writes would fail with `SQLITE_BUSY`).
    /// Keep slow work (password hashing, network) out of it: every other writer waits.
    /// Code outside this crate opens it through a request scope (`Scope::write`) or a grant
    /// ([`Self::write_granted`]); clippy.toml rejects other calls.
    pub async fn write(&self, security: &RowSecurity) -> DbResult<Tx> {
        // A held change commits first (SQLite's one writer connection is in it).
        crate::held::flush().await?;
        self.begun.fetch_add(1, Ordering::Relaxed);
        match &*self.pools {
            Pools::Sqlite { writer, .. } => {
                Ok(Tx { inner: TxInner::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?), writes: true, chain_head: None })
            }
            Pools::Postgres(pool) => self.postgres_tx(pool, security, true).await,
        }
    }

    /// A read transaction that row security does not restrict, for the work `grant` names.
    #[expect(clippy::disallowed_methods, reason = "the grant opener: the unrestricted read is named by its grant")]
    pub async fn read_granted(&self, grant: &'static SystemGrant) -> DbResult<Tx> {
        tracing::debug!(grant = grant.name, "unrestricted read transaction");
        self.read(&RowSecurity::Unrestricted).await
    }

    /// A write transaction that row security does not restrict, for the work `grant` names.
    #[expect(clippy::disallowed_methods, reason = "the grant opener: the unrestricted write is named by its grant")]
    pub async fn write_granted(&self, grant: &'static SystemGrant) -> DbResult<Tx> {
        tracing::debug!(grant = grant.name, "unrestricted write transaction");
        self.write(&RowSecurity::Unrestricted).await
    }

    async fn postgres_tx(&self, pool: &PgPool, security: &RowSecurity, writes: bool) -> DbResult<Tx> {
        let mut tx = Tx { inner: TxInner::Postgres(pool.begin().await?), writes, chain_head: None };
        // The runtime role (migration 0001) is not the tables' owner and has no BYPASSRLS; the
        // policies (migration 20261203000002) key on who acts.
        let acting = match security {
            RowSecurity::Unrestricted => None,
            RowSecurity::Partner(partner_id) => Some(("trellis.acting_partner_id", partner_id)),
            RowSecurity::Manager(user_id) => Some(("trellis.acting_manager_id", user_id)),
        };
        if let Some((setting, id)) = acting {
            // One round trip for both (`set_config('role', …, true)` is `SET LOCAL ROLE`): it is
            // the whole fixed cost a restricted caller pays over staff per transaction.
            tx.execute(sql!("SELECT set_config('role', 'trellis_app', true), set_config($1, $2, true)", setting, id.as_str())).await?;
        }
        Ok(tx)
    }

    /// True when the database answers.
    #[expect(clippy::disallowed_methods, reason = "the health check reads no table, only `SELECT 1`")]
    pub async fn ping(&self) -> bool {
        match self.read(&RowSecurity::Unrestricted).await {
            Ok(mut tx) => tx.fetch_i64(sql!("SELECT CAST(1 AS BIGINT) AS one")).await.is_ok(),
            Err(_) => false,
        }
    }

    pub async fn close(&self) {
        match &*self.pools {
            Pools::Sqlite { reader, writer } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

impl Db {
    /// Deletes old rows a batch at a time, each batch in its own transaction of `grant`, until a
    /// batch deletes fewer than `batch` rows: pruning never holds the (SQLite: only) writer for
    /// long, whatever the backlog. `statement(batch)` is a `DELETE` of at most `batch` rows (a
    /// `… WHERE key IN (SELECT key … LIMIT batch)`). Answers how many rows went.
    pub async fn delete_in_batches(&self, grant: &'static SystemGrant, batch: i64, statement: impl Fn(i64) -> crate::Sql) -> DbResult<u64> {
        let mut total = 0;
        loop {
            let mut tx = self.write_granted(grant).await?;
            let deleted = tx.execute(statement(batch)).await?;
            tx.commit().await?;
            total += deleted;
            if deleted < batch as u64 {
                return Ok(total);
            }
        }
    }
}
