//! `insitu ingest`: store notes from `.txt` directories, JSONL, CSV or FHIR
//! R4 JSON, one transaction per input, patient identifiers pseudonymised.

use crate::cmd::init::open_store;
use crate::Global;
use insitu_ingest::{ingest_path, CsvColumns, FileReport, Format, IngestOptions};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `insitu ingest`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Store notes in the home. Each PATH is one input, stored in one transaction: \
a bad record fails its whole input (exit 2, nothing from it stored) unless --skip-bad is given, \
which stores the good records and writes the bad ones to a rejects report under reports/.\n\n\
Formats (from the extension, or --format):\n  \
DIR or *.txt      one note per .txt file; id = file stem; no patient id\n  \
*.jsonl           one object per line: {id, patient_id, kind?, written_at?, text, ...};\n                    \
other fields are kept as document meta\n  \
*.csv             header row; columns chosen with --id-col, --patient-col, --text-col,\n                    \
--kind-col, --date-col; other columns kept as meta\n  \
*.json            FHIR R4 Bundle of DocumentReference, or one DocumentReference\n\n\
Patient identifiers are replaced by HMAC-SHA256 pseudonyms under keys/hmac.key; the raw \
identifier is never stored. Ingesting the same documents again adds nothing.",
    after_help = "Examples:\n  insitu ingest notes.jsonl --source epr-2024\n  \
insitu ingest export.csv --id-col NoteID --patient-col MRN --text-col Body\n  \
insitu ingest letters/ bundle.json --skip-bad"
)]
pub struct Args {
    /// Inputs: files (.jsonl, .csv, .json, .txt) or directories of .txt notes.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Source name stored with each document (default: the file or directory name).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Read every PATH as this format instead of guessing from the extension.
    #[arg(long, value_name = "txt|jsonl|csv|fhir")]
    pub format: Option<String>,
    /// Store the good records of an input with bad ones and write a rejects report.
    #[arg(long)]
    pub skip_bad: bool,
    /// CSV column holding the note id.
    #[arg(long, value_name = "COL", default_value = "id")]
    pub id_col: String,
    /// CSV column holding the patient identifier.
    #[arg(long, value_name = "COL", default_value = "patient_id")]
    pub patient_col: String,
    /// CSV column holding the note text.
    #[arg(long, value_name = "COL", default_value = "text")]
    pub text_col: String,
    /// CSV column holding the note type (default: `kind` if present).
    #[arg(long, value_name = "COL")]
    pub kind_col: Option<String>,
    /// CSV column holding the date written (default: `written_at` if present).
    #[arg(long, value_name = "COL")]
    pub date_col: Option<String>,
    /// Print one JSON report per input instead of a summary line.
    #[arg(long)]
    pub json: bool,
}

/// Inputs smaller than this finish too quickly for a progress bar to help.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// Runs `insitu ingest`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let format = match &args.format {
        None => None,
        Some(name) => Some(Format::parse(name).ok_or_else(|| {
            crate::exit::input(format!(
                "--format {name:?} is not a format — choose txt, jsonl, csv or fhir"
            ))
        })?),
    };
    let options = IngestOptions {
        source: args.source.clone(),
        format,
        columns: CsvColumns {
            id: args.id_col.clone(),
            patient: args.patient_col.clone(),
            text: args.text_col.clone(),
            kind: args.kind_col.clone(),
            date: args.date_col.clone(),
        },
        skip_bad: args.skip_bad,
        actor: g.actor(),
    };
    let mut store = open_store(g)?;
    let show_progress = !g.quiet && std::io::stderr().is_terminal();
    let (mut failed, mut input_failures) = (0usize, 0usize);
    for path in &args.paths {
        let bar = ProgressBar::new(path, show_progress);
        let result = ingest_path(&mut store, path, &options, &mut |done, total| {
            bar.update(done, total)
        });
        bar.finish();
        match result {
            Ok(report) => print_report(&report, args.json, g.quiet)?,
            Err(e) => {
                failed += 1;
                input_failures += usize::from(e.is_input_error());
                eprintln!("error: {e}");
            }
        }
    }
    if failed == 0 {
        return Ok(());
    }
    let total = args.paths.len();
    let msg = if failed == total {
        format!("{failed} of {total} input(s) failed; nothing from them was stored")
    } else {
        format!(
            "{failed} of {total} input(s) failed; nothing from them was stored, the other {} were",
            total - failed
        )
    };
    if input_failures == failed {
        Err(crate::exit::input(msg))
    } else {
        Err(anyhow::anyhow!(msg))
    }
}

fn print_report(r: &FileReport, json: bool, quiet: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    println!(
        "{}: {} record(s) → {} new, {} already stored (source {:?}, {}, audit seq {})",
        r.path.display(),
        r.records,
        r.inserted,
        r.duplicates,
        r.source,
        r.format.as_str(),
        r.audit_seq
    );
    if let Some(report) = &r.rejects_report {
        println!(
            "  {} bad record(s) skipped; rejects report: {}",
            r.rejected.len(),
            report.display()
        );
        if !quiet {
            for bad in r.rejected.iter().take(3) {
                eprintln!("  skipped {bad}");
            }
        }
    }
    Ok(())
}

/// A byte-progress bar on stderr for inputs large enough to need one.
struct ProgressBar(Option<indicatif::ProgressBar>);

impl ProgressBar {
    fn new(path: &std::path::Path, enabled: bool) -> Self {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if !enabled || (path.is_file() && size < PROGRESS_MIN_BYTES) {
            return ProgressBar(None);
        }
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("the template is valid"),
        );
        bar.set_message(path.display().to_string());
        ProgressBar(Some(bar))
    }

    fn update(&self, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
