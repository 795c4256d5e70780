//! `cargo xtask bench qlora`: the same short LoRA run with the frozen base
//! projections stored densely (f32), in NF4 and in NF4 with double-quantised
//! scales, side by side: base size, peak memory, speed and validation loss.
//!
//! ```text
//! cargo xtask bench qlora [--shape tiny|smollm2-135m] [--model DIR]
//!     [--steps N] [--seq 128] [--batch 4] [--rank 16] [--lr 1e-3]
//!     [--margin 0.05] [--variants none,nf4,nf4-dq,gguf] [--gguf FILE]
//!     [--gradient-checkpointing]
//! ```
//!
//! Each variant runs in its own child process (this binary re-invoked with
//! the hidden `--child VARIANT`), because a process's peak RSS (`VmHWM`)
//! never goes down. A child reports two peaks: while loading and quantising
//! the model, and while training (`VmHWM` reset through
//! `/proc/self/clear_refs` after loading, so it counts the model as held
//! during training plus everything training allocates).
//!
//! Data: with a real model (`--model DIR`, or `--shape smollm2-135m` when
//! SmolLM2-135M-Instruct has been imported by `insitu base fetch`), synthetic
//! clinical notes from `insitu-synth` in its tokenizer, train and validation
//! from different patients; with random weights, sequences of a seeded Markov
//! chain over the vocabulary (a pattern LoRA can learn). Every variant reads
//! the same token file.

use clap::Parser;
use insitu_train::lora::{BaseQuantization, LoraConfig, KNOWN_TARGET_MODULES};
use insitu_train::model::Model;
use insitu_train::sft::{SftConfig, TokenizedExample, Trainer};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask bench qlora", about = HELP)]
struct Args {
    /// Model shape: `tiny` (random weights) or `smollm2-135m` (the imported
    /// SmolLM2-135M-Instruct when present, else random weights of its shape).
    #[arg(long, default_value = "tiny")]
    shape: String,
    /// A Hugging Face model directory to use instead of `--shape`.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Optimizer steps per variant (default: 40 for tiny, 12 otherwise).
    #[arg(long)]
    steps: Option<usize>,
    /// Tokens per row.
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Rows per step.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// LoRA rank (α = 2r, all seven projections).
    #[arg(long, default_value_t = 16)]
    rank: usize,
    /// Peak learning rate (constant after no warm-up).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Largest accepted increase of the final validation loss over the
    /// dense base's, in nats.
    #[arg(long, default_value_t = 0.05)]
    margin: f64,
    /// Recompute each decoder layer in backward (less activation memory, so
    /// the base weights are a larger share of the peak).
    #[arg(long)]
    gradient_checkpointing: bool,
    /// Which storage forms to compare; the first is the reference (default:
    /// none, nf4, nf4-dq, and gguf when the model's GGUF file is known).
    #[arg(long, value_delimiter = ',')]
    variants: Option<Vec<String>>,
    /// The GGUF file a real model was imported from, for the `gguf` variant
    /// (default for the imported SmolLM2: the `insitu base fetch` cache).
    #[arg(long)]
    gguf: Option<PathBuf>,
    /// Internal: run one variant in this process and print its JSON line.
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: the token file the parent wrote.
    #[arg(long, hide = true)]
    ids: Option<PathBuf>,
}

const HELP: &str = "LoRA with a dense vs NF4 vs NF4-double-quantised frozen base: base size, peak RSS, tok/s, validation loss";

/// What the parent writes and every child reads.
#[derive(serde::Serialize, serde::Deserialize)]
struct TokenFile {
    /// `config.json` to initialise randomly, when there is no model directory.
    random_config: Option<serde_json::Value>,
    /// A real model directory.
    model_dir: Option<PathBuf>,
    /// The GGUF file it was imported from, for the `gguf` variant.
    gguf: Option<PathBuf>,
    train: Vec<Vec<u32>>,
    val: Vec<Vec<u32>>,
}

/// One variant's figures, printed by the child as one JSON line.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Figures {
    variant: String,
    base_projection_bytes: usize,
    load_peak_rss_bytes: u64,
    train_peak_rss_bytes: u64,
    tokens_per_sec: f64,
    val_loss_before: f64,
    val_loss_after: f64,
    train_loss_first: f64,
    train_loss_last: f64,
}

/// A `/proc/self/status` figure in bytes (`VmHWM`, `VmRSS`).
fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Runs the benchmark (parent) or one variant (child).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let args =
        Args::try_parse_from(std::iter::once("qlora".to_string()).chain(args.iter().cloned()))?;
    if let Some(variant) = &args.child {
        return child(&args, variant);
    }
    if args.batch == 0 || args.seq < 2 {
        anyhow::bail!("--batch must be ≥ 1 and --seq ≥ 2");
    }
    let steps = args
        .steps
        .unwrap_or(if args.shape == "tiny" && args.model.is_none() {
            40
        } else {
            12
        });
    let work = tempfile::tempdir()?;
    let (tokens, label) = token_file(&args, steps)?;
    let variants = match &args.variants {
        Some(v) => v.clone(),
        None => ["none", "nf4", "nf4-dq"]
            .into_iter()
            .chain(tokens.gguf.is_some().then_some("gguf"))
            .map(String::from)
            .collect(),
    };
    for v in &variants {
        if v.parse::<BaseQuantization>()? == BaseQuantization::Gguf && tokens.gguf.is_none() {
            anyhow::bail!("the gguf variant needs the model's GGUF file — pass --gguf FILE");
        }
    }
    if variants.is_empty() {
        anyhow::bail!("--variants names no storage form");
    }
    let ids_path = work.path().join("ids.json");
    std::fs::write(&ids_path, serde_json::to_vec(&tokens)?)?;

    let mut results: Vec<Figures> = Vec::new();
    for variant in &variants {
        eprintln!("== {label}: base {variant}");
        results.push(run_child(&args, variant, steps, &ids_path)?);
    }

    println!(
        "qlora bench: {label}, LoRA r {} α {} on all seven projections, seq {}, batch {}, {steps} steps at lr {}, {} train / {} validation rows{}; each variant in its own process",
        args.rank,
        2 * args.rank,
        args.seq,
        args.batch,
        args.lr,
        tokens.train.len(),
        tokens.val.len(),
        if args.gradient_checkpointing { ", gradient checkpointing" } else { "" }
    );
    println!("| base | projection weights | peak RSS loading | peak RSS training | tok/s | val loss before | val loss after | Δ after vs {} |", results[0].variant);
    println!("|---|---|---|---|---|---|---|---|");
    let mib = |b: f64| format!("{:.1} MiB", b / (1024.0 * 1024.0));
    let reference = results[0].val_loss_after;
    let mut within = true;
    for f in &results {
        let delta = f.val_loss_after - reference;
        within &= delta <= args.margin;
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.4} | {:.4} | {:+.4} |",
            f.variant,
            mib(f.base_projection_bytes as f64),
            mib(f.load_peak_rss_bytes as f64),
            mib(f.train_peak_rss_bytes as f64),
            f.tokens_per_sec,
            f.val_loss_before,
            f.val_loss_after,
            delta
        );
    }
    println!(
        "quality: every variant's final validation loss within {} nats of {}: {}",
        args.margin,
        results[0].variant,
        if within { "yes" } else { "NO" }
    );
    if !within {
        anyhow::bail!(
            "a quantised base lost more than {} nats of validation loss",
            args.margin
        );
    }
    Ok(())
}

/// Where the imported SmolLM2 lives (`$INSITU_SMOLLM2_DIR`, else the
/// `insitu base fetch` cache), if it is there.
fn imported_smollm2() -> Option<PathBuf> {
    let dir = match std::env::var_os("INSITU_SMOLLM2_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache/insitu/models/smollm2-135m-instruct"),
    };
    dir.join("config.json").is_file().then_some(dir)
}

/// The shared data and a label saying what model it is for.
fn token_file(args: &Args, steps: usize) -> anyhow::Result<(TokenFile, String)> {
    let val_rows = 16;
    let train_rows = steps * args.batch;
    let model_dir = match (&args.model, args.shape.as_str()) {
        (Some(d), _) => Some(d.clone()),
        (None, "smollm2-135m") => imported_smollm2(),
        (None, "tiny") => None,
        (None, other) => anyhow::bail!("unknown --shape {other:?} — choose tiny or smollm2-135m"),
    };
    if let Some(dir) = model_dir {
        let md = insitu_train::hf::ModelDir::open(&dir)?;
        let eos = md.eos_ids().first().copied().unwrap_or(0);
        // Train and validation from disjoint patients.
        let rows = |first_patient: usize, want: usize| -> anyhow::Result<Vec<Vec<u32>>> {
            let cfg = insitu_synth::SynthConfig {
                patients: 400,
                seed: 7,
                us_share: 0.3,
            };
            let mut stream = Vec::new();
            let mut out = Vec::new();
            for i in first_patient..cfg.patients {
                for note in insitu_synth::generate_patient(&cfg, i).notes {
                    stream.extend(md.tokenizer.encode(&note.note.text, false)?);
                    stream.push(eos);
                }
                while stream.len() >= args.seq && out.len() < want {
                    out.push(stream.drain(..args.seq).collect());
                }
                if out.len() == want {
                    return Ok(out);
                }
            }
            anyhow::bail!(
                "the synthetic corpus gave only {} rows of {} tokens",
                out.len(),
                args.seq
            )
        };
        let val = rows(0, val_rows)?;
        let train = rows(50, train_rows)?;
        let label = format!("{} (real weights)", dir.display());
        return Ok((
            TokenFile {
                gguf: args.gguf.clone().or_else(|| {
                    let cached = dir.join("../../gguf/SmolLM2-135M-Instruct.Q4_1.gguf");
                    (args.model.is_none() && cached.is_file()).then_some(cached)
                }),
                random_config: None,
                model_dir: Some(dir),
                train,
                val,
            },
            label,
        ));
    }
    let config = random_config(&args.shape)?;
    let vocab = config["vocab_size"].as_u64().unwrap_or(2048) as u32;
    // 256 states: learnable within a few dozen steps from a random start.
    let chain = MarkovChain::new(vocab.min(256), 11);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let train = (0..train_rows)
        .map(|_| chain.sample(args.seq, &mut rng))
        .collect();
    let val = (0..val_rows)
        .map(|_| chain.sample(args.seq, &mut rng))
        .collect();
    Ok((
        TokenFile {
            gguf: None,
            random_config: Some(config),
            model_dir: None,
            train,
            val,
        },
        format!("{} shape, random weights, Markov-chain tokens", args.shape),
    ))
}

/// The HF `config.json` of a shape to initialise randomly.
fn random_config(shape: &str) -> anyhow::Result<serde_json::Value> {
    let cfg = match shape {
        "tiny" => insitu_train::preset::tiny_config(2048),
        "smollm2-135m" => {
            let mut c = insitu_train::preset::tiny_config(49152);
            c.hidden_size = 576;
            c.intermediate_size = 1536;
            c.num_hidden_layers = 30;
            c.num_attention_heads = 9;
            c.num_key_value_heads = Some(3);
            c.max_position_embeddings = 2048;
            c.rope_theta = 100_000.0;
            c
        }
        other => anyhow::bail!("unknown --shape {other:?} — choose tiny or smollm2-135m"),
    };
    Ok(serde_json::to_value(&cfg)?)
}

/// A first-order chain over the first `states` token ids in which each
/// token has four equally likely successors.
struct MarkovChain {
    successors: Vec<[u32; 4]>,
}

impl MarkovChain {
    fn new(states: u32, seed: u64) -> MarkovChain {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let successors = (0..states)
            .map(|_| std::array::from_fn(|_| rng.gen_range(0..states)))
            .collect();
        MarkovChain { successors }
    }

    fn sample(&self, len: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<u32> {
        let mut ids = vec![rng.gen_range(0..self.successors.len() as u32)];
        while ids.len() < len {
            let prev = *ids.last().expect("non-empty") as usize;
            ids.push(self.successors[prev][rng.gen_range(0..4)]);
        }
        ids
    }
}

fn run_child(args: &Args, variant: &str, steps: usize, ids: &Path) -> anyhow::Result<Figures> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["bench", "qlora", "--child", variant])
        .arg("--ids")
        .arg(ids)
        .args(["--steps", &steps.to_string()])
        .args(["--batch", &args.batch.to_string()])
        .args(["--rank", &args.rank.to_string()])
        .args(["--lr", &args.lr.to_string()])
        .args(
            args.gradient_checkpointing
                .then_some("--gradient-checkpointing"),
        )
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "the {variant} child failed ({}) — see its messages above",
            out.status
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("the {variant} child printed no figures"))?;
    Ok(serde_json::from_str(line)?)
}

/// One variant in this process: load, store the base as asked, train, report.
fn child(args: &Args, variant: &str) -> anyhow::Result<()> {
    let q: BaseQuantization = variant.parse()?;
    let ids = args
        .ids
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("--child needs --ids"))?;
    let tokens: TokenFile = serde_json::from_slice(&std::fs::read(ids)?)?;
    let mut model = match (&tokens.model_dir, &tokens.random_config) {
        (Some(dir), _) => Model::from_dir(&insitu_train::hf::ModelDir::open(dir)?)?,
        (None, Some(cfg)) => Model::random(
            &serde_json::from_value(cfg.clone())?,
            0,
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )?,
        (None, None) => anyhow::bail!("{}: names no model", ids.display()),
    };
    let lora = LoraConfig {
        r: args.rank,
        lora_alpha: 2.0 * args.rank as f64,
        lora_dropout: 0.05,
        target_modules: KNOWN_TARGET_MODULES.map(String::from).to_vec(),
        ..LoraConfig::default()
    };
    model.attach_lora(&lora, 0)?;
    let base_projection_bytes = match (q, &tokens.gguf) {
        (BaseQuantization::Gguf, Some(file)) => {
            insitu_train::quant::use_gguf_base(&mut model, file)?
        }
        (BaseQuantization::Gguf, None) => anyhow::bail!("the gguf variant needs --gguf FILE"),
        _ => insitu_train::quant::quantize_model_base(&mut model, q)?,
    };
    let load_peak_rss_bytes = proc_status_bytes("VmHWM:");
    // "5" resets VmHWM to the current RSS (Linux ≥ 4.0), so the next peak
    // is the training's alone.
    std::fs::write("/proc/self/clear_refs", "5")?;

    let examples = |rows: Vec<Vec<u32>>| -> Vec<TokenizedExample> {
        rows.into_iter()
            .map(|ids| TokenizedExample { ids, prompt_len: 0 })
            .collect()
    };
    let seq = tokens.train.first().map(|r| r.len()).unwrap_or(0);
    let sft = SftConfig {
        max_seq_length: seq,
        per_device_train_batch_size: args.batch,
        max_steps: Some(args.steps.unwrap_or(1)),
        learning_rate: args.lr,
        lr_scheduler_type: insitu_train::optim::Schedule::Constant,
        packing: false,
        gradient_checkpointing: args.gradient_checkpointing,
        ..SftConfig::default()
    };
    let mut trainer = Trainer::new(model, sft, examples(tokens.train), examples(tokens.val), 0)?;
    let dir = tempfile::tempdir()?;
    let mut tokens_per_sec = 0.0;
    let metrics = trainer.run(dir.path(), &mut |p| {
        eprintln!(
            "  step {:>3}  loss {:.4}  {:.0} tok/s",
            p.step, p.loss, p.tokens_per_sec
        );
        tokens_per_sec = p.tokens_per_sec;
    })?;
    let nan = f64::NAN;
    let figures = Figures {
        variant: variant.to_string(),
        base_projection_bytes,
        load_peak_rss_bytes,
        train_peak_rss_bytes: proc_status_bytes("VmHWM:"),
        tokens_per_sec,
        val_loss_before: metrics.val_loss_before.unwrap_or(nan),
        val_loss_after: metrics.val_loss_after.unwrap_or(nan),
        train_loss_first: metrics.train_loss_first.unwrap_or(nan),
        train_loss_last: metrics.train_loss_last.unwrap_or(nan),
    };
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}
