//! Datasets built from de-identified documents (one row per written dataset
//! directory, with the digest of its card) and per-document quality scores.
//! Migrations 200–299.

use crate::migrate::Migration;
use crate::{Result, Store, Tx};
use rusqlite::params;

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 200,
        name: "datasets",
        sql: "CREATE TABLE datasets (
                  dataset_id INTEGER PRIMARY KEY,
                  task TEXT NOT NULL,
                  format TEXT NOT NULL,
                  dir TEXT NOT NULL,
                  card_sha256 TEXT NOT NULL,
                  seed INTEGER NOT NULL,
                  train_examples INTEGER NOT NULL,
                  validation_examples INTEGER NOT NULL,
                  test_examples INTEGER NOT NULL,
                  train_patients INTEGER NOT NULL,
                  validation_patients INTEGER NOT NULL,
                  test_patients INTEGER NOT NULL,
                  created_by TEXT NOT NULL,
                  created_at TEXT NOT NULL
              );",
    },
    Migration {
        version: 201,
        name: "document_quality",
        sql: "CREATE TABLE document_quality (
                  doc_id INTEGER PRIMARY KEY REFERENCES documents (doc_id),
                  score REAL NOT NULL,
                  words INTEGER NOT NULL,
                  flags TEXT NOT NULL,
                  assessed_at TEXT NOT NULL
              );",
    },
];

/// Examples and patients in one split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct SplitSize {
    /// Examples.
    pub examples: i64,
    /// Distinct patients.
    pub patients: i64,
}

/// A dataset to record.
#[derive(Debug, Clone)]
pub struct NewDataset<'a> {
    /// Task name (`handover`, `icd10`, …).
    pub task: &'a str,
    /// Format name (`alpaca`, `messages`, …).
    pub format: &'a str,
    /// Directory it was written to.
    pub dir: &'a str,
    /// Hex sha256 of its `card.json`.
    pub card_sha256: &'a str,
    /// Split seed.
    pub seed: u64,
    /// Train, validation, test sizes.
    pub splits: [SplitSize; 3],
    /// Who built it.
    pub created_by: &'a str,
}

/// A recorded dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DatasetRow {
    /// Row id.
    pub dataset_id: i64,
    /// Task name.
    pub task: String,
    /// Format name.
    pub format: String,
    /// Directory.
    pub dir: String,
    /// Hex sha256 of `card.json`.
    pub card_sha256: String,
    /// Split seed.
    pub seed: u64,
    /// Train, validation, test sizes.
    pub splits: [SplitSize; 3],
    /// Who built it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
}

impl Tx<'_> {
    /// Records a written dataset and returns its id. Audit it in the same transaction.
    pub fn record_dataset(&self, d: &NewDataset<'_>) -> Result<i64> {
        let [t, v, s] = d.splits;
        self.sql().execute(
            "INSERT INTO datasets (task, format, dir, card_sha256, seed, train_examples, validation_examples,
                 test_examples, train_patients, validation_patients, test_patients, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                d.task, d.format, d.dir, d.card_sha256, d.seed as i64, t.examples, v.examples, s.examples,
                t.patients, v.patients, s.patients, d.created_by, chrono::Utc::now().to_rfc3339()
            ],
        )?;
        Ok(self.sql().last_insert_rowid())
    }

    /// Stores (or replaces) a document's quality score and flags.
    pub fn record_document_quality(
        &self,
        doc_id: i64,
        score: f64,
        words: i64,
        flags: &[String],
    ) -> Result<()> {
        self.sql().execute(
            "INSERT INTO document_quality (doc_id, score, words, flags, assessed_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (doc_id) DO UPDATE SET score = excluded.score, words = excluded.words,
                 flags = excluded.flags, assessed_at = excluded.assessed_at",
            params![doc_id, score, words, serde_json::to_string(flags)?, chrono::Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }
}

impl Store {
    /// Every recorded dataset, oldest first.
    pub fn datasets(&self) -> Result<Vec<DatasetRow>> {
        let mut st = self.conn().prepare(
            "SELECT dataset_id, task, format, dir, card_sha256, seed, train_examples, validation_examples,
                    test_examples, train_patients, validation_patients, test_patients, created_by, created_at
             FROM datasets ORDER BY dataset_id",
        )?;
        let rows = st.query_map([], |r| {
            let size = |e: usize, p: usize| -> rusqlite::Result<SplitSize> {
                Ok(SplitSize {
                    examples: r.get(e)?,
                    patients: r.get(p)?,
                })
            };
            Ok(DatasetRow {
                dataset_id: r.get(0)?,
                task: r.get(1)?,
                format: r.get(2)?,
                dir: r.get(3)?,
                card_sha256: r.get(4)?,
                seed: r.get::<_, i64>(5)? as u64,
                splits: [size(6, 9)?, size(7, 10)?, size(8, 11)?],
                created_by: r.get(12)?,
                created_at: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A document's quality (score, words, flags), if assessed.
    pub fn document_quality(&self, doc_id: i64) -> Result<Option<(f64, i64, Vec<String>)>> {
        let row = self.conn().query_row(
            "SELECT score, words, flags FROM document_quality WHERE doc_id = ?1",
            [doc_id],
            |r| {
                Ok((
                    r.get::<_, f64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        );
        match row {
            Ok((s, w, f)) => Ok(Some((s, w, serde_json::from_str(&f)?))),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    #[test]
    fn datasets_are_recorded_with_their_audit_event() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::init(dir.path()).unwrap();
        let size = |e, p| SplitSize {
            examples: e,
            patients: p,
        };
        let id = store
            .tx(|tx| {
                let id = tx.record_dataset(&NewDataset {
                    task: "icd10",
                    format: "alpaca",
                    dir: "/data/ds1",
                    card_sha256: "ab",
                    seed: 7,
                    splits: [size(800, 80), size(100, 10), size(100, 10)],
                    created_by: "ig",
                })?;
                tx.audit(
                    "ig",
                    "dataset.build",
                    &format!("dataset:{id}"),
                    serde_json::json!({}),
                )?;
                Ok::<_, StoreError>(id)
            })
            .unwrap();
        let rows = store.datasets().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].dataset_id, rows[0].seed, rows[0].splits[1]),
            (id, 7, size(100, 10))
        );
    }

    #[test]
    fn a_failed_transaction_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::init(dir.path()).unwrap();
        let r: Result<(), StoreError> = store.tx(|tx| {
            tx.record_dataset(&NewDataset {
                task: "t",
                format: "f",
                dir: "d",
                card_sha256: "x",
                seed: 0,
                splits: [SplitSize::default(); 3],
                created_by: "a",
            })?;
            Err(StoreError::Invalid("boom".into()))
        });
        assert!(r.is_err());
        assert!(store.datasets().unwrap().is_empty());
    }
}
