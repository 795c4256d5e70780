//! Reads clinical notes from the formats hospitals export — directories of
//! `.txt`, JSONL, CSV (with column mapping) and FHIR R4 JSON — into plain
//! [`Note`] records that remember where they came from (file and line, or
//! bundle entry), and stores them through `insitu-store` with one
//! transaction per input file ([`ingest_path`]).
//!
//! It must not write SQL (the store does), keep raw patient identifiers
//! anywhere but in memory on the way to the pseudonymiser, or guess at text
//! that is not valid UTF-8.

mod csv_notes;
mod fhir;
mod jsonl;
mod reader;
mod store_notes;
mod txt;

pub use reader::NoteReader;
pub use store_notes::{ingest_path, FileReport, IngestOptions};

use std::fmt;
use std::path::{Path, PathBuf};

/// One note read from an input, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// The note's id in its source (JSONL `id`, CSV id column, FHIR id, file stem).
    pub id: String,
    /// The raw patient identifier, if the format carries one. Pseudonymise
    /// it before storing; never write it anywhere.
    pub patient_id: Option<String>,
    /// Note type (discharge summary, clinic letter…), if given.
    pub kind: Option<String>,
    /// When it was written, as the source gives it.
    pub written_at: Option<String>,
    /// The note text.
    pub text: String,
    /// Every other field of the record, as a JSON object.
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// Where in the input it came from.
    pub at: Position,
}

/// Where a record is in its input, for messages such as `notes.jsonl:17: …`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// Line (JSONL, CSV; 1-based) or entry index (FHIR Bundle; 0-based).
    pub place: Place,
}

/// The part of [`Position`] inside the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The whole file (a `.txt` note, a single FHIR resource).
    File,
    /// A 1-based line number.
    Line(u64),
    /// A 0-based `Bundle.entry` index.
    Entry(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Place::File => write!(f, "{}", self.file.display()),
            Place::Line(n) => write!(f, "{}:{n}", self.file.display()),
            Place::Entry(i) => write!(f, "{}: entry[{i}]", self.file.display()),
        }
    }
}

/// A record that cannot be used. `--skip-bad` skips these; without it they
/// fail their whole file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{at}: {problem} — {fix}")]
pub struct BadRecord {
    /// Where it is.
    pub at: Position,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A directory of `.txt` files (or one `.txt` file), one note each; id = file stem.
    Txt,
    /// One JSON object per line: `{id, patient_id, kind?, written_at?, text, …}`.
    Jsonl,
    /// CSV with a header row; columns chosen by [`CsvColumns`].
    Csv,
    /// FHIR R4 JSON: a Bundle of DocumentReference, or one DocumentReference.
    Fhir,
}

impl Format {
    /// Picks the format from the path: a directory or `.txt` → Txt,
    /// `.jsonl`/`.ndjson` → Jsonl, `.csv` → Csv, `.json` → Fhir.
    pub fn detect(path: &Path) -> Result<Format, Error> {
        if path.is_dir() {
            return Ok(Format::Txt);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("txt") => Ok(Format::Txt),
            Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Fhir),
            _ => Err(Error::UnknownFormat(path.to_path_buf())),
        }
    }

    /// Parses a `--format` value.
    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "txt" => Some(Format::Txt),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "fhir" | "json" => Some(Format::Fhir),
            _ => None,
        }
    }

    /// Lower-case name (`txt`, `jsonl`, `csv`, `fhir`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Txt => "txt",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Fhir => "fhir",
        }
    }
}

/// Which CSV columns hold which field. Other columns go to `meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvColumns {
    /// Column with the note id.
    pub id: String,
    /// Column with the patient identifier.
    pub patient: String,
    /// Column with the note text.
    pub text: String,
    /// Column with the note type; `None` uses `kind` when present.
    pub kind: Option<String>,
    /// Column with the date written; `None` uses `written_at` when present.
    pub date: Option<String>,
}

impl Default for CsvColumns {
    fn default() -> Self {
        CsvColumns {
            id: "id".into(),
            patient: "patient_id".into(),
            text: "text".into(),
            kind: None,
            date: None,
        }
    }
}

/// Problems with a whole input (as opposed to one [`BadRecord`]), and
/// failures while storing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The input.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The extension does not say which format the file is.
    #[error("{0}: cannot tell the format from the name — use .jsonl, .csv, .json (FHIR), .txt or a directory of .txt, or pass --format")]
    UnknownFormat(PathBuf),
    /// The input as a whole is unusable (no header, not FHIR, no notes…).
    #[error("{path}: {problem} — {fix}")]
    BadInput {
        /// The input.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// A record is bad and `skip_bad` was off; nothing from the file was stored.
    #[error("{0} (nothing from this file was stored; --skip-bad stores the good records)")]
    BadRecord(BadRecord),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] insitu_store::StoreError),
}

impl Error {
    /// Whether the user's input caused this (exit code 2) rather than the machine.
    pub fn is_input_error(&self) -> bool {
        !matches!(self, Error::Io { .. } | Error::Store(_))
    }
}

/// Checks UTF-8, naming the byte offset of the first bad byte.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "is not valid UTF-8 (first bad byte at offset {})",
            e.valid_up_to()
        )
    })
}

/// The fix offered for text that is not UTF-8.
pub(crate) const UTF8_FIX: &str =
    "re-export it as UTF-8, e.g. `iconv -f WINDOWS-1252 -t UTF-8 in > out`";

/// Strips a leading UTF-8 byte-order mark, which some Windows tools write.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_extensions() {
        assert_eq!(Format::detect(Path::new("a.JSONL")).unwrap(), Format::Jsonl);
        assert_eq!(Format::detect(Path::new("a.csv")).unwrap(), Format::Csv);
        assert_eq!(Format::detect(Path::new("a.json")).unwrap(), Format::Fhir);
        assert_eq!(Format::detect(Path::new("a.txt")).unwrap(), Format::Txt);
        let err = Format::detect(Path::new("a.xml")).unwrap_err().to_string();
        assert!(err.contains("--format"), "{err}");
    }

    #[test]
    fn positions_read_like_compiler_messages() {
        let at = |place| Position {
            file: "notes.jsonl".into(),
            place,
        };
        assert_eq!(at(Place::Line(17)).to_string(), "notes.jsonl:17");
        assert_eq!(at(Place::Entry(3)).to_string(), "notes.jsonl: entry[3]");
        let bad = BadRecord {
            at: at(Place::Line(17)),
            problem: "field \"text\" is missing".into(),
            fix: "every line needs {id, patient_id, text}".into(),
        };
        assert_eq!(
            bad.to_string(),
            "notes.jsonl:17: field \"text\" is missing — every line needs {id, patient_id, text}"
        );
    }
}
