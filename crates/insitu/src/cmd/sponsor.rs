//! `insitu sponsor …`: the sponsor's side — push a base model, post and
//! follow jobs, pull the delivered bundle. Talks only to the hub.

use crate::cmd::agent::agent_error;
use crate::Global;
use insitu_agent::SponsorClient;
use insitu_hub::JobSpec;
use std::path::PathBuf;

/// Subcommands of `insitu sponsor`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Base models on the hub.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Jobs: post one, show its state.
    #[command(subcommand)]
    Job(JobCommand),
    /// Delivered bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

/// Hub URL and API token.
#[derive(clap::Args, Debug)]
pub struct HubAuth {
    /// Hub base URL.
    #[arg(long, env = "INSITU_HUB_URL")]
    hub: String,
    /// API token from `insitu hub admin add-sponsor`.
    #[arg(long, env = "INSITU_HUB_TOKEN", hide_env_values = true)]
    token: String,
}

impl HubAuth {
    fn client(&self) -> SponsorClient {
        SponsorClient::new(&self.hub, &self.token)
    }
}

/// `insitu sponsor model …`.
#[derive(clap::Subcommand, Debug)]
pub enum ModelCommand {
    /// Upload a Hugging Face model directory (safetensors/JSON/tokenizer only);
    /// resumable; prints the model digest alone on the last line.
    Push {
        #[command(flatten)]
        auth: HubAuth,
        /// The model directory.
        model_dir: PathBuf,
        /// Display name (defaults to the directory name).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `insitu sponsor job …`.
#[derive(clap::Subcommand, Debug)]
pub enum JobCommand {
    /// Validate and post a job spec (TOML); prints the job id alone on the last line.
    Post {
        #[command(flatten)]
        auth: HubAuth,
        /// The job spec, e.g. examples/job.toml.
        spec: PathBuf,
        /// Use this base model digest instead of the spec's `model.base_digest`.
        #[arg(long, value_name = "DIGEST")]
        model: Option<String>,
        /// Idempotency key. Default: derived from the spec's content, so
        /// re-running the same command never posts (or charges) twice.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Print a job's state as JSON (exit 1 for a job that is not yours).
    Show {
        #[command(flatten)]
        auth: HubAuth,
        /// Job id.
        job: String,
    },
}

/// `insitu sponsor bundle …`.
#[derive(clap::Subcommand, Debug)]
pub enum BundleCommand {
    /// Download a delivered bundle, verifying every digest and the appliance signature.
    Pull {
        #[command(flatten)]
        auth: HubAuth,
        /// Job id.
        job: String,
        /// Directory to create (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs `insitu sponsor …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    match command {
        Command::Model(ModelCommand::Push {
            auth,
            model_dir,
            name,
        }) => {
            let name = name.unwrap_or_else(|| {
                model_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "model".into())
            });
            let pushed = auth
                .client()
                .push_model(&model_dir, &name)
                .map_err(agent_error)?;
            if !g.quiet {
                println!(
                    "pushed {} ({} chunk(s), {} sent now, {} bytes); model digest:",
                    model_dir.display(),
                    pushed.stats.chunks_total,
                    pushed.stats.chunks_moved,
                    pushed.stats.bytes_moved
                );
            }
            println!("{}", pushed.digest);
            Ok(())
        }
        Command::Job(JobCommand::Post {
            auth,
            spec,
            model,
            idempotency_key,
        }) => {
            let text = std::fs::read_to_string(&spec)
                .map_err(|e| crate::exit::input(format!("{}: {e}", spec.display())))?;
            let mut job = JobSpec::from_toml_str(&text).map_err(|issues| {
                crate::exit::input(format!(
                    "{}: {} problem(s):\n{}",
                    spec.display(),
                    issues.len(),
                    issues
                        .iter()
                        .map(|i| format!("  {}: {i}", spec.display()))
                        .collect::<Vec<_>>()
                        .join("\n")
                ))
            })?;
            if let Some(d) = model {
                let d = d.strip_prefix("sha256:").unwrap_or(&d).to_string();
                if !insitu_hub::protocol::is_sha256_hex(&d) {
                    return Err(crate::exit::input(format!("--model {d:?}: expected the 64-hex digest printed by `insitu sponsor model push`")));
                }
                job.model.base_digest = d;
            }
            let key = idempotency_key.unwrap_or_else(|| {
                format!(
                    "spec-{}",
                    insitu_hub::protocol::sha256_hex(
                        serde_json::to_string(&job).unwrap_or_default().as_bytes()
                    )
                )
            });
            let id = auth.client().post_job(&job, &key).map_err(agent_error)?;
            if !g.quiet {
                println!(
                    "posted {:?}: {} {} held in escrow, offered to {}; job id:",
                    job.job.name,
                    crate::cmd::jobs::money(job.fee.amount_minor, ""),
                    job.fee.currency,
                    job.job.target_hospitals.join(", ")
                );
            }
            println!("{id}");
            Ok(())
        }
        Command::Job(JobCommand::Show { auth, job }) => {
            let v = auth.client().job(&job).map_err(|e| match e.status() {
                Some(404) => anyhow::anyhow!(
                    "job {job} not found among your jobs — check the id and the token"
                ),
                _ => agent_error(e),
            })?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        Command::Bundle(BundleCommand::Pull { auth, job, out }) => {
            let (digest, stats) = auth.client().pull_bundle(&job, &out).map_err(agent_error)?;
            println!(
                "bundle for {job} written to {} ({} chunk(s), manifest digest {digest}); signature and every digest verified",
                out.display(),
                stats.chunks_total
            );
            if !g.quiet {
                println!("next: insitu verify {}", out.display());
            }
            Ok(())
        }
    }
}
