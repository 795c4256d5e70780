//! [`NoteReader`]: one iterator over the notes of any input format, which
//! also counts the bytes consumed (for progress) and hashes the input (for
//! the audit record).

use crate::{csv_notes, fhir, jsonl, txt, CsvColumns, Error, Format, Note};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Bytes read so far and their running sha256, shared between a
/// [`TallyingReader`] deep inside a parser and the [`NoteReader`] that owns it.
#[derive(Default)]
pub(crate) struct Tally {
    pub bytes: u64,
    pub hasher: Sha256,
}

pub(crate) type SharedTally = Rc<RefCell<Tally>>;

/// A reader that feeds everything it reads into a [`Tally`].
pub(crate) struct TallyingReader<R> {
    inner: R,
    tally: SharedTally,
}

impl<R: Read> TallyingReader<R> {
    pub fn new(inner: R, tally: SharedTally) -> Self {
        TallyingReader { inner, tally }
    }
}

impl<R: Read> Read for TallyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut t = self.tally.borrow_mut();
        t.bytes += n as u64;
        t.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Opens `path` for reading, mapping failure to [`Error::Io`].
pub(crate) fn open_file(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

enum Parser {
    Txt(txt::TxtNotes),
    Jsonl(jsonl::JsonlNotes),
    Csv(csv_notes::CsvNotes),
    Fhir(fhir::FhirNotes),
}

/// Iterates the notes of one input. Items are `Err(Error::BadRecord)` for a
/// record that cannot be used (the caller decides whether to skip it) and
/// other `Err`s for failures of the whole input, after which it stops.
pub struct NoteReader {
    parser: Parser,
    tally: SharedTally,
    total_bytes: u64,
    path: PathBuf,
    format: Format,
    failed: bool,
}

impl NoteReader {
    /// Opens `path` as `format` (see [`Format::detect`]). `columns` is used
    /// for CSV only.
    pub fn open(path: &Path, format: Format, columns: &CsvColumns) -> Result<NoteReader, Error> {
        let tally = SharedTally::default();
        let (parser, total_bytes) = match format {
            Format::Txt => {
                let notes = txt::TxtNotes::open(path, tally.clone())?;
                let total = notes.total_bytes();
                (Parser::Txt(notes), total)
            }
            Format::Jsonl => (
                Parser::Jsonl(jsonl::JsonlNotes::open(path, tally.clone())?),
                file_len(path)?,
            ),
            Format::Csv => (
                Parser::Csv(csv_notes::CsvNotes::open(path, columns, tally.clone())?),
                file_len(path)?,
            ),
            Format::Fhir => (
                Parser::Fhir(fhir::FhirNotes::open(path, tally.clone())?),
                file_len(path)?,
            ),
        };
        Ok(NoteReader {
            parser,
            tally,
            total_bytes,
            path: path.to_path_buf(),
            format,
            failed: false,
        })
    }

    /// Input bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.tally.borrow().bytes
    }

    /// Size of the input in bytes (all `.txt` files for a directory).
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// The input's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The input path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hex sha256 of the bytes read so far: the whole file once the reader
    /// is exhausted. For a `.txt` directory, sha256 over each file's name
    /// and content digest, in name order.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.tally.borrow().hasher.clone().finalize())
    }
}

impl Iterator for NoteReader {
    type Item = Result<Note, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = match &mut self.parser {
            Parser::Txt(p) => p.next(),
            Parser::Jsonl(p) => p.next(),
            Parser::Csv(p) => p.next(),
            Parser::Fhir(p) => p.next(),
        };
        if let Some(Err(e)) = &item {
            if !matches!(e, Error::BadRecord(_)) {
                self.failed = true;
            }
        }
        item
    }
}

fn file_len(path: &Path) -> Result<u64, Error> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
}
