//! The built-in tiny base model: a byte-level BPE tokenizer trained on the
//! given texts, a small Llama-shaped decoder with random initialisation, and
//! a short full-parameter pretraining on the same texts so that later
//! fine-tuning starts from a model that already knows the language of notes.
//! Written as an ordinary Hugging Face directory, so everything downstream
//! loads it through the same path as a sponsor's model.

use crate::config::{LlamaConfig, TokenIds};
use crate::hf::{self, GenerationConfig};
use crate::model::Model;
use crate::optim::Schedule;
use crate::sft::{Progress, RunMetrics, SftConfig, TokenizedExample, Trainer};
use crate::tokenizer::{self, TextTokenizer};
use crate::{Error, Result};
use candle_core::{DType, Device};
use std::path::Path;

/// Special tokens, in id order: document end / padding, turn start, turn end (EOS).
pub const TINY_SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// ChatML, as SmolLM2 and Qwen2 use it.
pub const TINY_CHAT_TEMPLATE: &str = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// The tiny preset's architecture for a given vocabulary: hidden 128,
/// 4 layers, 4 query heads / 2 KV heads (head dim 32), MLP 384, 512 positions,
/// tied embeddings (about 0.8M parameters besides the embeddings).
pub fn tiny_config(vocab_size: usize) -> LlamaConfig {
    LlamaConfig {
        model_type: "llama".into(),
        architectures: vec!["LlamaForCausalLM".into()],
        vocab_size,
        hidden_size: 128,
        intermediate_size: 384,
        num_hidden_layers: 4,
        num_attention_heads: 4,
        num_key_value_heads: Some(2),
        head_dim: None,
        max_position_embeddings: 512,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        rope_scaling: None,
        tie_word_embeddings: true,
        attention_bias: false,
        mlp_bias: false,
        hidden_act: "silu".into(),
        bos_token_id: None,
        eos_token_id: Some(TokenIds::One(2)),
        pad_token_id: Some(0),
        torch_dtype: Some("float32".into()),
    }
}

/// How the tiny model is built.
#[derive(Debug, Clone)]
pub struct TinyPreset {
    /// Seed for the tokenizer-independent choices (init, data order).
    pub seed: u64,
    /// Target vocabulary size of the BPE tokenizer.
    pub vocab_size: usize,
    /// Pretraining optimizer steps.
    pub steps: usize,
    /// Tokens per packed row.
    pub seq_len: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
}

impl Default for TinyPreset {
    fn default() -> Self {
        TinyPreset {
            seed: 0,
            vocab_size: 2048,
            steps: 200,
            seq_len: 256,
            batch_size: 4,
            learning_rate: 3e-3,
        }
    }
}

/// A built tiny model before it is written.
pub struct TinyBase {
    /// The pretrained model.
    pub model: Model,
    /// Its tokenizer.
    pub tokenizer: TextTokenizer,
    /// Pretraining outcome (validation = the last 5% of texts).
    pub metrics: RunMetrics,
}

/// Trains the tokenizer, initialises and pretrains the model on `texts`.
pub fn build_tiny(
    texts: &[String],
    preset: &TinyPreset,
    progress: &mut dyn FnMut(&Progress),
    work_dir: &Path,
) -> Result<TinyBase> {
    if texts.len() < 20 {
        return Err(Error::Invalid(format!(
            "tiny preset: {} texts is too few to pretrain on — pass at least 20",
            texts.len()
        )));
    }
    let tok = tokenizer::train_bpe(texts, preset.vocab_size, &TINY_SPECIAL_TOKENS)?;
    let eos = tok
        .token_to_id("<|im_end|>")
        .ok_or_else(|| Error::Tokenizer("trained tokenizer lacks <|im_end|>".into()))?;
    let pad = tok
        .token_to_id("<|endoftext|>")
        .ok_or_else(|| Error::Tokenizer("trained tokenizer lacks <|endoftext|>".into()))?;
    let mut cfg = tiny_config(tok.vocab_size());
    cfg.eos_token_id = Some(TokenIds::One(eos));
    cfg.pad_token_id = Some(pad);
    let mut model = Model::random(&cfg, preset.seed, DType::F32, &Device::Cpu)?;
    model.make_fully_trainable()?;
    let mut examples = Vec::with_capacity(texts.len());
    for t in texts {
        let mut ids = tok.encode(t, false)?;
        ids.push(pad); // document boundary, learned as "note ends here"
        examples.push(TokenizedExample { ids, prompt_len: 0 });
    }
    let n_val = (examples.len() / 20).max(1);
    let val = examples.split_off(examples.len() - n_val);
    let sft = SftConfig {
        seed: preset.seed,
        max_seq_length: preset.seq_len,
        per_device_train_batch_size: preset.batch_size,
        gradient_accumulation_steps: 1,
        max_steps: Some(preset.steps),
        learning_rate: preset.learning_rate,
        warmup_steps: (preset.steps / 20).max(1),
        lr_scheduler_type: Schedule::Cosine,
        weight_decay: 0.01,
        max_grad_norm: 1.0,
        packing: true,
        eval_steps: 0,
        save_steps: 0,
        full_finetune: true,
        gradient_checkpointing: false,
        num_train_epochs: 1.0,
    };
    let mut trainer = Trainer::new(model, sft, examples, val, pad)?;
    let metrics = trainer.run(work_dir, progress)?;
    Ok(TinyBase {
        model: trainer.into_model(),
        tokenizer: tok,
        metrics,
    })
}

/// Writes the built model as an HF directory at `out` (atomically).
pub fn write_tiny(out: &Path, base: &TinyBase, preset: &TinyPreset) -> Result<()> {
    let cfg = base.model.config();
    let generation = GenerationConfig {
        bos_token_id: None,
        eos_token_id: cfg.eos_token_id.clone(),
        pad_token_id: cfg.pad_token_id,
        ..GenerationConfig::default()
    };
    let m = &base.metrics;
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "n/a".into());
    let card = format!(
        "# insitu tiny base model\n\nBuilt by `insitu base init --preset tiny --seed {seed}` for tests and the demo; \
         trained only on synthetic notes from insitu-synth. Not a clinical model.\n\n\
         - architecture: Llama, hidden {h}, {l} layers, {nh} heads / {kv} KV heads, MLP {i}, vocab {v}, {p} positions, tied embeddings\n\
         - tokenizer: byte-level BPE trained on the same synthetic notes; ChatML chat template\n\
         - pretraining: {steps} steps of {bs}x{seq} tokens, {tokens} tokens in all\n\
         - held-out loss: {before} at random init, {after} after pretraining\n",
        seed = preset.seed,
        h = cfg.hidden_size,
        l = cfg.num_hidden_layers,
        nh = cfg.num_attention_heads,
        kv = cfg.kv_heads(),
        i = cfg.intermediate_size,
        v = cfg.vocab_size,
        p = cfg.max_position_embeddings,
        steps = m.steps,
        bs = preset.batch_size,
        seq = preset.seq_len,
        tokens = m.tokens,
        before = fmt(m.val_loss_before),
        after = fmt(m.val_loss_after),
    );
    hf::write_model_dir(
        out,
        cfg,
        &base.model.merged_tensors()?,
        &base.tokenizer,
        Some(TINY_CHAT_TEMPLATE),
        &generation,
        &card,
    )
}
