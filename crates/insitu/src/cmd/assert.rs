//! `insitu assert`: ConText-style assertion for `{id, text, concept}` lines.
//! Works without a home; reads only the given file.

use crate::Global;
use anyhow::Context;
use insitu_text::assertion::{assert_concept, AssertionScores};
use insitu_types::Assertion;
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Arguments of `insitu assert`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSONL input, one `{id, text, concept}` per line (`-` for stdin).
    /// `concept` is a phrase copied from `text`.
    #[arg(long, short, value_name = "FILE")]
    pub input: PathBuf,
    /// Score against gold labels instead of printing predictions: every line
    /// also needs `assertion` (present|absent|possible|hypothetical|historical|family).
    /// Prints per-class precision, recall and F1.
    #[arg(long)]
    pub gold: bool,
    /// With --gold: print the scores as JSON, and list every miss.
    #[arg(long, requires = "gold")]
    pub json: bool,
}

#[derive(serde::Deserialize)]
struct Line {
    id: Option<serde_json::Value>,
    text: Option<String>,
    concept: Option<String>,
    assertion: Option<Assertion>,
}

/// Runs `insitu assert`.
pub fn run(args: Args, _g: &Global) -> anyhow::Result<()> {
    let name = args.input.display().to_string();
    let reader: Box<dyn BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(&args.input).map_err(|e| {
            crate::exit::input(format!(
                "{name}: cannot open ({e}) — pass a JSONL file of {{id, text, concept}}"
            ))
        })?;
        Box::new(std::io::BufReader::new(f))
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut pairs = Vec::new();
    let mut misses = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let lineno = i + 1;
        let line = line.with_context(|| format!("{name}:{lineno}: cannot read"))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: Line = serde_json::from_str(&line).map_err(|e| {
            crate::exit::input(format!(
                "{name}:{lineno}: not a JSON object ({e}) — every line needs {{id, text, concept}}"
            ))
        })?;
        let field = |f: &str| {
            crate::exit::input(format!(
                "{name}:{lineno}: field {f:?} is missing — every line needs {{id, text, concept}}"
            ))
        };
        let id = rec.id.ok_or_else(|| field("id"))?;
        let text = rec.text.ok_or_else(|| field("text"))?;
        let concept = rec.concept.ok_or_else(|| field("concept"))?;
        let predicted = assert_concept(&text, &concept)
            .map_err(|e| crate::exit::input(format!("{name}:{lineno}: {e}")))?;
        if args.gold {
            let gold = rec.assertion.ok_or_else(|| {
                crate::exit::input(format!("{name}:{lineno}: field \"assertion\" is missing — --gold needs a gold label on every line"))
            })?;
            pairs.push((gold, predicted));
            if gold != predicted {
                misses.push(serde_json::json!({"line": lineno, "id": id, "text": text, "concept": concept, "gold": gold, "predicted": predicted}));
            }
        } else {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"id": id, "assertion": predicted}),
            )?;
            out.write_all(b"\n")?;
        }
    }
    if args.gold {
        if pairs.is_empty() {
            return Err(crate::exit::input(format!(
                "{name}: no labelled lines to score"
            )));
        }
        let scores = AssertionScores::from_pairs(&pairs);
        if args.json {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({"scores": scores, "misses": misses}),
            )?;
            out.write_all(b"\n")?;
        } else {
            write!(out, "{}", scores.table())?;
        }
    }
    out.flush()?;
    Ok(())
}
