//! Storing one input: every note of a file goes in through one store
//! transaction together with the file's audit event, so a file is stored
//! whole or not at all (a crash or a bad record leaves nothing from it).

use crate::{BadRecord, CsvColumns, Error, Format, NoteReader};
use insitu_store::{NewDocument, Store};
use std::path::{Path, PathBuf};

/// How to ingest.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Source name stored with each document; default: the file or
    /// directory name. Documents are unique per (text, source, id).
    pub source: Option<String>,
    /// Input format; default: from the extension ([`Format::detect`]).
    pub format: Option<Format>,
    /// CSV column mapping.
    pub columns: CsvColumns,
    /// Store the good records of a file with bad ones, and write the bad
    /// ones to a rejects report, instead of failing the file.
    pub skip_bad: bool,
    /// Who is ingesting (audit actor).
    pub actor: String,
}

/// What happened to one input.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// The input as given.
    pub path: PathBuf,
    /// Source name its documents were stored under.
    pub source: String,
    /// Format it was read as.
    pub format: Format,
    /// sha256 of the input (see [`NoteReader::sha256_hex`]).
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Good records read.
    pub records: u64,
    /// Documents added.
    pub inserted: u64,
    /// Good records already stored earlier (same text, source and id).
    pub duplicates: u64,
    /// Bad records skipped (only with `skip_bad`).
    pub rejected: Vec<BadRecord>,
    /// Where the rejects were written, when there were any.
    pub rejects_report: Option<PathBuf>,
    /// Sequence number of the `ingest.file` audit event.
    pub audit_seq: i64,
}

/// How often (in records) the progress callback is called.
const PROGRESS_EVERY: u64 = 256;

/// Reads `path` and stores its notes in one transaction with an
/// `ingest.file` audit event. `progress(bytes_done, bytes_total)` is called
/// as the input is read. Patient identifiers are replaced by HMAC pseudonyms
/// before they reach the store.
pub fn ingest_path(
    store: &mut Store,
    path: &Path,
    options: &IngestOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<FileReport, Error> {
    let format = match options.format {
        Some(f) => f,
        None => Format::detect(path)?,
    };
    let source = match &options.source {
        Some(s) => s.clone(),
        None => default_source(path),
    };
    let pseudonymiser = store.home().pseudonymiser()?;
    let reports_dir = store.home().reports_dir();
    let mut reader = NoteReader::open(path, format, &options.columns)?;
    let total = reader.total_bytes();
    progress(0, total);

    store.tx(|tx| {
        let (mut records, mut inserted) = (0u64, 0u64);
        let mut rejected = Vec::new();
        while let Some(item) = reader.next() {
            let note = match item {
                Ok(note) => note,
                Err(Error::BadRecord(bad)) if options.skip_bad => {
                    rejected.push(bad);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let patient_key = note.patient_id.as_deref().map(|p| pseudonymiser.key(p));
            let meta = serde_json::Value::Object(note.meta);
            let added = tx.insert_document(&NewDocument {
                source: &source,
                source_id: &note.id,
                patient_key: patient_key.as_ref(),
                kind: note.kind.as_deref(),
                written_at: note.written_at.as_deref(),
                text: &note.text,
                meta: &meta,
            })?;
            records += 1;
            inserted += u64::from(added);
            if records % PROGRESS_EVERY == 0 {
                progress(reader.bytes_read(), total);
            }
        }
        progress(reader.bytes_read(), total);
        let rejects_report = if rejected.is_empty() {
            None
        } else {
            Some(write_rejects(&reports_dir, path, &rejected)?)
        };
        let sha256 = reader.sha256_hex();
        let bytes = reader.bytes_read();
        let event = tx.audit(
            &options.actor,
            "ingest.file",
            &absolute(path).display().to_string(),
            serde_json::json!({
                "source": source,
                "format": format.as_str(),
                "sha256": sha256,
                "bytes": bytes,
                "records": records,
                "inserted": inserted,
                "duplicates": records - inserted,
                "rejected": rejected.len(),
                "rejects_report": rejects_report.as_ref().map(|p| p.display().to_string()),
            }),
        )?;
        Ok(FileReport {
            path: path.to_path_buf(),
            source: source.clone(),
            format,
            sha256,
            bytes,
            records,
            inserted,
            duplicates: records - inserted,
            rejected,
            rejects_report,
            audit_seq: event.seq,
        })
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The file or directory name, which survives moving the export around.
fn default_source(path: &Path) -> String {
    absolute(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".to_string())
}

/// Writes one JSON line per rejected record (position, problem, fix — never
/// the record's text) to `reports/`, via a temporary file and a rename.
fn write_rejects(dir: &Path, input: &Path, rejected: &[BadRecord]) -> Result<PathBuf, Error> {
    let stem: String = default_source(input)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = chrono_free_stamp();
    let path = dir.join(format!("ingest-rejects-{stem}-{stamp}.jsonl"));
    let tmp = path.with_extension("jsonl.tmp");
    let mut out = String::new();
    for bad in rejected {
        out.push_str(&serde_json::to_string(bad).expect("rejects always serialise"));
        out.push('\n');
    }
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(&tmp, out).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Seconds and nanoseconds since the epoch: unique enough for a report
/// name without pulling in a calendar library.
fn chrono_free_stamp() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{:09}", d.as_secs(), d.subsec_nanos())
}
