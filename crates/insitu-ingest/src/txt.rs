//! Plain-text notes: a directory of `.txt` files (not recursive), or one
//! `.txt` file. One note per file; id = file stem; no patient identifier.

use crate::reader::SharedTally;
use crate::{strip_bom, utf8, BadRecord, Error, Note, Place, Position, UTF8_FIX};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub(crate) struct TxtNotes {
    files: std::vec::IntoIter<(PathBuf, u64)>,
    total: u64,
    tally: SharedTally,
}

impl TxtNotes {
    pub fn open(path: &Path, tally: SharedTally) -> Result<Self, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        if path.is_dir() {
            for entry in std::fs::read_dir(path).map_err(io)? {
                let entry = entry.map_err(io)?;
                let p = entry.path();
                let is_txt = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt"));
                if is_txt && entry.file_type().map_err(io)?.is_file() {
                    let len = entry.metadata().map_err(io)?.len();
                    files.push((p, len));
                }
            }
            if files.is_empty() {
                return Err(Error::BadInput {
                    path: path.to_path_buf(),
                    problem: "the directory holds no .txt files".into(),
                    fix: "pass a directory of .txt notes, or the .jsonl/.csv/.json file itself"
                        .into(),
                });
            }
            // Name order makes the directory digest and doc ids deterministic.
            files.sort();
        } else {
            let len = std::fs::metadata(path).map_err(io)?.len();
            files.push((path.to_path_buf(), len));
        }
        let total = files.iter().map(|(_, len)| len).sum();
        Ok(TxtNotes {
            files: files.into_iter(),
            total,
            tally,
        })
    }

    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn next(&mut self) -> Option<Result<Note, Error>> {
        let (path, _) = self.files.next()?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(source) => return Some(Err(Error::Io { path, source })),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        {
            // The input digest covers each file's name and content, so
            // renaming a note changes it as much as editing one.
            let mut t = self.tally.borrow_mut();
            t.bytes += bytes.len() as u64;
            t.hasher.update(name.as_bytes());
            t.hasher.update(b"\n");
            t.hasher
                .update(hex::encode(Sha256::digest(&bytes)).as_bytes());
            t.hasher.update(b"\n");
        }
        let at = Position {
            file: path.clone(),
            place: Place::File,
        };
        let bad = |problem: String, fix: &str| {
            Some(Err(Error::BadRecord(BadRecord {
                at: at.clone(),
                problem,
                fix: fix.into(),
            })))
        };
        let text = match utf8(strip_bom(&bytes)) {
            Ok(t) => t,
            Err(p) => return bad(format!("the file {p}"), UTF8_FIX),
        };
        if text.trim().is_empty() {
            return bad("the file is empty".into(), "remove it or add the note text");
        }
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Some(Ok(Note {
            id,
            patient_id: None,
            kind: None,
            written_at: None,
            text: text.to_string(),
            meta: Default::default(),
            at,
        }))
    }
}
