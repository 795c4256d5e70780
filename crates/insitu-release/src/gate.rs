//! The policy gate: every rule of the policy applied to a run's recorded
//! facts, each with its measured value, its threshold and PASS/FAIL.

use crate::facts::RunFacts;
use crate::policy::Policy;
use insitu_privacy::DpSgdParams;
use serde::{Deserialize, Serialize};

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleOutcome {
    /// Rule name (the policy field it checks).
    pub rule: String,
    /// What was measured, human-readable.
    pub value: String,
    /// The threshold, human-readable.
    pub threshold: String,
    /// Whether the rule holds.
    pub passed: bool,
    /// Why, when it needs saying (missing evidence, DP not required…).
    pub note: Option<String>,
}

/// The gate's decision over all rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateDecision {
    /// Run checked.
    pub run_id: String,
    /// True only if every rule passed.
    pub passed: bool,
    /// Rule by rule.
    pub rules: Vec<RuleOutcome>,
    /// Digest of what would be released, at the time of the check.
    pub release_digest: String,
}

fn rule(
    rule: &str,
    value: String,
    threshold: String,
    passed: bool,
    note: Option<String>,
) -> RuleOutcome {
    RuleOutcome {
        rule: rule.into(),
        value,
        threshold,
        passed,
        note,
    }
}

/// Relative tolerance between a run's recorded ε and our recomputation.
const EPSILON_AGREEMENT: f64 = 1e-3;

/// Applies `policy` to `facts`. `release_digest` is recorded with the result.
pub fn evaluate_gate(policy: &Policy, facts: &RunFacts, release_digest: &str) -> GateDecision {
    let mut rules = Vec::new();

    rules.push(rule(
        "run_finished",
        facts
            .run
            .finished_at
            .clone()
            .unwrap_or_else(|| "not finished".into()),
        "finished_at recorded".into(),
        facts.run.finished_at.is_some(),
        None,
    ));
    let adapter_ok = ["adapter_config.json", "adapter_model.safetensors"]
        .iter()
        .all(|f| facts.dir.join("adapter").join(f).is_file());
    rules.push(rule(
        "adapter_present",
        if adapter_ok {
            "adapter/ complete".into()
        } else {
            "missing".into()
        },
        "adapter_config.json + adapter_model.safetensors".into(),
        adapter_ok,
        None,
    ));

    let min_split = facts.patients_per_split.iter().min_by_key(|(_, n)| **n);
    rules.push(match (&facts.dataset_problem, min_split) {
        (None, Some((name, n))) => rule(
            "min_patients_per_split",
            format!("{n} ({name})"),
            format!(">= {}", policy.min_patients_per_split),
            *n >= policy.min_patients_per_split,
            None,
        ),
        (problem, _) => rule(
            "min_patients_per_split",
            "unknown".into(),
            format!(">= {}", policy.min_patients_per_split),
            false,
            Some(problem.clone().unwrap_or_else(|| "no split counts".into())),
        ),
    });

    rules.push(dp_rule(
        "max_epsilon",
        policy.max_epsilon,
        policy.max_delta,
        policy.dp_required,
        facts,
    ));

    match &facts.leakage {
        Err(why) => rules.push(rule(
            "leakage_report",
            "missing".into(),
            "leakage.json present".into(),
            false,
            Some(why.clone()),
        )),
        Ok(report) => {
            let s = &report.summary;
            rules.push(rule(
                "max_mia_tpr_at_0_1pct_fpr",
                format!("{:.4}", s.mia_tpr_at_0_1pct_fpr_max),
                format!("<= {}", policy.max_mia_tpr_at_0_1pct_fpr),
                s.mia_tpr_at_0_1pct_fpr_max <= policy.max_mia_tpr_at_0_1pct_fpr,
                tpr_resolution_note(report),
            ));
            rules.push(match s.canary_exposure_max {
                Some(e) => rule(
                    "max_canary_exposure",
                    format!("{e:.2} bits"),
                    format!("<= {} bits", policy.max_canary_exposure),
                    e <= policy.max_canary_exposure,
                    None,
                ),
                None => rule(
                    "max_canary_exposure",
                    "not measured".into(),
                    format!("<= {} bits", policy.max_canary_exposure),
                    !policy.canaries_required,
                    Some("no canaries were inserted in this run".into()),
                ),
            });
            rules.push(rule(
                "max_phi_findings",
                s.phi_findings.to_string(),
                format!("<= {}", policy.max_phi_findings),
                s.phi_findings as u64 <= policy.max_phi_findings,
                None,
            ));
            if let Some(max) = policy.max_extraction_verbatim_rate {
                rules.push(rule(
                    "max_extraction_verbatim_rate",
                    format!("{:.4}", s.extraction_verbatim_rate),
                    format!("<= {max}"),
                    s.extraction_verbatim_rate <= max,
                    None,
                ));
            }
        }
    }
    if let Some(job) = &facts.job {
        job_rules(job, facts, &mut rules);
    }
    GateDecision {
        run_id: facts.run.run_id.clone(),
        passed: rules.iter().all(|r| r.passed),
        rules,
        release_digest: release_digest.to_string(),
    }
}

/// When the leakage sample is too small to resolve a 0.1% false-positive
/// rate (fewer than 1,000 non-members), the TPR there is really "share of
/// members scoring above every non-member". Says so, with the chance that a
/// model with no membership signal at all scores that high: with m members
/// and n non-members exchangeable, k members above all non-members means the
/// k highest of m + n scores are all members, probability C(m,k) / C(m+n,k).
/// The rule's verdict is unchanged; the IG officer reads the note.
fn tpr_resolution_note(report: &insitu_privacy::LeakageReport) -> Option<String> {
    let worst = report.membership.iter().max_by(|a, b| {
        a.tpr_at_0_1pct_fpr
            .value
            .total_cmp(&b.tpr_at_0_1pct_fpr.value)
    })?;
    let (m, n) = (worst.members, worst.nonmembers);
    if n >= 1000 || m == 0 || n == 0 {
        return None;
    }
    let k = (worst.tpr_at_0_1pct_fpr.value * m as f64).round() as usize;
    let chance: f64 = (0..k.min(m))
        .map(|i| (m - i) as f64 / (m + n - i) as f64)
        .product();
    Some(format!(
        "{n} non-members cannot resolve a 0.1% false-positive rate (resolution 1/{n}); {k} of {m} members ({} attack, {} level) score above every non-member, which a model with no membership signal does with probability {chance:.3} — attack more examples (`insitu leakage --max-examples`) for a sharper figure",
        worst.attack, worst.level
    ))
}

/// The sponsor job's requirements, each its own `job_…` rule. They only add
/// refusals: the hospital's policy rules above still apply in full.
fn job_rules(job: &crate::JobRequirements, facts: &RunFacts, rules: &mut Vec<RuleOutcome>) {
    if let Some(dp) = job.dp {
        rules.push(dp_rule(
            "job_max_epsilon",
            dp.epsilon,
            dp.delta,
            true,
            facts,
        ));
    }
    match &facts.leakage {
        // The policy's leakage_report rule already fails and says why.
        Err(_) => {}
        Ok(report) => {
            let s = &report.summary;
            rules.push(rule(
                "job_max_mia_auc",
                format!("{:.4}", s.mia_auc_max),
                format!("<= {}", job.max_mia_auc),
                s.mia_auc_max <= job.max_mia_auc,
                None,
            ));
            rules.push(match s.canary_exposure_max {
                Some(e) => rule(
                    "job_max_canary_exposure",
                    format!("{e:.2} bits"),
                    format!("<= {} bits", job.max_canary_exposure),
                    e <= job.max_canary_exposure,
                    None,
                ),
                None => rule(
                    "job_max_canary_exposure",
                    "not measured".into(),
                    format!("<= {} bits", job.max_canary_exposure),
                    false,
                    Some("the job sets a canary limit: train with canaries (`insitu train --canaries`) and rerun the leakage suite".into()),
                ),
            });
            rules.push(rule(
                "job_max_verbatim_phi",
                s.phi_findings.to_string(),
                format!("<= {}", job.max_verbatim_phi),
                s.phi_findings as u64 <= job.max_verbatim_phi,
                None,
            ));
        }
    }
    if let Some(max) = job.max_eval_loss {
        let loss = facts.evaluation.get("adapter.loss").copied();
        let on_test = facts.evaluation_split.as_deref() == Some("test");
        rules.push(match loss {
            Some(l) if on_test => rule(
                "job_max_eval_loss",
                format!("{l:.4} (test split)"),
                format!("<= {max}"),
                l <= max,
                None,
            ),
            None if on_test => rule(
                "job_max_eval_loss",
                "no adapter loss in eval.json".into(),
                format!("<= {max}"),
                false,
                Some(
                    "no completion token was scored: are the prompts longer than max_seq_length?"
                        .into(),
                ),
            ),
            _ => rule(
                "job_max_eval_loss",
                "not measured on the test split".into(),
                format!("<= {max}"),
                false,
                Some(format!(
                    "run `insitu eval {} --split test`",
                    facts.run.run_id
                )),
            ),
        });
    }
}

/// ε is recomputed from the recorded DP parameters, not taken on trust.
fn dp_rule(
    name: &str,
    max_epsilon: f64,
    max_delta: f64,
    required: bool,
    facts: &RunFacts,
) -> RuleOutcome {
    let threshold = format!("ε <= {max_epsilon} at δ <= {max_delta}");
    let Some(dp) = &facts.run.dp else {
        return if required {
            rule(
                name,
                "trained without DP".into(),
                threshold,
                false,
                Some(if name == "max_epsilon" {
                    "the policy requires DP-SGD".into()
                } else {
                    "the sponsor job requires DP-SGD".to_string()
                }),
            )
        } else {
            rule(
                name,
                "trained without DP".into(),
                "DP not required".into(),
                true,
                None,
            )
        };
    };
    let params = DpSgdParams {
        sampling_rate: dp.sampling_rate,
        noise_multiplier: dp.noise_multiplier,
        steps: dp.steps,
    };
    match params.epsilon(dp.delta) {
        Err(e) => rule(
            name,
            "invalid DP record".into(),
            threshold,
            false,
            Some(e.to_string()),
        ),
        Ok(bound) => {
            let eps = bound.epsilon;
            let mut passed = eps <= max_epsilon && dp.delta <= max_delta;
            let mut note = None;
            if let Some(recorded) = dp.epsilon {
                if (recorded - eps).abs() > EPSILON_AGREEMENT * eps.max(1e-12) {
                    passed = false;
                    note = Some(format!(
                        "run.json records ε = {recorded} but its parameters give ε = {eps:.4}"
                    ));
                }
            }
            rule(
                name,
                format!("ε = {eps:.4} at δ = {}", dp.delta),
                threshold,
                passed,
                note,
            )
        }
    }
}
