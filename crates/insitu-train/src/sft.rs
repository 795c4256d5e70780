//! Supervised fine-tuning: examples rendered with the model's chat template,
//! loss on completion tokens only, packing with per-sequence positions and a
//! segment mask, gradient accumulation, AdamW with warm-up and decay,
//! gradient clipping, periodic validation, `metrics.jsonl`, TensorBoard
//! events and exact-resume checkpoints. Every random choice derives from
//! `SftConfig::seed`.

use crate::chat::{ChatTemplate, Message};
use crate::checkpoint::{self, LoopState};
use crate::model::{ForwardInputs, Model};
use crate::ops::{self, IGNORE_INDEX};
use crate::optim::{clip_grad_norm, lr_factor, AdamW, AdamWConfig, Schedule};
use crate::tensorboard::EventWriter;
use crate::tokenizer::TextTokenizer;
use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// One training example before tokenisation.
#[derive(Debug, Clone, PartialEq)]
pub enum TextExample {
    /// A conversation whose last turn is the assistant's answer (the completion).
    Chat(Vec<Message>),
    /// A plain prompt and the completion to learn.
    PromptCompletion {
        /// Context the model sees but is not trained to produce.
        prompt: String,
        /// Text the model is trained to produce.
        completion: String,
    },
}

/// Token ids of one example; the first `prompt_len` carry no loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedExample {
    /// Prompt followed by completion (ending in EOS).
    pub ids: Vec<u32>,
    /// Number of leading prompt tokens.
    pub prompt_len: usize,
}

/// Reads a dataset JSONL file: each line `{"messages": [{role, content}, …]}`
/// or alpaca `{"instruction", "input", "output"}`.
pub fn read_examples(path: &Path) -> Result<Vec<TextExample>> {
    Ok(read_records(path)?.into_iter().map(|r| r.example).collect())
}

/// One dataset line: the example and where it came from (`insitu dataset
/// build` writes `doc_id` and `patient_key`; other files may lack them).
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleRecord {
    /// The example.
    pub example: TextExample,
    /// Source note id, or empty.
    pub doc_id: String,
    /// Patient pseudonym (the DP-SGD unit), or empty.
    pub patient_key: String,
}

/// Like [`read_examples`], keeping each line's `doc_id` and `patient_key`.
pub fn read_records(path: &Path) -> Result<Vec<ExampleRecord>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Error::BadFile {
            path: path.to_path_buf(),
            message: format!("line {}: {message}", i + 1),
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let provenance = |k: &str| match &v[k] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let record = |example| ExampleRecord {
            example,
            doc_id: provenance("doc_id"),
            patient_key: provenance("patient_key"),
        };
        if let Some(msgs) = v.get("messages") {
            let msgs: Vec<Message> = serde_json::from_value(msgs.clone()).map_err(|e| {
                bad(format!(
                    "field \"messages\" must be a list of {{role, content}}: {e}"
                ))
            })?;
            if msgs.last().map(|m| m.role.as_str()) != Some("assistant") {
                return Err(bad(
                    "the last message must have role \"assistant\" — it is the completion to learn"
                        .into(),
                ));
            }
            out.push(record(TextExample::Chat(msgs)));
        } else if let (Some(ins), Some(output)) = (
            v.get("instruction").and_then(|x| x.as_str()),
            v.get("output").and_then(|x| x.as_str()),
        ) {
            let input = v.get("input").and_then(|x| x.as_str()).unwrap_or("");
            let user = if input.is_empty() {
                ins.to_string()
            } else {
                format!("{ins}\n\n{input}")
            };
            out.push(record(TextExample::Chat(vec![
                Message::new("user", user),
                Message::new("assistant", output),
            ])));
        } else {
            return Err(bad(
                "expected {\"messages\": […]} or {\"instruction\", \"input\", \"output\"}".into(),
            ));
        }
    }
    Ok(out)
}

/// Turns examples into token ids the way the model was trained to see them.
pub struct PromptFormat<'a> {
    /// The model's tokenizer.
    pub tokenizer: &'a TextTokenizer,
    /// The chat template, when the model has one.
    pub chat: Option<&'a ChatTemplate>,
    /// End-of-sequence ids; the first is appended when a completion lacks one.
    pub eos_ids: Vec<u32>,
}

impl PromptFormat<'_> {
    /// Prompt and completion ids. With a chat template, the prompt is the
    /// conversation without the last turn rendered with the generation prompt
    /// and the completion is whatever the template renders after it —
    /// including its own EOS; EOS is appended only if the completion has none.
    pub fn tokenize(&self, ex: &TextExample) -> Result<TokenizedExample> {
        let (prompt, completion, specials_in_text) = self.split(ex)?;
        // Templates write BOS themselves; plain text gets the tokenizer's specials.
        let mut ids = self.tokenizer.encode(&prompt, !specials_in_text)?;
        let prompt_len = ids.len();
        let mut completion_ids = self.tokenizer.encode(&completion, false)?;
        if let Some(&eos) = self.eos_ids.first() {
            // ChatML-style templates write EOS then a newline: keep both as rendered.
            if !completion_ids.iter().any(|l| self.eos_ids.contains(l)) {
                completion_ids.push(eos);
            }
        }
        ids.extend(completion_ids);
        Ok(TokenizedExample { ids, prompt_len })
    }

    /// The prompt and completion as text, exactly as [`Self::tokenize`]
    /// renders them (leakage probes prompt the model with the former).
    pub fn render(&self, ex: &TextExample) -> Result<(String, String)> {
        self.split(ex).map(|(p, c, _)| (p, c))
    }

    /// Prompt text, completion text, and whether the text carries its own
    /// special tokens (a chat template).
    fn split(&self, ex: &TextExample) -> Result<(String, String, bool)> {
        Ok(match (ex, self.chat) {
            (TextExample::Chat(msgs), Some(t)) => {
                let n = msgs.len();
                let prompt = t.render(&msgs[..n - 1], true)?;
                let full = t.render(msgs, false)?;
                let Some(completion) = full.strip_prefix(&prompt) else {
                    return Err(Error::Template(
                        "rendering the conversation does not start with the rendering of its prompt — the template cannot separate prompt from completion".into(),
                    ));
                };
                (prompt, completion.to_string(), true)
            }
            (TextExample::Chat(msgs), None) => {
                let n = msgs.len();
                let mut prompt = String::new();
                for m in &msgs[..n - 1] {
                    prompt.push_str(&format!("{}: {}\n", m.role, m.content));
                }
                prompt.push_str("assistant: ");
                (prompt, msgs[n - 1].content.clone(), false)
            }
            (TextExample::PromptCompletion { prompt, completion }, _) => {
                (prompt.clone(), completion.clone(), false)
            }
        })
    }
}

/// One sequence row of a batch: several examples when packing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Position of each token within its own example.
    pub positions: Vec<u32>,
    /// Example index (within the row) of each token.
    pub segments: Vec<u32>,
    /// Next-token target for each position, or [`IGNORE_INDEX`].
    pub labels: Vec<u32>,
}

impl Row {
    fn push(&mut self, ex: &TokenizedExample, max_len: usize) {
        let seg = self.segments.last().map(|s| s + 1).unwrap_or(0);
        let ids = &ex.ids[..ex.ids.len().min(max_len)];
        for (p, &id) in ids.iter().enumerate() {
            self.ids.push(id);
            self.positions.push(p as u32);
            self.segments.push(seg);
            // The token at p predicts p+1; it carries loss only if p+1 is a completion token.
            let label = match ids.get(p + 1) {
                Some(&next) if p + 1 >= ex.prompt_len => next,
                _ => IGNORE_INDEX,
            };
            self.labels.push(label);
        }
    }
}

/// Lays examples (in `order`) into rows of at most `max_len` tokens: one
/// example per row, or greedily packed. Examples longer than `max_len` are
/// truncated; examples with no completion token left are dropped.
pub fn build_rows(
    examples: &[TokenizedExample],
    order: &[usize],
    max_len: usize,
    packing: bool,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut current = Row::default();
    for &i in order {
        let ex = &examples[i];
        let len = ex.ids.len().min(max_len);
        // Labels exist only if some completion token survives truncation.
        if len < 2 || ex.prompt_len >= len {
            continue;
        }
        if (!packing || current.ids.len() + len > max_len) && !current.ids.is_empty() {
            rows.push(std::mem::take(&mut current));
        }
        current.push(ex, max_len);
    }
    if !current.ids.is_empty() {
        rows.push(current);
    }
    rows
}

/// Rows padded to a rectangle, ready for the model.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Rows.
    pub b: usize,
    /// Columns.
    pub t: usize,
    /// `(b, t)` ids.
    pub ids: Vec<u32>,
    /// `(b, t)` positions.
    pub positions: Vec<u32>,
    /// `(b, t)` segments (padding gets its own segment).
    pub segments: Vec<u32>,
    /// `(b, t)` labels.
    pub labels: Vec<u32>,
    /// Non-padding tokens.
    pub tokens: usize,
}

/// Pads `rows` to the longest with `pad_id`.
pub fn collate(rows: &[Row], pad_id: u32) -> Batch {
    let t = rows.iter().map(|r| r.ids.len()).max().unwrap_or(0);
    let mut batch = Batch {
        b: rows.len(),
        t,
        ids: vec![],
        positions: vec![],
        segments: vec![],
        labels: vec![],
        tokens: 0,
    };
    for r in rows {
        let pad = t - r.ids.len();
        batch.ids.extend(
            r.ids
                .iter()
                .copied()
                .chain(std::iter::repeat_n(pad_id, pad)),
        );
        batch
            .positions
            .extend(r.positions.iter().copied().chain(0..pad as u32));
        batch.segments.extend(
            r.segments
                .iter()
                .copied()
                .chain(std::iter::repeat_n(u32::MAX, pad)),
        );
        batch.labels.extend(
            r.labels
                .iter()
                .copied()
                .chain(std::iter::repeat_n(IGNORE_INDEX, pad)),
        );
        batch.tokens += r.ids.len();
    }
    batch
}

impl Batch {
    /// Labelled (loss-carrying) tokens.
    pub fn label_count(&self) -> usize {
        self.labels.iter().filter(|l| **l != IGNORE_INDEX).count()
    }
}

/// Per-token NLL `(rows,)` for the labelled tokens of `batch`, and the flat
/// `(b·t)` index of each.
pub fn batch_nll(
    model: &Model,
    batch: &Batch,
    dropout_seed: Option<u64>,
) -> Result<(Tensor, Vec<usize>)> {
    let dev = model.device();
    let ids = Tensor::from_vec(batch.ids.clone(), (batch.b, batch.t), dev)?;
    let pos = Tensor::from_vec(batch.positions.clone(), (batch.b, batch.t), dev)?;
    let mask = ops::segment_causal_mask(&batch.segments, batch.b, batch.t, model.dtype(), dev)?;
    let hidden = model.forward(
        ForwardInputs {
            input_ids: &ids,
            positions: &pos,
            mask: Some(&mask),
        },
        dropout_seed,
    )?;
    model.token_nll(&hidden, &batch.labels)
}

/// Hyperparameters of an SFT run (TRL/transformers names where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SftConfig {
    /// Seed for shuffling, LoRA initialisation and dropout.
    pub seed: u64,
    /// Longest row in tokens.
    pub max_seq_length: usize,
    /// Rows per micro-batch.
    pub per_device_train_batch_size: usize,
    /// Micro-batches per optimizer step.
    pub gradient_accumulation_steps: usize,
    /// Passes over the training set (ignored when `max_steps` is set).
    pub num_train_epochs: f64,
    /// Optimizer steps; overrides epochs.
    pub max_steps: Option<usize>,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// Decay after warm-up.
    pub lr_scheduler_type: Schedule,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 disables).
    pub max_grad_norm: f64,
    /// Pack several examples per row.
    pub packing: bool,
    /// Validation every N steps (0: only before and after).
    pub eval_steps: usize,
    /// Checkpoint every N steps (0: never).
    pub save_steps: usize,
    /// Train every weight instead of LoRA adapters.
    pub full_finetune: bool,
    /// Recompute each decoder layer during backward instead of keeping its
    /// activations: far less memory for one extra forward pass per step.
    pub gradient_checkpointing: bool,
}

impl Default for SftConfig {
    fn default() -> Self {
        SftConfig {
            seed: 42,
            max_seq_length: 256,
            per_device_train_batch_size: 4,
            gradient_accumulation_steps: 1,
            num_train_epochs: 1.0,
            max_steps: None,
            learning_rate: 2e-4,
            warmup_steps: 0,
            lr_scheduler_type: Schedule::Cosine,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            packing: true,
            eval_steps: 0,
            save_steps: 0,
            full_finetune: false,
            gradient_checkpointing: false,
        }
    }
}

/// Everything `insitu train --config run.toml` can set: `[lora]` (PEFT
/// names), `[training]` ([`SftConfig`] names) and `[privacy]` (DP-SGD and
/// canaries, [`crate::dp::PrivacyConfig`]); all optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// LoRA hyperparameters (ignored with `training.full_finetune`).
    pub lora: crate::lora::LoraConfig,
    /// Loop hyperparameters.
    pub training: SftConfig,
    /// DP-SGD and canaries.
    pub privacy: crate::dp::PrivacyConfig,
}

/// Reported after every optimizer step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Steps done.
    pub step: usize,
    /// Steps planned.
    pub total_steps: usize,
    /// Mean completion-token loss of this step.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens per second over this run so far (this process).
    pub tokens_per_sec: f64,
    /// Estimated seconds left.
    pub eta_secs: f64,
    /// Validation loss when evaluated at this step.
    pub val_loss: Option<f64>,
    /// ε spent so far, for DP-SGD runs.
    pub epsilon: Option<f64>,
}

/// Outcome of a run, as recorded in `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Validation loss of the untouched model.
    pub val_loss_before: Option<f64>,
    /// Validation loss after training.
    pub val_loss_after: Option<f64>,
    /// Loss of the first step.
    pub train_loss_first: Option<f64>,
    /// Loss of the last step.
    pub train_loss_last: Option<f64>,
    /// Optimizer steps.
    pub steps: usize,
    /// Tokens processed.
    pub tokens: u64,
}

/// An SFT run over tokenised examples.
pub struct Trainer {
    model: Model,
    cfg: SftConfig,
    train: Vec<TokenizedExample>,
    val: Vec<TokenizedExample>,
    pad_id: u32,
    opt: AdamW,
    state: LoopState,
    micro_per_epoch: usize,
    total_steps: usize,
    dp: Option<(crate::dp::DpPlan, crate::dp::PatientGroups)>,
}

pub(crate) fn mix(seed: u64, a: u64, b: u64) -> u64 {
    // SplitMix64 finaliser over the combined words: distinct streams per (seed, a, b).
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Trainer {
    /// Prepares a run: `model` must already have LoRA attached or be fully
    /// trainable (see [`Model::attach_lora`], [`Model::make_fully_trainable`]).
    pub fn new(
        mut model: Model,
        cfg: SftConfig,
        train: Vec<TokenizedExample>,
        val: Vec<TokenizedExample>,
        pad_id: u32,
    ) -> Result<Trainer> {
        model.set_gradient_checkpointing(cfg.gradient_checkpointing);
        if model.trainable().is_empty() {
            return Err(Error::Invalid(
                "the model has no trainable parameters — attach LoRA or enable full fine-tuning"
                    .into(),
            ));
        }
        if cfg.per_device_train_batch_size == 0
            || cfg.gradient_accumulation_steps == 0
            || cfg.max_seq_length < 2
        {
            return Err(Error::Invalid(
                "sft: batch size and accumulation must be ≥ 1 and max_seq_length ≥ 2".into(),
            ));
        }
        let order: Vec<usize> = (0..train.len()).collect();
        let rows = build_rows(&train, &order, cfg.max_seq_length, cfg.packing).len();
        if rows == 0 {
            return Err(Error::Invalid(
                "sft: no training example has a completion token within max_seq_length — raise max_seq_length or check the dataset".into(),
            ));
        }
        let micro_per_epoch = rows.div_ceil(cfg.per_device_train_batch_size);
        let total_steps = match cfg.max_steps {
            Some(s) => s,
            None => ((micro_per_epoch as f64 * cfg.num_train_epochs)
                / cfg.gradient_accumulation_steps as f64)
                .ceil()
                .max(1.0) as usize,
        };
        let opt = AdamW::new(
            model.trainable().to_vec(),
            AdamWConfig {
                lr: cfg.learning_rate,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: cfg.weight_decay,
            },
        )?;
        let state = LoopState {
            step: 0,
            micro_batches: 0,
            optimizer_steps: 0,
            tokens: 0,
            train_loss_first: None,
            val_loss_before: None,
        };
        Ok(Trainer {
            model,
            cfg,
            train,
            val,
            pad_id,
            opt,
            state,
            micro_per_epoch,
            total_steps,
            dp: None,
        })
    }

    /// Switches the run to user-level DP-SGD (see [`crate::dp`]):
    /// `patient_keys[i]` is the patient of training example `i`; the run
    /// takes `plan.steps` steps and no global gradient clipping applies
    /// (each patient is clipped to `plan.max_grad_norm` instead).
    pub fn with_dp(mut self, plan: crate::dp::DpPlan, patient_keys: &[String]) -> Result<Trainer> {
        if patient_keys.len() != self.train.len() {
            return Err(Error::Invalid(format!(
                "DP-SGD: {} patient keys for {} training examples",
                patient_keys.len(),
                self.train.len()
            )));
        }
        let groups = crate::dp::PatientGroups::new(patient_keys)?;
        if groups.len() != plan.patients {
            return Err(Error::Invalid(format!(
                "DP-SGD: the plan counts {} patients, the training set has {}",
                plan.patients,
                groups.len()
            )));
        }
        self.total_steps = plan.steps;
        self.dp = Some((plan, groups));
        Ok(self)
    }

    /// What `run.json` → `dp` should record for the steps taken, for DP runs.
    pub fn dp_record(&self) -> Result<Option<crate::dp::DpRecord>> {
        self.dp
            .as_ref()
            .map(|(plan, _)| plan.record(self.state.step))
            .transpose()
    }

    /// The model being trained.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Consumes the trainer, returning the trained model.
    pub fn into_model(self) -> Model {
        self.model
    }

    /// Steps the run will take in total.
    pub fn total_steps(&self) -> usize {
        self.total_steps
    }

    /// The micro-batch at data position `micro` (epoch order reshuffled per epoch).
    fn micro_batch(&self, micro: usize) -> Batch {
        let epoch = micro / self.micro_per_epoch;
        let within = micro % self.micro_per_epoch;
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(
            self.cfg.seed,
            1,
            epoch as u64,
        )));
        let rows = build_rows(
            &self.train,
            &order,
            self.cfg.max_seq_length,
            self.cfg.packing,
        );
        let bs = self.cfg.per_device_train_batch_size;
        // Shuffled packing can yield fewer rows than the epoch length assumes.
        let start = (within * bs).min(rows.len());
        let end = ((within + 1) * bs).min(rows.len());
        collate(&rows[start..end], self.pad_id)
    }

    /// The plain loop's step: accumulated gradients of the next micro-batches
    /// (mean loss over their labelled tokens), the loss, and tokens seen.
    fn plain_gradient(&self) -> Result<(Option<GradStore>, f64, usize)> {
        let micro: Vec<Batch> = (0..self.cfg.gradient_accumulation_steps)
            .map(|k| self.micro_batch(self.state.micro_batches + k))
            .collect();
        let label_total: usize = micro.iter().map(|b| b.label_count()).sum::<usize>().max(1);
        let mut grads: Option<GradStore> = None;
        let mut loss_sum = 0.0;
        for (k, batch) in micro.iter().enumerate() {
            if batch.label_count() == 0 {
                continue;
            }
            let seed = mix(self.cfg.seed, 2, (self.state.micro_batches + k) as u64);
            let (nll, _) = batch_nll(&self.model, batch, Some(seed))?;
            let loss = (nll.sum_all()? / label_total as f64)?;
            loss_sum += loss.to_dtype(candle_core::DType::F64)?.to_vec0::<f64>()?;
            let g = loss.backward()?;
            grads = Some(match grads {
                None => g,
                Some(mut acc) => {
                    for (_, v) in self.model.trainable() {
                        if let Some(new) = g.get(v.as_tensor()) {
                            let sum = match acc.get(v.as_tensor()) {
                                Some(old) => (old + new)?,
                                None => new.clone(),
                            };
                            acc.insert(v.as_tensor(), sum);
                        }
                    }
                    acc
                }
            });
        }
        let tokens: usize = micro.iter().map(|b| b.tokens).sum();
        Ok((grads, loss_sum, tokens))
    }

    /// Mean completion-token loss on the validation examples (no dropout).
    pub fn eval_loss(&self) -> Result<Option<f64>> {
        mean_loss(&self.model, &self.val, &self.cfg, self.pad_id)
    }

    /// Restores model, optimizer and position from `run_dir`'s latest
    /// checkpoint; returns whether there was one.
    pub fn resume(&mut self, run_dir: &Path) -> Result<bool> {
        let Some(ck) = checkpoint::load_latest(run_dir)? else {
            return Ok(false);
        };
        self.model.set_trainable(&ck.trainable)?;
        self.opt
            .load_state(&ck.optimizer, ck.state.optimizer_steps)?;
        self.state = ck.state;
        truncate_metrics(&run_dir.join("metrics.jsonl"), self.state.step)?;
        Ok(true)
    }

    /// Runs to the last step, writing `metrics.jsonl`, TensorBoard events and
    /// checkpoints under `run_dir`, and calling `progress` after each step.
    pub fn run(
        &mut self,
        run_dir: &Path,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RunMetrics> {
        self.run_until(run_dir, usize::MAX, progress)
    }

    /// Like [`Trainer::run`] but stops after step `stop_after` (as if the
    /// process were killed there); used to test exact resume.
    pub fn run_until(
        &mut self,
        run_dir: &Path,
        stop_after: usize,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RunMetrics> {
        std::fs::create_dir_all(run_dir).map_err(|source| Error::Io {
            path: run_dir.to_path_buf(),
            source,
        })?;
        let metrics_path = run_dir.join("metrics.jsonl");
        let mut metrics = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .map_err(|source| Error::Io {
                path: metrics_path.clone(),
                source,
            })?;
        let mut write_metric = |v: serde_json::Value| -> Result<()> {
            writeln!(metrics, "{v}").map_err(|source| Error::Io {
                path: metrics_path.clone(),
                source,
            })
        };
        let mut tb = EventWriter::create(
            &run_dir.join("tensorboard"),
            &format!("from-step-{}", self.state.step),
        )?;
        if self.state.step == 0 && self.state.val_loss_before.is_none() {
            self.state.val_loss_before = self.eval_loss()?;
            if let Some(v) = self.state.val_loss_before {
                write_metric(serde_json::json!({"step": 0, "val_loss": v}))?;
                tb.scalar("eval/loss", 0, v as f32)?;
            }
        }
        let started = Instant::now();
        let (tokens_at_start, steps_at_start) = (self.state.tokens, self.state.step);
        let mut last_loss = None;
        while self.state.step < self.total_steps.min(stop_after) {
            let step = self.state.step;
            let (grads, loss_sum, tokens, dp_norm) = match &self.dp {
                Some((plan, groups)) => {
                    let out = crate::dp::private_step(&crate::dp::StepInputs {
                        model: &self.model,
                        examples: &self.train,
                        groups,
                        plan,
                        cfg: &self.cfg,
                        pad_id: self.pad_id,
                        step_seed: mix(self.cfg.seed, 3, step as u64),
                    })?;
                    (
                        Some(out.grads),
                        out.loss,
                        out.tokens,
                        Some(out.mean_patient_norm),
                    )
                }
                None => {
                    let (g, l, t) = self.plain_gradient()?;
                    (g, l, t, None)
                }
            };
            let lr = self.cfg.learning_rate
                * lr_factor(
                    self.cfg.lr_scheduler_type,
                    step,
                    self.cfg.warmup_steps,
                    self.total_steps,
                );
            let mut grad_norm = dp_norm.unwrap_or(0.0);
            if let Some(mut g) = grads {
                if dp_norm.is_none() {
                    grad_norm =
                        clip_grad_norm(self.model.trainable(), &mut g, self.cfg.max_grad_norm)?;
                }
                self.opt.step(&g, lr)?;
            }
            self.state.step += 1;
            self.state.micro_batches += self.cfg.gradient_accumulation_steps;
            self.state.optimizer_steps = self.opt.steps_taken();
            self.state.tokens += tokens as u64;
            self.state.train_loss_first.get_or_insert(loss_sum);
            last_loss = Some(loss_sum);
            let s = self.state.step;
            let val_loss = if self.cfg.eval_steps > 0
                && s.is_multiple_of(self.cfg.eval_steps)
                && s < self.total_steps
            {
                self.eval_loss()?
            } else {
                None
            };
            let elapsed = started.elapsed().as_secs_f64().max(1e-9);
            let tps = (self.state.tokens - tokens_at_start) as f64 / elapsed;
            let eta = elapsed / (s - steps_at_start) as f64 * (self.total_steps - s) as f64;
            let epsilon = match &self.dp {
                Some((plan, _)) => Some(plan.epsilon_after(s)?),
                None => None,
            };
            let mut line = serde_json::json!({"step": s, "loss": loss_sum, "lr": lr, "grad_norm": grad_norm, "tokens": self.state.tokens, "tokens_per_sec": tps});
            if let Some(e) = epsilon {
                line["epsilon"] = e.into();
            }
            tb.scalar("train/loss", s as i64, loss_sum as f32)?;
            tb.scalar("train/lr", s as i64, lr as f32)?;
            tb.scalar("train/grad_norm", s as i64, grad_norm as f32)?;
            if let Some(v) = val_loss {
                line["val_loss"] = v.into();
                tb.scalar("eval/loss", s as i64, v as f32)?;
            }
            write_metric(line)?;
            if self.cfg.save_steps > 0
                && s.is_multiple_of(self.cfg.save_steps)
                && s < self.total_steps
            {
                tb.flush()?;
                let (opt_state, _) = self.opt.state();
                checkpoint::save(
                    run_dir,
                    &self.model.trainable_tensors(),
                    &opt_state,
                    &self.state,
                )?;
            }
            progress(&Progress {
                step: s,
                total_steps: self.total_steps,
                loss: loss_sum,
                lr,
                grad_norm,
                tokens_per_sec: tps,
                eta_secs: eta,
                val_loss,
                epsilon,
            });
        }
        let val_after = self.eval_loss()?;
        if let Some(v) = val_after {
            write_metric(serde_json::json!({"step": self.state.step, "val_loss": v}))?;
            tb.scalar("eval/loss", self.state.step as i64, v as f32)?;
        }
        tb.flush()?;
        Ok(RunMetrics {
            val_loss_before: self.state.val_loss_before,
            val_loss_after: val_after,
            train_loss_first: self.state.train_loss_first,
            train_loss_last: last_loss.or_else(|| last_logged_loss(&run_dir.join("metrics.jsonl"))),
            steps: self.state.step,
            tokens: self.state.tokens,
        })
    }
}

/// Mean completion-token loss of `examples` under `model` (no dropout), or
/// `None` when there is nothing to score.
pub fn mean_loss(
    model: &Model,
    examples: &[TokenizedExample],
    cfg: &SftConfig,
    pad_id: u32,
) -> Result<Option<f64>> {
    let order: Vec<usize> = (0..examples.len()).collect();
    let rows = build_rows(examples, &order, cfg.max_seq_length, cfg.packing);
    let (mut sum, mut count) = (0.0, 0usize);
    for chunk in rows.chunks(cfg.per_device_train_batch_size.max(1)) {
        let batch = collate(chunk, pad_id);
        if batch.label_count() == 0 {
            continue;
        }
        let (nll, _) = batch_nll(model, &batch, None)?;
        sum += nll
            .sum_all()?
            .to_dtype(candle_core::DType::F64)?
            .to_vec0::<f64>()?;
        count += batch.label_count();
    }
    Ok((count > 0).then(|| sum / count as f64))
}

/// Drops `metrics.jsonl` lines written after checkpoint `step` (a killed run
/// may have logged steps that the resumed run will repeat).
fn truncate_metrics(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s as usize <= step)
        })
        .collect();
    let tmp = path.with_extension("jsonl.tmp");
    let body: String = kept.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&tmp, body).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn last_logged_loss(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().rev().find_map(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .ok()?
            .get("loss")?
            .as_f64()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lora::LoraConfig;
    use crate::model::tests::tiny_config;
    use candle_core::{DType, Device, D};

    fn ex(ids: &[u32], prompt_len: usize) -> TokenizedExample {
        TokenizedExample {
            ids: ids.to_vec(),
            prompt_len,
        }
    }

    #[test]
    fn only_completion_tokens_are_labelled() {
        let rows = build_rows(&[ex(&[1, 2, 3, 4, 5], 3)], &[0], 16, true);
        assert_eq!(
            rows[0].labels,
            vec![IGNORE_INDEX, IGNORE_INDEX, 4, 5, IGNORE_INDEX]
        );
    }

    #[test]
    fn packing_resets_positions_and_separates_segments() {
        let exs = [
            ex(&[1, 2, 3], 1),
            ex(&[4, 5, 6, 7], 2),
            ex(&[8, 9, 10, 11, 12], 1),
        ];
        let rows = build_rows(&exs, &[0, 1, 2], 8, true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].positions, vec![0, 1, 2, 0, 1, 2, 3]);
        assert_eq!(rows[0].segments, vec![0, 0, 0, 1, 1, 1, 1]);
        // No label crosses from one example into the next.
        assert_eq!(
            rows[0].labels,
            vec![2, 3, IGNORE_INDEX, IGNORE_INDEX, 6, 7, IGNORE_INDEX]
        );
        let unpacked = build_rows(&exs, &[0, 1, 2], 8, false);
        assert_eq!(unpacked.len(), 3);
        // An example whose completion is truncated away is dropped.
        assert!(build_rows(&[ex(&[1, 2, 3, 4], 3)], &[0], 3, false).is_empty());
    }

    #[test]
    fn packed_loss_equals_unpacked_loss() {
        let model = Model::random(&tiny_config(), 9, DType::F64, &Device::Cpu).unwrap();
        let exs = [
            ex(&[1, 2, 3, 4], 1),
            ex(&[5, 6, 7], 1),
            ex(&[8, 9, 10, 11, 12], 2),
        ];
        let total = |packing: bool| {
            let rows = build_rows(&exs, &[0, 1, 2], 16, packing);
            let batch = collate(&rows, 0);
            let (nll, _) = batch_nll(&model, &batch, None).unwrap();
            (
                nll.sum_all().unwrap().to_vec0::<f64>().unwrap(),
                batch.label_count(),
            )
        };
        let (packed, n1) = total(true);
        let (unpacked, n2) = total(false);
        assert_eq!(n1, n2);
        assert!(
            (packed - unpacked).abs() < 1e-10,
            "packed {packed} vs unpacked {unpacked}"
        );
    }

    #[test]
    fn loss_is_the_completion_log_likelihood_and_ignores_the_prompt() {
        let model = Model::random(&tiny_config(), 10, DType::F64, &Device::Cpu).unwrap();
        let e = ex(&[3, 8, 1, 4, 9, 2], 3);
        let batch = collate(&build_rows(std::slice::from_ref(&e), &[0], 16, true), 0);
        let (nll, _) = batch_nll(&model, &batch, None).unwrap();
        let ours = nll.sum_all().unwrap().to_vec0::<f64>().unwrap();
        // Reference: full logits, log-softmax, sum over the completion tokens 4, 9, 2.
        let ids = Tensor::new(&[[3u32, 8, 1, 4, 9, 2]], &Device::Cpu).unwrap();
        let pos = Tensor::new(&[[0u32, 1, 2, 3, 4, 5]], &Device::Cpu).unwrap();
        let h = model
            .forward(
                ForwardInputs {
                    input_ids: &ids,
                    positions: &pos,
                    mask: None,
                },
                None,
            )
            .unwrap();
        let lsm = candle_nn::ops::log_softmax(&model.logits(&h).unwrap(), D::Minus1)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let want = -(lsm[2][4] + lsm[3][9] + lsm[4][2]);
        assert!((ours - want).abs() < 1e-10, "{ours} vs {want}");
        // Changing prompt labels' targets cannot matter: they are not scored.
        assert_eq!(batch.label_count(), 3);
    }

    fn toy_examples() -> Vec<TokenizedExample> {
        // "question" tokens 1..4 then a fixed answer pattern the model can learn.
        (0..12u32)
            .map(|i| ex(&[1 + i % 4, 5, 6 + i % 3, 10 + i % 3, 13, 2], 3))
            .collect()
    }

    /// LoRA (with dropout, to exercise its seeding) or full fine-tuning.
    fn trainer(seed: u64, full: bool) -> Trainer {
        let mut model = Model::random(&tiny_config(), 11, DType::F32, &Device::Cpu).unwrap();
        if full {
            model.make_fully_trainable().unwrap();
        } else {
            let all = crate::lora::KNOWN_TARGET_MODULES.map(String::from).to_vec();
            let lora = LoraConfig {
                r: 4,
                lora_alpha: 8.0,
                lora_dropout: 0.1,
                target_modules: all,
                use_rslora: false,
                ..LoraConfig::default()
            };
            model.attach_lora(&lora, seed).unwrap();
        }
        let cfg = SftConfig {
            seed,
            max_seq_length: 16,
            per_device_train_batch_size: 2,
            gradient_accumulation_steps: 2,
            max_steps: Some(8),
            learning_rate: 1e-1,
            warmup_steps: 2,
            save_steps: 3,
            eval_steps: 4,
            ..SftConfig::default()
        };
        Trainer::new(model, cfg, toy_examples(), toy_examples()[..4].to_vec(), 0).unwrap()
    }

    fn losses(dir: &Path) -> Vec<(u64, f64)> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                Some((v["step"].as_u64()?, v.get("loss")?.as_f64()?))
            })
            .collect()
    }

    #[test]
    fn full_fine_tuning_learns_a_pattern() {
        // A random model's tiny frozen LM head limits what LoRA can show in 8
        // steps; full fine-tuning demonstrates the loop learns.
        let dir = tempfile::tempdir().unwrap();
        let m = trainer(5, true).run(dir.path(), &mut |_| {}).unwrap();
        assert!(
            m.val_loss_after.unwrap() < m.val_loss_before.unwrap() * 0.7,
            "{m:?}"
        );
    }

    #[test]
    fn lora_run_reports_progress_and_resume_is_exact() {
        let full_dir = tempfile::tempdir().unwrap();
        let mut t = trainer(5, false);
        let mut seen = Vec::new();
        let m = t.run(full_dir.path(), &mut |p| seen.push(p.step)).unwrap();
        assert_eq!(seen, (1..=8).collect::<Vec<_>>());
        assert!(
            m.train_loss_last.unwrap() < m.train_loss_first.unwrap(),
            "{m:?}"
        );
        assert!(
            full_dir
                .path()
                .join("tensorboard")
                .read_dir()
                .unwrap()
                .count()
                == 1
        );

        let cut_dir = tempfile::tempdir().unwrap();
        trainer(5, false)
            .run_until(cut_dir.path(), 4, &mut |_| {})
            .unwrap(); // "killed" after step 4, checkpoint at 3
        let mut resumed = trainer(5, false);
        assert!(resumed.resume(cut_dir.path()).unwrap());
        let m2 = resumed.run(cut_dir.path(), &mut |_| {}).unwrap();
        assert_eq!(
            losses(full_dir.path()),
            losses(cut_dir.path()),
            "resumed run diverged"
        );
        assert_eq!(m.val_loss_after, m2.val_loss_after);
        assert_eq!(m.train_loss_first, m2.train_loss_first);
        assert_eq!(m.tokens, m2.tokens);
    }
}
