//! Tables and queries for the release area: local users and their roles,
//! policy-gate decisions, approvals and rejections, exported bundles.
//! Decisions and approvals are append-only: a newer row supersedes, nothing
//! is updated in place, so the history stays auditable.

use crate::migrate::Migration;
use crate::{Result, Store, StoreError, Tx};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 400,
    name: "release_users_gate_approvals_bundles",
    sql: "CREATE TABLE release_users (
              name TEXT PRIMARY KEY,
              role TEXT NOT NULL,
              passphrase_hash TEXT NOT NULL,
              created_at TEXT NOT NULL,
              created_by TEXT NOT NULL
          );
          CREATE TABLE release_gate_decisions (
              id INTEGER PRIMARY KEY,
              run_id TEXT NOT NULL,
              passed INTEGER NOT NULL,
              release_digest TEXT NOT NULL,
              details TEXT NOT NULL,
              decided_at TEXT NOT NULL,
              decided_by TEXT NOT NULL
          );
          CREATE INDEX release_gate_run ON release_gate_decisions(run_id);
          CREATE TABLE release_approvals (
              id INTEGER PRIMARY KEY,
              run_id TEXT NOT NULL,
              user_name TEXT NOT NULL REFERENCES release_users(name),
              role TEXT NOT NULL,
              decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
              reason TEXT,
              release_digest TEXT NOT NULL,
              decided_at TEXT NOT NULL
          );
          CREATE INDEX release_approvals_run ON release_approvals(run_id);
          CREATE TABLE release_bundles (
              id INTEGER PRIMARY KEY,
              run_id TEXT NOT NULL,
              path TEXT NOT NULL,
              manifest_sha256 TEXT NOT NULL,
              release_digest TEXT NOT NULL,
              exported_at TEXT NOT NULL,
              exported_by TEXT NOT NULL
          );",
}];

/// A local user who can approve releases or operate the appliance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseUser {
    /// Login name.
    pub name: String,
    /// `ig_officer`, `clinical_safety_officer` or `operator`.
    pub role: String,
    /// Argon2 PHC string of the passphrase.
    #[serde(skip_serializing)]
    pub passphrase_hash: String,
    /// When the user was added (RFC 3339).
    pub created_at: String,
}

/// One recorded policy-gate decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    /// Row id.
    pub id: i64,
    /// Run checked.
    pub run_id: String,
    /// Whether every rule passed.
    pub passed: bool,
    /// Digest of what would have been released at that moment.
    pub release_digest: String,
    /// The rule-by-rule outcome (JSON written by insitu-release).
    pub details: serde_json::Value,
    /// When (RFC 3339).
    pub decided_at: String,
}

/// One approval or rejection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Row id.
    pub id: i64,
    /// Run decided on.
    pub run_id: String,
    /// Who.
    pub user_name: String,
    /// Their role at the time.
    pub role: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Why (required for rejections).
    pub reason: Option<String>,
    /// Digest of exactly what was approved.
    pub release_digest: String,
    /// When (RFC 3339).
    pub decided_at: String,
}

/// One exported bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleRecord {
    /// Row id.
    pub id: i64,
    /// Run exported.
    pub run_id: String,
    /// Directory written.
    pub path: String,
    /// sha256 of manifest.json.
    pub manifest_sha256: String,
    /// The approved digest it was sealed with.
    pub release_digest: String,
    /// When (RFC 3339).
    pub exported_at: String,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Tx<'_> {
    /// Adds a user; refuses an existing name.
    pub fn add_release_user(
        &self,
        name: &str,
        role: &str,
        passphrase_hash: &str,
        created_by: &str,
    ) -> Result<()> {
        let exists: Option<String> = self
            .sql()
            .query_row(
                "SELECT name FROM release_users WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::Invalid(format!(
                "user {name:?} already exists — pick another name (users are never overwritten)"
            )));
        }
        self.sql().execute(
            "INSERT INTO release_users (name, role, passphrase_hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![name, role, passphrase_hash, now(), created_by],
        )?;
        Ok(())
    }

    /// Records a gate decision and returns its id.
    pub fn record_gate_decision(
        &self,
        run_id: &str,
        passed: bool,
        release_digest: &str,
        details: &serde_json::Value,
        decided_by: &str,
    ) -> Result<i64> {
        self.sql().execute(
            "INSERT INTO release_gate_decisions (run_id, passed, release_digest, details, decided_at, decided_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![run_id, passed, release_digest, details.to_string(), now(), decided_by],
        )?;
        Ok(self.sql().last_insert_rowid())
    }

    /// Records an approval (`decision` = `approve`) or rejection (`reject`).
    pub fn record_approval(
        &self,
        run_id: &str,
        user_name: &str,
        role: &str,
        decision: &str,
        reason: Option<&str>,
        release_digest: &str,
    ) -> Result<i64> {
        self.sql().execute(
            "INSERT INTO release_approvals (run_id, user_name, role, decision, reason, release_digest, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![run_id, user_name, role, decision, reason, release_digest, now()],
        )?;
        Ok(self.sql().last_insert_rowid())
    }

    /// Records an exported bundle.
    pub fn record_bundle(
        &self,
        run_id: &str,
        path: &str,
        manifest_sha256: &str,
        release_digest: &str,
        exported_by: &str,
    ) -> Result<i64> {
        self.sql().execute(
            "INSERT INTO release_bundles (run_id, path, manifest_sha256, release_digest, exported_at, exported_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![run_id, path, manifest_sha256, release_digest, now(), exported_by],
        )?;
        Ok(self.sql().last_insert_rowid())
    }
}

impl Store {
    /// Every user, by name.
    pub fn release_users(&self) -> Result<Vec<ReleaseUser>> {
        let mut st = self.conn().prepare(
            "SELECT name, role, passphrase_hash, created_at FROM release_users ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            Ok(ReleaseUser {
                name: r.get(0)?,
                role: r.get(1)?,
                passphrase_hash: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One user by name.
    pub fn release_user(&self, name: &str) -> Result<Option<ReleaseUser>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name, role, passphrase_hash, created_at FROM release_users WHERE name = ?1",
                [name],
                |r| {
                    Ok(ReleaseUser {
                        name: r.get(0)?,
                        role: r.get(1)?,
                        passphrase_hash: r.get(2)?,
                        created_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// The most recent gate decision for a run.
    pub fn latest_gate_decision(&self, run_id: &str) -> Result<Option<GateRecord>> {
        let row = self
            .conn()
            .query_row(
                "SELECT id, run_id, passed, release_digest, details, decided_at FROM release_gate_decisions
                 WHERE run_id = ?1 ORDER BY id DESC LIMIT 1",
                [run_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(
            |(id, run_id, passed, release_digest, details, decided_at)| {
                Ok(GateRecord {
                    id,
                    run_id,
                    passed,
                    release_digest,
                    details: serde_json::from_str(&details)?,
                    decided_at,
                })
            },
        )
        .transpose()
    }

    /// Every approval and rejection for a run, oldest first.
    pub fn approvals(&self, run_id: &str) -> Result<Vec<ApprovalRecord>> {
        let mut st = self.conn().prepare(
            "SELECT id, run_id, user_name, role, decision, reason, release_digest, decided_at
             FROM release_approvals WHERE run_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([run_id], |r| {
            Ok(ApprovalRecord {
                id: r.get(0)?,
                run_id: r.get(1)?,
                user_name: r.get(2)?,
                role: r.get(3)?,
                decision: r.get(4)?,
                reason: r.get(5)?,
                release_digest: r.get(6)?,
                decided_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Bundles exported for a run, oldest first.
    pub fn bundles(&self, run_id: &str) -> Result<Vec<BundleRecord>> {
        let mut st = self.conn().prepare(
            "SELECT id, run_id, path, manifest_sha256, release_digest, exported_at
             FROM release_bundles WHERE run_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([run_id], |r| {
            Ok(BundleRecord {
                id: r.get(0)?,
                run_id: r.get(1)?,
                path: r.get(2)?,
                manifest_sha256: r.get(3)?,
                release_digest: r.get(4)?,
                exported_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_gate_approvals_bundles_round_trip() {
        // A private directory without a tempfile dev-dependency.
        let dir = std::env::temp_dir().join(format!(
            "insitu-release-store-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let (mut store, _) = Store::init(&dir).unwrap();
        store
            .tx(|tx| {
                tx.add_release_user("ana", "ig_officer", "$argon2id$x", "admin")?;
                tx.record_gate_decision(
                    "run-1",
                    true,
                    "d1",
                    &serde_json::json!({"rules": []}),
                    "op",
                )?;
                tx.record_approval("run-1", "ana", "ig_officer", "approve", None, "d1")?;
                tx.record_bundle("run-1", "/b", "m", "d1", "op")?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let dup = store.tx(|tx| tx.add_release_user("ana", "operator", "h", "admin"));
        assert!(matches!(dup, Err(StoreError::Invalid(m)) if m.contains("already exists")));
        assert_eq!(store.release_users().unwrap().len(), 1);
        assert_eq!(
            store.release_user("ana").unwrap().unwrap().role,
            "ig_officer"
        );
        assert!(store.release_user("bob").unwrap().is_none());
        let g = store.latest_gate_decision("run-1").unwrap().unwrap();
        assert!(g.passed && g.release_digest == "d1");
        assert!(store.latest_gate_decision("run-2").unwrap().is_none());
        assert_eq!(store.approvals("run-1").unwrap()[0].user_name, "ana");
        assert_eq!(store.bundles("run-1").unwrap()[0].manifest_sha256, "m");
        // An approval must name a known user.
        let bad = store
            .tx(|tx| tx.record_approval("run-1", "ghost", "ig_officer", "approve", None, "d1"));
        assert!(bad.is_err());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
