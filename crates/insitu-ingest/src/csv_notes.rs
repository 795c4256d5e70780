//! CSV with a header row. [`CsvColumns`] names the id, patient, text, kind
//! and date columns; every other column is kept in `meta` as a string.
//! Line numbers are those of the record's first line (quoted fields may
//! span several).

use crate::reader::{open_file, SharedTally, TallyingReader};
use crate::{utf8, BadRecord, CsvColumns, Error, Note, Place, Position, UTF8_FIX};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub(crate) struct CsvNotes {
    records: csv::ByteRecordsIntoIter<TallyingReader<std::fs::File>>,
    headers: Vec<String>,
    id: usize,
    patient: usize,
    text: usize,
    kind: Option<usize>,
    date: Option<usize>,
    path: PathBuf,
}

impl CsvNotes {
    pub fn open(path: &Path, columns: &CsvColumns, tally: SharedTally) -> Result<Self, Error> {
        let file = open_file(path)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(TallyingReader::new(file, tally));
        let bad_input = |problem: String, fix: String| Error::BadInput {
            path: path.to_path_buf(),
            problem,
            fix,
        };
        let header = reader.byte_headers().map_err(|e| {
            bad_input(
                format!("cannot read the header row ({e})"),
                "the first line must name the columns".into(),
            )
        })?;
        let mut headers = Vec::with_capacity(header.len());
        for (i, h) in header.iter().enumerate() {
            let h = if i == 0 { crate::strip_bom(h) } else { h };
            let name = utf8(h).map_err(|p| bad_input(format!("header {p}"), UTF8_FIX.into()))?;
            headers.push(name.trim().to_string());
        }
        if headers.iter().all(String::is_empty) {
            return Err(bad_input(
                "the file is empty or has no header row".into(),
                "the first line must name the columns, e.g. id,patient_id,text".into(),
            ));
        }
        let find = |name: &str| headers.iter().position(|h| h == name);
        let require = |name: &str, flag: &str| {
            find(name).ok_or_else(|| {
                bad_input(
                    format!("line 1: no column {name:?}"),
                    format!(
                        "pass {flag} NAME to say which column it is; the columns are: {}",
                        headers.join(", ")
                    ),
                )
            })
        };
        let id = require(&columns.id, "--id-col")?;
        let patient = require(&columns.patient, "--patient-col")?;
        let text = require(&columns.text, "--text-col")?;
        let kind = match &columns.kind {
            Some(name) => Some(require(name, "--kind-col")?),
            None => find("kind"),
        };
        let date = match &columns.date {
            Some(name) => Some(require(name, "--date-col")?),
            None => find("written_at"),
        };
        Ok(CsvNotes {
            records: reader.into_byte_records(),
            headers,
            id,
            patient,
            text,
            kind,
            date,
            path: path.to_path_buf(),
        })
    }

    pub fn next(&mut self) -> Option<Result<Note, Error>> {
        let record = match self.records.next()? {
            Ok(r) => r,
            Err(e) => return Some(Err(self.csv_error(e))),
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        Some(self.note(&record, line).map_err(Error::BadRecord))
    }

    fn csv_error(&self, e: csv::Error) -> Error {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => Error::BadRecord(BadRecord {
                at: Position {
                    file: self.path.clone(),
                    place: Place::Line(line),
                },
                problem: format!("has {len} fields but the header has {expected_len}"),
                fix: "quote fields that contain commas or line breaks".into(),
            }),
            csv::ErrorKind::Io(_) => {
                let path = self.path.clone();
                match e.into_kind() {
                    csv::ErrorKind::Io(source) => Error::Io { path, source },
                    _ => unreachable!("matched Io above"),
                }
            }
            _ => Error::BadInput {
                path: self.path.clone(),
                problem: format!("line {line}: {e}"),
                fix: "check the CSV quoting".into(),
            },
        }
    }

    fn note(&self, record: &csv::ByteRecord, line: u64) -> Result<Note, BadRecord> {
        let at = Position {
            file: self.path.clone(),
            place: Place::Line(line),
        };
        let bad = |problem: String, fix: &str| BadRecord {
            at: at.clone(),
            problem,
            fix: fix.to_string(),
        };
        let mut cells = Vec::with_capacity(record.len());
        for (i, raw) in record.iter().enumerate() {
            let cell = utf8(raw)
                .map_err(|p| bad(format!("column {:?} {p}", self.headers[i]), UTF8_FIX))?;
            cells.push(cell);
        }
        let required = |i: usize| {
            let v = cells[i].trim();
            if v.is_empty() {
                Err(bad(
                    format!("column {:?} is empty", self.headers[i]),
                    "every row needs an id, a patient identifier and text",
                ))
            } else {
                Ok(v.to_string())
            }
        };
        let id = required(self.id)?;
        let patient_id = required(self.patient)?;
        required(self.text)?;
        let optional = |i: Option<usize>| {
            i.map(|i| cells[i].trim())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let mut meta = Map::new();
        for (i, cell) in cells.iter().enumerate() {
            if [
                Some(self.id),
                Some(self.patient),
                Some(self.text),
                self.kind,
                self.date,
            ]
            .contains(&Some(i))
            {
                continue;
            }
            meta.insert(self.headers[i].clone(), Value::String(cell.to_string()));
        }
        Ok(Note {
            id,
            patient_id: Some(patient_id),
            kind: optional(self.kind),
            written_at: optional(self.date),
            text: cells[self.text].to_string(),
            meta,
            at,
        })
    }
}
