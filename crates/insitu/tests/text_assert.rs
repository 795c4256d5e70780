//! `insitu assert`: predictions on stdout, --gold scoring, input errors with
//! file:line and exit code 2. Runs without a home.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../insitu-text/fixtures/assertion_gold.jsonl"
);

fn insitu(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.current_dir(dir).env_remove("INSITU_HOME");
    c
}

#[test]
fn predictions_are_one_json_line_per_input_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.jsonl"),
        "{\"id\": \"1\", \"text\": \"Denies chest pain or SOB.\", \"concept\": \"SOB\"}\n\
         {\"id\": 2, \"text\": \"FHx: mother had breast cancer.\", \"concept\": \"breast cancer\"}\n\
         {\"id\": \"3\", \"text\": \"?PE - for CTPA\", \"concept\": \"PE\"}\n",
    )
    .unwrap();
    let out = insitu(dir.path())
        .args(["assert", "--input", "in.jsonl"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"id": "1", "assertion": "absent"})
    );
    assert_eq!(
        lines[1],
        serde_json::json!({"id": 2, "assertion": "family"})
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"id": "3", "assertion": "possible"})
    );
    assert!(
        !dir.path().join("insitu-home").exists(),
        "assert must not create a home"
    );
}

#[test]
fn gold_mode_prints_per_class_scores() {
    let dir = tempfile::tempdir().unwrap();
    insitu(dir.path())
        .args(["assert", "--input", FIXTURE, "--gold"])
        .assert()
        .success()
        .stdout(
            contains("absent")
                .and(contains("family"))
                .and(contains("precision"))
                .and(contains("macro F1")),
        );
    let out = insitu(dir.path())
        .args(["assert", "--input", FIXTURE, "--gold", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["scores"]["total"].as_u64().unwrap() >= 300);
    assert!(v["misses"].is_array());
}

#[test]
fn bad_lines_name_the_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.jsonl"), "{\"id\": 1, \"text\": \"No fever.\", \"concept\": \"fever\"}\n{\"id\": 2, \"concept\": \"x\"}\n").unwrap();
    insitu(dir.path())
        .args(["assert", "--input", "bad.jsonl"])
        .assert()
        .code(2)
        .stderr(contains("bad.jsonl:2").and(contains("\"text\" is missing")));
    std::fs::write(
        dir.path().join("nc.jsonl"),
        "{\"id\": 1, \"text\": \"No fever.\", \"concept\": \"rash\"}\n",
    )
    .unwrap();
    insitu(dir.path())
        .args(["assert", "--input", "nc.jsonl"])
        .assert()
        .code(2)
        .stderr(contains("nc.jsonl:1").and(contains("rash")));
    std::fs::write(
        dir.path().join("nogold.jsonl"),
        "{\"id\": 1, \"text\": \"No fever.\", \"concept\": \"fever\"}\n",
    )
    .unwrap();
    insitu(dir.path())
        .args(["assert", "--input", "nogold.jsonl", "--gold"])
        .assert()
        .code(2)
        .stderr(contains("\"assertion\" is missing"));
    insitu(dir.path())
        .args(["assert", "--input", "missing.jsonl"])
        .assert()
        .code(2)
        .stderr(contains("missing.jsonl"));
}
