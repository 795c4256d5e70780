//! `insitu merge`: folds a PEFT LoRA adapter into its base model and writes
//! the result as a new Hugging Face model directory.

use crate::Global;
use anyhow::Context;
use insitu_train::hf::{self, ModelDir};
use insitu_train::model::Model;
use std::path::PathBuf;

/// Arguments of `insitu merge`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  insitu merge --model ./tiny --adapter ./runs/first/adapter --out ./tiny-merged"
)]
pub struct Args {
    /// Base model directory the adapter was trained on.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// PEFT adapter directory (adapter_config.json, adapter_model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub adapter: PathBuf,
    /// Output directory for the merged model (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs `insitu merge`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let dir = ModelDir::open(&args.model).map_err(|e| crate::exit::input(e.to_string()))?;
    let (lora, tensors) = insitu_train::peft::read_adapter(&args.adapter)
        .map_err(|e| crate::exit::input(e.to_string()))?;
    let mut model = Model::from_dir(&dir)?;
    model
        .load_lora(&lora, &tensors)
        .map_err(|e| crate::exit::input(format!("{}: {e}", args.adapter.display())))?;
    let card = format!(
        "# Merged model\n\nBase model digest {} with the LoRA adapter from {} (r = {}, alpha = {}) folded into its weights by `insitu merge`.\n",
        dir.digest()?,
        args.adapter.display(),
        lora.r,
        lora.lora_alpha
    );
    hf::write_model_dir(
        &args.out,
        model.config(),
        &model.merged_tensors()?,
        &dir.tokenizer,
        dir.chat.as_ref().map(|c| c.source()),
        &dir.generation,
        &card,
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    if !g.quiet {
        eprintln!(
            "merged {} into {}",
            args.adapter.display(),
            args.model.display()
        );
    }
    println!("{}", args.out.display());
    Ok(())
}
