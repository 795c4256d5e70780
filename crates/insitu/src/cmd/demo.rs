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
    #[arg(long, default_value_t = 120)]
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
    /// Runs one `insitu …` command line against the demo home, printing it first.
    fn run(&mut self, what: &str, args: &[&str]) -> anyhow::Result<()> {
        self.step += 1;
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        full.push("--home".into());
        full.push(self.home.display().to_string());
        if self.g.quiet {
            full.push("--quiet".into());
        }
        eprintln!("\n[{}] {what}\n    $ insitu {}", self.step, full.join(" "));
        let t = Instant::now();
        crate::run_command_line(&full).with_context(|| format!("demo step {}: {what}", self.step))?;
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
    let mut d = Demo { home: home.clone(), g, step: 0 };
    let patients = args.patients.to_string();
    let seed = args.seed.to_string();
    let input = d.path("demo-input");

    d.run("create the appliance home", &["init"])?;
    d.run(
        "generate a synthetic corpus (notes, gold PHI spans, labels)",
        &["synth", "--patients", &patients, "--seed", &seed, "--out", &input],
    )?;
    d.run(
        "ingest the notes (patient ids become HMAC pseudonyms)",
        &["ingest", &Path::new(&input).join("notes.jsonl").display().to_string(), "--source", "demo-ehr"],
    )?;
    d.run("check the audit chain", &["audit", "verify"])?;
    d.run("summarise the home", &["status"])?;

    eprintln!(
        "\ndemo finished in {:.0}s — home: {}{}",
        started.elapsed().as_secs_f64(),
        home.display(),
        if _guard.is_some() { " (temporary; pass --keep or --home to keep it)" } else { "" }
    );
    Ok(())
}
