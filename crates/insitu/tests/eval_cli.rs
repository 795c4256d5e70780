//! `insitu eval` on a finished run of a very small model: the adapter's
//! held-out loss is compared with the base model's, answers are written
//! only to the appliance-local samples file, and bad input exits 2.

mod support;

use std::path::{Path, PathBuf};
use support::{insitu, messages_dataset, read_json, tiny_model, train};

/// A run of a very small model trained on a pattern it can learn in a few steps.
fn trained_run(root: &Path) -> PathBuf {
    let model = tiny_model(root);
    let ds = messages_dataset(&root.join("ds"), 0..16, 16..20, |i| {
        (
            format!("Which drug was started for patient {i}?"),
            "ramipril was started.".to_string(),
        )
    });
    train(
        root,
        &model,
        &ds,
        "[training]\nseed = 3\nmax_seq_length = 64\nper_device_train_batch_size = 4\nmax_steps = 8\nlearning_rate = 0.01\n",
    )
}

#[test]
fn eval_scores_base_and_adapter_and_keeps_answers_local() {
    let tmp = tempfile::tempdir().unwrap();
    let run = trained_run(tmp.path());
    let out = insitu()
        .arg("eval")
        .arg(&run)
        .args(["--generate", "2", "--max-new-tokens", "8", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let printed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let written = read_json(&run.join("eval.json"));
    assert_eq!(printed, written, "--json prints exactly eval.json");
    assert_eq!(written["split"], "validation");
    assert_eq!(written["examples_scored"], 4);
    assert_eq!(written["examples_generated"], 2);
    let base = written["base"]["loss"].as_f64().unwrap();
    let adapted = written["adapter"]["loss"].as_f64().unwrap();
    assert!(
        adapted < base,
        "training on the pattern should lower held-out loss: base {base}, adapter {adapted}"
    );
    let ppl = written["adapter"]["perplexity"].as_f64().unwrap();
    assert!((ppl - adapted.exp()).abs() < 1e-9 * ppl);
    let rouge = written["adapter"]["rouge_l_f1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rouge));
    // Figures only in eval.json; the note text stays in the samples file.
    let text = std::fs::read_to_string(run.join("eval.json")).unwrap();
    assert!(!text.contains("ramipril") && !text.contains("patient 16"));
    let samples = std::fs::read_to_string(run.join("eval-samples.jsonl")).unwrap();
    assert_eq!(samples.lines().count(), 2);
    let first: serde_json::Value = serde_json::from_str(samples.lines().next().unwrap()).unwrap();
    assert_eq!(first["reference"], "ramipril was started.");
    assert!(first["prompt"].as_str().unwrap().contains("patient 16"));
    assert!(first["base"].is_string() && first["adapter"].is_string());
}

#[test]
fn eval_refuses_a_missing_run_or_split_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = insitu()
        .args(["--home"])
        .arg(tmp.path().join("home"))
        .args(["eval", "no-such-run"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&missing.get_output().stderr).to_string();
    assert!(
        err.contains("run.json") && err.contains("no-such-run"),
        "{err}"
    );

    let run = trained_run(tmp.path());
    let bad_split = insitu()
        .arg("eval")
        .arg(&run)
        .args(["--split", "test"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&bad_split.get_output().stderr).to_string();
    assert!(err.contains("test.jsonl"), "{err}");
}
