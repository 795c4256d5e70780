//! `insitu advise`: prompting/ICL, LoRA or full fine-tuning, from the number
//! of training examples and the task.

use crate::card::DatasetCard;
use crate::splits::Split;
use serde::Serialize;

/// The recommended way to adapt a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approach {
    /// Few examples: put them in the prompt (in-context learning).
    Prompting,
    /// Low-rank adapters on a frozen base.
    Lora,
    /// Enough data to consider updating all weights.
    FullFineTuning,
}

/// A recommendation with its reasons.
#[derive(Debug, Clone, Serialize)]
pub struct Advice {
    /// What to do.
    pub approach: Approach,
    /// Why, one reason per line.
    pub reasons: Vec<String>,
}

/// Below this many training examples, prompting usually beats training.
pub const PROMPTING_BELOW: usize = 500;
/// From this many, full fine-tuning is worth considering.
pub const FULL_FROM: usize = 5_000;

/// Advises on a dataset from its card.
pub fn advise(card: &DatasetCard) -> Advice {
    let train = card.splits.get(&Split::Train).map_or(0, |c| c.examples);
    let patients = card.splits.get(&Split::Train).map_or(0, |c| c.patients);
    let mut reasons = vec![format!(
        "{train} training examples from {patients} patients ({} task, {} format)",
        card.task, card.format
    )];
    let approach = if train < PROMPTING_BELOW {
        reasons.push(format!("under ~{PROMPTING_BELOW} examples a fine-tune tends to overfit; a few well-chosen examples in the prompt (in-context learning) are cheaper and easier to audit"));
        Approach::Prompting
    } else if train < FULL_FROM || card.task == "continued-pretraining" && train < 50 * FULL_FROM {
        reasons.push(format!("{PROMPTING_BELOW}–{FULL_FROM} examples suit LoRA: a small adapter learns the task while the base model stays frozen, which limits memorisation and keeps the export small"));
        Approach::Lora
    } else {
        reasons.push(format!("over {FULL_FROM} examples there is enough signal to consider full fine-tuning; LoRA remains the cheaper default and leaves less to audit"));
        Approach::FullFineTuning
    };
    match card.task.as_str() {
        "icd10" | "triage" => reasons.push("classification-style output: check the label balance and evaluate per class before trusting the headline accuracy".into()),
        "handover" | "radiology-impression" => reasons.push("generation task: evaluate with clinicians on the held-out test split, not only with overlap metrics".into()),
        "continued-pretraining" => reasons.push("continued pre-training needs far more text than instruction tuning; the thresholds above are for examples, read them as documents here".into()),
        _ => {}
    }
    if card.dedup.bytes > 0 && card.dedup.bytes_dropped * 5 > card.dedup.bytes {
        reasons.push(format!("{:.0}% of the text was duplicate or copied forward; the unique content is smaller than the note count suggests", 100.0 * card.dedup.bytes_dropped as f64 / card.dedup.bytes as f64));
    }
    Advice { approach, reasons }
}
