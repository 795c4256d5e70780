//! `insitu agent …`: the appliance's outbound-only link to a hub.

use crate::Global;
use anyhow::Context;
use insitu_agent::{AgentClient, Outcome, RunnableJob};
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
    Run {
        /// Poll once and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between polls.
        #[arg(long, default_value_t = 30)]
        interval: u64,
    },
}

fn open(g: &Global) -> anyhow::Result<Store> {
    Store::open(&g.home_dir()).map_err(|e| crate::exit::input(e.to_string()))
}

/// Runs a job by delivering the bundle hospital staff exported for it.
/// The pipeline (dataset → train → leakage → gate → two approvals) is driven
/// by people with the ordinary commands, ending in `insitu export RUN --job
/// JOB`; the agent then finds that bundle, verifies it with this appliance's
/// key and delivers it. Until then the job waits (it is not failed, so the
/// sponsor is not refunded by mistake). A fully automatic executor is wired
/// in by `insitu demo`.
struct ExportedBundle {
    home: insitu_store::Home,
}

impl insitu_agent::JobExecutor for ExportedBundle {
    fn execute(&mut self, job: &RunnableJob) -> Outcome {
        let key = match self.home.verifying_key() {
            Ok(k) => k,
            Err(e) => {
                return Outcome::Deferred {
                    reason: format!("cannot read the appliance key: {e}"),
                }
            }
        };
        let mut dirs: Vec<_> = std::fs::read_dir(self.home.bundles_dir())
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        for dir in dirs {
            let Ok(outcome) = insitu_release::verify_bundle(&dir, Some(&key)) else {
                continue;
            };
            let for_this_job = outcome.manifest.as_ref().and_then(|m| m.job_id.as_deref())
                == Some(job.id.as_str());
            if for_this_job && outcome.ok() {
                return Outcome::Delivered { bundle_dir: dir };
            }
        }
        Outcome::Deferred {
            reason: format!(
                "job {}: waiting for its bundle — build the dataset, train, run the gate, get two approvals, then `insitu export RUN --job {}`",
                job.id, job.id
            ),
        }
    }
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
        Command::Run { once, interval } => {
            let mut store = open(g)?;
            let enrolment = store.hub_enrolment()?.ok_or_else(|| {
                crate::exit::input("this appliance is not enrolled with a hub — run `insitu agent enroll --hub URL --code CODE` first")
            })?;
            let client = AgentClient::new(&enrolment.hub_url, store.home().signing_key()?);
            let mut executor = ExportedBundle {
                home: store.home().clone(),
            };
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
