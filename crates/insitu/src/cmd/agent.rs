//! `insitu agent …`: the appliance's outbound-only link to a hub.

use super::agent_pipeline::{PipelineExecutor, PipelineSettings};
use crate::Global;
use anyhow::Context;
use insitu_agent::AgentClient;
use insitu_store::Store;

/// Subcommands of `insitu agent`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Register this appliance's signing key with a hub using a one-time code.
    Enroll {
        /// Hub base URL, e.g. https://hub.example.org.
        #[arg(long, env = "INSITU_HUB_URL")]
        hub: String,
        /// Enrollment code from `insitu hub admin add-hospital`.
        #[arg(long)]
        code: String,
        /// Name of this appliance as shown on the hub.
        #[arg(long, default_value = "appliance")]
        name: String,
    },
    /// Poll the hub (outbound only): pull jobs, send IG decisions, run accepted jobs.
    ///
    /// An accepted job runs through this appliance's pipeline with the
    /// ordinary, audited commands: dataset build (the job's recipe) → train
    /// (its hyperparameters, DP budget, canaries) → eval on the test split →
    /// leakage suite → gate (the home's policy, tightened by the job's own
    /// limits) → two-person approval → export → upload. After the gate passes
    /// the job waits for the approvers (`insitu approve JOB --as USER`: a hub
    /// job's run id is its job id);
    /// the next poll seals and delivers. Every poll resumes where the last
    /// one stopped, including a training run killed half way.
    #[command(
        after_help = "Examples:\n  insitu agent run --once\n  insitu agent run --interval 60 --leakage-examples 500"
    )]
    Run {
        /// Poll once and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between polls.
        #[arg(long, default_value_t = 30)]
        interval: u64,
        /// Member and non-member examples the leakage suite attacks per job.
        #[arg(long, default_value_t = 200)]
        leakage_examples: usize,
        /// Random candidate secrets scored per canary; exposure beyond the
        /// sample is extrapolated from a normal fit, so a few hundred suffice
        /// on slow models.
        #[arg(long, default_value_t = 1000)]
        canary_candidates: usize,
        /// Test examples scored for loss per job.
        #[arg(long, default_value_t = 200)]
        eval_examples: usize,
        /// Test prompts answered greedily per job (ROUGE-L, exact match).
        #[arg(long, default_value_t = 8)]
        eval_generate: usize,
        /// Print this many test examples side by side (prompt, reference, base
        /// and adapter answers: de-identified note text; keep 0 when the
        /// agent's output goes to a log).
        #[arg(long, default_value_t = 0)]
        eval_show: usize,
    },
}

fn open(g: &Global) -> anyhow::Result<Store> {
    Store::open(&g.home_dir()).map_err(|e| crate::exit::input(e.to_string()))
}

/// Runs `insitu agent …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    match command {
        Command::Enroll { hub, code, name } => {
            let mut store = open(g)?;
            let key = store
                .home()
                .signing_key()
                .context("reading the appliance signing key")?;
            let client = AgentClient::new(&hub, key);
            let hospital = client.enroll(&code, &name).map_err(agent_error)?;
            let pk = client.public_key_hex();
            store.tx(|tx| tx.record_enrolment(&g.actor(), &hub, &hospital, &pk))?;
            println!("enrolled with {hub} as hospital {hospital} (appliance key {pk})");
            Ok(())
        }
        Command::Run {
            once,
            interval,
            leakage_examples,
            canary_candidates,
            eval_examples,
            eval_generate,
            eval_show,
        } => {
            let mut store = open(g)?;
            let enrolment = store.hub_enrolment()?.ok_or_else(|| {
                crate::exit::input("this appliance is not enrolled with a hub — run `insitu agent enroll --hub URL --code CODE` first")
            })?;
            let client = AgentClient::new(&enrolment.hub_url, store.home().signing_key()?);
            let mut executor = PipelineExecutor::new(
                store.home().root(),
                PipelineSettings {
                    leakage_examples,
                    canary_candidates,
                    eval_examples,
                    eval_generate,
                    eval_show,
                    quiet: g.quiet,
                },
            );
            loop {
                match insitu_agent::poll_once(&mut store, &client, &mut executor, "agent") {
                    Ok(r) => {
                        if !g.quiet {
                            println!(
                                "polled {}: {} job(s) listed, {} decision(s) sent, {} run",
                                enrolment.hub_url,
                                r.pulled,
                                r.reported.len(),
                                r.ran.len()
                            );
                            for (job, state) in &r.ran {
                                println!("  {job}: {state}");
                            }
                        }
                    }
                    Err(e) if once => return Err(agent_error(e)),
                    Err(e) => eprintln!("poll failed (will retry in {interval} s): {e}"),
                }
                if once {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_secs(interval));
            }
        }
    }
}

/// Hub refusals of the caller's input (4xx other than auth) exit 2.
pub(crate) fn agent_error(e: insitu_agent::AgentError) -> anyhow::Error {
    match e.status() {
        Some(400..=499) => crate::exit::input(e.to_string()),
        _ => match e {
            insitu_agent::AgentError::Invalid(m) => crate::exit::input(m),
            other => anyhow::Error::new(other),
        },
    }
}
