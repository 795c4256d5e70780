//! The job executor behind `insitu agent run`: takes an accepted hub job
//! through the appliance's own pipeline — dataset → train → eval → leakage →
//! gate → two-person approval → sealed bundle — by running the same command
//! lines a person would type, so every step is audited exactly as by hand.
//!
//! Each poll picks up where the last one stopped: a finished step leaves its
//! artefact (dataset card, `run.json`, `eval.json`, `leakage.json`, a gate
//! decision at the current release digest, the bundle) and is not redone; a
//! run killed mid-training resumes from its checkpoint. People stay in the
//! loop where the policy says so: after the gate passes the job waits
//! (`Deferred`) until the required approvers have signed off with
//! `insitu approve`, and a rejection ends it as refused.
//!
//! What the sponsor hears on failure or refusal is built from rule names,
//! numbers and our own error messages — never note text and never an
//! approver's free-text reason, which stays on the appliance.

use insitu_agent::{JobExecutor, Outcome, RunnableJob};
use insitu_release::{release_digest, JobDpBudget, JobRequirements, Policy, RunFacts};
use insitu_store::{Home, Store};
use std::path::{Path, PathBuf};

/// How much evidence the appliance gathers for each job. The sponsor's spec
/// says what to train; sample sizes for scoring are the hospital's choice.
#[derive(Debug, Clone)]
pub(crate) struct PipelineSettings {
    /// Member and non-member examples attacked by the leakage suite.
    pub leakage_examples: usize,
    /// Random candidate secrets scored per canary (exposure estimate).
    pub canary_candidates: usize,
    /// Test examples scored for loss by `insitu eval`.
    pub eval_examples: usize,
    /// Test prompts answered greedily by `insitu eval`.
    pub eval_generate: usize,
    /// Test examples printed side by side (de-identified note text on the
    /// console; 0 for unattended agents whose output goes to logs).
    pub eval_show: usize,
    /// Print progress bars and step output.
    pub quiet: bool,
}

/// Runs accepted jobs through the pipeline of the appliance at `home`.
pub(crate) struct PipelineExecutor {
    home: PathBuf,
    settings: PipelineSettings,
}

/// Actor recorded in the audit log for the steps the agent runs.
const ACTOR: &str = "agent";

/// Why a job stopped: the sponsor gets the message.
enum Stop {
    Refused(String),
    Failed(String),
    Waiting(String),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Stop {
        Stop::Failed(format!("{e:#}"))
    }
}

type Step<T> = Result<T, Stop>;

impl PipelineExecutor {
    /// An executor for the appliance home at `home`.
    pub(crate) fn new(home: &Path, settings: PipelineSettings) -> PipelineExecutor {
        PipelineExecutor {
            home: home.to_path_buf(),
            settings,
        }
    }

    /// Runs `insitu ARGS --home HOME --actor agent` in this process.
    fn insitu(&self, what: &str, args: &[String]) -> Step<()> {
        let mut full = args.to_vec();
        full.extend([
            "--home".into(),
            self.home.display().to_string(),
            "--actor".into(),
            ACTOR.into(),
        ]);
        if self.settings.quiet {
            full.push("--quiet".into());
        } else {
            eprintln!("  agent: {what}\n    $ insitu {}", full.join(" "));
        }
        crate::run_command_line(&full).map_err(|e| Stop::Failed(format!("{what}: {e:#}")))
    }

    fn advance(&self, job: &RunnableJob) -> Step<PathBuf> {
        let home = Home::new(&self.home);
        if let Some(dir) = delivered_bundle(&home, &job.id) {
            return Ok(dir);
        }
        let spec = &job.spec;
        if spec.task.kind != "sft" {
            return Err(Stop::Failed(format!(
                "task.kind {:?}: this appliance runs supervised fine-tuning (sft) jobs; preference (dpo) jobs are not supported yet",
                spec.task.kind
            )));
        }
        let run_id = run_id_for(&job.id);
        let dataset = self.dataset(&home, job, &run_id)?;
        let run_dir = self.train(&home, job, &run_id, &dataset)?;
        let requirements = requirements(job);
        requirements
            .write(&run_dir)
            .map_err(|e| Stop::Failed(e.to_string()))?;
        self.evaluate(&run_dir, &run_id)?;
        if !run_dir.join("leakage.json").is_file() {
            self.insitu(
                "leakage suite",
                &args(&[
                    "leakage",
                    &run_id,
                    "--max-examples",
                    &self.settings.leakage_examples.to_string(),
                    "--seed",
                    &spec.hyperparameters.seed.to_string(),
                    "--canary-candidates",
                    &self.settings.canary_candidates.to_string(),
                ]),
            )?;
        }
        let (policy, digest) = self.gate(&home, &run_id)?;
        self.approvals(&home, &policy, &run_id, &digest)?;
        let bundle = home.bundles_dir().join(&run_id);
        if bundle.exists() {
            // Sealed earlier but for something else (e.g. exported by hand
            // without --job): keep it and seal a fresh one beside it.
            let aside = home
                .bundles_dir()
                .join(format!("{run_id}-{}", &digest[..12]));
            return self.export(&run_id, &job.id, &aside);
        }
        self.export(&run_id, &job.id, &bundle)
    }

    /// Builds the job's dataset once: `datasets/<run id>`, from the job's
    /// recipe; refuses cohorts smaller than the sponsor asked for.
    fn dataset(&self, home: &Home, job: &RunnableJob, run_id: &str) -> Step<PathBuf> {
        let d = &job.spec.dataset;
        let dir = home.root().join("datasets").join(run_id);
        if !dir.join("card.json").is_file() {
            if dir.exists() {
                // A build that stopped half way: start it again.
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| Stop::Failed(format!("{}: {e}", dir.display())))?;
            }
            let mut a = args(&[
                "dataset",
                "build",
                "--task",
                &job.spec.task.template,
                "--format",
                "messages",
                "--out",
                &dir.display().to_string(),
                "--seed",
                &d.seed.to_string(),
                "--max-notes",
                &d.max_examples.to_string(),
                "--split",
                &format!("{},{},{}", d.split.train, d.split.validation, d.split.test),
            ]);
            if !d.note_kinds.is_empty() {
                a.extend(["--kinds".into(), d.note_kinds.join(",")]);
            }
            self.insitu("build the job's dataset", &a)?;
        }
        let card: serde_json::Value = std::fs::read_to_string(dir.join("card.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| Stop::Failed(format!("{}: unreadable dataset card", dir.display())))?;
        let patients: u64 = card["splits"]
            .as_object()
            .map(|s| s.values().filter_map(|v| v["patients"].as_u64()).sum())
            .unwrap_or(0);
        if patients < d.min_patients as u64 {
            return Err(Stop::Failed(format!(
                "the dataset holds {patients} patients, fewer than the job's dataset.min_patients = {}",
                d.min_patients
            )));
        }
        Ok(dir)
    }

    /// Trains (or resumes, or reuses) the run `runs/<run id>` with the job's
    /// hyperparameters, DP budget and canaries.
    fn train(&self, home: &Home, job: &RunnableJob, run_id: &str, dataset: &Path) -> Step<PathBuf> {
        let run_dir = home.runs_dir().join(run_id);
        if run_dir.join("run.json").is_file() {
            return Ok(run_dir);
        }
        let config_dir = home.root().join("jobs").join(run_id);
        std::fs::create_dir_all(&config_dir)
            .map_err(|e| Stop::Failed(format!("{}: {e}", config_dir.display())))?;
        let config = config_dir.join("run.toml");
        let tmp = config.with_extension("toml.tmp");
        std::fs::write(&tmp, run_toml(job))
            .and_then(|()| std::fs::rename(&tmp, &config))
            .map_err(|e| Stop::Failed(format!("{}: {e}", config.display())))?;
        let mut a = args(&[
            "train",
            "--model",
            &job.model_dir.display().to_string(),
            "--dataset",
            &dataset.display().to_string(),
            "--config",
            &config.display().to_string(),
            "--run-id",
            run_id,
        ]);
        if run_dir.exists() {
            // Killed mid-run: continue from the latest checkpoint.
            a.push("--resume".into());
        }
        self.insitu("train the adapter", &a)?;
        Ok(run_dir)
    }

    /// Scores the test split once (the job's `max_eval_loss` is about it).
    fn evaluate(&self, run_dir: &Path, run_id: &str) -> Step<()> {
        let on_test = std::fs::read_to_string(run_dir.join("eval.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["split"] == "test");
        if on_test {
            return Ok(());
        }
        self.insitu(
            "evaluate on held-out patients (test split)",
            &args(&[
                "eval",
                run_id,
                "--split",
                "test",
                "--max-examples",
                &self.settings.eval_examples.to_string(),
                "--generate",
                &self.settings.eval_generate.to_string(),
                "--show",
                &self.settings.eval_show.to_string(),
            ]),
        )
    }

    /// Runs the gate unless a decision is already recorded at the current
    /// digest; returns the policy and digest when it passed.
    fn gate(&self, home: &Home, run_id: &str) -> Step<(Policy, String)> {
        let (policy, digest) = {
            let store = Store::open(home.root()).map_err(|e| Stop::Failed(e.to_string()))?;
            let policy = super::gate::load_policy(&store)?;
            let facts = RunFacts::load(&home.runs_dir().join(run_id), home.root())
                .map_err(|e| Stop::Failed(e.to_string()))?;
            let digest = release_digest(&facts).map_err(|e| Stop::Refused(e.to_string()))?;
            let decided = store
                .latest_gate_decision(run_id)
                .map_err(|e| Stop::Failed(e.to_string()))?
                .filter(|d| d.release_digest == digest);
            if let Some(d) = decided {
                return gate_outcome(&d).map(|()| (policy, digest));
            }
            (policy, digest)
        };
        // A failing gate exits non-zero after recording its decision; the
        // decision, not the exit code, is what counts.
        let _ = self.insitu("check the release gate", &args(&["gate", run_id]));
        let store = Store::open(home.root()).map_err(|e| Stop::Failed(e.to_string()))?;
        match store
            .latest_gate_decision(run_id)
            .map_err(|e| Stop::Failed(e.to_string()))?
        {
            Some(d) if d.release_digest == digest => gate_outcome(&d).map(|()| (policy, digest)),
            _ => Err(Stop::Failed(format!(
                "the gate recorded no decision for {run_id}"
            ))),
        }
    }

    /// Waits for the approvals the policy requires at `digest`; a rejection
    /// refuses the release.
    fn approvals(&self, home: &Home, policy: &Policy, run_id: &str, digest: &str) -> Step<()> {
        let store = Store::open(home.root()).map_err(|e| Stop::Failed(e.to_string()))?;
        let recorded = store
            .approvals(run_id)
            .map_err(|e| Stop::Failed(e.to_string()))?;
        if let Some(r) = recorded
            .iter()
            .find(|a| a.release_digest == digest && a.decision == "reject")
        {
            return Err(Stop::Refused(format!(
                "the hospital's {} rejected the release (the reason is recorded on the appliance)",
                r.role.replace('_', " ")
            )));
        }
        let started_by = RunFacts::load(&home.runs_dir().join(run_id), home.root())
            .map_err(|e| Stop::Failed(e.to_string()))?
            .run
            .started_by;
        match insitu_release::approvals_for_export(
            &policy.required_approver_roles,
            &recorded,
            digest,
            &started_by,
        ) {
            Ok(_) => Ok(()),
            Err(e) => Err(Stop::Waiting(format!(
                "the gate passed; {e} — each approver runs `insitu approve {run_id} --as USER`"
            ))),
        }
    }

    fn export(&self, run_id: &str, job_id: &str, out: &Path) -> Step<PathBuf> {
        self.insitu(
            "seal the signed bundle",
            &args(&[
                "export",
                run_id,
                "--job",
                job_id,
                "--out",
                &out.display().to_string(),
            ]),
        )?;
        Ok(out.to_path_buf())
    }
}

impl JobExecutor for PipelineExecutor {
    fn execute(&mut self, job: &RunnableJob) -> Outcome {
        match self.advance(job) {
            Ok(bundle_dir) => Outcome::Delivered { bundle_dir },
            Err(Stop::Refused(reason)) => Outcome::RefusedByGate { reason },
            Err(Stop::Failed(reason)) => Outcome::Failed { reason },
            Err(Stop::Waiting(reason)) => Outcome::Deferred { reason },
        }
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// The run id for a job: its id (prefixed `job-` unless it starts with
/// `job_`/`job-`) with anything but letters, digits, `-`
/// and `_` replaced, so it is always a safe directory name.
pub(crate) fn run_id_for(job_id: &str) -> String {
    let clean: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.starts_with("job-") || clean.starts_with("job_") {
        clean
    } else {
        format!("job-{clean}")
    }
}

/// A bundle already sealed for this job and still verifying with this
/// appliance's key (e.g. exported by hand with `--job`, or before a crash).
fn delivered_bundle(home: &Home, job_id: &str) -> Option<PathBuf> {
    let key = home.verifying_key().ok()?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(home.bundles_dir())
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().find(|dir| {
        insitu_release::verify_bundle(dir, Some(&key)).is_ok_and(|o| {
            o.ok() && o.manifest.as_ref().and_then(|m| m.job_id.as_deref()) == Some(job_id)
        })
    })
}

/// The sponsor's release requirements, as the gate reads them.
fn requirements(job: &RunnableJob) -> JobRequirements {
    let p = &job.spec.privacy;
    JobRequirements {
        job_id: job.id.clone(),
        sponsor: job.sponsor.clone(),
        dp: p.dp.as_ref().map(|b| JobDpBudget {
            epsilon: b.epsilon,
            delta: b.delta,
        }),
        max_mia_auc: p.max_mia_auc,
        max_canary_exposure: p.max_canary_exposure,
        max_verbatim_phi: p.max_verbatim_phi.max(0) as u64,
        max_eval_loss: job.spec.evaluation.max_eval_loss,
    }
}

/// `run.toml` from the job's hyperparameters (PEFT/TRL names map one to
/// one), with canaries always on so the job's exposure limit can be checked.
pub(crate) fn run_toml(job: &RunnableJob) -> String {
    let h = &job.spec.hyperparameters;
    let modules: Vec<String> = h.target_modules.iter().map(|m| format!("{m:?}")).collect();
    let mut t = format!(
        "# Written by `insitu agent run` for hub job {id} (sponsor {sponsor}).\n\
         [lora]\nr = {r}\nlora_alpha = {alpha:?}\nlora_dropout = {dropout:?}\ntarget_modules = [{modules}]\n\n\
         [training]\nseed = {seed}\nlearning_rate = {lr:?}\nnum_train_epochs = {epochs:.1}\n\
         per_device_train_batch_size = {batch}\nmax_seq_length = {seq}\n",
        id = job.id,
        sponsor = job.sponsor,
        r = h.r,
        alpha = h.lora_alpha,
        dropout = h.lora_dropout,
        modules = modules.join(", "),
        seed = h.seed,
        lr = h.learning_rate,
        epochs = h.epochs as f64,
        batch = h.batch_size,
        seq = h.max_seq_len,
    );
    if let Some(steps) = h.max_steps {
        t.push_str(&format!("max_steps = {steps}\n"));
    }
    t.push_str("\n[privacy]\ncanaries = true\n");
    if let Some(dp) = &job.spec.privacy.dp {
        t.push_str(&format!(
            "target_epsilon = {:?}\ndelta = {:?}\n",
            dp.epsilon, dp.delta
        ));
    }
    t
}

/// A recorded gate decision as the job's outcome: failing rules are named
/// with their measured values (numbers only).
fn gate_outcome(d: &insitu_store::release::GateRecord) -> Step<()> {
    if d.passed {
        return Ok(());
    }
    let failed: Vec<String> = d.details["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .filter(|r| r["passed"] == false)
                .map(|r| {
                    format!(
                        "{} = {} (threshold {})",
                        r["rule"].as_str().unwrap_or("?"),
                        r["value"].as_str().unwrap_or("?"),
                        r["threshold"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Err(Stop::Refused(format!(
        "the release gate refused the adapter: {}",
        failed.join("; ")
    )))
}
