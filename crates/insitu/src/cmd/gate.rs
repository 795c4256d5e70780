//! `insitu gate`: checks a run against the release policy, prints every rule
//! with value, threshold and PASS/FAIL, writes the IG officer's leakage
//! report, and records the decision (audited). Also the shared run/policy
//! loading used by `approve` and `export`.

use crate::Global;
use anyhow::Context;
use insitu_release::{evaluate_gate, release_digest, GateDecision, Policy, RuleOutcome, RunFacts};
use insitu_store::Store;

/// Arguments of `insitu gate`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Check a training run against the release policy (policy.toml in the home; \
written with documented defaults on first use). Every rule is printed with the measured value, \
the threshold and PASS or FAIL. The decision is recorded in the audit log together with the \
digest of what would be released, and the leakage report for the IG officer is written to \
reports/<run>/leakage.md.\n\nExit code 0 when every rule passes, 1 when any fails.",
    after_help = "Example:\n  insitu gate run-20260101-0001\n  insitu gate run-20260101-0001 --json"
)]
pub struct Args {
    /// Run id (a directory under runs/ in the home).
    pub run: String,
    /// Print the decision as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Reads policy.toml, writing the documented defaults first if it is missing.
pub(crate) fn load_policy(store: &Store) -> anyhow::Result<Policy> {
    let path = store.home().policy_path();
    if !path.exists() {
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, Policy::default_toml())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Policy::load(&path).map_err(|e| crate::exit::input(e.to_string()))
}

/// Loads a run's facts; an unknown run or malformed run.json is an input error.
pub(crate) fn load_run(store: &Store, run: &str) -> anyhow::Result<RunFacts> {
    if run.is_empty() || run.contains(['/', '\\']) || run == "." || run == ".." {
        return Err(crate::exit::input(format!(
            "{run:?} is not a run id — give the name of a directory under runs/"
        )));
    }
    let dir = store.home().runs_dir().join(run);
    if !dir.join("run.json").is_file() {
        return Err(crate::exit::input(format!(
            "no run {run:?}: {} does not exist — list runs with `ls {}`",
            dir.join("run.json").display(),
            store.home().runs_dir().display()
        )));
    }
    RunFacts::load(&dir, store.home().root()).map_err(|e| crate::exit::input(e.to_string()))
}

/// Runs `insitu gate`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let mut store = crate::cmd::init::open_store(g)?;
    let policy = load_policy(&store)?;
    let facts = load_run(&store, &args.run)?;
    let decision = decide(&policy, &facts);
    let report_path = write_ig_report(&store, &policy, &facts)?;
    let details = serde_json::to_value(&decision)?;
    store.tx(|tx| {
        tx.record_gate_decision(&decision.run_id, decision.passed, &decision.release_digest, &details, &g.actor())?;
        tx.audit(
            &g.actor(),
            "release.gate",
            &decision.run_id,
            serde_json::json!({"passed": decision.passed, "release_digest": decision.release_digest, "rules": details["rules"]}),
        )?;
        Ok::<_, insitu_store::StoreError>(())
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    } else {
        print_table(&decision);
        if let Some(p) = report_path {
            println!("leakage report for the IG officer: {}", p.display());
        }
        if decision.passed {
            println!(
                "next: two approvers run `insitu approve {} --as <user>`",
                decision.run_id
            );
        }
    }
    if decision.passed {
        Ok(())
    } else {
        Err(crate::exit::Silent(1).into())
    }
}

/// The gate decision, with a failing rule when the bundle contents themselves
/// are refused (e.g. an extra file in adapter/).
fn decide(policy: &Policy, facts: &RunFacts) -> GateDecision {
    match release_digest(facts) {
        Ok(digest) => evaluate_gate(policy, facts, &digest),
        Err(e) => {
            let mut d = evaluate_gate(policy, facts, "unavailable");
            d.rules.push(RuleOutcome {
                rule: "bundle_contents".into(),
                value: "refused".into(),
                threshold: "only allowed files".into(),
                passed: false,
                note: Some(e.to_string()),
            });
            d.passed = false;
            d
        }
    }
}

/// The policy's thresholds as the leakage report shows them.
pub(crate) fn report_limits(policy: &Policy) -> insitu_privacy::ReportLimits {
    insitu_privacy::ReportLimits {
        max_mia_tpr_at_0_1pct_fpr: Some(policy.max_mia_tpr_at_0_1pct_fpr),
        max_canary_exposure: Some(policy.max_canary_exposure),
        max_phi_findings: usize::try_from(policy.max_phi_findings).ok(),
        max_extraction_verbatim_rate: policy.max_extraction_verbatim_rate,
    }
}

fn write_ig_report(
    store: &Store,
    policy: &Policy,
    facts: &RunFacts,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    let Ok(report) = &facts.leakage else {
        return Ok(None);
    };
    let limits = report_limits(policy);
    let dir = store.home().reports_dir().join(&facts.run.run_id);
    let written = insitu_privacy::write_report(report, &limits, &dir)
        .context("writing the leakage report")?;
    Ok(Some(written.markdown))
}

fn print_table(d: &GateDecision) {
    let width = d.rules.iter().map(|r| r.rule.len()).max().unwrap_or(4);
    println!("gate for run {}", d.run_id);
    for r in &d.rules {
        println!(
            "  {:4}  {:width$}  {}  (threshold {})",
            if r.passed { "PASS" } else { "FAIL" },
            r.rule,
            r.value,
            r.threshold
        );
        if let Some(n) = &r.note {
            println!("        {:width$}  {n}", "");
        }
    }
    println!(
        "{}: {} of {} rules pass; release digest {}",
        if d.passed { "PASSED" } else { "FAILED" },
        d.rules.iter().filter(|r| r.passed).count(),
        d.rules.len(),
        d.release_digest
    );
}

/// True when the latest recorded gate decision passed at `digest`.
pub(crate) fn gate_passed_at(
    store: &Store,
    run: &str,
    digest: &str,
) -> anyhow::Result<Result<(), String>> {
    Ok(match store.latest_gate_decision(run)? {
        None => Err(format!("the gate has not been run for {run} — run `insitu gate {run}` first")),
        Some(g) if !g.passed => Err(format!("the last gate check of {run} failed — fix the run and re-run `insitu gate {run}`")),
        Some(g) if g.release_digest != digest => Err(format!(
            "{run} changed since the gate passed (digest {} then, {digest} now) — re-run `insitu gate {run}`",
            g.release_digest
        )),
        Some(_) => Ok(()),
    })
}
