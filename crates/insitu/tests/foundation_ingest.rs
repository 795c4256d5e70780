//! `insitu ingest` and `insitu status`: formats, duplicates, bad input
//! (exit 2 with file:line, nothing stored), --skip-bad and the stable
//! status JSON. All notes here are invented.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn insitu(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("insitu").unwrap();
    cmd.env_remove("INSITU_HOME")
        .env("INSITU_ACTOR", "tester")
        .arg("--home")
        .arg(home);
    cmd
}

fn new_home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    insitu(&dir.path().join("home"))
        .arg("init")
        .assert()
        .success();
    dir
}

fn status(home: &Path) -> serde_json::Value {
    let out = insitu(home)
        .args(["status", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

fn query(home: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(home.join("insitu.db")).unwrap();
    let mut st = conn.prepare(sql).unwrap();
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

const NOTES: &str = r#"{"id":"n1","patient_id":"NHS-943 476 5919","kind":"discharge summary","written_at":"2024-02-01","text":"Pt c/o SOB. O/E NAD.","encounter":"E100"}
{"id":"n2","patient_id":"NHS-943 476 5919","text":"Review in clinic. TTO: amlodipine 5 mg OD."}

{"id":"n3","patient_id":"MRN0042","text":"CXR: no consolidation."}
"#;

#[test]
fn jsonl_is_stored_once_with_pseudonymised_patients() {
    let dir = new_home();
    let home = dir.path().join("home");
    let notes = dir.path().join("notes.jsonl");
    std::fs::write(&notes, NOTES).unwrap();
    insitu(&home)
        .arg("ingest")
        .arg(&notes)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 record(s) → 3 new, 0 already stored",
        ));
    insitu(&home)
        .arg("ingest")
        .arg(&notes)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 record(s) → 0 new, 3 already stored",
        ));
    let s = status(&home);
    assert_eq!(s["documents"], 3);
    assert_eq!(s["patients"], 2);
    assert_eq!(s["sources"], 1);
    // The raw patient identifier appears nowhere in the database.
    let db = std::fs::read(home.join("insitu.db")).unwrap();
    let wal = std::fs::read(home.join("insitu.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        let hay = String::from_utf8_lossy(bytes);
        assert!(!hay.contains("943 476 5919") && !hay.contains("MRN0042"));
    }
    assert_eq!(
        query(&home, "SELECT meta FROM documents WHERE source_id = 'n1'"),
        vec![r#"{"encounter":"E100"}"#.to_string()]
    );
    // Both ingests are audited with the file's digest.
    let events = query(
        &home,
        "SELECT json_extract(details, '$.inserted') || '/' || json_extract(details, '$.sha256')
         FROM audit_events WHERE action = 'ingest.file' ORDER BY seq",
    );
    assert_eq!(events.len(), 2);
    assert!(events[0].starts_with("3/") && events[1].starts_with("0/"));
    insitu(&home).args(["audit", "verify"]).assert().success();
}

#[test]
fn a_bad_line_fails_the_file_with_its_line_number_and_stores_nothing() {
    let dir = new_home();
    let home = dir.path().join("home");
    let notes = dir.path().join("notes.jsonl");
    std::fs::write(
        &notes,
        format!("{NOTES}{{\"id\":\"n4\",\"patient_id\":\"P9\"}}\n"),
    )
    .unwrap();
    insitu(&home)
        .arg("ingest")
        .arg(&notes)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "notes.jsonl:5: field \"text\" is missing — every line needs {id, patient_id, text}",
        ))
        .stderr(predicate::str::contains(
            "nothing from this file was stored",
        ));
    assert_eq!(status(&home)["documents"], 0);

    insitu(&home)
        .arg("ingest")
        .arg("--skip-bad")
        .arg(&notes)
        .assert()
        .success()
        .stdout(predicate::str::contains("3 record(s) → 3 new"))
        .stdout(predicate::str::contains(
            "1 bad record(s) skipped; rejects report: ",
        ));
    let reports: Vec<_> = std::fs::read_dir(home.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(reports.len(), 1);
    let rejects = std::fs::read_to_string(&reports[0]).unwrap();
    let line: serde_json::Value = serde_json::from_str(rejects.trim()).unwrap();
    assert_eq!(line["at"]["place"]["line"], 5);
    assert_eq!(line["problem"], "field \"text\" is missing");
}

#[test]
fn non_utf8_input_is_rejected_clearly() {
    let dir = new_home();
    let home = dir.path().join("home");
    let notes = dir.path().join("latin1.jsonl");
    std::fs::write(
        &notes,
        b"{\"id\":\"a\",\"patient_id\":\"p\",\"text\":\"caf\xe9\"}\n".as_slice(),
    )
    .unwrap();
    insitu(&home)
        .arg("ingest")
        .arg(&notes)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "latin1.jsonl:1: the line is not valid UTF-8",
        ))
        .stderr(predicate::str::contains("iconv"));
}

#[test]
fn csv_columns_are_mapped_by_flags() {
    let dir = new_home();
    let home = dir.path().join("home");
    let csv = dir.path().join("export.csv");
    std::fs::write(
        &csv,
        "NoteID,MRN,Body,Type,Ward\nc1,M1,\"Seen on ward round,\nplan: discharge\",letter,W5\nc2,M2,Hx of HTN,,W6\n",
    )
    .unwrap();
    insitu(&home)
        .arg("ingest")
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no column \"id\""))
        .stderr(predicate::str::contains("--id-col"));
    insitu(&home)
        .arg("ingest")
        .arg(&csv)
        .args([
            "--id-col",
            "NoteID",
            "--patient-col",
            "MRN",
            "--text-col",
            "Body",
        ])
        .args(["--kind-col", "Type", "--source", "epr"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2 record(s) → 2 new"));
    assert_eq!(
        query(&home, "SELECT source || '|' || source_id || '|' || coalesce(kind, '-') || '|' || meta FROM documents ORDER BY doc_id"),
        vec![
            r#"epr|c1|letter|{"Ward":"W5"}"#.to_string(),
            r#"epr|c2|-|{"Ward":"W6"}"#.to_string()
        ]
    );
}

#[test]
fn csv_row_with_wrong_field_count_names_its_line() {
    let dir = new_home();
    let home = dir.path().join("home");
    let csv = dir.path().join("notes.csv");
    std::fs::write(&csv, "id,patient_id,text\na,p,ok\nb,p,too,many\n").unwrap();
    insitu(&home)
        .arg("ingest")
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "notes.csv:3: has 4 fields but the header has 3",
        ));
}

#[test]
fn txt_directories_and_fhir_bundles_are_read() {
    let dir = new_home();
    let home = dir.path().join("home");
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    std::fs::write(
        letters.join("letter-1.txt"),
        "Dear Dr, thank you for referring.",
    )
    .unwrap();
    std::fs::write(letters.join("letter-2.txt"), "PMH: T2DM, HTN.").unwrap();
    std::fs::write(letters.join("ignore.md"), "not a note").unwrap();
    let bundle = dir.path().join("bundle.json");
    std::fs::write(
        &bundle,
        r#"{"resourceType":"Bundle","type":"collection","entry":[
  {"resource":{"resourceType":"Patient","id":"p1"}},
  {"resource":{"resourceType":"DocumentReference","id":"dr1","subject":{"reference":"Patient/p1"},
    "date":"2024-05-02","type":{"text":"Radiology report"},
    "content":[{"attachment":{"contentType":"text/plain","data":"RklORElOR1M6IE5vcm1hbC4="}}]}},
  {"resource":{"resourceType":"DocumentReference","id":"dr2","subject":{"reference":"Patient/p1"}}}
]}"#,
    )
    .unwrap();
    insitu(&home)
        .arg("ingest")
        .arg(&letters)
        .arg(&bundle)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("2 record(s) → 2 new"))
        .stderr(predicate::str::contains(
            "bundle.json: entry[2]: DocumentReference \"dr2\": no note text",
        ))
        .stderr(predicate::str::contains("1 of 2 input(s) failed"));
    insitu(&home)
        .arg("ingest")
        .arg("--skip-bad")
        .arg(&bundle)
        .assert()
        .success();
    assert_eq!(
        query(&home, "SELECT source_id || '|' || coalesce(kind, '-') || '|' || text FROM documents ORDER BY doc_id"),
        vec![
            "letter-1|-|Dear Dr, thank you for referring.".to_string(),
            "letter-2|-|PMH: T2DM, HTN.".to_string(),
            "dr1|Radiology report|FINDINGS: Normal.".to_string(),
        ]
    );
    let s = status(&home);
    assert_eq!(s["sources"], 2);
    assert_eq!(s["patients"], 1, "txt notes carry no patient");
}

#[test]
fn status_json_has_the_documented_shape() {
    let dir = new_home();
    let home = dir.path().join("home");
    let s = status(&home);
    let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "audit",
            "bundles",
            "datasets",
            "documents",
            "home",
            "patients",
            "runs",
            "schema_versions",
            "sources"
        ]
    );
    let mut audit_keys: Vec<&str> = s["audit"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    audit_keys.sort();
    assert_eq!(audit_keys, ["events", "head_hash", "head_seq"]);
    assert_eq!(s["audit"]["head_seq"], 1);
    assert_eq!(s["audit"]["head_hash"].as_str().unwrap().len(), 64);
    assert!(s["schema_versions"].as_array().unwrap().contains(&1.into()));
    insitu(&home)
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "documents  0 from 0 patient(s) in 0 source(s)",
        ));
}

#[test]
fn unknown_format_and_missing_file_are_input_errors() {
    let dir = new_home();
    let home = dir.path().join("home");
    let odd = dir.path().join("notes.xml");
    std::fs::write(&odd, "<notes/>").unwrap();
    insitu(&home)
        .arg("ingest")
        .arg(&odd)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot tell the format"));
    insitu(&home)
        .args(["ingest", "--format", "pdf"])
        .arg(&odd)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("choose txt, jsonl, csv or fhir"));
    insitu(&home)
        .arg("ingest")
        .arg(dir.path().join("missing.jsonl"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.jsonl"));
}

#[test]
fn concurrent_ingests_keep_one_gapless_chain() {
    let dir = new_home();
    let home = dir.path().join("home");
    let children: Vec<_> = (0..3)
        .map(|k| {
            let path = dir.path().join(format!("part-{k}.jsonl"));
            let mut lines = String::new();
            for i in 0..300 {
                lines.push_str(&format!(
                    "{{\"id\":\"{k}-{i}\",\"patient_id\":\"P{i}\",\"text\":\"Note {k}/{i}: BP 130/85.\"}}\n"
                ));
            }
            std::fs::write(&path, lines).unwrap();
            std::process::Command::new(assert_cmd::cargo::cargo_bin("insitu"))
                .env_remove("INSITU_HOME")
                .arg("--quiet")
                .arg("--home")
                .arg(&home)
                .arg("ingest")
                .arg(&path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let s = status(&home);
    assert_eq!(s["documents"], 900);
    assert_eq!(s["audit"]["head_seq"], 4);
    insitu(&home)
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("4 events"));
}
