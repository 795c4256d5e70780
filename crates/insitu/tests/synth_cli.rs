//! `insitu synth` end to end.

use assert_cmd::Command;

fn synth(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("insitu")
        .unwrap()
        .arg("synth")
        .args(args)
        .assert()
}

#[test]
fn writes_three_files_deterministically() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [&a, &b] {
        synth(&[
            "--patients",
            "4",
            "--seed",
            "9",
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .success()
        .stdout(predicates::str::contains("notes for 4 patients"));
    }
    for f in ["notes.jsonl", "phi.jsonl", "labels.jsonl"] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert!(!x.is_empty());
        assert_eq!(x, std::fs::read(b.path().join(f)).unwrap(), "{f}");
    }
    let first = std::fs::read_to_string(a.path().join("notes.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    for field in ["id", "patient_id", "kind", "written_at", "text"] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn bad_arguments_exit_2_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    synth(&["--patients", "0", "--out", out])
        .code(2)
        .stderr(predicates::str::contains("--patients must be at least 1"));
    synth(&["--us-share", "1.5", "--out", out])
        .code(2)
        .stderr(predicates::str::contains("outside 0.0–1.0"));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    synth(&["--out", file.to_str().unwrap()])
        .code(2)
        .stderr(predicates::str::contains("is not a directory"));
}
