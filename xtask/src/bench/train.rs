//! `cargo xtask bench train`: LoRA SFT throughput and peak memory of insitu's
//! trainer side by side with PyTorch + PEFT on the same model, data, sequence
//! length, batch, thread count, steps and LoRA settings.
//!
//! ```text
//! cargo run --release -p xtask -- bench train
//!     [--shape smollm2-135m|smollm2-360m|tiny | --sweep | --model DIR]
//!     [--seq 256] [--batch 4] [--warmup 3] [--steps 10] [--rank 16]
//!     [--all-linear] [--threads N] [--gradient-checkpointing]
//!     [--no-reference]
//! ```
//!
//! Each stack runs in its own child process, so that each peak RSS (Linux
//! `VmHWM` / `ru_maxrss`) is that stack's alone: ours is this binary
//! re-invoked with `--child-insitu`, the reference is `bench/run_reference.sh`
//! (its own venv `bench/.venv`, or the interpreter in `$INSITU_BENCH_PYTHON`).
//! Both read the same token ids from one file; the loss is on every position.
//! `--sweep` runs the 135M and 360M shapes so that the cost curve is visible;
//! `--model DIR` runs on a real Hugging Face directory (e.g. SmolLM2-135M from
//! `insitu base fetch smollm2-135m-instruct`), which the reference loads
//! with transformers. Use a release build for figures worth quoting: the dev
//! profile builds insitu's own kernels at -O1.

use insitu_train::config::LlamaConfig;
use insitu_train::lora::LoraConfig;
use insitu_train::model::Model;
use insitu_train::sft::{SftConfig, TokenizedExample, Trainer};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The HF `config.json` of a named benchmark shape.
fn shape_json(name: &str) -> anyhow::Result<serde_json::Value> {
    let (hidden, inter, layers, heads, kv, vocab) = match name {
        "smollm2-135m" => (576, 1536, 30, 9, 3, 49152),
        "smollm2-360m" => (960, 2560, 32, 15, 5, 49152),
        "tiny" => {
            let c = insitu_train::preset::tiny_config(2048);
            (
                c.hidden_size,
                c.intermediate_size,
                c.num_hidden_layers,
                c.num_attention_heads,
                c.kv_heads(),
                c.vocab_size,
            )
        }
        other => {
            anyhow::bail!("unknown --shape {other:?} — choose smollm2-135m, smollm2-360m or tiny")
        }
    };
    Ok(serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama", "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": inter,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
        "tie_word_embeddings": true, "hidden_act": "silu"
    }))
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{name} needs a value")),
    }
}

fn opt_arg(args: &[String], name: &str) -> anyhow::Result<Option<String>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .cloned()
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("{name} needs a value")),
    }
}

/// Settings shared by both stacks for one measurement.
#[derive(Debug, Clone)]
struct Case {
    /// Shape name, or the model directory's path.
    label: String,
    /// `config.json` to initialise randomly, or a real model directory.
    source: Source,
    seq: usize,
    batch: usize,
    warmup: usize,
    steps: usize,
    rank: usize,
    targets: Vec<String>,
    threads: usize,
    gradient_checkpointing: bool,
}

#[derive(Debug, Clone)]
enum Source {
    RandomConfig(PathBuf),
    ModelDir(PathBuf),
}

/// One stack's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    tokens_per_sec: f64,
    peak_rss_bytes: f64,
}

/// Runs the train benchmark (the parent: children per stack and shape).
pub fn run(args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--child-insitu") {
        return child_insitu(args);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", HELP);
        return Ok(());
    }
    let seq: usize = arg(args, "--seq", 256)?;
    let batch: usize = arg(args, "--batch", 4)?;
    let warmup: usize = arg(args, "--warmup", 3)?;
    let steps: usize = arg(args, "--steps", 10)?;
    let rank: usize = arg(args, "--rank", 16)?;
    let threads: usize = arg(
        args,
        "--threads",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    )?;
    let with_reference = !args.iter().any(|a| a == "--no-reference");
    let gradient_checkpointing = args.iter().any(|a| a == "--gradient-checkpointing");
    let targets: Vec<String> = if args.iter().any(|a| a == "--all-linear") {
        insitu_train::lora::KNOWN_TARGET_MODULES
            .map(String::from)
            .to_vec()
    } else {
        ["q_proj", "k_proj", "v_proj", "o_proj"]
            .map(String::from)
            .to_vec()
    };
    if steps == 0 || batch == 0 || seq < 2 {
        anyhow::bail!("--steps and --batch must be ≥ 1 and --seq ≥ 2");
    }

    let work = tempfile::tempdir()?;
    let mut sources: Vec<(String, Source)> = Vec::new();
    if let Some(dir) = opt_arg(args, "--model")? {
        let dir = PathBuf::from(dir);
        if !dir.join("config.json").is_file() {
            anyhow::bail!(
                "--model {}: no config.json there — pass a Hugging Face model directory (e.g. from `insitu base fetch smollm2-135m-instruct --out DIR`)",
                dir.display()
            );
        }
        sources.push((dir.display().to_string(), Source::ModelDir(dir)));
    } else {
        let shapes: Vec<String> = if args.iter().any(|a| a == "--sweep") {
            vec!["smollm2-135m".into(), "smollm2-360m".into()]
        } else {
            vec![arg(args, "--shape", "smollm2-135m".to_string())?]
        };
        for name in shapes {
            let path = work.path().join(format!("{name}.config.json"));
            std::fs::write(&path, serde_json::to_string_pretty(&shape_json(&name)?)?)?;
            sources.push((name, Source::RandomConfig(path)));
        }
    }

    let mut rows = Vec::new();
    for (label, source) in sources {
        let case = Case {
            label,
            source,
            seq,
            batch,
            warmup,
            steps,
            rank,
            targets: targets.clone(),
            threads,
            gradient_checkpointing,
        };
        let ids_path = work.path().join(format!("ids-{}.json", rows.len()));
        write_ids(&case, &ids_path)?;
        eprintln!("== {}: insitu (candle)", case.label);
        let ours = run_insitu_child(&case, &ids_path)?;
        let theirs = if with_reference {
            eprintln!("== {}: PyTorch + PEFT", case.label);
            match run_reference(&case, &ids_path) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("reference skipped: {e:#}");
                    None
                }
            }
        } else {
            None
        };
        rows.push((case, ours, theirs));
    }

    let first = &rows[0].0;
    println!(
        "train bench: seq {}, batch {}, LoRA r {} α {} on {}, {} threads, {} timed steps after {} warm-up{}; each stack in its own process, run back to back",
        first.seq,
        first.batch,
        first.rank,
        2 * first.rank,
        first.targets.join("/"),
        first.threads,
        first.steps,
        first.warmup,
        if first.gradient_checkpointing { ", insitu with gradient checkpointing" } else { "" }
    );
    println!(
        "| model | insitu tok/s | PyTorch+PEFT tok/s | ratio (≥1 better) | insitu peak RSS | PyTorch+PEFT peak RSS | ratio (≤1 better) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (case, ours, theirs) in &rows {
        let gb = |b: f64| format!("{:.2} GB", b / 1e9);
        match theirs {
            Some(t) => println!(
                "| {} | {:.1} | {:.1} | {:.2} | {} | {} | {:.2} |",
                case.label,
                ours.tokens_per_sec,
                t.tokens_per_sec,
                ours.tokens_per_sec / t.tokens_per_sec,
                gb(ours.peak_rss_bytes),
                gb(t.peak_rss_bytes),
                ours.peak_rss_bytes / t.peak_rss_bytes
            ),
            None => println!(
                "| {} | {:.1} | not run | – | {} | not run | – |",
                case.label,
                ours.tokens_per_sec,
                gb(ours.peak_rss_bytes)
            ),
        }
    }
    Ok(())
}

const HELP: &str =
    "cargo xtask bench train [--shape smollm2-135m|smollm2-360m|tiny | --sweep | --model DIR]
    [--seq 256] [--batch 4] [--warmup 3] [--steps 10] [--rank 16] [--all-linear]
    [--threads N] [--gradient-checkpointing] [--no-reference]
The reference runs bench/run_reference.sh (venv bench/.venv, or $INSITU_BENCH_PYTHON).";

/// Vocabulary size of the case's model.
fn vocab_size(case: &Case) -> anyhow::Result<usize> {
    let path = match &case.source {
        Source::RandomConfig(p) => p.clone(),
        Source::ModelDir(d) => d.join("config.json"),
    };
    let cfg = LlamaConfig::from_json(&std::fs::read_to_string(&path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(cfg.vocab_size)
}

/// Random token rows (seeded) both stacks train on: batch × (warmup + steps).
fn write_ids(case: &Case, path: &Path) -> anyhow::Result<()> {
    let vocab = vocab_size(case)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let rows: Vec<Vec<u32>> = (0..case.batch * (case.warmup + case.steps))
        .map(|_| {
            (0..case.seq)
                .map(|_| rng.gen_range(0..vocab as u32))
                .collect()
        })
        .collect();
    std::fs::write(path, serde_json::to_vec(&rows)?)?;
    Ok(())
}

/// The last stdout line of a child, parsed as the figures JSON.
fn parse_figures(stdout: &[u8], who: &str) -> anyhow::Result<Figures> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("{who} printed no JSON figures line"))?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let get = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| anyhow::anyhow!("{who}: field {k:?} missing in {line}"))
    };
    Ok(Figures {
        tokens_per_sec: get("tokens_per_sec")?,
        peak_rss_bytes: get("peak_rss_bytes")?,
    })
}

fn common_args(case: &Case, ids: &Path) -> Vec<String> {
    vec![
        "--ids".into(),
        ids.display().to_string(),
        "--batch".into(),
        case.batch.to_string(),
        "--warmup".into(),
        case.warmup.to_string(),
        "--steps".into(),
        case.steps.to_string(),
        "--threads".into(),
        case.threads.to_string(),
        "--rank".into(),
        case.rank.to_string(),
        "--targets".into(),
        case.targets.join(","),
    ]
}

fn run_insitu_child(case: &Case, ids: &Path) -> anyhow::Result<Figures> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "train", "--child-insitu"]);
    cmd.args(common_args(case, ids));
    match &case.source {
        Source::RandomConfig(p) => cmd.arg("--config").arg(p),
        Source::ModelDir(d) => cmd.arg("--model").arg(d),
    };
    if case.gradient_checkpointing {
        cmd.arg("--gradient-checkpointing");
    }
    // candle's CPU kernels and gemm size their pools from this variable.
    cmd.env("RAYON_NUM_THREADS", case.threads.to_string());
    let out = cmd.stderr(std::process::Stdio::inherit()).output()?;
    if !out.status.success() {
        anyhow::bail!("insitu child failed ({})", out.status);
    }
    parse_figures(&out.stdout, "insitu child")
}

fn run_reference(case: &Case, ids: &Path) -> anyhow::Result<Figures> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/run_reference.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script);
    cmd.args(common_args(case, ids));
    match &case.source {
        Source::RandomConfig(p) => cmd.arg("--config").arg(p),
        Source::ModelDir(d) => cmd.arg("--model").arg(d),
    };
    cmd.args(["--alpha", &(2 * case.rank).to_string()]);
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| anyhow::anyhow!("could not start bash {}: {e}", script.display()))?;
    match out.status.code() {
        Some(0) => parse_figures(&out.stdout, "reference"),
        Some(3) => anyhow::bail!("python3 is not installed — install it or set INSITU_BENCH_PYTHON to a Python with torch, transformers and peft"),
        _ => anyhow::bail!(
            "{} failed ({}) — see its messages above; set INSITU_BENCH_PYTHON to a Python with torch, transformers and peft, or pass --no-reference",
            script.display(),
            out.status
        ),
    }
}

/// The insitu side, in its own process: trains and prints one JSON line.
fn child_insitu(args: &[String]) -> anyhow::Result<()> {
    let ids_path: String = arg(args, "--ids", String::new())?;
    let batch: usize = arg(args, "--batch", 4)?;
    let warmup: usize = arg(args, "--warmup", 3)?;
    let steps: usize = arg(args, "--steps", 10)?;
    let rank: usize = arg(args, "--rank", 16)?;
    let targets: String = arg(args, "--targets", "q_proj,k_proj,v_proj,o_proj".into())?;
    let gradient_checkpointing = args.iter().any(|a| a == "--gradient-checkpointing");
    let rows: Vec<Vec<u32>> = serde_json::from_slice(&std::fs::read(&ids_path)?)?;
    let seq = rows.first().map(|r| r.len()).unwrap_or(0);

    let t0 = Instant::now();
    let mut model = match (opt_arg(args, "--config")?, opt_arg(args, "--model")?) {
        (Some(cfg), None) => {
            let cfg = LlamaConfig::from_json(&std::fs::read_to_string(&cfg)?)?;
            Model::random(&cfg, 0, candle_core::DType::F32, &candle_core::Device::Cpu)?
        }
        (None, Some(dir)) => Model::from_dir(&insitu_train::hf::ModelDir::open(Path::new(&dir))?)?,
        _ => anyhow::bail!("child: pass exactly one of --config and --model"),
    };
    let lora = LoraConfig {
        r: rank,
        lora_alpha: 2.0 * rank as f64,
        lora_dropout: 0.05,
        target_modules: targets.split(',').map(String::from).collect(),
        ..LoraConfig::default()
    };
    model.attach_lora(&lora, 0)?;
    eprintln!("model ready in {:.1}s", t0.elapsed().as_secs_f64());

    let examples: Vec<TokenizedExample> = rows
        .into_iter()
        .map(|ids| TokenizedExample { ids, prompt_len: 0 })
        .collect();
    let sft = SftConfig {
        max_seq_length: seq,
        per_device_train_batch_size: batch,
        max_steps: Some(warmup + steps),
        learning_rate: 2e-4,
        packing: false,
        gradient_checkpointing,
        ..SftConfig::default()
    };
    let mut trainer = Trainer::new(model, sft, examples, Vec::new(), 0)?;
    let dir = tempfile::tempdir()?;
    let mut timed_start = None;
    let mut last = Instant::now();
    trainer.run(dir.path(), &mut |p| {
        let now = Instant::now();
        eprintln!(
            "step {:>3}  loss {:.4}  {:.1}s",
            p.step,
            p.loss,
            (now - last).as_secs_f64()
        );
        last = now;
        if p.step == warmup {
            timed_start = Some(now);
        }
    })?;
    let timed = timed_start
        .map(|s| s.elapsed().as_secs_f64())
        .unwrap_or(f64::NAN);
    let tokens = (steps * batch * seq) as f64;
    println!(
        "{}",
        serde_json::json!({
            "stack": "insitu (candle)",
            "tokens_per_sec": tokens / timed,
            "peak_rss_bytes": peak_rss_bytes().unwrap_or(0),
        })
    );
    Ok(())
}
