//! Writing a corpus to disk: three JSONL files streamed through buffered
//! writers into temporary files in the target directory, then renamed into
//! place, so a crash leaves either the old files or the new ones.

use crate::{generate, SynthConfig};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What went wrong writing a corpus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be created, written or renamed.
    #[error("{path}: {source} — check that the directory is writable and the disk has space")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Counts of what was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Patients generated.
    pub patients: usize,
    /// Notes written to `notes.jsonl`.
    pub notes: usize,
    /// Gold spans written to `phi.jsonl`.
    pub phi_spans: usize,
    /// Findings across `labels.jsonl`.
    pub findings: usize,
    /// Bytes of note text.
    pub text_bytes: usize,
}

/// The three output files, as written under the target directory.
pub const OUTPUT_FILES: [&str; 3] = ["notes.jsonl", "phi.jsonl", "labels.jsonl"];

struct TempJsonl {
    tmp: PathBuf,
    dest: PathBuf,
    out: BufWriter<File>,
}

impl TempJsonl {
    fn create(dir: &Path, name: &str) -> Result<Self, Error> {
        let dest = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        Ok(TempJsonl {
            tmp,
            dest,
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn line<T: Serialize>(&mut self, value: &T) -> Result<(), Error> {
        let io = |source| Error::Io {
            path: self.tmp.clone(),
            source,
        };
        serde_json::to_writer(&mut self.out, value).map_err(|e| io(std::io::Error::other(e)))?;
        self.out.write_all(b"\n").map_err(io)
    }

    fn finish(self) -> Result<(PathBuf, PathBuf), Error> {
        let file = self.out.into_inner().map_err(|e| Error::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(|source| Error::Io {
            path: self.tmp.clone(),
            source,
        })?;
        Ok((self.tmp, self.dest))
    }
}

/// Generates the corpus `cfg` describes and writes `notes.jsonl`,
/// `phi.jsonl` and `labels.jsonl` into `dir` (created if missing).
pub fn write_corpus(cfg: &SynthConfig, dir: &Path) -> Result<Summary, Error> {
    write_corpus_with_progress(cfg, dir, |_| {})
}

/// [`write_corpus`], calling `on_patient(done)` after each patient is written
/// (for a progress bar).
pub fn write_corpus_with_progress(
    cfg: &SynthConfig,
    dir: &Path,
    mut on_patient: impl FnMut(usize),
) -> Result<Summary, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut notes = TempJsonl::create(dir, OUTPUT_FILES[0])?;
    let mut phi = TempJsonl::create(dir, OUTPUT_FILES[1])?;
    let mut labels = TempJsonl::create(dir, OUTPUT_FILES[2])?;
    let mut summary = Summary {
        patients: 0,
        notes: 0,
        phi_spans: 0,
        findings: 0,
        text_bytes: 0,
    };
    let result = (|| {
        for p in generate(cfg) {
            summary.patients += 1;
            for n in &p.notes {
                notes.line(&n.note)?;
                for s in &n.phi {
                    phi.line(s)?;
                }
                labels.line(&n.labels)?;
                summary.notes += 1;
                summary.phi_spans += n.phi.len();
                summary.findings += n.labels.findings.len();
                summary.text_bytes += n.note.text.len();
            }
            on_patient(summary.patients);
        }
        Ok::<_, Error>(())
    })();
    let finished = result.and_then(|()| Ok([notes.finish()?, phi.finish()?, labels.finish()?]));
    let files = match finished {
        Ok(files) => files,
        Err(e) => {
            for name in OUTPUT_FILES {
                let _ =
                    std::fs::remove_file(dir.join(format!(".{name}.tmp-{}", std::process::id())));
            }
            return Err(e);
        }
    };
    // The three renames are not one atomic step; each file is complete on its own.
    for (tmp, dest) in files {
        std::fs::rename(&tmp, &dest).map_err(|source| Error::Io {
            path: dest.clone(),
            source,
        })?;
    }
    Ok(summary)
}
