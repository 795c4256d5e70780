//! Gate, export and offline verification on synthetic run directories,
//! including every tamper case `insitu verify` must catch.

use ed25519_dalek::{Signer, SigningKey};
use insitu_privacy::FoundIdentifier;
use insitu_release::fixtures::{write_fake_run, FakeRun};
use insitu_release::{
    evaluate_gate, release_digest, verify_bundle, write_bundle, ExportRequest, JobDpBudget,
    JobRequirements, Manifest, Policy, RunFacts, WrittenBundle,
};
use insitu_store::release::ApprovalRecord;
use std::path::{Path, PathBuf};

fn spec(run_id: &str, patients: u64, leaky: bool) -> FakeRun {
    FakeRun {
        run_id: run_id.into(),
        started_by: "olly".into(),
        patients_per_split: patients,
        leaky,
    }
}

fn approve(user: &str, role: &str, digest: &str) -> ApprovalRecord {
    ApprovalRecord {
        id: 0,
        run_id: "r".into(),
        user_name: user.into(),
        role: role.into(),
        decision: "approve".into(),
        reason: None,
        release_digest: digest.into(),
        decided_at: "2026-01-02T00:00:00Z".into(),
    }
}

fn no_phi(_: &str) -> Vec<FoundIdentifier> {
    Vec::new()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

fn roles() -> Vec<String> {
    Policy::default().required_approver_roles
}

/// A clean run, approved by both roles, exported to `<tmp>/bundle`.
fn exported(home: &Path) -> (RunFacts, WrittenBundle) {
    let run_dir = write_fake_run(home, &spec("run-ok", 60, false));
    let facts = RunFacts::load(&run_dir, home).unwrap();
    let digest = release_digest(&facts).unwrap();
    let approvals = [
        approve("ana", "ig_officer", &digest),
        approve("cai", "clinical_safety_officer", &digest),
    ];
    let signing_key = key();
    let out = home.join("bundle");
    let w = write_bundle(&ExportRequest {
        facts: &facts,
        approvals: &approvals,
        required_roles: &roles(),
        signing_key: &signing_key,
        job_id: Some("job-1".into()),
        scanner: &no_phi,
        out: &out,
    })
    .unwrap();
    (facts, w)
}

#[test]
fn clean_run_passes_the_gate_and_leaky_or_small_runs_fail() {
    let home = tempfile::tempdir().unwrap();
    let ok = RunFacts::load(
        &write_fake_run(home.path(), &spec("clean", 60, false)),
        home.path(),
    )
    .unwrap();
    let d = evaluate_gate(&Policy::default(), &ok, "digest");
    assert!(d.passed, "{:#?}", d.rules);

    let leaky = RunFacts::load(
        &write_fake_run(home.path(), &spec("leaky", 60, true)),
        home.path(),
    )
    .unwrap();
    let d = evaluate_gate(&Policy::default(), &leaky, "digest");
    assert!(!d.passed);
    let failed: Vec<&str> = d
        .rules
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.rule.as_str())
        .collect();
    assert!(failed.contains(&"max_mia_tpr_at_0_1pct_fpr"), "{failed:?}");
    assert!(failed.contains(&"max_canary_exposure"), "{failed:?}");
    assert!(failed.contains(&"max_phi_findings"), "{failed:?}");

    let small = RunFacts::load(
        &write_fake_run(home.path(), &spec("small", 12, false)),
        home.path(),
    )
    .unwrap();
    let d = evaluate_gate(&Policy::default(), &small, "digest");
    let r = d
        .rules
        .iter()
        .find(|r| r.rule == "min_patients_per_split")
        .unwrap();
    assert!(!r.passed && r.value.starts_with("12"), "{r:?}");

    let strict = Policy {
        dp_required: true,
        ..Policy::default()
    };
    let d = evaluate_gate(&strict, &ok, "digest");
    assert!(
        !d.rules
            .iter()
            .find(|r| r.rule == "max_epsilon")
            .unwrap()
            .passed
    );
}

#[test]
fn missing_leakage_report_fails_the_gate() {
    let home = tempfile::tempdir().unwrap();
    let dir = write_fake_run(home.path(), &spec("noleak", 60, false));
    std::fs::remove_file(dir.join("leakage.json")).unwrap();
    let facts = RunFacts::load(&dir, home.path()).unwrap();
    let d = evaluate_gate(&Policy::default(), &facts, "x");
    assert!(!d.passed);
    assert!(d
        .rules
        .iter()
        .any(|r| r.rule == "leakage_report" && !r.passed));
}

#[test]
fn exported_bundle_has_exactly_the_allowed_files_and_verifies() {
    let home = tempfile::tempdir().unwrap();
    let (_, w) = exported(home.path());
    let mut names: Vec<String> = walk(&w.dir);
    names.sort();
    assert_eq!(
        names,
        [
            "MODEL_CARD.md",
            "adapter/adapter_config.json",
            "adapter/adapter_model.safetensors",
            "leakage.json",
            "manifest.json",
            "manifest.sig"
        ]
    );
    let card = std::fs::read_to_string(w.dir.join("MODEL_CARD.md")).unwrap();
    assert!(card.contains(&"ab".repeat(32)), "base model digest in card");
    assert!(card.contains("splits.train.patients") && card.contains("ig_officer"));
    assert!(
        !card.contains("synthetic test dataset"),
        "dataset card text must not reach the model card"
    );
    let v = verify_bundle(&w.dir, Some(&key().verifying_key())).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.files_ok, 4);
    // No leftovers from the temp-then-rename.
    assert_eq!(
        std::fs::read_dir(home.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.'))
            .count(),
        0
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()).into_iter().map(|n| format!("{name}/{n}")));
        } else {
            out.push(name);
        }
    }
    out
}

fn problems(dir: &Path, key: Option<&ed25519_dalek::VerifyingKey>) -> Vec<String> {
    let v = verify_bundle(dir, key).unwrap();
    assert!(!v.ok(), "tampered bundle verified");
    v.problems
}

#[test]
fn every_tamper_case_fails_verification() {
    let home = tempfile::tempdir().unwrap();
    let (_, w) = exported(home.path());
    let pk = key().verifying_key();
    let fresh = |name: &str| -> PathBuf {
        let d = home.path().join(name);
        copy_dir(&w.dir, &d);
        d
    };

    let d = fresh("flip");
    let f = d.join("adapter/adapter_model.safetensors");
    let mut bytes = std::fs::read(&f).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&f, bytes).unwrap();
    assert!(problems(&d, Some(&pk))
        .iter()
        .any(|p| p.contains("adapter_model.safetensors") && p.contains("does not match")));

    let d = fresh("extra");
    std::fs::write(d.join("notes.txt"), "smuggled").unwrap();
    assert!(problems(&d, Some(&pk))
        .iter()
        .any(|p| p.contains("notes.txt") && p.contains("extra")));

    let d = fresh("missing");
    std::fs::remove_file(d.join("leakage.json")).unwrap();
    assert!(problems(&d, Some(&pk))
        .iter()
        .any(|p| p.contains("leakage.json") && p.contains("missing")));

    let d = fresh("wrongkey");
    let other = SigningKey::from_bytes(&[9u8; 32]).verifying_key();
    assert!(problems(&d, Some(&other))
        .iter()
        .any(|p| p.contains("signature does not match")));

    // A manifest edited to match a changed file, re-signed by someone else
    // with their key put in the manifest: fails against the real key.
    let d = fresh("resigned");
    std::fs::write(d.join("MODEL_CARD.md"), "all good, trust me").unwrap();
    let mut m: Manifest =
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    let card = m
        .files
        .iter_mut()
        .find(|f| f.path == "MODEL_CARD.md")
        .unwrap();
    card.sha256 = insitu_release::sha256_file(&d.join("MODEL_CARD.md"))
        .unwrap()
        .0;
    card.size = 18;
    let forger = SigningKey::from_bytes(&[5u8; 32]);
    m.appliance_public_key = hex::encode(forger.verifying_key().as_bytes());
    let bytes = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(d.join("manifest.json"), &bytes).unwrap();
    std::fs::write(
        d.join("manifest.sig"),
        hex::encode(forger.sign(&bytes).to_bytes()),
    )
    .unwrap();
    assert!(problems(&d, Some(&pk))
        .iter()
        .any(|p| p.contains("signature does not match")));
    // Without --pubkey it verifies (integrity only) — which is why the CLI warns.
    let v = verify_bundle(&d, None).unwrap();
    assert!(v.ok() && v.key_source == insitu_release::KeySource::Manifest);

    let d = fresh("manifest-edit");
    let text = std::fs::read_to_string(d.join("manifest.json")).unwrap();
    std::fs::write(d.join("manifest.json"), text.replace("job-1", "job-2")).unwrap();
    assert!(problems(&d, Some(&pk))
        .iter()
        .any(|p| p.contains("signature does not match")));

    // Path traversal in a properly signed manifest is still refused.
    let d = fresh("traversal");
    let outside = home.path().join("x");
    std::fs::write(&outside, "outside").unwrap();
    let mut m: Manifest =
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    m.files.push(insitu_release::ManifestFile {
        path: "../x".into(),
        sha256: insitu_release::sha256_file(&outside).unwrap().0,
        size: 7,
    });
    let bytes = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(d.join("manifest.json"), &bytes).unwrap();
    std::fs::write(
        d.join("manifest.sig"),
        hex::encode(key().sign(&bytes).to_bytes()),
    )
    .unwrap();
    assert!(problems(&d, Some(&pk))
        .iter()
        .any(|p| p.contains("../x") && p.contains("not a safe relative path")));

    let d = fresh("nosig");
    std::fs::remove_file(d.join("manifest.sig")).unwrap();
    assert!(problems(&d, Some(&pk))
        .iter()
        .any(|p| p.contains("manifest.sig")));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn export_is_refused_without_valid_approvals_or_with_extra_files_or_phi() {
    let home = tempfile::tempdir().unwrap();
    let run_dir = write_fake_run(home.path(), &spec("run-x", 60, false));
    let facts = RunFacts::load(&run_dir, home.path()).unwrap();
    let digest = release_digest(&facts).unwrap();
    let signing_key = key();
    let both = [
        approve("ana", "ig_officer", &digest),
        approve("cai", "clinical_safety_officer", &digest),
    ];
    let roles = roles();
    let export = |facts: &RunFacts,
                  approvals: &[ApprovalRecord],
                  scanner: &dyn Fn(&str) -> Vec<FoundIdentifier>,
                  out: &str| {
        write_bundle(&ExportRequest {
            facts,
            approvals,
            required_roles: &roles,
            signing_key: &signing_key,
            job_id: None,
            scanner,
            out: &home.path().join(out),
        })
    };

    let e = export(&facts, &both[..1], &no_phi, "b1")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing approval from clinical_safety_officer"),
        "{e}"
    );

    // Change after approval: the adapter is retouched → digest differs → void.
    std::fs::write(run_dir.join("adapter/adapter_config.json"), b"{\"r\": 64}").unwrap();
    let changed = RunFacts::load(&run_dir, home.path()).unwrap();
    let e = export(&changed, &both, &no_phi, "b2")
        .unwrap_err()
        .to_string();
    assert!(e.contains("void"), "{e}");

    // Anything outside the allowed list in adapter/ is refused.
    let run_dir = write_fake_run(home.path(), &spec("run-y", 60, false));
    std::fs::write(run_dir.join("adapter/training_notes.jsonl"), b"{}").unwrap();
    let facts = RunFacts::load(&run_dir, home.path()).unwrap();
    let e = release_digest(&facts).unwrap_err().to_string();
    assert!(
        e.contains("training_notes.jsonl") && e.contains("allowed file list"),
        "{e}"
    );

    // The PHI scan runs over the text files before sealing.
    let run_dir = write_fake_run(home.path(), &spec("run-z", 60, false));
    let facts = RunFacts::load(&run_dir, home.path()).unwrap();
    let digest = release_digest(&facts).unwrap();
    let ok = [
        approve("ana", "ig_officer", &digest),
        approve("cai", "clinical_safety_officer", &digest),
    ];
    let flags_lora = |t: &str| -> Vec<FoundIdentifier> {
        t.find("q_proj")
            .map(|s| FoundIdentifier {
                start: s,
                end: s + 6,
                category: insitu_types::Category::Name,
            })
            .into_iter()
            .collect()
    };
    let e = export(&facts, &ok, &flags_lora, "b3")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("PHI scan") && e.contains("adapter/adapter_config.json"),
        "{e}"
    );
    assert!(!home.path().join("b3").exists());
    // The card's own leakage figures are not PHI, even when the scanner
    // reads one as a time of day (an exposure of "12.05" bits).
    let auc = format!(
        "{:.3}",
        facts
            .leakage
            .as_ref()
            .expect("fake run has a leakage report")
            .summary
            .mia_auc_max
    );
    let flags_auc = |t: &str| -> Vec<FoundIdentifier> {
        t.match_indices(auc.as_str())
            .map(|(s, _)| FoundIdentifier {
                start: s,
                end: s + auc.len(),
                category: insitu_types::Category::Date,
            })
            .collect()
    };
    assert!(export(&facts, &ok, &flags_auc, "b3a").is_ok());
    assert!(export(&facts, &ok, &no_phi, "b4").is_ok());
    let e = export(&facts, &ok, &no_phi, "b4").unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn dp_runs_are_gated_on_recomputed_epsilon() {
    let home = tempfile::tempdir().unwrap();
    let dir = write_fake_run(home.path(), &spec("dp", 60, false));
    let eps = insitu_privacy::DpSgdParams {
        sampling_rate: 0.01,
        noise_multiplier: 1.1,
        steps: 1000,
    }
    .epsilon(1e-5)
    .unwrap()
    .epsilon;
    let set_dp = |recorded: f64| {
        let path = dir.join("run.json");
        let mut run: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        run["dp"] = serde_json::json!({"epsilon": recorded, "delta": 1e-5, "noise_multiplier": 1.1, "sampling_rate": 0.01, "steps": 1000});
        std::fs::write(&path, serde_json::to_vec(&run).unwrap()).unwrap();
        RunFacts::load(&dir, home.path()).unwrap()
    };
    let dp_rule = |policy: &Policy, facts: &RunFacts| {
        evaluate_gate(policy, facts, "d")
            .rules
            .into_iter()
            .find(|r| r.rule == "max_epsilon")
            .unwrap()
    };
    let strict = Policy {
        dp_required: true,
        ..Policy::default()
    };
    let honest = set_dp(eps);
    assert!(
        dp_rule(&strict, &honest).passed,
        "{:?}",
        dp_rule(&strict, &honest)
    );
    let tight = Policy {
        max_epsilon: eps / 2.0,
        ..strict.clone()
    };
    assert!(!dp_rule(&tight, &honest).passed);
    // A run.json that under-reports ε is caught by the recomputation.
    let lying = set_dp(eps / 10.0);
    let r = dp_rule(&strict, &lying);
    assert!(!r.passed && r.note.unwrap().contains("records ε"));
}

/// The model card of a bundle exported from `run_dir` with two approvals.
fn card_of(home: &Path, run_dir: &Path) -> String {
    let facts = RunFacts::load(run_dir, home).unwrap();
    let digest = release_digest(&facts).unwrap();
    let approvals = [
        approve("ana", "ig_officer", &digest),
        approve("cai", "clinical_safety_officer", &digest),
    ];
    let out = home.join(format!("bundle-{digest}"));
    let w = write_bundle(&ExportRequest {
        facts: &facts,
        approvals: &approvals,
        required_roles: &roles(),
        signing_key: &key(),
        job_id: None,
        scanner: &no_phi,
        out: &out,
    })
    .unwrap();
    std::fs::read_to_string(w.dir.join("MODEL_CARD.md")).unwrap()
}

#[test]
fn model_card_shows_held_out_evaluation_numbers_but_never_text() {
    let home = tempfile::tempdir().unwrap();
    let run_dir = write_fake_run(home.path(), &spec("run-eval", 60, false));
    let facts = RunFacts::load(&run_dir, home.path()).unwrap();
    assert!(facts.evaluation.is_empty(), "no eval.json yet");
    let digest_before = release_digest(&facts).unwrap();
    assert!(card_of(home.path(), &run_dir).contains("`insitu eval` was not run"));

    std::fs::write(
        run_dir.join("eval.json"),
        r#"{"run_id": "run-eval", "split": "validation", "examples_scored": 60,
            "base": {"loss": 4.103, "perplexity": 60.5, "rouge_l_f1": 0.019},
            "adapter": {"loss": 3.333, "perplexity": 28.01, "rouge_l_f1": 0.045},
            "note": "Mr John Smith said something"}"#,
    )
    .unwrap();
    let facts = RunFacts::load(&run_dir, home.path()).unwrap();
    assert_eq!(facts.evaluation["adapter.loss"], 3.333);
    assert_eq!(facts.evaluation["examples_scored"], 60.0);
    assert_ne!(
        release_digest(&facts).unwrap(),
        digest_before,
        "evaluating after approval must void the approvals"
    );
    let card = card_of(home.path(), &run_dir);
    assert!(card.contains("| adapter.loss | 3.333 |") && card.contains("| base.loss | 4.103 |"));
    assert!(
        !card.contains("John Smith"),
        "text in eval.json must not reach the card"
    );

    std::fs::write(run_dir.join("eval.json"), "{not json").unwrap();
    let err = RunFacts::load(&run_dir, home.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eval.json") && err.contains("insitu eval"),
        "{err}"
    );
}

#[test]
fn a_sponsor_job_tightens_the_gate_but_never_loosens_it() {
    let home = tempfile::tempdir().unwrap();
    let dir = write_fake_run(home.path(), &spec("for-a-job", 60, false));
    let rule = |facts: &RunFacts, name: &str| {
        evaluate_gate(&Policy::default(), facts, "d")
            .rules
            .into_iter()
            .find(|r| r.rule == name)
    };
    let plain = RunFacts::load(&dir, home.path()).unwrap();
    assert!(plain.job.is_none());
    assert!(rule(&plain, "job_max_mia_auc").is_none());
    let base_rules = evaluate_gate(&Policy::default(), &plain, "d").rules.len();

    let mut job = JobRequirements {
        job_id: "job_1".into(),
        sponsor: "acme".into(),
        dp: None,
        max_mia_auc: 1.0,
        max_canary_exposure: 1000.0,
        max_verbatim_phi: 0,
        max_eval_loss: None,
    };
    job.write(&dir).unwrap();
    let facts = RunFacts::load(&dir, home.path()).unwrap();
    let d = evaluate_gate(&Policy::default(), &facts, "d");
    assert!(d.passed, "{:#?}", d.rules);
    // Loose job limits add rules; the policy's own rules all still apply.
    assert_eq!(d.rules.len(), base_rules + 3);
    let auc = facts.leakage.as_ref().unwrap().summary.mia_auc_max;

    // Each requirement can refuse on its own.
    job.max_mia_auc = auc * 0.9;
    job.write(&dir).unwrap();
    let facts = RunFacts::load(&dir, home.path()).unwrap();
    assert!(!rule(&facts, "job_max_mia_auc").unwrap().passed);
    assert!(!evaluate_gate(&Policy::default(), &facts, "d").passed);

    job.max_mia_auc = 1.0;
    job.dp = Some(JobDpBudget {
        epsilon: 8.0,
        delta: 1e-5,
    });
    job.write(&dir).unwrap();
    let facts = RunFacts::load(&dir, home.path()).unwrap();
    let r = rule(&facts, "job_max_epsilon").unwrap();
    assert!(!r.passed && r.note.unwrap().contains("sponsor job requires DP"));

    job.dp = None;
    job.max_eval_loss = Some(3.0);
    job.write(&dir).unwrap();
    let facts = RunFacts::load(&dir, home.path()).unwrap();
    let r = rule(&facts, "job_max_eval_loss").unwrap();
    assert!(!r.passed && r.value.contains("not measured"), "{r:?}");
    let eval = |split: &str, loss: f64| {
        std::fs::write(
            dir.join("eval.json"),
            serde_json::json!({"split": split, "adapter": {"loss": loss}}).to_string(),
        )
        .unwrap();
        RunFacts::load(&dir, home.path()).unwrap()
    };
    // Validation figures do not count: the job bounds the test loss.
    assert!(
        !rule(&eval("validation", 1.0), "job_max_eval_loss")
            .unwrap()
            .passed
    );
    assert!(
        rule(&eval("test", 2.5), "job_max_eval_loss")
            .unwrap()
            .passed
    );
    assert!(
        !rule(&eval("test", 3.5), "job_max_eval_loss")
            .unwrap()
            .passed
    );

    // A malformed job.json is an error naming the file, not a silent pass.
    std::fs::write(dir.join("job.json"), "{\"job_id\": 3}").unwrap();
    let e = RunFacts::load(&dir, home.path()).unwrap_err().to_string();
    assert!(e.contains("job.json"), "{e}");
}

#[test]
fn a_tpr_the_sample_cannot_resolve_is_explained_with_its_null_probability() {
    let home = tempfile::tempdir().unwrap();
    let dir = write_fake_run(home.path(), &spec("small-sample", 60, false));
    let path = dir.join("leakage.json");
    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let attacks = report["membership"].as_array_mut().unwrap();
    assert!(!attacks.is_empty());
    for (i, a) in attacks.iter_mut().enumerate() {
        a["members"] = 64.into();
        a["nonmembers"] = 64.into();
        a["tpr_at_0_1pct_fpr"]["value"] = if i == 0 { 0.0625 } else { 0.0 }.into();
    }
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let facts = RunFacts::load(&dir, home.path()).unwrap();
    let rule = evaluate_gate(&Policy::default(), &facts, "d")
        .rules
        .into_iter()
        .find(|r| r.rule == "max_mia_tpr_at_0_1pct_fpr")
        .unwrap();
    let note = rule.note.unwrap();
    // C(64,4) / C(128,4) = 0.0597…
    assert!(
        note.contains("4 of 64") && note.contains("probability 0.060") && note.contains("1/64"),
        "{note}"
    );
    // With enough non-members there is nothing to explain.
    for a in report["membership"].as_array_mut().unwrap() {
        a["nonmembers"] = 5000.into();
    }
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let facts = RunFacts::load(&dir, home.path()).unwrap();
    let rule = evaluate_gate(&Policy::default(), &facts, "d")
        .rules
        .into_iter()
        .find(|r| r.rule == "max_mia_tpr_at_0_1pct_fpr")
        .unwrap();
    assert_eq!(rule.note, None);
}
