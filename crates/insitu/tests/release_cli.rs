//! The release path through the CLI on synthetic runs: gate → users →
//! approve (with every refusal) → export → verify, and the over-fitted run
//! that the gate refuses.

use assert_cmd::Command;
use insitu_release::fixtures::{write_fake_run, FakeRun};
use predicates::prelude::*;
use predicates::str::contains;
use std::path::Path;

fn insitu(home: &Path) -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.arg("--home")
        .arg(home)
        .env_remove("INSITU_PASSPHRASE")
        .env("INSITU_ACTOR", "olly");
    c
}

fn add_user(home: &Path, name: &str, role: &str) {
    insitu(home)
        .args(["users", "add", name, "--role", role])
        .env("INSITU_PASSPHRASE", format!("{name}-long-passphrase"))
        .assert()
        .success();
}

fn approve(home: &Path, run: &str, user: &str) -> assert_cmd::assert::Assert {
    insitu(home)
        .args(["approve", run, "--as", user])
        .env("INSITU_PASSPHRASE", format!("{user}-long-passphrase"))
        .assert()
}

fn setup() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    insitu(home.path()).arg("init").assert().success();
    for (u, r) in [
        ("ana", "ig_officer"),
        ("ian", "ig_officer"),
        ("cai", "clinical_safety_officer"),
        ("olly", "operator"),
        ("opal", "operator"),
    ] {
        add_user(home.path(), u, r);
    }
    home
}

fn fake(home: &Path, run: &str, started_by: &str, leaky: bool) {
    write_fake_run(
        home,
        &FakeRun {
            run_id: run.into(),
            started_by: started_by.into(),
            patients_per_split: 60,
            leaky,
        },
    );
}

#[test]
fn gate_approve_export_verify_end_to_end() {
    let home = setup();
    let h = home.path();
    fake(h, "run-ok", "olly", false);

    // Approval before the gate is refused.
    approve(h, "run-ok", "ana")
        .code(1)
        .stderr(contains("gate has not been run"));

    insitu(h)
        .args(["gate", "run-ok"])
        .assert()
        .success()
        .stdout(contains("PASS  min_patients_per_split"))
        .stdout(contains("PASSED"));
    assert!(
        h.join("policy.toml").is_file(),
        "gate writes the documented default policy"
    );
    assert!(h.join("reports/run-ok/leakage.md").is_file());
    assert!(h.join("reports/run-ok/roc.png").is_file());

    // Wrong passphrase.
    insitu(h)
        .args(["approve", "run-ok", "--as", "ana"])
        .env("INSITU_PASSPHRASE", "not-her-passphrase")
        .assert()
        .code(1)
        .stderr(contains("wrong passphrase"));
    // Wrong role.
    approve(h, "run-ok", "opal")
        .code(1)
        .stderr(contains("only ig_officer or clinical_safety_officer"));

    approve(h, "run-ok", "ana")
        .success()
        .stdout(contains("still needed"));
    // Same person twice; a second person of the same role.
    approve(h, "run-ok", "ana")
        .code(1)
        .stderr(contains("already approved"));
    approve(h, "run-ok", "ian")
        .code(1)
        .stderr(contains("another role"));
    // One approval is not enough.
    insitu(h)
        .args(["export", "run-ok", "--out"])
        .arg(h.join("b0"))
        .assert()
        .code(1)
        .stderr(contains("missing approval"));

    approve(h, "run-ok", "cai")
        .success()
        .stdout(contains("all required approvals hold"));
    let bundle = h.join("out/run-ok");
    insitu(h)
        .args(["export", "run-ok", "--out"])
        .arg(&bundle)
        .assert()
        .success()
        .stdout(contains("bundle written"));

    let pubkey = h.join("keys/signing.pub");
    Command::cargo_bin("insitu")
        .unwrap()
        .arg("verify")
        .arg(&bundle)
        .arg("--pubkey")
        .arg(&pubkey)
        .assert()
        .success()
        .stdout(contains("OK: 4 files match"));
    Command::cargo_bin("insitu")
        .unwrap()
        .arg("verify")
        .arg(&bundle)
        .assert()
        .success()
        .stderr(contains("warning: no --pubkey"));

    // One flipped byte and verification fails.
    let card = bundle.join("MODEL_CARD.md");
    let mut bytes = std::fs::read(&card).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&card, bytes).unwrap();
    Command::cargo_bin("insitu")
        .unwrap()
        .arg("verify")
        .arg(&bundle)
        .arg("--pubkey")
        .arg(&pubkey)
        .assert()
        .code(1)
        .stderr(contains("MODEL_CARD.md: content does not match"));

    // Change after approval voids it: export refuses.
    std::fs::write(
        h.join("runs/run-ok/adapter/adapter_config.json"),
        b"{\"r\": 64}",
    )
    .unwrap();
    insitu(h)
        .args(["export", "run-ok", "--out"])
        .arg(h.join("b2"))
        .assert()
        .code(1)
        .stderr(contains("changed since the gate passed"));

    // Everything above is in the audit log, in its own actions.
    let store = insitu_store::Store::open(h).unwrap();
    let events = store
        .audit_events(&insitu_store::AuditFilter {
            action: Some("release".into()),
            ..Default::default()
        })
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "release.user_add",
        "release.gate",
        "release.approve",
        "release.approve_denied",
        "release.export",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(store.bundles("run-ok").unwrap().len(), 1);
}

#[test]
fn operator_who_started_the_run_cannot_approve_it() {
    let home = setup();
    let h = home.path();
    // ana holds an approver role but started this run herself.
    fake(h, "run-self", "ana", false);
    insitu(h).args(["gate", "run-self"]).assert().success();
    approve(h, "run-self", "ana")
        .code(1)
        .stderr(contains("started this run"));
}

#[test]
fn overfitted_run_fails_the_gate_and_cannot_be_approved() {
    let home = setup();
    let h = home.path();
    fake(h, "run-leaky", "olly", true);
    insitu(h)
        .args(["gate", "run-leaky"])
        .assert()
        .code(1)
        .stdout(contains("FAIL  max_mia_tpr_at_0_1pct_fpr"))
        .stdout(contains("FAIL  max_canary_exposure"))
        .stdout(contains("FAIL  max_phi_findings"))
        .stdout(contains("FAILED"));
    let json = insitu(h)
        .args(["gate", "run-leaky", "--json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["passed"], false);
    approve(h, "run-leaky", "ana")
        .code(1)
        .stderr(contains("gate check of run-leaky failed"));
    insitu(h)
        .args(["export", "run-leaky"])
        .assert()
        .code(1)
        .stderr(contains("refused"));
}

#[test]
fn rejection_needs_a_reason_is_recorded_and_blocks_export() {
    let home = setup();
    let h = home.path();
    fake(h, "run-r", "olly", false);
    insitu(h).args(["gate", "run-r"]).assert().success();
    insitu(h)
        .args(["approve", "run-r", "--as", "cai", "--reject"])
        .env("INSITU_PASSPHRASE", "cai-long-passphrase")
        .assert()
        .code(2)
        .stderr(contains("--reason"));
    insitu(h)
        .args([
            "approve",
            "run-r",
            "--as",
            "cai",
            "--reject",
            "--reason",
            "exposure too close to the limit",
        ])
        .env("INSITU_PASSPHRASE", "cai-long-passphrase")
        .assert()
        .success();
    approve(h, "run-r", "ana").success();
    insitu(h)
        .args(["export", "run-r"])
        .assert()
        .code(1)
        .stderr(contains("exposure too close to the limit"));
    let store = insitu_store::Store::open(h).unwrap();
    let r = store.approvals("run-r").unwrap();
    assert_eq!(r[0].decision, "reject");
    assert_eq!(
        r[0].reason.as_deref(),
        Some("exposure too close to the limit")
    );
}

#[test]
fn users_and_verify_input_errors() {
    let home = setup();
    let h = home.path();
    insitu(h)
        .args(["users", "add", "x", "--role", "admin"])
        .env("INSITU_PASSPHRASE", "long-enough-pass")
        .assert()
        .code(2)
        .stderr(contains("role \"admin\" is unknown"));
    insitu(h)
        .args(["users", "add", "ana", "--role", "operator"])
        .env("INSITU_PASSPHRASE", "long-enough-pass")
        .assert()
        .code(2)
        .stderr(contains("already exists"));
    insitu(h)
        .args(["users", "add", "zed", "--role", "operator"])
        .assert()
        .code(2)
        .stderr(contains("no passphrase"));
    insitu(h)
        .args(["users", "list"])
        .assert()
        .success()
        .stdout(contains("clinical_safety_officer"));
    insitu(h)
        .args(["users", "list", "--json"])
        .assert()
        .success()
        .stdout(contains("\"name\": \"ana\""))
        .stdout(predicates::str::contains("argon2").not());
    insitu(h)
        .args(["gate", "no-such-run"])
        .assert()
        .code(2)
        .stderr(contains("no run"));
    Command::cargo_bin("insitu")
        .unwrap()
        .args(["verify", "/nonexistent/bundle"])
        .assert()
        .code(2);
    Command::cargo_bin("insitu")
        .unwrap()
        .arg("verify")
        .arg(h)
        .args(["--pubkey", "abcd"])
        .assert()
        .code(2)
        .stderr(contains("--pubkey"));
}
