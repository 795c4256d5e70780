//! `insitu dataset build` / `list` and `insitu advise` end to end on a
//! synthetic corpus: cohort refusal (audited), policy-lowered minimum,
//! patient-disjoint splits, recorded dataset, advice.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use std::collections::BTreeSet;
use std::path::Path;

fn insitu(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.current_dir(dir)
        .env_remove("INSITU_HOME")
        .env("INSITU_ACTOR", "ig-officer");
    c
}

fn setup(dir: &Path, patients: &str) {
    insitu(dir)
        .args(["init", "--home", "home"])
        .assert()
        .success();
    insitu(dir)
        .args([
            "synth",
            "--patients",
            patients,
            "--seed",
            "9",
            "--out",
            "corpus",
        ])
        .assert()
        .success();
}

fn audit_actions(dir: &Path) -> String {
    let out = insitu(dir)
        .args(["audit", "log", "--home", "home", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn small_cohorts_are_refused_and_the_refusal_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), "40");
    insitu(dir.path())
        .args([
            "dataset",
            "build",
            "--home",
            "home",
            "--task",
            "icd10",
            "--format",
            "alpaca",
            "--input",
            "corpus/notes.jsonl",
            "--out",
            "ds",
        ])
        .assert()
        .code(1)
        .stderr(contains("minimum cohort of 50").and(contains("policy.toml")));
    assert!(
        !dir.path().join("ds").exists(),
        "nothing is written when refused"
    );
    assert!(audit_actions(dir.path()).contains("dataset.refused"));
}

#[test]
fn a_policy_minimum_is_honoured_and_splits_are_patient_disjoint() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), "60");
    std::fs::write(
        dir.path().join("home/policy.toml"),
        "min_patients_per_split = 5\n",
    )
    .unwrap();
    insitu(dir.path())
        .args([
            "dataset",
            "build",
            "--home",
            "home",
            "--task",
            "triage",
            "--format",
            "messages",
            "--input",
            "corpus/notes.jsonl",
            "--out",
            "ds",
            "--seed",
            "4",
        ])
        .assert()
        .success()
        .stdout(contains("train").and(contains("card")));
    let mut seen: Vec<BTreeSet<String>> = Vec::new();
    for split in ["train", "validation", "test"] {
        let text = std::fs::read_to_string(dir.path().join(format!("ds/{split}.jsonl"))).unwrap();
        let keys: BTreeSet<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["patient_key"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(!keys.is_empty(), "{split} is empty");
        for k in &keys {
            assert!(
                k.len() >= 32 && !text.contains("\"patient_id\""),
                "patient ids must be pseudonymised"
            );
        }
        for other in &seen {
            assert!(other.is_disjoint(&keys), "a patient is in two splits");
        }
        seen.push(keys);
    }
    let splits: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("ds/splits.json")).unwrap())
            .unwrap();
    assert_eq!(
        splits["patients"]["test"].as_array().unwrap().len(),
        seen[2].len()
    );
    for f in ["card.md", "card.json"] {
        assert!(dir.path().join("ds").join(f).exists());
    }
    insitu(dir.path())
        .args(["dataset", "list", "--home", "home"])
        .assert()
        .success()
        .stdout(contains("triage"));
    assert!(audit_actions(dir.path()).contains("dataset.build"));
    insitu(dir.path())
        .args(["advise", "--dataset", "ds"])
        .assert()
        .success()
        .stdout(contains("recommendation: prompting").and(contains("training examples")));
    // Building into the same directory again is refused, not overwritten.
    insitu(dir.path())
        .args([
            "dataset",
            "build",
            "--home",
            "home",
            "--task",
            "triage",
            "--format",
            "messages",
            "--input",
            "corpus/notes.jsonl",
            "--out",
            "ds",
        ])
        .assert()
        .code(2)
        .stderr(contains("not empty"));
}

#[test]
fn unknown_task_and_bad_input_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    insitu(dir.path())
        .args(["init", "--home", "home"])
        .assert()
        .success();
    std::fs::write(
        dir.path().join("n.jsonl"),
        "{\"id\": 1, \"patient_id\": \"p\"}\n",
    )
    .unwrap();
    insitu(dir.path())
        .args([
            "dataset", "build", "--home", "home", "--task", "poetry", "--format", "alpaca",
            "--input", "n.jsonl", "--out", "ds",
        ])
        .assert()
        .code(2)
        .stderr(contains("unknown task").and(contains("handover")));
    insitu(dir.path())
        .args([
            "dataset", "build", "--home", "home", "--task", "icd10", "--format", "alpaca",
            "--input", "n.jsonl", "--out", "ds",
        ])
        .assert()
        .code(2)
        .stderr(contains("n.jsonl:1").and(contains("\"text\" is missing")));
    insitu(dir.path())
        .args(["advise", "--dataset", "nowhere"])
        .assert()
        .code(2)
        .stderr(contains("card.json"));
}

#[test]
fn without_input_the_home_s_deidentified_documents_are_used() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), "60");
    std::fs::write(
        dir.path().join("home/policy.toml"),
        "min_patients_per_split = 5\n",
    )
    .unwrap();
    // Nothing de-identified yet: a usage error that says what to run.
    insitu(dir.path())
        .args([
            "dataset",
            "build",
            "--home",
            "home",
            "--task",
            "continued-pretraining",
            "--format",
            "text",
            "--out",
            "ds",
        ])
        .assert()
        .code(2)
        .stderr(contains("insitu deid --home"));
    insitu(dir.path())
        .args(["ingest", "--home", "home", "corpus/notes.jsonl"])
        .assert()
        .success();
    insitu(dir.path())
        .args(["deid", "--home", "home"])
        .assert()
        .success();
    insitu(dir.path())
        .args([
            "dataset",
            "build",
            "--home",
            "home",
            "--task",
            "continued-pretraining",
            "--format",
            "text",
            "--out",
            "ds",
        ])
        .assert()
        .success()
        .stdout(contains("continued-pretraining"));
    let actions = audit_actions(dir.path());
    assert!(actions.contains("quality.assess") && actions.contains("dataset.build"));
}

/// The recipe a hub job asks for: note kinds, patient shares, a note cap
/// that never cuts a patient in half.
#[test]
fn kinds_split_and_note_cap_shape_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), "80");
    std::fs::write(
        dir.path().join("home/policy.toml"),
        "min_patients_per_split = 3\n",
    )
    .unwrap();
    let build = |out: &str, extra: &[&str]| {
        let mut c = insitu(dir.path());
        c.args([
            "dataset",
            "build",
            "--home",
            "home",
            "--task",
            "radiology-impression",
            "--format",
            "messages",
            "--input",
            "corpus/notes.jsonl",
            "--seed",
            "2",
            "--out",
            out,
        ])
        .args(extra);
        c.assert()
    };
    let card = |out: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(out).join("card.json")).unwrap(),
        )
        .unwrap()
    };
    let patients = |c: &serde_json::Value, s: &str| c["splits"][s]["patients"].as_u64().unwrap();

    build("all", &["--kinds", "radiology"]).success();
    build(
        "half",
        &["--kinds", "radiology", "--split", "0.5,0.25,0.25"],
    )
    .success();
    let (all, half) = (card("all"), card("half"));
    let total = |c: &serde_json::Value| {
        ["train", "validation", "test"]
            .map(|s| patients(c, s))
            .iter()
            .sum::<u64>()
    };
    assert_eq!(total(&all), total(&half));
    assert!(patients(&half, "test") > patients(&all, "test"), "{half}");

    build("capped", &["--kinds", "radiology", "--max-notes", "40"]).success();
    let capped = card("capped");
    let examples: u64 = ["train", "validation", "test"]
        .map(|s| capped["splits"][s]["examples"].as_u64().unwrap())
        .iter()
        .sum();
    assert!(examples <= 40 && examples > 20, "{capped}");
    // The same seed picks the same patients.
    build(
        "capped-again",
        &["--kinds", "radiology", "--max-notes", "40"],
    )
    .success();
    assert_eq!(
        std::fs::read(dir.path().join("capped/splits.json")).unwrap(),
        std::fs::read(dir.path().join("capped-again/splits.json")).unwrap()
    );

    build("none", &["--kinds", "no_such_kind"])
        .code(2)
        .stderr(contains("no_such_kind").and(contains("radiology")));
    build("bad1", &["--split", "0.8,0.1"])
        .code(2)
        .stderr(contains("three"));
    build("bad2", &["--split", "0.8,0.3,0.1"])
        .code(2)
        .stderr(contains("sum to 1"));
}
