//! `insitu synth`: writes a deterministic synthetic clinical corpus with gold
//! labels (see docs/synth.md for every field).

use crate::Global;
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `insitu synth`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Writes DIR/notes.jsonl ({id, patient_id, kind, written_at, text, …}),
DIR/phi.jsonl (gold PHI spans {doc, start, end, category}) and DIR/labels.jsonl
(ICD-10 codes, findings with assertions, sections). Same --patients and --seed,
same bytes. Every name, number and address in it is invented.

Example:
  insitu synth --patients 200 --seed 7 --out ./synthetic"
)]
pub struct Args {
    /// Number of patients (each gets 3–12 notes across one or two admissions).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub patients: usize,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Output directory (created if missing; the three files are replaced atomically).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Share of patients written in US style instead of NHS style (0.0–1.0).
    #[arg(long, default_value_t = 0.3, value_name = "F")]
    pub us_share: f64,
}

/// Runs `insitu synth`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    if args.patients == 0 {
        return Err(crate::exit::input("--patients must be at least 1"));
    }
    if !(0.0..=1.0).contains(&args.us_share) {
        return Err(crate::exit::input(format!(
            "--us-share {} is outside 0.0–1.0 — give the fraction of US-style patients, e.g. 0.3",
            args.us_share
        )));
    }
    if args.out.exists() && !args.out.is_dir() {
        return Err(crate::exit::input(format!(
            "--out {}: exists and is not a directory — give a directory to write into",
            args.out.display()
        )));
    }
    let cfg = insitu_synth::SynthConfig {
        patients: args.patients,
        seed: args.seed,
        us_share: args.us_share,
    };
    let started = std::time::Instant::now();
    // A bar only where it helps: large corpora, not --quiet (drawn on stderr,
    // hidden automatically when stderr is not a terminal).
    let bar = (!g.quiet && args.patients >= 2_000).then(|| {
        let bar = indicatif::ProgressBar::new(args.patients as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} patients {elapsed}")
        {
            bar.set_style(style);
        }
        bar
    });
    let s = insitu_synth::write_corpus_with_progress(&cfg, &args.out, |done| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    })
    .with_context(|| format!("writing the synthetic corpus to {}", args.out.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !g.quiet {
        println!(
            "wrote {} notes for {} patients ({} PHI spans, {} findings, {:.1} MB of text) to {} in {:.1}s",
            s.notes,
            s.patients,
            s.phi_spans,
            s.findings,
            s.text_bytes as f64 / 1e6,
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
        println!(
            "  {0}/notes.jsonl  {0}/phi.jsonl  {0}/labels.jsonl",
            args.out.display()
        );
    }
    Ok(())
}
