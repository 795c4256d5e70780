//! `insitu train`: LoRA (or full) supervised fine-tuning of a Hugging Face
//! model directory on a dataset directory, writing a run directory with the
//! PEFT adapter, metrics, TensorBoard events, checkpoints and `run.json`;
//! with a home, the run is also recorded in the store and the audit log.

use crate::Global;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use insitu_train::hf::{self, ModelDir};
use insitu_train::model::Model;
use insitu_train::sft::{self, Progress, PromptFormat, RunConfig, Trainer};
use std::path::{Path, PathBuf};

/// Arguments of `insitu train`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The dataset directory holds train.jsonl (required), validation.jsonl
(optional) and card.json (the dataset card); each line is {\"messages\": [{role, content}, …]}
or {\"instruction\", \"input\", \"output\"}. The run directory receives adapter/
(PEFT), metrics.jsonl, tensorboard/, checkpoints/ and run.json.

run.toml (all keys optional):
  [lora]      r, lora_alpha, lora_dropout, target_modules, use_rslora,
              base_quantization (none|nf4|nf4-dq: QLoRA-style 4-bit frozen base)
  [training]  seed, max_seq_length, per_device_train_batch_size,
              gradient_accumulation_steps, num_train_epochs, max_steps,
              learning_rate, warmup_steps, lr_scheduler_type (constant|linear|cosine),
              weight_decay, max_grad_norm, packing, eval_steps, save_steps, full_finetune,
              gradient_checkpointing (recompute each layer in backward: less memory)
  [privacy]   target_epsilon | noise_multiplier (either turns on user-level DP-SGD),
              delta (default min(1e-5, patients^-1.1)), max_grad_norm (per-patient
              clip C, default 1.0), sampling_rate | expected_patients_per_step
              (default: batch size × accumulation patients per step),
              canaries (true: insert secret canary sentences 1, 2, 4, 8 times),
              canaries_per_count (default 2)

DP-SGD samples patients (Poisson), clips each patient's summed gradient to C,
adds N(0, σ²C²) noise; run.json → dp records {sampling_rate, noise_multiplier,
steps, delta, epsilon}. Canary secrets go to <run dir>/canaries.secret.json, which
is never exported; `insitu leakage` measures their exposure.

Examples:
  insitu train --model ./tiny --dataset ./ds --out ./runs/first
  insitu --home ./insitu-home train --model ./tiny --dataset ./ds --config run.toml
  insitu train --model ./tiny --dataset ./ds --out ./runs/dp --target-epsilon 8 --canaries"
)]
pub struct Args {
    /// Base model: a Hugging Face directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Dataset directory (train.jsonl, validation.jsonl, card.json).
    #[arg(long, value_name = "DIR")]
    pub dataset: PathBuf,
    /// Run directory; defaults to HOME/runs/<run id> when a home is given.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Hyperparameters as TOML ([lora] and [training] tables).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Overrides training.seed.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Overrides training.max_steps.
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Train with user-level DP-SGD to this ε (overrides privacy.target_epsilon).
    #[arg(long, value_name = "EPS")]
    pub target_epsilon: Option<f64>,
    /// δ for DP-SGD (overrides privacy.delta).
    #[arg(long, value_name = "DELTA")]
    pub delta: Option<f64>,
    /// Insert secret canaries into the training examples (privacy.canaries).
    #[arg(long)]
    pub canaries: bool,
    /// Continue from the run directory's latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Run id (default: derived from the start time and seed).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Test hook: after saving the checkpoint at this step, stop making
    /// progress (so a test can SIGKILL the process mid-run).
    #[arg(long, hide = true, value_name = "N")]
    pub hang_after_step: Option<usize>,
}

/// A progress bar on stderr showing loss, tokens/s and ETA; hidden with `--quiet`.
pub(crate) fn progress_bar(total: usize, quiet: bool, label: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// Updates `bar` from a training progress report.
pub(crate) fn show_progress(bar: &ProgressBar, p: &Progress) {
    bar.set_position(p.step as u64);
    let val = p
        .val_loss
        .map(|v| format!(" val {v:.4}"))
        .unwrap_or_default();
    let eps = p.epsilon.map(|e| format!(" ε {e:.3}")).unwrap_or_default();
    bar.set_message(format!(
        "loss {:.4}{val}{eps} {:.0} tok/s",
        p.loss, p.tokens_per_sec
    ));
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads and checks `run.toml`.
fn read_config(path: Option<&Path>) -> anyhow::Result<RunConfig> {
    let Some(path) = path else {
        return Ok(RunConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).map_err(|e| crate::exit::input(format!("{}: {e}", path.display())))
}

/// Runs `insitu train`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let mut cfg = read_config(args.config.as_deref())?;
    if let Some(s) = args.seed {
        cfg.training.seed = s;
    }
    if let Some(n) = args.max_steps {
        cfg.training.max_steps = Some(n);
    }
    if let Some(e) = args.target_epsilon {
        cfg.privacy.target_epsilon = Some(e);
        // The flag asks for a target; a noise multiplier from the file would conflict.
        cfg.privacy.noise_multiplier = None;
    }
    if let Some(d) = args.delta {
        cfg.privacy.delta = Some(d);
    }
    if args.canaries {
        cfg.privacy.canaries = true;
    }
    if !cfg.training.full_finetune {
        cfg.lora
            .validate()
            .map_err(|e| crate::exit::input(e.to_string()))?;
    } else {
        cfg.lora
            .base_quantization
            .check_full_finetune()
            .map_err(|e| crate::exit::input(e.to_string()))?;
    }
    if cfg.lora.base_quantization == insitu_train::lora::BaseQuantization::Gguf {
        return Err(crate::exit::input(
            "lora.base_quantization = \"gguf\" is not available from `insitu train` yet (the imported model does not record its GGUF path) — use \"nf4\" or \"nf4-dq\", or measure the GGUF base with `cargo xtask bench qlora --gguf FILE`",
        ));
    }
    let train_path = args.dataset.join("train.jsonl");
    if !train_path.is_file() {
        return Err(crate::exit::input(format!(
            "{}: not found — the dataset directory needs train.jsonl (build one with `insitu dataset build`)",
            train_path.display()
        )));
    }
    let dir = ModelDir::open(&args.model).map_err(|e| crate::exit::input(e.to_string()))?;
    let digest = dir.digest()?;
    let train_records =
        sft::read_records(&train_path).map_err(|e| crate::exit::input(e.to_string()))?;
    let mut patient_keys: Vec<String> = train_records
        .iter()
        .map(|r| r.patient_key.clone())
        .collect();
    let mut train_text: Vec<sft::TextExample> =
        train_records.into_iter().map(|r| r.example).collect();
    let canaries = if cfg.privacy.canaries {
        Some(insitu_train::dp::insert_canaries(
            &mut train_text,
            &mut patient_keys,
            cfg.training.seed,
            cfg.privacy.canaries_per_count,
        )?)
    } else {
        None
    };
    let dp_plan = if cfg.privacy.dp_enabled() {
        let patients = patient_keys
            .iter()
            .filter(|k| !k.is_empty())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let plan = cfg
            .privacy
            .plan(patients, &cfg.training)
            .map_err(|e| crate::exit::input(format!("{}: {e}", train_path.display())))?;
        Some(plan)
    } else {
        None
    };
    let val_path = args.dataset.join("validation.jsonl");
    let val_text = if val_path.is_file() {
        sft::read_examples(&val_path).map_err(|e| crate::exit::input(e.to_string()))?
    } else {
        Vec::new()
    };
    // `insitu dataset build` writes card.json; older layouts call it dataset_card.json.
    let card_path = ["card.json", "dataset_card.json"]
        .iter()
        .map(|n| args.dataset.join(n))
        .find(|p| p.is_file())
        .unwrap_or_else(|| args.dataset.join("card.json"));
    let card_sha256 = if card_path.is_file() {
        Some(hf::file_sha256(&card_path)?)
    } else {
        None
    };

    let eos_ids = dir.eos_ids();
    let format = PromptFormat {
        tokenizer: &dir.tokenizer,
        chat: dir.chat.as_ref(),
        eos_ids,
    };
    let tokenize = |exs: &[sft::TextExample]| -> anyhow::Result<Vec<sft::TokenizedExample>> {
        exs.iter()
            .map(|e| format.tokenize(e).map_err(anyhow::Error::from))
            .collect()
    };
    let train = tokenize(&train_text)?;
    let val = tokenize(&val_text)?;
    let pad_id = dir
        .config
        .pad_token_id
        .or(format.eos_ids.first().copied())
        .unwrap_or(0);

    let mut model = Model::from_dir(&dir)?;
    if cfg.training.full_finetune {
        model.make_fully_trainable()?;
    } else {
        model.attach_lora(&cfg.lora, cfg.training.seed)?;
        for w in insitu_train::peft::vllm_warnings(&cfg.lora) {
            eprintln!("warning: {w}");
        }
    }

    let started_at = now_rfc3339();
    let run_id = args.run_id.clone().unwrap_or_else(|| {
        format!(
            "run-{}-s{}",
            started_at.replace([':', '-'], "").trim_end_matches('Z'),
            cfg.training.seed
        )
    });
    let with_home = g.home.is_some();
    let run_dir =
        match (&args.out, with_home) {
            (Some(d), _) => d.clone(),
            (None, true) => insitu_store::Home::new(&g.home_dir())
                .runs_dir()
                .join(&run_id),
            (None, false) => return Err(crate::exit::input(
                "give --out DIR for the run directory, or --home to keep runs in an appliance home",
            )),
        };
    if run_dir.join("run.json").exists() && !args.resume {
        return Err(crate::exit::input(format!(
            "{}: holds a finished run — choose another --out",
            run_dir.display()
        )));
    }
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    if let Some(c) = &canaries {
        write_atomically(
            &run_dir.join(insitu_train::dp::CANARY_FILE),
            &serde_json::to_string_pretty(c)?,
        )?;
    }

    let config_json = serde_json::to_value(&cfg)?;
    let mut store = if with_home {
        let mut store = insitu_store::Store::open(&g.home_dir())?;
        let new_run = insitu_store::runs::NewRun {
            id: run_id.clone(),
            base_model_path: args.model.display().to_string(),
            base_model_digest: digest.clone(),
            dataset_dir: args.dataset.display().to_string(),
            dataset_card_sha256: card_sha256.clone().unwrap_or_default(),
            seed: cfg.training.seed,
            config: config_json.clone(),
            run_dir: run_dir.display().to_string(),
            started_by: g.actor(),
            started_at: started_at.clone(),
        };
        // A resumed run keeps its record (pass the same --run-id).
        let known = args.resume && store.run(&run_id)?.is_some_and(|r| r.status == "running");
        if !known {
            store.tx(|tx| tx.insert_run(&g.actor(), &new_run))?;
        }
        Some(store)
    } else {
        None
    };

    let dp = dp_plan.map(|plan| (plan, patient_keys.as_slice()));
    let outcome = train_and_write(&args, g, &cfg, model, (train, val), dp, pad_id, &run_dir);
    let (metrics, dp_record) = match outcome {
        Ok(m) => m,
        Err(e) => {
            if let Some(store) = store.as_mut() {
                let msg = format!("{e:#}");
                store.tx(|tx| tx.fail_run(&g.actor(), &run_id, &msg))?;
            }
            return Err(e);
        }
    };

    let run_json = serde_json::json!({
        "run_id": run_id,
        "base_model": {"path": args.model.display().to_string(), "digest": digest},
        "dataset": {"dir": args.dataset.display().to_string(), "card_sha256": card_sha256},
        "lora": if cfg.training.full_finetune { serde_json::Value::Null } else { serde_json::to_value(&cfg.lora)? },
        "hyperparameters": serde_json::to_value(&cfg.training)?,
        "seed": cfg.training.seed,
        "started_by": g.actor(),
        "started_at": started_at,
        "finished_at": now_rfc3339(),
        "metrics": metrics,
        "dp": serde_json::to_value(&dp_record)?,
        // Only the count: the secrets stay in the canary file.
        "canaries": canaries.as_ref().map(|c| c.canaries.len()),
    });
    write_atomically(
        &run_dir.join("run.json"),
        &(serde_json::to_string_pretty(&run_json)? + "\n"),
    )?;
    if let Some(store) = store.as_mut() {
        let mut m = serde_json::to_value(&metrics)?;
        m["dp"] = serde_json::to_value(&dp_record)?;
        m["canaries"] = serde_json::to_value(canaries.as_ref().map(|c| c.canaries.len()))?;
        store.tx(|tx| tx.finish_run(&g.actor(), &run_id, &m))?;
    }
    if !g.quiet {
        let fmt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "n/a".into());
        eprintln!(
            "validation loss {} -> {} after {} steps ({} tokens)",
            fmt(metrics.val_loss_before),
            fmt(metrics.val_loss_after),
            metrics.steps,
            metrics.tokens
        );
        if let Some(dp) = &dp_record {
            eprintln!(
                "DP-SGD: ε = {:.4} at δ = {:.3e} (σ = {:.4}, q = {:.4}, {} steps, C = {})",
                dp.epsilon,
                dp.delta,
                dp.noise_multiplier,
                dp.sampling_rate,
                dp.steps,
                dp.max_grad_norm
            );
        }
        if let Some(c) = &canaries {
            eprintln!(
                "inserted {} canaries; secrets in {} (never exported)",
                c.canaries.len(),
                run_dir.join(insitu_train::dp::CANARY_FILE).display()
            );
        }
    }
    println!("{}", run_dir.display());
    Ok(())
}

/// Writes `text` to a temporary sibling and renames it over `path`.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

type Examples = Vec<sft::TokenizedExample>;

#[allow(clippy::too_many_arguments)]
fn train_and_write(
    args: &Args,
    g: &Global,
    cfg: &RunConfig,
    model: Model,
    (train, val): (Examples, Examples),
    dp: Option<(insitu_train::dp::DpPlan, &[String])>,
    pad_id: u32,
    run_dir: &Path,
) -> anyhow::Result<(sft::RunMetrics, Option<insitu_train::dp::DpRecord>)> {
    let mut trainer = Trainer::new(model, cfg.training.clone(), train, val, pad_id)
        .map_err(|e| crate::exit::input(e.to_string()))?;
    if let Some((plan, keys)) = dp {
        trainer = trainer
            .with_dp(plan, keys)
            .map_err(|e| crate::exit::input(e.to_string()))?;
    }
    if args.resume && trainer.resume(run_dir)? && !g.quiet {
        eprintln!(
            "resuming from the latest checkpoint in {}",
            run_dir.display()
        );
    }
    let bar = progress_bar(trainer.total_steps(), g.quiet, "train");
    let hang = args.hang_after_step;
    let metrics = trainer.run(run_dir, &mut |p| {
        show_progress(&bar, p);
        if hang == Some(p.step) {
            // Test hook: the checkpoint for this step is on disk; wait to be killed.
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
    })?;
    bar.finish_and_clear();
    let dp_record = trainer.dp_record()?;
    let model = trainer.into_model();
    if cfg.training.full_finetune {
        let dir = ModelDir::open(&args.model)?;
        hf::write_model_dir(
            &run_dir.join("model"),
            model.config(),
            &model.merged_tensors()?,
            &dir.tokenizer,
            dir.chat.as_ref().map(|c| c.source()),
            &dir.generation,
            "# Fully fine-tuned by insitu\n",
        )?;
    } else {
        let lora = model.lora_config().expect("LoRA attached").clone();
        insitu_train::peft::write_adapter(
            &run_dir.join("adapter"),
            &lora,
            &args.model.display().to_string(),
            &model.trainable_tensors(),
        )?;
    }
    Ok((metrics, dp_record))
}
