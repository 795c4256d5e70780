//! De-identification area: runs (settings, tool version, counts), the spans
//! found in each document (byte offsets into the raw text) and the
//! de-identified text that later stages read instead of the raw note.

use crate::migrate::Migration;
use crate::{Result, Store, StoreError, Tx};
use insitu_types::{Category, PatientKey};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 100,
    name: "deid_runs_spans_texts",
    sql: "CREATE TABLE deid_runs (
              run_id INTEGER PRIMARY KEY,
              started_at TEXT NOT NULL,
              actor TEXT NOT NULL,
              tool_version TEXT NOT NULL,
              settings TEXT NOT NULL,
              documents INTEGER NOT NULL,
              spans INTEGER NOT NULL,
              counts TEXT NOT NULL
          );
          CREATE TABLE deid_documents (
              doc_id INTEGER PRIMARY KEY REFERENCES documents(doc_id),
              run_id INTEGER NOT NULL REFERENCES deid_runs(run_id),
              text TEXT NOT NULL
          );
          CREATE TABLE deid_spans (
              doc_id INTEGER NOT NULL REFERENCES documents(doc_id),
              start INTEGER NOT NULL,
              end_ INTEGER NOT NULL,
              category TEXT NOT NULL,
              detector TEXT NOT NULL,
              confidence REAL NOT NULL,
              PRIMARY KEY (doc_id, start)
          );
          CREATE INDEX deid_documents_by_run ON deid_documents (run_id);",
}];

/// A de-identification run to record.
#[derive(Debug, Clone)]
pub struct NewDeidRun<'a> {
    /// Who ran it.
    pub actor: &'a str,
    /// insitu version that produced it.
    pub tool_version: &'a str,
    /// Detector and replacement settings, as JSON.
    pub settings: &'a serde_json::Value,
}

/// One stored span: byte offsets into the document's raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct DeidSpanRow {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Category.
    pub category: Category,
    /// Rule that found it.
    pub detector: String,
    /// Detector confidence in [0, 1].
    pub confidence: f64,
}

/// A de-identified document as later stages see it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeidDocument {
    /// Store id of the source document.
    pub doc_id: i64,
    /// The document's id in its source.
    pub source_id: String,
    /// Patient pseudonym.
    pub patient_key: Option<PatientKey>,
    /// Note kind.
    pub kind: Option<String>,
    /// When the note was written (as ingested; not date-shifted).
    pub written_at: Option<String>,
    /// De-identified text.
    pub text: String,
    /// Extra fields from ingest.
    pub meta: serde_json::Value,
    /// The run that produced it.
    pub run_id: i64,
}

/// Summary of one recorded run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeidRunSummary {
    /// Run id.
    pub run_id: i64,
    /// UTC start time, RFC 3339.
    pub started_at: String,
    /// Documents de-identified.
    pub documents: i64,
    /// Spans found.
    pub spans: i64,
    /// Spans per category label.
    pub counts: serde_json::Value,
}

impl Tx<'_> {
    /// Starts a run; returns its id. Finish it with [`Tx::finish_deid_run`].
    pub fn begin_deid_run(&self, run: &NewDeidRun<'_>) -> Result<i64> {
        self.sql().execute(
            "INSERT INTO deid_runs (started_at, actor, tool_version, settings, documents, spans, counts)
             VALUES (?1, ?2, ?3, ?4, 0, 0, '{}')",
            rusqlite::params![
                chrono::Utc::now().to_rfc3339(),
                run.actor,
                run.tool_version,
                run.settings.to_string()
            ],
        )?;
        Ok(self.sql().last_insert_rowid())
    }

    /// Stores one document's de-identified text and spans under `run_id`,
    /// replacing an earlier de-identification of the same document.
    pub fn store_deidentified(
        &self,
        run_id: i64,
        doc_id: i64,
        text: &str,
        spans: &[DeidSpanRow],
    ) -> Result<()> {
        let exists: bool = self.sql().query_row(
            "SELECT EXISTS (SELECT 1 FROM documents WHERE doc_id = ?1)",
            [doc_id],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::Invalid(format!(
                "document {doc_id} does not exist"
            )));
        }
        self.sql()
            .execute("DELETE FROM deid_spans WHERE doc_id = ?1", [doc_id])?;
        self.sql().execute(
            "INSERT OR REPLACE INTO deid_documents (doc_id, run_id, text) VALUES (?1, ?2, ?3)",
            rusqlite::params![doc_id, run_id, text],
        )?;
        let mut st = self.sql().prepare_cached(
            "INSERT OR REPLACE INTO deid_spans (doc_id, start, end_, category, detector, confidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for s in spans {
            st.execute(rusqlite::params![
                doc_id,
                s.start as i64,
                s.end as i64,
                s.category.as_str(),
                s.detector,
                s.confidence
            ])?;
        }
        Ok(())
    }

    /// Records the run's totals.
    pub fn finish_deid_run(
        &self,
        run_id: i64,
        documents: usize,
        spans: usize,
        counts: &serde_json::Value,
    ) -> Result<()> {
        let n = self.sql().execute(
            "UPDATE deid_runs SET documents = ?2, spans = ?3, counts = ?4 WHERE run_id = ?1",
            rusqlite::params![run_id, documents as i64, spans as i64, counts.to_string()],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!(
                "deid run {run_id} does not exist"
            )));
        }
        Ok(())
    }
}

impl Store {
    /// Ids of documents that have no de-identified text yet, ascending.
    pub fn documents_pending_deid(&self) -> Result<Vec<i64>> {
        let mut st = self.conn().prepare(
            "SELECT d.doc_id FROM documents d
             LEFT JOIN deid_documents x ON x.doc_id = d.doc_id
             WHERE x.doc_id IS NULL ORDER BY d.doc_id",
        )?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every de-identified document, in `doc_id` order. Later stages (datasets)
    /// read notes only through this.
    pub fn deidentified_documents(&self) -> Result<Vec<DeidDocument>> {
        let mut st = self.conn().prepare(
            "SELECT d.doc_id, d.source_id, d.patient_key, d.kind, d.written_at, x.text, d.meta, x.run_id
             FROM deid_documents x JOIN documents d ON d.doc_id = x.doc_id
             ORDER BY d.doc_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (doc_id, source_id, patient_key, kind, written_at, text, meta, run_id) = row?;
            out.push(DeidDocument {
                doc_id,
                source_id,
                patient_key: patient_key.map(PatientKey),
                kind,
                written_at,
                text,
                meta: serde_json::from_str(&meta)?,
                run_id,
            });
        }
        Ok(out)
    }

    /// Spans stored for one document, by start offset.
    pub fn deid_spans(&self, doc_id: i64) -> Result<Vec<DeidSpanRow>> {
        let mut st = self.conn().prepare(
            "SELECT start, end_, category, detector, confidence FROM deid_spans WHERE doc_id = ?1 ORDER BY start",
        )?;
        let rows = st.query_map([doc_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, f64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (start, end, category, detector, confidence) = row?;
            let category = Category::parse(&category).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "document {doc_id}: unknown span category {category:?}"
                ))
            })?;
            out.push(DeidSpanRow {
                start: start as usize,
                end: end as usize,
                category,
                detector,
                confidence,
            });
        }
        Ok(out)
    }

    /// Recorded runs, newest first.
    pub fn deid_runs(&self) -> Result<Vec<DeidRunSummary>> {
        let mut st = self.conn().prepare(
            "SELECT run_id, started_at, documents, spans, counts FROM deid_runs ORDER BY run_id DESC",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (run_id, started_at, documents, spans, counts) = row?;
            out.push(DeidRunSummary {
                run_id,
                started_at,
                documents,
                spans,
                counts: serde_json::from_str(&counts)?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::NewDocument;

    fn home_with_doc() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::init(dir.path()).unwrap();
        let key = PatientKey("p1".into());
        store
            .tx(|tx| {
                tx.insert_document(&NewDocument {
                    source: "t",
                    source_id: "n1",
                    patient_key: Some(&key),
                    kind: Some("letter"),
                    written_at: None,
                    text: "Seen by Dr Rose.",
                    meta: &serde_json::json!({}),
                })
            })
            .unwrap();
        let id = store.documents_pending_deid().unwrap()[0];
        (dir, store, id)
    }

    #[test]
    fn a_run_stores_text_and_spans_and_clears_the_pending_list() {
        let (_d, mut store, id) = home_with_doc();
        let span = DeidSpanRow {
            start: 11,
            end: 15,
            category: Category::Name,
            detector: "title".into(),
            confidence: 0.95,
        };
        store
            .tx(|tx| {
                let run = tx.begin_deid_run(&NewDeidRun {
                    actor: "ig",
                    tool_version: "0.1.0",
                    settings: &serde_json::json!({"mode": "tag"}),
                })?;
                tx.store_deidentified(run, id, "Seen by Dr [NAME].", std::slice::from_ref(&span))?;
                tx.finish_deid_run(run, 1, 1, &serde_json::json!({"NAME": 1}))?;
                tx.audit(
                    "ig",
                    "deid.run",
                    &format!("deid-run-{run}"),
                    serde_json::json!({}),
                )?;
                Ok::<(), StoreError>(())
            })
            .unwrap();
        assert!(store.documents_pending_deid().unwrap().is_empty());
        let docs = store.deidentified_documents().unwrap();
        assert_eq!(docs[0].text, "Seen by Dr [NAME].");
        assert_eq!(docs[0].patient_key, Some(PatientKey("p1".into())));
        assert_eq!(store.deid_spans(id).unwrap(), vec![span]);
        assert_eq!(store.deid_runs().unwrap()[0].documents, 1);
    }

    #[test]
    fn unknown_documents_and_runs_are_refused() {
        let (_d, mut store, _) = home_with_doc();
        let err = store
            .tx(|tx| {
                let run = tx.begin_deid_run(&NewDeidRun {
                    actor: "ig",
                    tool_version: "0",
                    settings: &serde_json::json!({}),
                })?;
                tx.store_deidentified(run, 9999, "x", &[])
            })
            .unwrap_err();
        assert!(err.to_string().contains("9999"));
        let err = store
            .tx(|tx| tx.finish_deid_run(42, 0, 0, &serde_json::json!({})))
            .unwrap_err();
        assert!(err.to_string().contains("42"));
    }
}
