//! `insitu base init`: writes the built-in tiny base model (BPE tokenizer
//! and a small Llama pretrained on synthetic notes) as a Hugging Face model
//! directory, loaded later through the same path as a sponsor's model.

use crate::Global;
use anyhow::Context;
use insitu_train::preset::{self, TinyPreset};
use std::path::PathBuf;

/// Arguments of `insitu base init`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The tiny preset: hidden 192, 4 layers, 6 heads / 2 KV heads, MLP 512,
512 positions, ~4k-token BPE vocabulary, ChatML template; pretrained for a
few hundred steps on insitu-synth notes (about 1–2 minutes on 2 cores).
Same --seed and --patients, same weights.

Example:
  insitu base init --preset tiny --out ./tiny --seed 0"
)]
pub struct Args {
    /// Which built-in model to write (only `tiny`).
    #[arg(long, default_value = "tiny", value_name = "NAME")]
    pub preset: String,
    /// Output directory (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed for the corpus, initialisation and data order.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Synthetic patients whose notes form the pretraining corpus.
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub patients: usize,
    /// Pretraining steps (fewer for quick tests).
    #[arg(long, default_value_t = TinyPreset::default().steps, value_name = "N")]
    pub steps: usize,
    /// BPE vocabulary size.
    #[arg(long, default_value_t = TinyPreset::default().vocab_size, value_name = "N")]
    pub vocab_size: usize,
}

/// Runs `insitu base init`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    if args.preset != "tiny" {
        return Err(crate::exit::input(format!(
            "--preset {:?} is unknown — the built-in preset is `tiny`",
            args.preset
        )));
    }
    if args.patients == 0 || args.steps == 0 {
        return Err(crate::exit::input(
            "--patients and --steps must be at least 1",
        ));
    }
    if args.out.exists()
        && std::fs::read_dir(&args.out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(crate::exit::input(format!(
            "--out {}: exists and is not empty — choose a new directory",
            args.out.display()
        )));
    }
    let corpus = insitu_synth::Corpus::generate(&insitu_synth::SynthConfig {
        patients: args.patients,
        seed: args.seed,
        ..Default::default()
    });
    let texts: Vec<String> = corpus.notes.into_iter().map(|n| n.text).collect();
    let preset = TinyPreset {
        seed: args.seed,
        vocab_size: args.vocab_size,
        steps: args.steps,
        ..TinyPreset::default()
    };
    let work =
        tempfile::tempdir().context("creating a temporary directory for pretraining logs")?;
    let bar = super::train::progress_bar(preset.steps, g.quiet, "pretrain");
    let base = preset::build_tiny(
        &texts,
        &preset,
        &mut |p| super::train::show_progress(&bar, p),
        work.path(),
    )
    .map_err(|e| crate::exit::input(e.to_string()))?;
    bar.finish_and_clear();
    preset::write_tiny(&args.out, &base, &preset)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if !g.quiet {
        let m = &base.metrics;
        eprintln!(
            "tiny base model: {} notes, {} tokens seen, held-out loss {:.3} -> {:.3}",
            texts.len(),
            m.tokens,
            m.val_loss_before.unwrap_or(f64::NAN),
            m.val_loss_after.unwrap_or(f64::NAN)
        );
    }
    println!("{}", args.out.display());
    Ok(())
}
