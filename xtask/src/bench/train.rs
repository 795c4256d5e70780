//! `cargo xtask bench train [--shape smollm2-135m|smollm2-360m|tiny]
//! [--seq 256] [--batch 4] [--warmup 3] [--steps 10] [--rank 16] [--all-linear]`:
//! LoRA SFT throughput and peak memory of insitu's trainer on a randomly
//! initialised model of a known shape (see /work/shared/PERFORMANCE.md for
//! the PyTorch+PEFT reference measured on this machine kind). Runs the real
//! `Trainer` (AdamW, clipping, cosine schedule) on random tokens with the loss
//! on every position. Use `cargo run --release -p xtask -- bench train` for
//! figures worth quoting: the dev profile builds insitu's own kernels at -O1.

use insitu_train::config::LlamaConfig;
use insitu_train::lora::LoraConfig;
use insitu_train::model::Model;
use insitu_train::sft::{SftConfig, TokenizedExample, Trainer};
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn shape(name: &str) -> anyhow::Result<LlamaConfig> {
    let (hidden, inter, layers, heads, kv, vocab) = match name {
        "smollm2-135m" => (576, 1536, 30, 9, 3, 49152),
        "smollm2-360m" => (960, 2560, 32, 15, 5, 49152),
        "tiny" => return Ok(insitu_train::preset::tiny_config(2048)),
        other => {
            anyhow::bail!("unknown --shape {other:?} — choose smollm2-135m, smollm2-360m or tiny")
        }
    };
    let json = serde_json::json!({
        "model_type": "llama", "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": inter,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
        "tie_word_embeddings": true
    });
    Ok(LlamaConfig::from_json(&json.to_string())?)
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

/// Runs the train benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let shape_name: String = arg(args, "--shape", "smollm2-135m".to_string())?;
    let seq: usize = arg(args, "--seq", 256)?;
    let batch: usize = arg(args, "--batch", 4)?;
    let warmup: usize = arg(args, "--warmup", 3)?;
    let steps: usize = arg(args, "--steps", 10)?;
    let rank: usize = arg(args, "--rank", 16)?;
    let cfg = shape(&shape_name)?;
    let targets: &[&str] = if args.iter().any(|a| a == "--all-linear") {
        &insitu_train::lora::KNOWN_TARGET_MODULES
    } else {
        &["q_proj", "k_proj", "v_proj", "o_proj"]
    };

    let t0 = Instant::now();
    let mut model = Model::random(&cfg, 0, candle_core::DType::F32, &candle_core::Device::Cpu)?;
    let lora = LoraConfig {
        r: rank,
        lora_alpha: 2.0 * rank as f64,
        lora_dropout: 0.05,
        target_modules: targets.iter().map(|s| s.to_string()).collect(),
        use_rslora: false,
    };
    model.attach_lora(&lora, 0)?;
    let init_secs = t0.elapsed().as_secs_f64();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let examples: Vec<TokenizedExample> = (0..batch * (warmup + steps))
        .map(|_| TokenizedExample {
            ids: (0..seq)
                .map(|_| rng.gen_range(0..cfg.vocab_size as u32))
                .collect(),
            prompt_len: 0,
        })
        .collect();
    let sft = SftConfig {
        max_seq_length: seq,
        per_device_train_batch_size: batch,
        max_steps: Some(warmup + steps),
        learning_rate: 2e-4,
        packing: false,
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
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "train bench: shape {shape_name}, seq {seq}, batch {batch}, LoRA r {rank} on {}, {threads} threads",
        targets.join("/")
    );
    println!("  model init {init_secs:.1}s; {steps} timed steps after {warmup} warm-up steps");
    println!(
        "  insitu (candle): {:.1} tokens/s, peak RSS {:.2} GB",
        tokens / timed,
        peak_rss_bytes().unwrap_or(0) as f64 / 1e9
    );
    println!("  PyTorch+PEFT side by side: not run yet (bench/peft_reference.py is future work); see /work/shared/PERFORMANCE.md");
    Ok(())
}
