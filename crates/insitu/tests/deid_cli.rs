//! `insitu deid` file mode and `insitu deid eval`, end to end through the binary.

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;

fn insitu() -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.env_remove("INSITU_HOME");
    c
}

const NOTE: &str = "Seen by Dr Amelia Rose on 3/4/2024. NHS 943 476 5919. Tel 07700 900123.\n";

#[test]
fn txt_directory_in_tag_mode_with_spans() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a1.txt"), NOTE).unwrap();
    let out = dir.path().join("out");
    let spans = dir.path().join("spans.jsonl");
    insitu()
        .args(["deid", "--mode", "tag", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .arg("--spans")
        .arg(&spans)
        .assert()
        .success();
    let clean = fs::read_to_string(out.join("a1.txt")).unwrap();
    assert_eq!(
        clean,
        "Seen by Dr [NAME] on [DATE]. NHS [ID]. Tel [PHONE].\n"
    );
    let lines: Vec<serde_json::Value> = fs::read_to_string(&spans)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let first = &lines[0];
    assert_eq!(first["doc"], "a1");
    let (s, e) = (
        first["start"].as_u64().unwrap() as usize,
        first["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&NOTE[s..e], "Amelia Rose");
    assert_eq!(first["category"], "NAME");
}

#[test]
fn jsonl_surrogates_are_consistent_with_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.jsonl");
    let line = |id: &str| {
        serde_json::json!({"id": id, "patient_id": "P1", "text": NOTE, "kind": "letter"})
            .to_string()
    };
    fs::write(&notes, format!("{}\n{}\n", line("n1"), line("n2"))).unwrap();
    let key = dir.path().join("key");
    fs::write(&key, [42u8; 32]).unwrap();
    let out = dir.path().join("out");
    insitu()
        .args(["deid", "--input"])
        .arg(&notes)
        .arg("--output")
        .arg(&out)
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success()
        .stderr(predicate::str::contains("random key").not());
    let rows: Vec<serde_json::Value> = fs::read_to_string(out.join("notes.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["kind"], "letter", "other fields are kept");
    let (a, b) = (
        rows[0]["text"].as_str().unwrap(),
        rows[1]["text"].as_str().unwrap(),
    );
    assert_eq!(a, b, "same patient, same key: same surrogates");
    assert!(!a.contains("Amelia") && !a.contains("943 476 5919") && !a.contains("3/4/2024"));
    assert!(a.contains("NHS 999 "), "{a}");
}

#[test]
fn non_utf8_is_refused_unless_lossy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("bad.txt"), b"Mr Okonkwo \xff\xfe seen").unwrap();
    let out = dir.path().join("out");
    insitu()
        .args(["deid", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.txt").and(predicate::str::contains("--lossy")));
    insitu()
        .args(["deid", "--mode", "tag", "--lossy", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("replaced 2 invalid UTF-8"));
    assert!(fs::read_to_string(out.join("bad.txt"))
        .unwrap()
        .starts_with("Mr [NAME]"));
}

#[test]
fn malformed_jsonl_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.jsonl");
    fs::write(&notes, "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\"}\n").unwrap();
    insitu()
        .args(["deid", "--input"])
        .arg(&notes)
        .arg("--output")
        .arg(dir.path().join("o"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("notes.jsonl:2: field \"text\""));
}

#[test]
fn eval_reports_scores_and_hides_text_unless_shown() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("gold.jsonl");
    let pred = dir.path().join("pred.jsonl");
    let notes = dir.path().join("notes.jsonl");
    fs::write(
        &notes,
        serde_json::json!({"id": "a", "text": "Seen by Jane Smith today"}).to_string(),
    )
    .unwrap();
    fs::write(&gold, "{\"doc\":\"a\",\"start\":8,\"end\":18,\"category\":\"NAME\"}\n{\"doc\":\"a\",\"start\":19,\"end\":24,\"category\":\"DATE\"}\n").unwrap();
    fs::write(
        &pred,
        "{\"doc\":\"a\",\"start\":8,\"end\":18,\"category\":\"NAME\"}\n",
    )
    .unwrap();
    let args = |show: bool| {
        let mut c = insitu();
        c.args(["deid", "eval", "--gold"])
            .arg(&gold)
            .arg("--pred")
            .arg(&pred)
            .arg("--notes")
            .arg(&notes);
        if show {
            c.arg("--show");
        }
        c
    };
    args(false)
        .assert()
        .success()
        .stdout(predicate::str::contains("span exact").and(predicate::str::contains("R 0.5000")))
        .stdout(predicate::str::contains("a 19..24 DATE"))
        .stdout(predicate::str::contains("today").not());
    args(true)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"today\""));
    let json = insitu()
        .args(["deid", "eval", "--json", "--gold"])
        .arg(&gold)
        .arg("--pred")
        .arg(&pred)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["overlap"]["recall"], 0.5);
    assert_eq!(v["overlap"]["precision"], 1.0);
}

#[test]
fn pipeline_mode_deidentifies_ingested_documents_once_with_audit_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    insitu()
        .arg("--home")
        .arg(&home)
        .arg("init")
        .assert()
        .success();
    let notes = dir.path().join("notes.jsonl");
    fs::write(
        &notes,
        format!(
            "{}\n{}\n",
            serde_json::json!({"id": "n1", "patient_id": "P1", "text": "Seen by Dr Amelia Rose on 3/4/2024."}),
            serde_json::json!({"id": "n2", "patient_id": "P1", "text": "Dr Amelia Rose phoned on 10/4/2024."})
        ),
    )
    .unwrap();
    insitu()
        .arg("--home")
        .arg(&home)
        .arg("ingest")
        .arg(&notes)
        .assert()
        .success();
    insitu()
        .arg("--home")
        .arg(&home)
        .arg("deid")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "de-identified 2 document(s) in run 1",
        ));
    insitu()
        .arg("--home")
        .arg(&home)
        .arg("deid")
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to de-identify"));
    let store = insitu_store::Store::open(&home).unwrap();
    let docs = store.deidentified_documents().unwrap();
    assert_eq!(docs.len(), 2);
    for d in &docs {
        assert!(
            !d.text.contains("Amelia") && !d.text.contains("/4/2024"),
            "{}",
            d.text
        );
    }
    // Same patient: the same surrogate name in both notes, dates 7 days apart still.
    let name = |t: &str| {
        t.split("Dr ")
            .nth(1)
            .unwrap()
            .split(' ')
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(name(&docs[0].text), name(&docs[1].text));
    let report = fs::read_to_string(home.join("reports/deid-run-1.md")).unwrap();
    assert!(report.contains("residual-risk") && !report.contains("Amelia"));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(home.join("reports/deid-run-1.json")).unwrap())
            .unwrap();
    assert_eq!(json["documents"], 2);
    insitu()
        .arg("--home")
        .arg(&home)
        .args(["audit", "verify"])
        .assert()
        .success();
    let runs = store.deid_runs().unwrap();
    assert_eq!(runs[0].spans, 4);
}

#[test]
fn pipeline_mode_without_a_home_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    insitu()
        .arg("--home")
        .arg(dir.path().join("nope"))
        .arg("deid")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("insitu init"));
}
