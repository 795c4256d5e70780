//! The job loop on the appliance: pull jobs, send the IG officer's decisions,
//! run accepted jobs through a [`JobExecutor`] and report the outcome. Every
//! step is outbound, idempotent and recorded in the appliance store, so the
//! loop can be killed anywhere and resumed by the next poll.

use crate::agent::AgentClient;
use crate::error::{AgentError, Result};
use insitu_hub::JobSpec;
use insitu_store::jobs::PulledJob;
use insitu_store::Store;
use std::path::PathBuf;

/// A job ready to run: validated spec plus the verified base model.
#[derive(Debug, Clone)]
pub struct RunnableJob {
    /// Hub job id.
    pub id: String,
    /// Sponsor name.
    pub sponsor: String,
    /// The validated spec.
    pub spec: JobSpec,
    /// Directory of the verified base model (HF layout).
    pub model_dir: PathBuf,
}

/// How a job ended on the appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The gate passed, two people approved, and this directory holds the
    /// signed bundle to deliver.
    Delivered {
        /// The bundle directory (only its contents leave).
        bundle_dir: PathBuf,
    },
    /// The policy gate or an approver refused release; nothing leaves.
    RefusedByGate {
        /// Why, in words the sponsor may read.
        reason: String,
    },
    /// The run failed; nothing leaves.
    Failed {
        /// Why, in words the sponsor may read.
        reason: String,
    },
    /// The job could not run now (e.g. the pipeline is busy or not
    /// available); it keeps its state and is tried again on a later poll.
    Deferred {
        /// Why, for the appliance's operator.
        reason: String,
    },
}

/// Runs one accepted job through the pipeline (dataset → train → leakage →
/// gate → approvals → bundle). May be called again for the same job after a
/// crash, so it should reuse finished work.
pub trait JobExecutor {
    /// Runs the job and says how it ended.
    fn execute(&mut self, job: &RunnableJob) -> Outcome;
}

impl<F: FnMut(&RunnableJob) -> Outcome> JobExecutor for F {
    fn execute(&mut self, job: &RunnableJob) -> Outcome {
        self(job)
    }
}

/// What one poll did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PollReport {
    /// Jobs the hub listed.
    pub pulled: usize,
    /// Decisions sent to the hub: (job, action).
    pub reported: Vec<(String, String)>,
    /// Jobs run this poll: (job, final local state, followed by `: reason`
    /// when it failed, was refused or was deferred).
    pub ran: Vec<(String, String)>,
}

fn sync(store: &mut Store, client: &AgentClient, actor: &str) -> Result<usize> {
    let jobs = client.jobs()?;
    for j in &jobs {
        let spec = j.spec.to_string();
        store.tx(|tx| {
            tx.sync_pulled_job(
                actor,
                &PulledJob {
                    id: &j.id,
                    sponsor: &j.sponsor,
                    spec: &spec,
                    model_digest: &j.model_digest,
                    fee_minor: j.fee_minor,
                    hospital_share_minor: j.hospital_share_minor,
                    currency: &j.currency,
                    hub_state: &j.state,
                },
            )
        })?;
    }
    Ok(jobs.len())
}

/// One poll: pull, report pending decisions, run what is accepted.
pub fn poll_once(
    store: &mut Store,
    client: &AgentClient,
    executor: &mut dyn JobExecutor,
    actor: &str,
) -> Result<PollReport> {
    let mut report = PollReport {
        pulled: sync(store, client, actor)?,
        ..Default::default()
    };
    for job in store.hub_jobs()? {
        if job.reported {
            continue;
        }
        let action = match job.state.as_str() {
            "accepted" => "accept",
            "declined" => "decline",
            "failed" => "fail",
            "refused-by-gate" => "refuse",
            _ => continue,
        };
        match client.report(&job.id, action, &job.reason) {
            Ok(_) => store.tx(|tx| tx.set_job_state(actor, &job.id, &job.state, true, "", None))?,
            // Another hospital took it, or it ended: the decision no longer applies.
            Err(
                e @ AgentError::Hub {
                    status: 404 | 409, ..
                },
            ) if action == "accept" || action == "decline" => store.tx(|tx| {
                tx.set_job_state(actor, &job.id, "withdrawn", true, &e.to_string(), None)
            })?,
            Err(e) => return Err(e),
        }
        report.reported.push((job.id.clone(), action.to_string()));
    }
    if !report.reported.is_empty() {
        sync(store, client, actor)?;
    }
    for job in store.hub_jobs()? {
        let runnable = matches!(job.state.as_str(), "accepted" | "running")
            && matches!(job.hub_state.as_str(), "accepted" | "running");
        if !runnable {
            continue;
        }
        let final_state = run_job(store, client, executor, actor, &job)?;
        report.ran.push((job.id.clone(), final_state));
    }
    Ok(report)
}

fn run_job(
    store: &mut Store,
    client: &AgentClient,
    executor: &mut dyn JobExecutor,
    actor: &str,
    job: &insitu_store::jobs::HubJob,
) -> Result<String> {
    let spec_value: serde_json::Value = serde_json::from_str(&job.spec).unwrap_or_default();
    let fail = |store: &mut Store, state: &str, action: &str, reason: String| -> Result<String> {
        client.report(&job.id, action, &reason)?;
        store.tx(|tx| tx.set_job_state(actor, &job.id, state, true, &reason, None))?;
        Ok(format!("{state}: {reason}"))
    };
    let spec = match JobSpec::from_json(&spec_value) {
        Ok(s) => s,
        Err(issues) => {
            let reason = format!(
                "the appliance refused the spec: {}",
                issues
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            return fail(store, "failed", "fail", reason);
        }
    };
    let models_dir = store.home().models_dir();
    let model_dir = match client.fetch_model(&job.model_digest, &models_dir) {
        Ok((dir, _)) => dir,
        Err(e @ AgentError::Verify(_)) => {
            return fail(store, "failed", "fail", format!("base model refused: {e}"))
        }
        Err(e) => return Err(e),
    };
    if job.hub_state == "accepted" {
        client.report(&job.id, "start", "")?;
        store.tx(|tx| tx.set_job_state(actor, &job.id, "running", true, "", None))?;
    }
    let runnable = RunnableJob {
        id: job.id.clone(),
        sponsor: job.sponsor.clone(),
        spec,
        model_dir,
    };
    match executor.execute(&runnable) {
        Outcome::Delivered { bundle_dir } => {
            let digest = client.deliver(&job.id, &bundle_dir)?;
            store
                .tx(|tx| tx.set_job_state(actor, &job.id, "delivered", true, "", Some(&digest)))?;
            Ok("delivered".into())
        }
        Outcome::RefusedByGate { reason } => fail(store, "refused-by-gate", "refuse", reason),
        Outcome::Failed { reason } => fail(store, "failed", "fail", reason),
        Outcome::Deferred { reason } => {
            tracing::info!(job = %job.id, %reason, "job deferred");
            Ok(format!("deferred: {reason}"))
        }
    }
}
