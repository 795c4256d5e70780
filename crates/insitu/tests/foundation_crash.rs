//! Crash safety: SIGKILL `insitu ingest` in the middle of a large file, then
//! show that nothing from that file was stored, the audit chain still
//! verifies, and re-running stores the whole file.

use assert_cmd::cargo::CommandCargoExt;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn insitu(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("insitu").unwrap();
    cmd.env_remove("INSITU_HOME")
        .env("INSITU_ACTOR", "tester")
        .arg("--quiet")
        .arg("--home")
        .arg(home);
    cmd
}

fn documents_from(home: &Path, source: &str) -> i64 {
    rusqlite::Connection::open(home.join("insitu.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM documents WHERE source = ?1",
            [source],
            |r| r.get(0),
        )
        .unwrap()
}

/// Invented notes, about 1.3 KB each, every one distinct.
fn write_notes(path: &Path, notes: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let body =
        "Seen in clinic today. Pt c/o intermittent SOB on exertion for 3/12, no chest pain. \
                PMH: HTN, T2DM. O/E chest clear, HS I+II+0, no peripheral oedema. Obs stable. \
                Impression: likely deconditioning, ?early HF. Plan: echo, BNP, review in 6/52. "
            .repeat(4);
    for i in 0..notes {
        writeln!(
            out,
            r#"{{"id":"crash-{i}","patient_id":"P{}","kind":"clinic_letter","text":"Note {i}. {body}"}}"#,
            i % 997
        )
        .unwrap();
    }
}

#[test]
fn sigkill_mid_file_leaves_nothing_from_it_and_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(insitu(&home).arg("init").status().unwrap().success());
    let small = dir.path().join("small.jsonl");
    write_notes(&small, 10);
    assert!(insitu(&home)
        .arg("ingest")
        .arg(&small)
        .status()
        .unwrap()
        .success());

    let big = dir.path().join("big.jsonl");
    let notes = 40_000;
    write_notes(&big, notes);
    let wal = home.join("insitu.db-wal");
    let wal_before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);

    let mut child = insitu(&home)
        .arg("ingest")
        .arg(&big)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Uncommitted pages spill into the WAL as the transaction grows, so a
    // growing WAL means the process is in the middle of the file.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let grown = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > wal_before + (4 << 20);
        if grown {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("ingest finished ({status}) before it could be killed — make the file larger");
        }
        assert!(Instant::now() < deadline, "ingest made no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the process was killed, not finished");

    assert_eq!(documents_from(&home, "big.jsonl"), 0, "no partial file");
    assert_eq!(
        documents_from(&home, "small.jsonl"),
        10,
        "earlier work kept"
    );
    assert!(insitu(&home)
        .args(["audit", "verify"])
        .status()
        .unwrap()
        .success());

    assert!(insitu(&home)
        .arg("ingest")
        .arg(&big)
        .status()
        .unwrap()
        .success());
    assert_eq!(documents_from(&home, "big.jsonl"), notes as i64);
    assert!(insitu(&home)
        .args(["audit", "verify"])
        .status()
        .unwrap()
        .success());
}
