//! The appliance's store: the home directory layout, the SQLite database
//! (WAL, versioned migrations, transactions) and the hash-chained audit log.
//! This is the only crate in the appliance that writes SQL; every other crate
//! reaches the database through the typed methods here.
//!
//! Each pipeline area keeps its tables and queries in its own module
//! (`documents`, `deid`, `datasets`, `runs`, `release`) with its own range of
//! migration versions, so that areas can grow independently.

mod audit;
pub mod datasets;
pub mod deid;
pub mod documents;
mod home;
pub mod jobs;
mod migrate;
pub mod release;
pub mod runs;

pub use audit::{AuditEvent, AuditFilter, ChainCheck, GENESIS_HASH};
pub use documents::{DocumentCounts, DocumentFilter, NewDocument, SourceCounts, StoredDocument};
pub use home::{Home, HomeConfig, Pseudonymiser};
pub use migrate::SCHEMA_VERSIONS;

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The home directory has not been initialised.
    #[error("{0} is not an insitu home (no insitu.db) — run `insitu init --home {0}` first")]
    NotInitialised(PathBuf),
    /// The database was written by a newer insitu.
    #[error("{path}: the database has schema migration(s) {unknown:?} that this insitu does not know — it was written by a newer version; upgrade insitu rather than risk damaging it")]
    NewerSchema {
        /// Database file.
        path: PathBuf,
        /// Versions applied in the database but unknown here.
        unknown: Vec<u32>,
    },
    /// A file in the home could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A key or config file is malformed.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// An input handed to the store is invalid (e.g. unknown id).
    #[error("{0}")]
    Invalid(String),
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// JSON (de)serialisation of a stored detail failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open appliance database. Cheap to open; not `Sync` (one per thread).
pub struct Store {
    conn: Connection,
    home: Home,
}

impl Store {
    /// Opens an existing, initialised home. Refuses a home whose schema is
    /// newer than this binary's and applies any pending migrations.
    pub fn open(home: &Path) -> Result<Store> {
        let home = Home::new(home);
        let db = home.db_path();
        if !db.exists() {
            return Err(StoreError::NotInitialised(home.root().to_path_buf()));
        }
        let mut conn = migrate::connect(&db)?;
        migrate::apply(&mut conn, &db)?;
        Ok(Store { conn, home })
    }

    /// Creates the home (directories, keys, config, database) if needed.
    /// Returns the store and `true` when anything was created. An existing
    /// home is checked first: a newer schema is refused before anything is
    /// touched, and missing keys beside an existing database are an error.
    pub fn init(home: &Path) -> Result<(Store, bool)> {
        let home = Home::new(home);
        let db = home.db_path();
        let fresh_db = !db.exists();
        if !fresh_db {
            migrate::check_not_newer(&migrate::connect(&db)?, &db)?;
        }
        let created_files = home.create_layout(!fresh_db)?;
        if fresh_db {
            // The database holds raw notes: create it owner-only before
            // SQLite opens it (its -wal and -shm files copy these bits).
            home::create_private_file(&db)?;
        }
        let mut conn = migrate::connect(&db)?;
        migrate::apply(&mut conn, &db)?;
        let mut store = Store { conn, home };
        if fresh_db {
            store.tx(|tx| {
                tx.audit(
                    "system",
                    "home.init",
                    "home",
                    serde_json::json!({"schema_versions": SCHEMA_VERSIONS()}),
                )?;
                Ok::<(), StoreError>(())
            })?;
        }
        Ok((store, fresh_db || created_files))
    }

    /// The home this store lives in.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Runs `f` in one IMMEDIATE transaction: everything it writes (including
    /// audit events) commits together or not at all.
    pub fn tx<T, E>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let t = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let tx = Tx { t };
        let out = f(&tx)?;
        tx.t.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Migration versions recorded in this database, ascending.
    pub fn applied_schema_versions(&self) -> Result<Vec<u32>> {
        migrate::applied(&self.conn)
    }

    /// What the home holds, for `insitu status`. Areas whose tables do not
    /// exist yet count as 0.
    pub fn status(&self) -> Result<StatusSummary> {
        let counts = self.document_counts()?;
        let (head_seq, head_hash) = self.audit_head()?;
        Ok(StatusSummary {
            home: self.home.root().display().to_string(),
            schema_versions: self.applied_schema_versions()?,
            documents: counts.documents,
            patients: counts.patients,
            sources: counts.sources,
            datasets: self.count_first_table(&["datasets"])?,
            runs: self.count_first_table(&["runs", "train_runs"])?,
            bundles: self.count_first_table(&["release_bundles", "bundles"])?,
            audit: AuditHead {
                events: self.count_first_table(&["audit_events"])?,
                head_seq,
                head_hash,
            },
        })
    }

    /// Rows in the first of `tables` that exists, else 0. The names are a
    /// fixed list from this crate, never user input.
    fn count_first_table(&self, tables: &[&str]) -> Result<i64> {
        for table in tables {
            let exists: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                [table],
                |r| r.get(0),
            )?;
            if exists {
                let sql = format!("SELECT count(*) FROM \"{table}\"");
                return Ok(self.conn.query_row(&sql, [], |r| r.get(0))?);
            }
        }
        Ok(0)
    }

    /// Read-only access for queries outside a write transaction.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Summary of a home (`insitu status --json`; the shape is documented in
/// docs/foundation.md and only ever extended).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusSummary {
    /// The home directory.
    pub home: String,
    /// Applied migration versions, ascending.
    pub schema_versions: Vec<u32>,
    /// Stored documents.
    pub documents: i64,
    /// Distinct patient keys among them.
    pub patients: i64,
    /// Distinct source names.
    pub sources: i64,
    /// Datasets built.
    pub datasets: i64,
    /// Training runs.
    pub runs: i64,
    /// Export bundles written.
    pub bundles: i64,
    /// The audit log's head.
    pub audit: AuditHead,
}

/// The newest audit event, as a witness would record it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditHead {
    /// Number of events stored (equals `head_seq` unless rows were deleted;
    /// `insitu audit verify` checks).
    pub events: i64,
    /// Sequence number of the newest event (0 when empty).
    pub head_seq: i64,
    /// Its hash (GENESIS_HASH when empty).
    pub head_hash: String,
}

/// A write transaction. Area modules add `impl Tx` blocks with their writes;
/// `audit` appends to the hash chain inside the same transaction.
pub struct Tx<'a> {
    t: rusqlite::Transaction<'a>,
}

impl Tx<'_> {
    /// The underlying SQLite transaction, for this crate's area modules.
    pub(crate) fn sql(&self) -> &rusqlite::Transaction<'_> {
        &self.t
    }
}
