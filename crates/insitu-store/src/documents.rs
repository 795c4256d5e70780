//! Ingested documents: raw note text with its source, kind, date, a patient
//! pseudonym (never the raw identifier) and extra fields kept as JSON meta.
//! A document is unique on (source, id in the source, text sha256), so
//! ingesting the same export twice adds nothing; that unique index also
//! serves lookups by source and by source id.

use crate::migrate::Migration;
use crate::{Result, Store, StoreError, Tx};
use insitu_types::PatientKey;
use sha2::{Digest, Sha256};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 10,
    name: "documents",
    sql: "CREATE TABLE documents (
              doc_id INTEGER PRIMARY KEY,
              source TEXT NOT NULL,
              source_id TEXT NOT NULL,
              sha256 TEXT NOT NULL,
              patient_key TEXT,
              kind TEXT,
              written_at TEXT,
              text TEXT NOT NULL,
              meta TEXT NOT NULL DEFAULT '{}',
              ingested_at TEXT NOT NULL,
              UNIQUE (source, source_id, sha256)
          );
          CREATE INDEX documents_by_patient ON documents (patient_key);",
}];

/// A document to store. The store computes its sha256; the caller supplies
/// the patient key already pseudonymised (see [`crate::Pseudonymiser`]).
#[derive(Debug, Clone)]
pub struct NewDocument<'a> {
    /// Name of the source (export, system or file) it came from.
    pub source: &'a str,
    /// The document's id within that source.
    pub source_id: &'a str,
    /// Patient pseudonym; `None` when the source carries no patient identifier.
    pub patient_key: Option<&'a PatientKey>,
    /// Note type as the source names it (discharge summary, clinic letter…).
    pub kind: Option<&'a str>,
    /// When the note was written, as the source gives it.
    pub written_at: Option<&'a str>,
    /// The raw note text.
    pub text: &'a str,
    /// Extra source fields (encounter ids, codes…) as a JSON object.
    pub meta: &'a serde_json::Value,
}

/// A stored document, as later pipeline stages read it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredDocument {
    /// Stable row id, increasing in ingest order.
    pub doc_id: i64,
    /// Source name given at ingest.
    pub source: String,
    /// The document's id within its source.
    pub source_id: String,
    /// Hex sha256 of `text`.
    pub sha256: String,
    /// Patient pseudonym, if the source had a patient identifier.
    pub patient_key: Option<PatientKey>,
    /// Note type, if known.
    pub kind: Option<String>,
    /// When it was written, as the source gave it.
    pub written_at: Option<String>,
    /// The raw (not yet de-identified) text.
    pub text: String,
    /// Extra source fields as a JSON object.
    pub meta: serde_json::Value,
}

/// Which documents to read (all optional, combined with AND), in `doc_id` order.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    /// Only this source.
    pub source: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this patient.
    pub patient_key: Option<PatientKey>,
    /// Only documents with `doc_id` greater than this (for paging).
    pub after_doc_id: Option<i64>,
    /// At most this many.
    pub limit: Option<usize>,
}

/// Totals over the documents table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct DocumentCounts {
    /// Stored documents.
    pub documents: i64,
    /// Distinct patient keys.
    pub patients: i64,
    /// Distinct source names.
    pub sources: i64,
}

/// Documents and patients stored under one source name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceCounts {
    /// The source name.
    pub source: String,
    /// Documents stored under it.
    pub documents: i64,
    /// Distinct patient keys among them.
    pub patients: i64,
}

/// Hex sha256 of a document's text, as stored in `documents.sha256`.
pub fn text_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Tx<'_> {
    /// Stores a document unless an identical one (same text, source and
    /// source id) is already there. Returns `true` when a row was added.
    pub fn insert_document(&self, doc: &NewDocument<'_>) -> Result<bool> {
        if !doc.meta.is_object() {
            return Err(StoreError::Invalid(format!(
                "document {}/{}: meta must be a JSON object",
                doc.source, doc.source_id
            )));
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let added = self
            .sql()
            .prepare_cached(
                "INSERT INTO documents
                   (source, source_id, sha256, patient_key, kind, written_at, text, meta, ingested_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (source, source_id, sha256) DO NOTHING",
            )?
            .execute(rusqlite::params![
                doc.source,
                doc.source_id,
                text_sha256(doc.text),
                doc.patient_key.map(|k| k.0.as_str()),
                doc.kind,
                doc.written_at,
                doc.text,
                doc.meta.to_string(),
                now,
            ])?;
        Ok(added == 1)
    }
}

const DOCUMENT_COLUMNS: &str =
    "doc_id, source, source_id, sha256, patient_key, kind, written_at, text, meta";

fn row_to_document(r: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredDocument, String)> {
    Ok((
        StoredDocument {
            doc_id: r.get(0)?,
            source: r.get(1)?,
            source_id: r.get(2)?,
            sha256: r.get(3)?,
            patient_key: r.get::<_, Option<String>>(4)?.map(PatientKey),
            kind: r.get(5)?,
            written_at: r.get(6)?,
            text: r.get(7)?,
            meta: serde_json::Value::Null,
        },
        r.get(8)?,
    ))
}

impl Store {
    /// Calls `visit` on each matching document in `doc_id` order without
    /// holding them all in memory. Stops at the first error `visit` returns.
    pub fn for_each_document<E>(
        &self,
        filter: &DocumentFilter,
        mut visit: impl FnMut(StoredDocument) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        E: From<StoreError>,
    {
        let mut sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE 1=1");
        let mut params: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(source) = &filter.source {
            sql.push_str(" AND source = ?");
            params.push(Box::new(source.clone()));
        }
        if let Some(kind) = &filter.kind {
            sql.push_str(" AND kind = ?");
            params.push(Box::new(kind.clone()));
        }
        if let Some(key) = &filter.patient_key {
            sql.push_str(" AND patient_key = ?");
            params.push(Box::new(key.0.clone()));
        }
        if let Some(after) = filter.after_doc_id {
            sql.push_str(" AND doc_id > ?");
            params.push(Box::new(after));
        }
        sql.push_str(" ORDER BY doc_id");
        if let Some(limit) = filter.limit {
            sql.push_str(" LIMIT ?");
            params.push(Box::new(limit as i64));
        }
        let mut st = self.conn().prepare(&sql).map_err(StoreError::from)?;
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let (mut doc, meta) = row_to_document(r).map_err(StoreError::from)?;
            doc.meta = serde_json::from_str(&meta).map_err(StoreError::from)?;
            visit(doc)?;
        }
        Ok(())
    }

    /// Matching documents in `doc_id` order. For large homes page with
    /// `after_doc_id` + `limit`, or use [`Store::for_each_document`].
    pub fn documents(&self, filter: &DocumentFilter) -> Result<Vec<StoredDocument>> {
        let mut out = Vec::new();
        self.for_each_document(filter, |d| {
            out.push(d);
            Ok::<(), StoreError>(())
        })?;
        Ok(out)
    }

    /// One document by id.
    pub fn document(&self, doc_id: i64) -> Result<Option<StoredDocument>> {
        let mut docs = self.documents(&DocumentFilter {
            after_doc_id: Some(doc_id - 1),
            limit: Some(1),
            ..Default::default()
        })?;
        Ok(docs.pop().filter(|d| d.doc_id == doc_id))
    }

    /// How many documents, distinct patients and distinct sources are stored.
    pub fn document_counts(&self) -> Result<DocumentCounts> {
        Ok(self.conn().query_row(
            "SELECT count(*), count(DISTINCT patient_key), count(DISTINCT source) FROM documents",
            [],
            |r| {
                Ok(DocumentCounts {
                    documents: r.get(0)?,
                    patients: r.get(1)?,
                    sources: r.get(2)?,
                })
            },
        )?)
    }
}

impl Store {
    /// Per-source totals, by source name.
    pub fn source_counts(&self) -> Result<Vec<SourceCounts>> {
        let mut st = self.conn().prepare(
            "SELECT source, count(*), count(DISTINCT patient_key) FROM documents
             GROUP BY source ORDER BY source",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SourceCounts {
                source: r.get(0)?,
                documents: r.get(1)?,
                patients: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicates_are_ignored_and_reads_page_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::init(dir.path()).unwrap();
        let key = store.home().pseudonymiser().unwrap().key("P1");
        let meta = json!({"encounter": "E1"});
        let added = store
            .tx(|tx| {
                let mut added = Vec::new();
                for (id, text) in [("a", "one"), ("b", "two"), ("a", "one"), ("a", "one v2")] {
                    added.push(tx.insert_document(&NewDocument {
                        source: "s",
                        source_id: id,
                        patient_key: Some(&key),
                        kind: Some("letter"),
                        written_at: None,
                        text,
                        meta: &meta,
                    })?);
                }
                Ok::<_, StoreError>(added)
            })
            .unwrap();
        assert_eq!(added, vec![true, true, false, true]);
        let counts = store.document_counts().unwrap();
        assert_eq!(
            counts,
            DocumentCounts {
                documents: 3,
                patients: 1,
                sources: 1
            }
        );
        let page = store
            .documents(&DocumentFilter {
                after_doc_id: Some(1),
                limit: Some(1),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].source_id, "b");
        assert_eq!(page[0].meta["encounter"], "E1");
        assert_eq!(page[0].sha256, text_sha256("two"));
        assert_eq!(store.document(3).unwrap().unwrap().text, "one v2");
        assert_eq!(store.document(99).unwrap(), None);
        assert_eq!(
            store.source_counts().unwrap(),
            vec![SourceCounts {
                source: "s".into(),
                documents: 3,
                patients: 1
            }]
        );
    }
}
