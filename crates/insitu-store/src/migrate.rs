//! Versioned migrations. Each area module owns a range of versions
//! (core 1–99, deid 100–199, text/data 200–299, train 300–399,
//! privacy/release 400–499, agent/jobs 500–599). Applied versions are recorded
//! in `schema_migrations`; a database holding a version this binary does not
//! know was written by a newer insitu and is refused.

use crate::{Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// One schema change, applied once, in version order.
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

fn all() -> Vec<&'static Migration> {
    let mut v: Vec<&'static Migration> = crate::audit::MIGRATIONS
        .iter()
        .chain(crate::documents::MIGRATIONS)
        .chain(crate::deid::MIGRATIONS)
        .chain(crate::datasets::MIGRATIONS)
        .chain(crate::runs::MIGRATIONS)
        .chain(crate::release::MIGRATIONS)
        .chain(crate::jobs::MIGRATIONS)
        .collect();
    v.sort_by_key(|m| m.version);
    v
}

/// Every migration version this binary knows, ascending.
#[allow(non_snake_case)]
pub fn SCHEMA_VERSIONS() -> Vec<u32> {
    all().iter().map(|m| m.version).collect()
}

pub(crate) fn connect(db: &Path) -> Result<Connection> {
    let conn = Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(conn)
}

/// Versions recorded in `schema_migrations`, ascending (empty for a new file).
pub(crate) fn applied(conn: &Connection) -> Result<Vec<u32>> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
    let rows = st.query_map([], |r| r.get::<_, u32>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Refuses a database holding migrations this binary does not know.
pub(crate) fn check_not_newer(conn: &Connection, db: &Path) -> Result<()> {
    let known = all();
    let unknown: Vec<u32> = applied(conn)?
        .into_iter()
        .filter(|v| !known.iter().any(|m| m.version == *v))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(StoreError::NewerSchema {
            path: db.to_path_buf(),
            unknown,
        })
    }
}

pub(crate) fn apply(conn: &mut Connection, db: &Path) -> Result<()> {
    check_not_newer(conn, db)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at TEXT NOT NULL
         );",
    )?;
    let pending: Vec<&Migration> = {
        let applied = applied(conn)?;
        all()
            .into_iter()
            .filter(|m| !applied.contains(&m.version))
            .collect()
    };
    for m in pending {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have applied it while we waited for the lock.
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [m.version],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, chrono::Utc::now().to_rfc3339()],
        )?;
        tx.commit()?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}
