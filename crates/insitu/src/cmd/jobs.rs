//! `insitu jobs …`: the IG officer's view of jobs offered to this
//! appliance. Deciding is local; the agent tells the hub on its next poll.

use crate::Global;
use insitu_hub::JobSpec;
use insitu_store::jobs::HubJob;
use insitu_store::Store;

/// Subcommands of `insitu jobs`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List jobs pulled from the hub.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One-screen plain-English summary of a job for the IG officer.
    Show {
        /// Job id.
        job: String,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Accept an offered job (the agent runs it and reports on its next poll).
    Accept {
        /// Job id.
        job: String,
    },
    /// Close an accepted or running job without a bundle (run failed, or the
    /// gate or an approver refused); the sponsor is refunded.
    Close {
        /// Job id.
        job: String,
        /// `failed` or `refused-by-gate`.
        #[arg(long, value_parser = ["failed", "refused-by-gate"])]
        outcome: String,
        /// Reason, passed to the sponsor (no patient data).
        #[arg(long)]
        reason: String,
    },
    /// Decline an offered job.
    Decline {
        /// Job id.
        job: String,
        /// Reason, passed to the sponsor.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// Formats minor units with two decimals and thousands separators
/// (`250000` → `2,500.00`). Currencies with other exponents print the same way.
pub(crate) fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let whole = (m / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let s = format!("{sign}{grouped}.{:02}", m % 100);
    if currency.is_empty() {
        s
    } else {
        format!("{s} {currency}")
    }
}

fn load(store: &Store, id: &str) -> anyhow::Result<HubJob> {
    store.hub_job(id)?.ok_or_else(|| {
        crate::exit::input(format!(
            "no job {id} on this appliance — `insitu jobs list` shows the jobs pulled so far"
        ))
    })
}

fn summary(store: &Store, job: &HubJob) -> anyhow::Result<String> {
    let value: serde_json::Value = serde_json::from_str(&job.spec).unwrap_or_default();
    let spec = JobSpec::from_json(&value).map_err(|issues| {
        anyhow::anyhow!(
            "job {}: stored spec is invalid ({} problem(s)) — decline it",
            job.id,
            issues.len()
        )
    })?;
    let (notes, patients) = store.hub_job_data_scope(&spec.dataset.note_kinds)?;
    let kinds = if spec.dataset.note_kinds.is_empty() {
        "all kinds of note".to_string()
    } else {
        format!("{} notes", spec.dataset.note_kinds.join(", "))
    };
    let model_here = store.home().models_dir().join(&job.model_digest).exists();
    let dp = match &spec.privacy.dp {
        Some(b) => format!(
            "differential privacy per patient, ε = {}, δ = {}",
            b.epsilon, b.delta
        ),
        None => {
            "no differential privacy (protection relies on the leakage tests below)".to_string()
        }
    };
    let h = &spec.hyperparameters;
    let mut s = String::new();
    let mut line = |t: String| {
        s.push_str(&t);
        s.push('\n');
    };
    line(format!(
        "Job {} — {:?} from sponsor {}",
        job.id, spec.job.name, job.sponsor
    ));
    line(format!(
        "Status: {}{}",
        job.state,
        if job.reported {
            ""
        } else {
            " (decision not yet sent to the hub)"
        }
    ));
    if !spec.job.description.is_empty() {
        line(format!("Purpose: {}", spec.job.description));
    }
    line(String::new());
    line(format!(
        "Data used: de-identified {kinds} — {notes} note(s) from {patients} patient(s) held here; at most {} notes (whole patients); \
         refused if fewer than {} patients. Split by patient: {:.0}% train / {:.0}% validation / {:.0}% test.",
        spec.dataset.max_examples,
        spec.dataset.min_patients,
        spec.dataset.split.train * 100.0,
        spec.dataset.split.validation * 100.0,
        spec.dataset.split.test * 100.0
    ));
    line(format!(
        "Model: base model {} ({}); task {} with template {:?}; LoRA r = {} on {}.",
        &job.model_digest[..job.model_digest.len().min(16)],
        if model_here {
            "downloaded and verified"
        } else {
            "not downloaded yet"
        },
        spec.task.kind,
        spec.task.template,
        h.r,
        h.target_modules.join(", ")
    ));
    line("What will leave: only a signed bundle — the LoRA adapter weights, a model card, the leakage report and a manifest —".into());
    line("  and only if the policy gate passes and two people here approve. No notes, dataset or patient keys leave.".into());
    line(format!(
        "Privacy: {dp}. Release is refused if membership-inference AUC > {}, canary exposure > {} bits, or more than {} verbatim PHI string(s).",
        spec.privacy.max_mia_auc, spec.privacy.max_canary_exposure, spec.privacy.max_verbatim_phi
    ));
    line(format!(
        "Fee: {} paid by the sponsor into escrow; the hospital receives {} (70%) on delivery, nothing moves if declined or refused.",
        money(job.fee_minor, &job.currency),
        money(job.hospital_share_minor, &job.currency)
    ));
    line(format!("Deadline: {}", spec.job.deadline));
    line(String::new());
    if job.state == "offered" {
        line(format!(
            "Decide: insitu jobs accept {0}   |   insitu jobs decline {0} --reason \"…\"",
            job.id
        ));
    }
    Ok(s)
}

/// Runs `insitu jobs …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    let mut store = Store::open(&g.home_dir()).map_err(|e| crate::exit::input(e.to_string()))?;
    match command {
        Command::List { json } => {
            let jobs = store.hub_jobs()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else if jobs.is_empty() {
                println!("no jobs yet — `insitu agent run --once` pulls offered jobs from the hub");
            } else {
                println!(
                    "{:<34} {:<16} {:<14} {:>16}",
                    "job", "state", "sponsor", "hospital share"
                );
                for j in &jobs {
                    println!(
                        "{:<34} {:<16} {:<14} {:>16}",
                        j.id,
                        j.state,
                        j.sponsor,
                        money(j.hospital_share_minor, &j.currency)
                    );
                }
            }
            Ok(())
        }
        Command::Show { job, json } => {
            let j = load(&store, &job)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&j)?);
            } else {
                print!("{}", summary(&store, &j)?);
            }
            Ok(())
        }
        Command::Accept { job } => decide(&mut store, g, &job, true, ""),
        Command::Decline { job, reason } => decide(&mut store, g, &job, false, &reason),
        Command::Close {
            job,
            outcome,
            reason,
        } => {
            load(&store, &job)?;
            let j = store
                .tx(|tx| tx.close_job(&g.actor(), &job, outcome == "refused-by-gate", &reason))
                .map_err(|e| crate::exit::input(e.to_string()))?;
            println!("job {} closed as {}; the agent reports it on its next poll and the sponsor is refunded", j.id, j.state);
            Ok(())
        }
    }
}

fn decide(
    store: &mut Store,
    g: &Global,
    job: &str,
    accept: bool,
    reason: &str,
) -> anyhow::Result<()> {
    load(store, job)?;
    let j = store
        .tx(|tx| tx.decide_job(&g.actor(), job, accept, reason))
        .map_err(|e| crate::exit::input(e.to_string()))?;
    println!(
        "job {} {} by {}; the agent sends the decision to the hub on its next poll",
        j.id,
        j.state,
        g.actor()
    );
    Ok(())
}
