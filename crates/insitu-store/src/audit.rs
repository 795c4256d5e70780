//! The hash-chained audit log. Every state-changing command appends one event
//! inside its own transaction. Each event's hash covers a canonical encoding
//! of its fields and the previous event's hash, so editing, deleting,
//! inserting or reordering rows breaks the chain at the first bad sequence.

use crate::migrate::Migration;
use crate::{Result, Tx};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "audit_events",
    sql: "CREATE TABLE audit_events (
              seq INTEGER PRIMARY KEY,
              at TEXT NOT NULL,
              actor TEXT NOT NULL,
              action TEXT NOT NULL,
              subject TEXT NOT NULL,
              details TEXT NOT NULL,
              prev_hash TEXT NOT NULL,
              hash TEXT NOT NULL
          );",
}];

/// Hash that precedes the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Sequence number, 1-based, gapless.
    pub seq: i64,
    /// UTC time, RFC 3339.
    pub at: String,
    /// Who did it (user name, `system`, `agent`).
    pub actor: String,
    /// Dotted verb, e.g. `ingest.file`, `deid.run`, `release.approve`.
    pub action: String,
    /// What it was done to (file, run id, bundle id…).
    pub subject: String,
    /// Structured details.
    pub details: serde_json::Value,
    /// Hash of the previous event (GENESIS_HASH for the first).
    pub prev_hash: String,
    /// sha256 over the canonical encoding of this event.
    pub hash: String,
}

/// Filters for listing events (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this action, or actions starting with it followed by `.`.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only events with seq >= this.
    pub since_seq: Option<i64>,
    /// At most this many (the latest ones).
    pub limit: Option<usize>,
}

/// Result of checking the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainCheck {
    /// Number of events checked.
    pub events: i64,
    /// Hash of the last event (GENESIS_HASH when empty).
    pub head_hash: String,
    /// First sequence number where the chain is broken, if any.
    pub first_bad_seq: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
}

/// The canonical bytes hashed for an event: a JSON array with a fixed field
/// order; `details` is serialised with sorted object keys.
pub(crate) fn event_hash(
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    details: &serde_json::Value,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([seq, at, actor, action, subject, details, prev_hash]);
    let bytes = serde_json::to_vec(&canonical).expect("json values always serialise");
    hex::encode(Sha256::digest(&bytes))
}

impl Tx<'_> {
    /// Appends one event to the chain in this transaction and returns it.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        details: serde_json::Value,
    ) -> Result<AuditEvent> {
        let (last_seq, prev_hash): (i64, String) = self
            .sql()
            .query_row(
                "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS_HASH.to_string())),
                e => Err(e),
            })?;
        let seq = last_seq + 1;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        // Normalise details through Value so key order is canonical (sorted).
        let details: serde_json::Value = serde_json::from_str(&details.to_string())?;
        let hash = event_hash(seq, &at, actor, action, subject, &details, &prev_hash);
        self.sql().execute(
            "INSERT INTO audit_events (seq, at, actor, action, subject, details, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![seq, at, actor, action, subject, details.to_string(), prev_hash, hash],
        )?;
        Ok(AuditEvent {
            seq,
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            details,
            prev_hash,
            hash,
        })
    }
}
