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
}

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
    let model = d.path("models/tiny");
    d.run(
        "write the built-in tiny base model (HF directory, own BPE tokenizer, short pretraining)",
        &[
            "base", "init", "--preset", "tiny", "--out", &model, "--seed", &seed,
        ],
    )?;
    let run_id = format!("demo-run-s{seed}");
    d.run(
        "fine-tune a LoRA adapter next to the data",
        &[
            "train",
            "--model",
            &model,
            "--dataset",
            &dataset,
            "--run-id",
            &run_id,
            "--seed",
            &seed,
        ],
    )?;
    d.run(
        "attack the adapter: membership inference, extraction, PHI in generations",
        &["leakage", &run_id, "--seed", &seed],
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
