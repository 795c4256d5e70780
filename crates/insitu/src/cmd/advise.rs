//! `insitu advise`: prompting/ICL, LoRA or full fine-tuning for a dataset,
//! read from its `card.json`, with the reasons.

use crate::Global;
use std::path::PathBuf;

/// Arguments of `insitu advise`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A dataset directory written by `insitu dataset build`.
    #[arg(long, value_name = "DIR")]
    pub dataset: PathBuf,
    /// Print the advice as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `insitu advise`.
pub fn run(args: Args, _g: &Global) -> anyhow::Result<()> {
    let path = args.dataset.join("card.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        crate::exit::input(format!("{}: cannot read ({e}) — --dataset must be a directory written by `insitu dataset build`", path.display()))
    })?;
    let card: insitu_data::DatasetCard = serde_json::from_str(&text)
        .map_err(|e| crate::exit::input(format!("{}: not a dataset card ({e})", path.display())))?;
    let advice = insitu_data::advise(&card);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&advice)?);
        return Ok(());
    }
    let name = match advice.approach {
        insitu_data::Approach::Prompting => "prompting / in-context learning",
        insitu_data::Approach::Lora => "LoRA fine-tuning",
        insitu_data::Approach::FullFineTuning => {
            "full fine-tuning (LoRA still the cheaper default)"
        }
    };
    println!("recommendation: {name}");
    for r in &advice.reasons {
        println!("  - {r}");
    }
    Ok(())
}
