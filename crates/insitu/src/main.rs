//! The `insitu` command line: parses arguments, wires the library crates
//! together, draws progress and maps errors to exit codes (0 ok, 1 failure,
//! 2 usage or input error). Domain logic lives in the library crates.

mod cmd;
mod exit;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str = "insitu — fine-tune clinical language models inside the hospital.

A sponsor's base model comes in; notes are de-identified, cleaned and turned into
datasets here; a LoRA adapter is trained next to them, attacked by a leakage suite,
gated by policy and approved by two people; only a signed bundle leaves.

Start here:
  insitu demo                          the whole pipeline on synthetic data
  insitu init --home ./insitu-home     create an appliance home
  insitu ingest notes.jsonl            store notes (patient ids are pseudonymised)
  insitu status                        what the home holds
  insitu audit verify                  check the tamper-evident audit log";

/// Top-level command line.
#[derive(Parser)]
#[command(name = "insitu", version, about = ABOUT, long_about = ABOUT)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command accepts.
#[derive(clap::Args, Clone, Debug)]
pub struct Global {
    /// Appliance home directory (database, keys, models, runs, bundles).
    /// Defaults to $INSITU_HOME, else ./insitu-home.
    #[arg(long, global = true, env = "INSITU_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Who is acting, as recorded in the audit log. Defaults to $USER.
    #[arg(long, global = true, env = "INSITU_ACTOR", value_name = "NAME")]
    pub actor: Option<String>,
    /// Only print errors and final results (no progress bars).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More log output (-v info, -vv debug).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Global {
    /// The home directory to use.
    pub fn home_dir(&self) -> PathBuf {
        self.home
            .clone()
            .unwrap_or_else(|| PathBuf::from("insitu-home"))
    }
    /// The actor name recorded in the audit log.
    pub fn actor(&self) -> String {
        self.actor
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "operator".to_string())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create an appliance home (database, keys, config). Safe to re-run.
    Init(cmd::init::Args),
    /// Summarise what the home holds (documents, patients, runs, bundles, audit head).
    Status(cmd::status::Args),
    /// Read and verify the hash-chained audit log.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Write a deterministic synthetic clinical corpus with gold PHI labels.
    Synth(cmd::synth::Args),
    /// Store notes from .txt directories, JSONL, CSV or FHIR R4 JSON.
    Ingest(cmd::ingest::Args),
    /// De-identify notes (files, or every ingested document with --home); `deid eval` scores spans.
    Deid(cmd::deid::Args),
    /// Classify each concept's assertion (present, absent, possible, hypothetical, historical, family).
    Assert(cmd::assert::Args),
    /// Build training datasets from de-identified notes.
    #[command(subcommand)]
    Dataset(cmd::dataset::Command),
    /// Recommend prompting, LoRA or full fine-tuning for a dataset.
    Advise(cmd::advise::Args),
    /// Create or import base models (built-in tiny model, GGUF import).
    #[command(subcommand)]
    Base(cmd::base::Command),
    /// Fine-tune a base model (LoRA or full SFT) on a dataset.
    Train(cmd::train::Args),
    /// Merge a LoRA adapter into its base model, writing a HF model directory.
    Merge(cmd::merge::Args),
    /// Measure what training did on held-out patients: loss, perplexity, answers base vs adapter.
    Eval(cmd::eval::Args),
    /// Attack a trained run: membership inference, extraction, PHI in generations.
    Leakage(cmd::leakage::Args),
    /// Check a run against the release policy.
    Gate(cmd::gate::Args),
    /// Manage local users and their roles.
    #[command(subcommand)]
    Users(cmd::users::Command),
    /// Approve (or reject) a run for release, bound to the digest of what would leave.
    Approve(cmd::approve::Args),
    /// Write the signed export bundle for a gated, approved run.
    Export(cmd::export::Args),
    /// Verify a bundle offline: every file, nothing extra, signature.
    Verify(cmd::verify::Args),
    /// Run the sponsor-facing hub service and administer it.
    #[command(subcommand)]
    Hub(cmd::hub::Command),
    /// The appliance's outbound-only agent: enroll with a hub, pull and run jobs.
    #[command(subcommand)]
    Agent(cmd::agent::Command),
    /// Sponsor-side client: push models, post jobs, pull bundles.
    #[command(subcommand)]
    Sponsor(cmd::sponsor::Command),
    /// Jobs offered to this appliance: list, show, accept, decline.
    #[command(subcommand)]
    Jobs(cmd::jobs::Command),
    /// Run the whole pipeline on synthetic data in a temporary home.
    Demo(cmd::demo::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    let g = cli.global.clone();
    exit::report(dispatch(cli.command, &g))
}

/// Parses `args` (without the program name) as a command line and runs it in
/// this process. The demo drives the pipeline through this, so that every
/// step it shows is a command a person could type.
pub fn run_command_line(args: &[String]) -> anyhow::Result<()> {
    let cli =
        Cli::try_parse_from(std::iter::once("insitu".to_string()).chain(args.iter().cloned()))
            .map_err(|e| anyhow::anyhow!("`insitu {}` did not parse: {e}", args.join(" ")))?;
    let g = cli.global.clone();
    dispatch(cli.command, &g)
}

fn dispatch(command: Command, g: &Global) -> anyhow::Result<()> {
    match command {
        Command::Init(a) => cmd::init::run(a, g),
        Command::Status(a) => cmd::status::run(a, g),
        Command::Audit(a) => cmd::audit::run(a, g),
        Command::Synth(a) => cmd::synth::run(a, g),
        Command::Ingest(a) => cmd::ingest::run(a, g),
        Command::Deid(a) => cmd::deid::run(a, g),
        Command::Assert(a) => cmd::assert::run(a, g),
        Command::Dataset(a) => cmd::dataset::run(a, g),
        Command::Advise(a) => cmd::advise::run(a, g),
        Command::Base(a) => cmd::base::run(a, g),
        Command::Train(a) => cmd::train::run(a, g),
        Command::Merge(a) => cmd::merge::run(a, g),
        Command::Eval(a) => cmd::eval::run(a, g),
        Command::Leakage(a) => cmd::leakage::run(a, g),
        Command::Gate(a) => cmd::gate::run(a, g),
        Command::Users(a) => cmd::users::run(a, g),
        Command::Approve(a) => cmd::approve::run(a, g),
        Command::Export(a) => cmd::export::run(a, g),
        Command::Verify(a) => cmd::verify::run(a, g),
        Command::Hub(a) => cmd::hub::run(a, g),
        Command::Agent(a) => cmd::agent::run(a, g),
        Command::Sponsor(a) => cmd::sponsor::run(a, g),
        Command::Jobs(a) => cmd::jobs::run(a, g),
        Command::Demo(a) => cmd::demo::run(a, g),
    }
}

fn init_logging(g: &Global) {
    let level = match g.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("INSITU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
