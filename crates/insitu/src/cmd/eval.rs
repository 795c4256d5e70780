//! `insitu eval RUN`: what training changed, measured on patients the model
//! never saw. Scores the base model and the base model + adapter on the same
//! held-out split (mean completion-token loss and perplexity), and for the
//! first examples lets both answer greedily and compares each answer with the
//! reference (ROUGE-L F1 over words, exact match).
//!
//! `eval.json` holds figures only (it may be quoted in the model card);
//! the prompts and answers, which are de-identified note text, go to
//! `eval-samples.jsonl`, which never leaves the appliance.

use crate::Global;
use anyhow::Context;
use insitu_train::generate::{generate, SamplingConfig};
use insitu_train::hf::ModelDir;
use insitu_train::model::Model;
use insitu_train::sft::{self, PromptFormat, SftConfig, TextExample, TokenizedExample};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `insitu eval`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Measure what training did, on patients the model never saw.\n\n\
Scores the base model and the base model + the run's adapter on the dataset's validation \
split (or --split test): mean completion-token loss and perplexity, then greedy answers to \
the first --generate prompts compared with the reference answer (ROUGE-L F1 over words and \
exact match). Writes <run dir>/eval.json (figures only) and eval-samples.jsonl (prompts and \
answers: de-identified note text, never exported).\n\n\
Examples:\n  insitu eval demo-run-s7 --home ./insitu-home\n  \
insitu eval ./runs/first --split test --generate 32 --show 3"
)]
pub struct Args {
    /// Run id (a directory under <home>/runs), or a path to a run directory.
    pub run: String,
    /// Which held-out split to score: validation or test.
    #[arg(long, default_value = "validation", value_parser = ["validation", "test"])]
    pub split: String,
    /// At most this many examples are scored for loss.
    #[arg(long, default_value_t = 200)]
    pub max_examples: usize,
    /// Greedy answers are generated for this many examples (0: none).
    #[arg(long, default_value_t = 8)]
    pub generate: usize,
    /// Longest generated answer, in tokens.
    #[arg(long, default_value_t = 96)]
    pub max_new_tokens: usize,
    /// Print this many examples side by side (prompt, reference, base, adapter).
    #[arg(long, default_value_t = 1)]
    pub show: usize,
    /// Print eval.json to stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// One model's figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelScores {
    /// Mean completion-token negative log-likelihood (nats).
    pub loss: Option<f64>,
    /// exp(loss).
    pub perplexity: Option<f64>,
    /// Mean ROUGE-L F1 of greedy answers against the reference.
    pub rouge_l_f1: Option<f64>,
    /// Share of greedy answers equal to the reference (whitespace-normalised).
    pub exact_match: Option<f64>,
}

/// `eval.json`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Run id.
    pub run_id: String,
    /// Split scored.
    pub split: String,
    /// Examples scored for loss.
    pub examples_scored: usize,
    /// Examples answered greedily.
    pub examples_generated: usize,
    /// Longest answer in tokens.
    pub max_new_tokens: usize,
    /// The untouched base model.
    pub base: ModelScores,
    /// Base model + adapter.
    pub adapter: ModelScores,
}

/// A run directory with its base model, the base model + adapter, and the
/// prompt format training used. Loading is shared by every command that
/// judges a finished run.
pub(crate) struct LoadedRun {
    /// The run directory.
    pub dir: PathBuf,
    /// Run id (the directory name).
    pub run_id: String,
    /// `run.json`.
    pub record: serde_json::Value,
    /// The base model directory (tokenizer, template, config).
    pub model_dir: ModelDir,
    /// The untouched base model.
    pub base: Model,
    /// The base model with the run's adapter.
    pub adapted: Model,
    /// The dataset directory the run trained on.
    pub dataset: PathBuf,
}

impl LoadedRun {
    /// Opens `run` (an id under the home's runs directory, or a path).
    pub(crate) fn open(run: &str, g: &Global) -> anyhow::Result<LoadedRun> {
        let dir = super::leakage::run_dir(run, g);
        let record_path = dir.join("run.json");
        let text = std::fs::read_to_string(&record_path).map_err(|e| {
            crate::exit::input(format!(
                "{}: {e} — name a finished run (see `insitu status`) or a run directory",
                record_path.display()
            ))
        })?;
        let record: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", record_path.display()))?;
        let field = |a: &str, b: &str| -> anyhow::Result<PathBuf> {
            record[a][b].as_str().map(PathBuf::from).ok_or_else(|| {
                crate::exit::input(format!(
                    "{}: field {a}.{b} is missing",
                    record_path.display()
                ))
            })
        };
        let base_path = field("base_model", "path")?;
        let mut dataset = field("dataset", "dir")?;
        if dataset.is_relative() {
            dataset = g.home_dir().join(dataset);
        }
        let model_dir = ModelDir::open(&base_path)
            .with_context(|| format!("opening the base model {}", base_path.display()))?;
        let base = Model::from_dir(&model_dir)?;
        let mut adapted = Model::from_dir(&model_dir)?;
        let (lora, tensors) = insitu_train::peft::read_adapter(&dir.join("adapter"))
            .with_context(|| format!("reading the adapter in {}", dir.display()))?;
        adapted.load_lora(&lora, &tensors)?;
        let run_id = record["run_id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        Ok(LoadedRun {
            dir,
            run_id,
            record,
            model_dir,
            base,
            adapted,
            dataset,
        })
    }

    /// The prompt format the run trained with.
    pub(crate) fn format(&self) -> PromptFormat<'_> {
        PromptFormat {
            tokenizer: &self.model_dir.tokenizer,
            chat: self.model_dir.chat.as_ref(),
            eos_ids: self.model_dir.eos_ids(),
        }
    }

    /// The id padding uses (as training chose it).
    pub(crate) fn pad_id(&self) -> u32 {
        self.model_dir
            .config
            .pad_token_id
            .or(self.model_dir.eos_ids().first().copied())
            .unwrap_or(0)
    }
}

/// Words for ROUGE-L: lowercase alphanumeric runs.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// ROUGE-L F1 (β = 1) of `candidate` against `reference`, over words.
pub fn rouge_l_f1(candidate: &str, reference: &str) -> f64 {
    let (c, r) = (words(candidate), words(reference));
    if c.is_empty() || r.is_empty() {
        return if c.is_empty() && r.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    // Longest common subsequence, one row at a time.
    let mut prev = vec![0usize; r.len() + 1];
    for cw in &c {
        let mut row = vec![0usize; r.len() + 1];
        for (j, rw) in r.iter().enumerate() {
            row[j + 1] = if cw == rw {
                prev[j] + 1
            } else {
                row[j].max(prev[j + 1])
            };
        }
        prev = row;
    }
    let lcs = prev[r.len()] as f64;
    if lcs == 0.0 {
        return 0.0;
    }
    let (p, rec) = (lcs / c.len() as f64, lcs / r.len() as f64);
    2.0 * p * rec / (p + rec)
}

fn normalised(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn reference_of(ex: &TextExample) -> String {
    match ex {
        TextExample::Chat(m) => m.last().map(|m| m.content.clone()).unwrap_or_default(),
        TextExample::PromptCompletion { completion, .. } => completion.clone(),
    }
}

fn prompt_of(ex: &TextExample) -> String {
    match ex {
        TextExample::Chat(m) => m[..m.len().saturating_sub(1)]
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        TextExample::PromptCompletion { prompt, .. } => prompt.clone(),
    }
}

/// A greedy answer to the example's prompt, decoded without special tokens.
fn answer(
    model: &Model,
    format: &PromptFormat<'_>,
    ex: &TokenizedExample,
    max_new_tokens: usize,
) -> anyhow::Result<String> {
    let prompt = &ex.ids[..ex.prompt_len.max(1)];
    let out = generate(
        model,
        prompt,
        &format.eos_ids,
        &SamplingConfig::greedy(max_new_tokens),
    )?;
    Ok(format.tokenizer.decode(&out, true)?.trim().to_string())
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Runs `insitu eval`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let run = LoadedRun::open(&args.run, g)?;
    let split_path = run.dataset.join(format!("{}.jsonl", args.split));
    let examples = sft::read_examples(&split_path).map_err(|e| {
        crate::exit::input(format!(
            "{e} — the run's dataset {} has no readable {} split",
            run.dataset.display(),
            args.split
        ))
    })?;
    let examples: Vec<TextExample> = examples.into_iter().take(args.max_examples).collect();
    if examples.is_empty() {
        return Err(crate::exit::input(format!(
            "{} holds no examples — nothing to evaluate on",
            split_path.display()
        )));
    }
    let format = run.format();
    let tokenized: Vec<TokenizedExample> = examples
        .iter()
        .map(|e| format.tokenize(e))
        .collect::<Result<_, _>>()?;
    let max_seq_length = run.record["hyperparameters"]["max_seq_length"]
        .as_u64()
        .map(|n| n as usize)
        .unwrap_or(SftConfig::default().max_seq_length);
    let loss_cfg = SftConfig {
        max_seq_length,
        packing: false,
        ..SftConfig::default()
    };
    let pad = run.pad_id();
    eprintln!(
        "scoring {} {} examples with the base model and with the adapter",
        tokenized.len(),
        args.split
    );
    let base_loss = sft::mean_loss(&run.base, &tokenized, &loss_cfg, pad)?;
    let adapter_loss = sft::mean_loss(&run.adapted, &tokenized, &loss_cfg, pad)?;

    let n_gen = args.generate.min(examples.len());
    let bar = super::train::progress_bar(n_gen, g.quiet, "answering");
    let samples_path = run.dir.join("eval-samples.jsonl");
    let tmp = run.dir.join("eval-samples.jsonl.tmp");
    let mut samples = std::io::BufWriter::new(
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
    );
    let (mut rouge_base, mut rouge_adapter, mut exact_base, mut exact_adapter) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut shown = Vec::new();
    for (ex, tok) in examples.iter().zip(&tokenized).take(n_gen) {
        let reference = reference_of(ex);
        let base_answer = answer(&run.base, &format, tok, args.max_new_tokens)?;
        let adapter_answer = answer(&run.adapted, &format, tok, args.max_new_tokens)?;
        rouge_base.push(rouge_l_f1(&base_answer, &reference));
        rouge_adapter.push(rouge_l_f1(&adapter_answer, &reference));
        let same = |a: &str| f64::from(u8::from(normalised(a) == normalised(&reference)));
        exact_base.push(same(&base_answer));
        exact_adapter.push(same(&adapter_answer));
        let line = serde_json::json!({
            "prompt": prompt_of(ex), "reference": reference,
            "base": base_answer, "adapter": adapter_answer,
        });
        writeln!(samples, "{line}")?;
        if shown.len() < args.show {
            shown.push(line);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    samples.flush()?;
    drop(samples);
    std::fs::rename(&tmp, &samples_path)
        .with_context(|| format!("writing {}", samples_path.display()))?;

    let scores = |loss: Option<f64>, rouge: &[f64], exact: &[f64]| ModelScores {
        loss,
        perplexity: loss.map(f64::exp),
        rouge_l_f1: mean(rouge),
        exact_match: mean(exact),
    };
    let report = EvalReport {
        run_id: run.run_id.clone(),
        split: args.split.clone(),
        examples_scored: tokenized.len(),
        examples_generated: n_gen,
        max_new_tokens: args.max_new_tokens,
        base: scores(base_loss, &rouge_base, &exact_base),
        adapter: scores(adapter_loss, &rouge_adapter, &exact_adapter),
    };
    write_json_atomically(&run.dir.join("eval.json"), &report)?;
    record_in_store(g, &report)?;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_summary(&report, &shown);
    println!(
        "wrote {} (figures) and {} (answers; stays on the appliance)",
        run.dir.join("eval.json").display(),
        samples_path.display()
    );
    println!("next: insitu leakage {}", args.run);
    Ok(())
}

fn write_json_atomically(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// With a home, the evaluation is audited (figures only).
fn record_in_store(g: &Global, report: &EvalReport) -> anyhow::Result<()> {
    let home = g.home_dir();
    if !insitu_store::Home::new(&home).db_path().is_file() {
        return Ok(());
    }
    let mut store = crate::cmd::init::open_store(g)?;
    store.tx(|tx| {
        tx.audit(
            &g.actor(),
            "train.eval",
            &report.run_id,
            serde_json::to_value(report).unwrap_or_default(),
        )?;
        Ok::<_, insitu_store::StoreError>(())
    })?;
    Ok(())
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "—".into())
}

fn print_summary(r: &EvalReport, shown: &[serde_json::Value]) {
    println!(
        "evaluation of {} on {} held-out {} examples ({} answered greedily)",
        r.run_id, r.examples_scored, r.split, r.examples_generated
    );
    println!("{:<22} {:>12} {:>12}", "", "base model", "+ adapter");
    let rows = [
        ("loss (nats/token)", r.base.loss, r.adapter.loss, 4),
        ("perplexity", r.base.perplexity, r.adapter.perplexity, 2),
        ("ROUGE-L F1", r.base.rouge_l_f1, r.adapter.rouge_l_f1, 3),
        ("exact match", r.base.exact_match, r.adapter.exact_match, 3),
    ];
    for (name, b, a, d) in rows {
        println!("{name:<22} {:>12} {:>12}", fmt(b, d), fmt(a, d));
    }
    for (i, s) in shown.iter().enumerate() {
        let field = |k: &str| s[k].as_str().unwrap_or_default().to_string();
        println!(
            "\nexample {} — prompt:\n{}",
            i + 1,
            indent(&clip(&field("prompt"), 600))
        );
        println!("reference:\n{}", indent(&field("reference")));
        println!("base model answers:\n{}", indent(&field("base")));
        println!("with the adapter:\n{}", indent(&field("adapter")));
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{} …", &text[..i]),
        None => text.to_string(),
    }
}

fn indent(text: &str) -> String {
    if text.is_empty() {
        return "    (empty)".into();
    }
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rouge_l_counts_the_longest_common_word_subsequence() {
        assert_eq!(
            rouge_l_f1("no acute abnormality", "No acute abnormality."),
            1.0
        );
        // LCS "no effusion" = 2; precision 2/3, recall 2/4.
        let f = rouge_l_f1("no pleural effusion", "no effusion is seen");
        let (p, r) = (2.0 / 3.0, 2.0 / 4.0);
        assert!((f - 2.0 * p * r / (p + r)).abs() < 1e-12);
        assert_eq!(rouge_l_f1("cardiomegaly", "no effusion"), 0.0);
        assert_eq!(rouge_l_f1("", "no effusion"), 0.0);
        assert_eq!(rouge_l_f1("", ""), 1.0);
    }

    #[test]
    fn clip_respects_character_boundaries() {
        assert_eq!(clip("ééé", 2), "éé …");
        assert_eq!(clip("abc", 5), "abc");
    }
}
