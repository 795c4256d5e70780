//! `MODEL_CARD.md`, generated only from recorded facts: run.json, the dataset
//! card's numbers (never its text, never note text), leakage.json and the
//! approvals. Nothing is typed in by hand, so the card cannot claim more
//! than the record shows.

use crate::facts::RunFacts;
use insitu_store::release::ApprovalRecord;
use std::fmt::Write as _;

fn json_block(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "not recorded\n".into();
    }
    format!(
        "```json\n{}\n```\n",
        serde_json::to_string_pretty(v).expect("json value serialises")
    )
}

/// Renders the model card.
pub fn render(
    facts: &RunFacts,
    approvals: &[ApprovalRecord],
    digest: &str,
    public_key: &str,
    job_id: Option<&str>,
) -> String {
    let run = &facts.run;
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Model card: LoRA adapter from run {}\n", run.run_id);
    let _ = writeln!(
        w,
        "A LoRA adapter (PEFT format) fine-tuned inside the hospital on de-identified clinical notes \
         by the insitu appliance. This card is generated from the appliance's records; every figure \
         below is what was measured, not a claim typed in by hand.\n"
    );
    let _ = writeln!(w, "## Provenance\n");
    let _ = writeln!(w, "- run id: `{}`", run.run_id);
    let _ = writeln!(
        w,
        "- sponsor job: {}",
        job_id.map_or("none".to_string(), |j| format!("`{j}`"))
    );
    let _ = writeln!(w, "- base model sha256: `{}`", run.base_model.digest);
    let _ = writeln!(
        w,
        "- dataset card sha256: {}",
        run.dataset
            .card_sha256
            .as_deref()
            .map_or("not recorded".into(), |s| format!("`{s}`"))
    );
    let _ = writeln!(
        w,
        "- training seed: {}",
        run.seed.map_or("not recorded".into(), |s| s.to_string())
    );
    let _ = writeln!(
        w,
        "- trained: {} → {}",
        run.started_at.as_deref().unwrap_or("?"),
        run.finished_at.as_deref().unwrap_or("?")
    );
    let _ = writeln!(
        w,
        "- release digest (what the approvers approved): `{digest}`"
    );
    let _ = writeln!(w, "- appliance public key (ed25519): `{public_key}`\n");

    let _ = writeln!(w, "## Training data (counts only)\n");
    if facts.dataset_counts.is_empty() {
        let _ = writeln!(w, "No dataset counts were recorded.\n");
    } else {
        let _ = writeln!(w, "| quantity | value |\n|---|---|");
        for (k, v) in &facts.dataset_counts {
            let _ = writeln!(w, "| {k} | {v} |");
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "## LoRA configuration\n\n{}", json_block(&run.lora));
    let _ = writeln!(
        w,
        "## Hyperparameters\n\n{}",
        json_block(&run.hyperparameters)
    );
    let _ = writeln!(
        w,
        "## Evaluation\n\nTraining-time figures:\n\n{}",
        json_block(&run.metrics)
    );
    if facts.evaluation.is_empty() {
        let _ = writeln!(
            w,
            "No held-out evaluation was recorded (`insitu eval` was not run).\n"
        );
    } else {
        let _ = writeln!(
            w,
            "Held-out patients (`insitu eval`: the base model and the base model with this adapter \
             on the same examples; losses in nats per completion token):\n\n| quantity | value |\n|---|---|"
        );
        for (k, v) in &facts.evaluation {
            let _ = writeln!(w, "| {k} | {v} |");
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "## Privacy\n");
    match &run.dp {
        Some(dp) => {
            let eps = insitu_privacy::DpSgdParams {
                sampling_rate: dp.sampling_rate,
                noise_multiplier: dp.noise_multiplier,
                steps: dp.steps,
            }
            .epsilon(dp.delta)
            .map(|b| format!("{:.4}", b.epsilon))
            .unwrap_or_else(|e| format!("invalid ({e})"));
            let _ = writeln!(
                w,
                "Trained with user-level DP-SGD: ε = {eps} at δ = {} (RDP accountant; noise multiplier {}, patient sampling rate {}, {} steps).\n",
                dp.delta, dp.noise_multiplier, dp.sampling_rate, dp.steps
            );
        }
        None => {
            let _ = writeln!(w, "Trained without differential privacy: there is no formal ε guarantee; the leakage tests below are the evidence.\n");
        }
    }
    match &facts.leakage {
        Ok(r) => {
            let _ = writeln!(w, "Leakage tests (details in `leakage.json`):\n");
            let _ = writeln!(w, "| test | result |\n|---|---|");
            for (test, result) in leakage_rows(&r.summary) {
                let _ = writeln!(w, "| {test} | {result} |");
            }
            let _ = writeln!(w);
        }
        Err(why) => {
            let _ = writeln!(w, "No leakage report: {why}\n");
        }
    }

    let _ = writeln!(w, "## Approvals\n");
    let _ = writeln!(w, "| role | approver | at |\n|---|---|---|");
    for a in approvals {
        let _ = writeln!(w, "| {} | {} | {} |", a.role, a.user_name, a.decided_at);
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "## Intended use and limitations\n");
    let _ = writeln!(
        w,
        "- Intended for research and development by the sponsor under its agreement with the hospital; \
         not a medical device and not for unsupervised clinical decisions.\n\
         - Load with the base model whose sha256 is given above; any other base model is unsupported.\n\
         - Trained on one hospital's de-identified notes: expect local vocabulary, templates and case mix; \
         validate on your own data before use.\n\
         - De-identification and the leakage tests reduce but do not eliminate re-identification risk; \
         do not attempt to recover training data, and report any apparent identifier to the hospital.\n\
         - Verify this bundle before use: `insitu verify <bundle> --pubkey <hospital key>`."
    );
    md
}

/// The leakage figures as the model card prints them, one (test, result)
/// row each. The bundle's PHI scan allows exactly these strings: a canary
/// exposure of "12.05" bits reads like a time of day.
pub(crate) fn leakage_rows(s: &insitu_privacy::LeakageSummary) -> Vec<(&'static str, String)> {
    vec![
        (
            "membership inference, highest AUC",
            format!("{:.3}", s.mia_auc_max),
        ),
        (
            "membership inference, TPR at 0.1% FPR",
            format!("{:.4}", s.mia_tpr_at_0_1pct_fpr_max),
        ),
        (
            "membership inference, TPR at 1% FPR",
            format!("{:.4}", s.mia_tpr_at_1pct_fpr_max),
        ),
        (
            "canary exposure (bits)",
            s.canary_exposure_max
                .map_or("not measured".into(), |e| format!("{e:.2}")),
        ),
        (
            "verbatim continuation rate",
            format!("{:.4}", s.extraction_verbatim_rate),
        ),
        (
            "training identifiers regenerated",
            s.phi_findings.to_string(),
        ),
    ]
}
