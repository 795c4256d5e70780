//! `insitu leakage RUN`: attacks a trained run the way a sponsor holding the
//! base model could — loss-ratio and Min-K% membership inference (training
//! notes against held-out patients' notes), verbatim extraction from
//! prefixes, and identifiers in sampled generations — and writes
//! `leakage.json` (read by the gate) and a readable report.
//!
//! This module only adapts the trained model (insitu-train) to the suite's
//! two traits (insitu-privacy) and the scanner (insitu-deid).

use crate::Global;
use anyhow::Context;
use insitu_privacy::Canary;
use insitu_privacy::{
    run_leakage_suite, write_report, Generator, LossOracle, NoteText, SuiteConfig, SuiteData,
    SuiteModels,
};
use insitu_train::dp::CanaryInsertion;
use insitu_train::generate::{generate, token_logprobs, SamplingConfig};
use insitu_train::hf::ModelDir;
use insitu_train::model::Model;
use insitu_train::sft::{read_records, PromptFormat, TextExample, TokenizedExample};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Arguments of `insitu leakage`.
#[derive(clap::Args, Debug)]
#[command(long_about = "Attack a trained run before anything can leave.\n\n\
Members are the run's training examples; non-members are the test split, whose patients \
were never trained on. Writes <run dir>/leakage.json (the gate reads it) and \
leakage.md + roc.png for the IG officer.\n\n\
Example:\n  insitu leakage run-20261123T101500-s7 --home ./insitu-home")]
pub struct Args {
    /// Run id (a directory under <home>/runs), or a path to a run directory.
    pub run: String,
    /// At most this many member and this many non-member examples.
    #[arg(long, default_value_t = 200)]
    pub max_examples: usize,
    /// Longest sequence scored, in tokens.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    /// Seed for bootstrap, sampling and candidate selection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Random candidate secrets scored per canary to estimate its rank
    /// (exposure = log2|R| − log2 rank, |R| = 10^7).
    #[arg(long, default_value_t = 1000)]
    pub canary_candidates: usize,
}

/// A model scoring texts; texts that are known training-format completions
/// are scored given their prompt (as they were trained), others as plain text.
struct Scorer<'a> {
    model: &'a Model,
    format: &'a PromptFormat<'a>,
    examples: &'a HashMap<String, TokenizedExample>,
    max_tokens: usize,
}

impl Scorer<'_> {
    fn logprobs(&self, text: &str) -> anyhow::Result<Vec<f64>> {
        let (ids, from) = match self.examples.get(text) {
            Some(ex) => (ex.ids.clone(), ex.prompt_len.max(1)),
            None => (self.format.tokenizer.encode(text, true)?, 1),
        };
        let ids: Vec<u32> = ids.into_iter().take(self.max_tokens).collect();
        Ok(token_logprobs(self.model, &ids, from)?
            .into_iter()
            .map(f64::from)
            .collect())
    }
}

impl LossOracle for Scorer<'_> {
    fn token_logprobs(&self, texts: &[String]) -> Vec<Vec<f64>> {
        texts
            .iter()
            .map(|t| {
                self.logprobs(t).unwrap_or_else(|e| {
                    tracing::warn!("scoring failed: {e:#}");
                    Vec::new()
                })
            })
            .collect()
    }
}

struct Sampler<'a> {
    model: &'a Model,
    format: &'a PromptFormat<'a>,
}

impl Generator for Sampler<'_> {
    fn generate(&self, prompt: &str, max_tokens: usize, seed: u64) -> String {
        let run = || -> anyhow::Result<String> {
            // As in training: a chat template writes its own specials.
            let ids = self
                .format
                .tokenizer
                .encode(prompt, self.format.chat.is_none())?;
            let cfg = SamplingConfig {
                max_new_tokens: max_tokens,
                temperature: 1.0,
                top_p: 0.95,
                seed,
            };
            let out = generate(self.model, &ids, &self.format.eos_ids, &cfg)?;
            Ok(self.format.tokenizer.decode(&out, true)?)
        };
        run().unwrap_or_else(|e| {
            tracing::warn!("generation failed: {e:#}");
            String::new()
        })
    }
}

/// The run directory named by `run` (an id under the home, or a path).
pub(crate) fn run_dir(run: &str, g: &Global) -> PathBuf {
    let p = Path::new(run);
    if p.join("run.json").is_file() {
        return p.to_path_buf();
    }
    insitu_store::Home::new(&g.home_dir()).runs_dir().join(run)
}

fn completion_text(ex: &TextExample) -> String {
    match ex {
        TextExample::Chat(m) => m.last().map(|m| m.content.clone()).unwrap_or_default(),
        TextExample::PromptCompletion { completion, .. } => completion.clone(),
    }
}

/// Reads a split (one pass over the file): each example as the suite sees
/// it — id, patient key, completion text, rendered prompt as context — and
/// its tokens.
fn read_split(
    path: &Path,
    format: &PromptFormat<'_>,
    max: usize,
) -> anyhow::Result<Vec<(NoteText, TokenizedExample)>> {
    let records = read_records(path).map_err(|e| crate::exit::input(e.to_string()))?;
    let mut out = Vec::new();
    for (i, r) in records.into_iter().enumerate().take(max) {
        let tok = format.tokenize(&r.example)?;
        let (context, _) = format.render(&r.example)?;
        out.push((
            NoteText {
                id: if r.doc_id.is_empty() {
                    format!("{}:{}", path.display(), i + 1)
                } else {
                    r.doc_id
                },
                patient: if r.patient_key.is_empty() {
                    format!("example-{i}")
                } else {
                    r.patient_key
                },
                text: completion_text(&r.example),
                context,
            },
            tok,
        ));
    }
    Ok(out)
}

/// The canaries inserted by `insitu train` (`[privacy] canaries`), read from
/// the run directory's secret file; none when the run had no canaries.
fn read_canaries(run_dir: &Path) -> anyhow::Result<Vec<Canary>> {
    let path = run_dir.join(insitu_train::dp::CANARY_FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let inserted: CanaryInsertion = serde_json::from_str(&text).map_err(|e| {
        crate::exit::input(format!(
            "{}: {e} — the canary file was written by `insitu train`; do not edit it",
            path.display()
        ))
    })?;
    Ok(inserted.canaries)
}

/// Runs `insitu leakage`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let dir = run_dir(&args.run, g);
    let run_json_path = dir.join("run.json");
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&run_json_path).map_err(|e| {
            crate::exit::input(format!(
                "{}: {e} — name a finished run (see `insitu status`) or a run directory",
                run_json_path.display()
            ))
        })?)
        .with_context(|| format!("parsing {}", run_json_path.display()))?;
    let field = |a: &str, b: &str| -> anyhow::Result<PathBuf> {
        run_json[a][b].as_str().map(PathBuf::from).ok_or_else(|| {
            crate::exit::input(format!(
                "{}: field {a}.{b} is missing",
                run_json_path.display()
            ))
        })
    };
    let base_path = field("base_model", "path")?;
    let dataset = field("dataset", "dir")?;

    let model_dir = ModelDir::open(&base_path)
        .with_context(|| format!("opening the base model {}", base_path.display()))?;
    let eos_ids = model_dir.eos_ids();
    let format = PromptFormat {
        tokenizer: &model_dir.tokenizer,
        chat: model_dir.chat.as_ref(),
        eos_ids,
    };
    let base = Model::from_dir(&model_dir)?;
    let mut adapted = Model::from_dir(&model_dir)?;
    let (lora, tensors) = insitu_train::peft::read_adapter(&dir.join("adapter"))
        .with_context(|| format!("reading the adapter in {}", dir.display()))?;
    adapted.load_lora(&lora, &tensors)?;

    let members = read_split(&dataset.join("train.jsonl"), &format, args.max_examples)?;
    let nonmembers = read_split(&dataset.join("test.jsonl"), &format, args.max_examples)?;
    let examples: HashMap<String, TokenizedExample> = members
        .iter()
        .chain(&nonmembers)
        .map(|(n, t)| (n.text.clone(), t.clone()))
        .collect();
    let member_notes: Vec<NoteText> = members.into_iter().map(|m| m.0).collect();
    let nonmember_notes: Vec<NoteText> = nonmembers.into_iter().map(|m| m.0).collect();
    eprintln!(
        "attacking {}: {} training examples vs {} held-out examples",
        dir.display(),
        member_notes.len(),
        nonmember_notes.len()
    );

    let base_scorer = Scorer {
        model: &base,
        format: &format,
        examples: &examples,
        max_tokens: args.max_tokens,
    };
    let adapter_scorer = Scorer {
        model: &adapted,
        format: &format,
        examples: &examples,
        max_tokens: args.max_tokens,
    };
    let sampler = Sampler {
        model: &adapted,
        format: &format,
    };
    let canaries = read_canaries(&dir)?;
    let config = SuiteConfig {
        seed: args.seed,
        canary_candidates: args.canary_candidates,
        ..SuiteConfig::default()
    };
    let report = run_leakage_suite(
        &SuiteModels {
            base: &base_scorer,
            adapter: &adapter_scorer,
            generator: &sampler,
        },
        &SuiteData {
            members: &member_notes,
            nonmembers: &nonmember_notes,
            canaries: &canaries,
        },
        &super::export::deid_scanner,
        &config,
    )?;
    // Show the home's policy thresholds beside each figure (defaults without a home).
    let policy =
        insitu_release::Policy::load(&insitu_store::Home::new(&g.home_dir()).policy_path())
            .unwrap_or_default();
    let written = write_report(&report, &super::gate::report_limits(&policy), &dir)?;
    let s = &report.summary;
    println!(
        "membership inference: AUC max {:.3}, TPR@0.1%FPR max {:.3}, TPR@1%FPR max {:.3}",
        s.mia_auc_max, s.mia_tpr_at_0_1pct_fpr_max, s.mia_tpr_at_1pct_fpr_max
    );
    println!(
        "extraction: verbatim continuation rate {:.3}; PHI findings in generations: {}",
        s.extraction_verbatim_rate, s.phi_findings
    );
    if let Some(e) = s.canary_exposure_max {
        println!(
            "canaries: {} scored against {} candidates each, highest exposure {e:.2} bits of {:.2}",
            report.canaries.len(),
            args.canary_candidates,
            report
                .canaries
                .first()
                .map(|c| c.max_exposure)
                .unwrap_or(0.0)
        );
    }
    println!(
        "wrote {} and {}",
        written.json.display(),
        written.markdown.display()
    );
    println!("next: insitu gate {}", args.run);
    Ok(())
}
