//! The hub's database: one pool over SQLite (embedded default) or PostgreSQL,
//! the same migrations for both, and the content-addressed blob directory.
//! SQL is kept to the common subset: TEXT and BIGINT columns, `$n`
//! placeholders, `ON CONFLICT DO NOTHING`, sums cast to BIGINT.

use crate::error::{io_err, HubError, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::path::{Path, PathBuf};

/// Versioned schema changes, applied in order, each in its own transaction.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "parties, transfer, jobs, ledger, idempotency, audit",
    "
CREATE TABLE sponsors (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);
CREATE TABLE hospitals (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, enroll_code_hash TEXT UNIQUE, public_key TEXT UNIQUE, appliance_name TEXT, created_at BIGINT NOT NULL, enrolled_at BIGINT);
CREATE TABLE agent_nonces (hospital_id TEXT NOT NULL, nonce TEXT NOT NULL, seen_at BIGINT NOT NULL, PRIMARY KEY (hospital_id, nonce));
CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE blob_owners (owner TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (owner, sha256));
CREATE TABLE models (sponsor_id TEXT NOT NULL, digest TEXT NOT NULL, name TEXT NOT NULL, manifest TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (sponsor_id, digest));
CREATE TABLE model_chunks (digest TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (digest, sha256));
CREATE TABLE jobs (id TEXT PRIMARY KEY, sponsor_id TEXT NOT NULL, spec TEXT NOT NULL, model_digest TEXT NOT NULL, state TEXT NOT NULL, fee_minor BIGINT NOT NULL, currency TEXT NOT NULL, hospital_id TEXT, detail TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE INDEX jobs_sponsor ON jobs (sponsor_id);
CREATE TABLE job_offers (job_id TEXT NOT NULL, hospital_id TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (job_id, hospital_id));
CREATE INDEX job_offers_hospital ON job_offers (hospital_id);
CREATE TABLE bundles (job_id TEXT PRIMARY KEY, digest TEXT NOT NULL, manifest TEXT NOT NULL, signature TEXT NOT NULL, public_key TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE bundle_chunks (job_id TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (job_id, sha256));
CREATE TABLE accounts (name TEXT NOT NULL, kind TEXT NOT NULL, currency TEXT NOT NULL, PRIMARY KEY (name, currency));
CREATE TABLE ledger_txs (id TEXT PRIMARY KEY, job_id TEXT NOT NULL, kind TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE ledger_entries (tx_id TEXT NOT NULL, account TEXT NOT NULL, currency TEXT NOT NULL, amount_minor BIGINT NOT NULL);
CREATE INDEX ledger_entries_tx ON ledger_entries (tx_id);
CREATE TABLE idempotency (scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, status BIGINT NOT NULL, response TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE audit_events (id TEXT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX audit_subject ON audit_events (subject);
",
)];

/// An open hub database plus the hub's home (for blobs).
#[derive(Clone)]
pub struct HubDb {
    pool: AnyPool,
    home: PathBuf,
    backend: Backend,
}

/// Which database the hub runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file in the hub's home.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl HubDb {
    /// Opens (creating if needed) the hub in `home`, on `url` or by default
    /// on `home/hub.db`, and applies pending migrations.
    pub async fn open(home: &Path, url: Option<&str>) -> Result<HubDb> {
        sqlx::any::install_default_drivers();
        std::fs::create_dir_all(home.join("blobs")).map_err(io_err(home))?;
        let url = match url {
            Some(u) => u.to_string(),
            None => format!("sqlite://{}?mode=rwc", home.join("hub.db").display()),
        };
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(HubError::Invalid(format!(
                "--db {url:?}: unsupported database URL — use postgres://USER@HOST:PORT/DB or sqlite://PATH"
            )));
        };
        // SQLite allows one writer; a single pooled connection serialises
        // the hub's transactions instead of failing them with SQLITE_BUSY.
        let max = if backend == Backend::Sqlite { 1 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let db = HubDb {
            pool,
            home: home.to_path_buf(),
            backend,
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<()> {
        self.pool
            .execute("CREATE TABLE IF NOT EXISTS hub_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM hub_migrations")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        if let Some(v) = applied
            .iter()
            .find(|v| !MIGRATIONS.iter().any(|m| m.0 == **v))
        {
            return Err(HubError::Internal(format!(
                "the hub database has migration {v}, unknown to this insitu — it was written by a newer version; upgrade insitu"
            )));
        }
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                tx.execute(statement).await?;
            }
            sqlx::query(
                "INSERT INTO hub_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(*version)
            .bind(*name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(version, name, "applied hub migration");
        }
        Ok(())
    }

    /// The connection pool.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Path of a stored blob.
    pub(crate) fn blob_path(&self, sha: &str) -> PathBuf {
        self.home.join("blobs").join(&sha[..2]).join(sha)
    }

    /// Writes a blob (write-temp-then-rename, so a crash never leaves a
    /// partial blob under its digest name).
    pub(crate) async fn write_blob(&self, sha: &str, bytes: &[u8]) -> Result<()> {
        let path = self.blob_path(sha);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.home).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_err(&dir))?;
        let tmp = dir.join(format!(".{sha}.{}.tmp", random_hex(8)));
        tokio::fs::write(&tmp, bytes).await.map_err(io_err(&tmp))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(io_err(&path))?;
        Ok(())
    }

    /// Reads a blob and re-checks its digest (detects disk corruption).
    pub(crate) async fn read_blob(&self, sha: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(sha);
        let bytes = tokio::fs::read(&path).await.map_err(io_err(&path))?;
        if crate::protocol::sha256_hex(&bytes) != sha {
            return Err(HubError::Internal(format!(
                "{}: stored blob does not match its digest",
                path.display()
            )));
        }
        Ok(bytes)
    }
}

/// Current time, Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `n` random bytes as hex.
pub(crate) fn random_hex(n: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// A new id: prefix, millisecond time (so ids sort by creation), 64 random bits.
pub(crate) fn new_id(prefix: &str) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    format!("{prefix}_{ms:012x}{}", random_hex(8))
}

/// Appends an audit event inside the caller's transaction.
pub(crate) async fn audit(
    conn: &mut sqlx::AnyConnection,
    actor: &str,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_events (id, at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(new_id("ev"))
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) fn get_str(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}
