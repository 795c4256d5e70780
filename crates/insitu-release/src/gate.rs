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

    rules.push(dp_rule(policy, facts));

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
                None,
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
    GateDecision {
        run_id: facts.run.run_id.clone(),
        passed: rules.iter().all(|r| r.passed),
        rules,
        release_digest: release_digest.to_string(),
    }
}

/// ε is recomputed from the recorded DP parameters, not taken on trust.
fn dp_rule(policy: &Policy, facts: &RunFacts) -> RuleOutcome {
    let threshold = format!("ε <= {} at δ <= {}", policy.max_epsilon, policy.max_delta);
    let Some(dp) = &facts.run.dp else {
        return if policy.dp_required {
            rule(
                "max_epsilon",
                "trained without DP".into(),
                threshold,
                false,
                Some("the policy requires DP-SGD".into()),
            )
        } else {
            rule(
                "max_epsilon",
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
            "max_epsilon",
            "invalid DP record".into(),
            threshold,
            false,
            Some(e.to_string()),
        ),
        Ok(bound) => {
            let eps = bound.epsilon;
            let mut passed = eps <= policy.max_epsilon && dp.delta <= policy.max_delta;
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
                "max_epsilon",
                format!("ε = {eps:.4} at δ = {}", dp.delta),
                threshold,
                passed,
                note,
            )
        }
    }
}
