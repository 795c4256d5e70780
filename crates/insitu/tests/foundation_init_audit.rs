//! `insitu init` and `insitu audit`: exit codes and messages.

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

fn sqlite(home: &Path, sql: &str) {
    rusqlite::Connection::open(home.join("insitu.db"))
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

#[test]
fn init_creates_then_reports_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    insitu(&home)
        .arg("init")
        .assert()
        .success()
        .stdout(predicate::str::contains("insitu home ready"))
        .stdout(predicate::str::contains("hmac.key (0600)"));
    insitu(&home)
        .arg("init")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "already an insitu home — nothing changed",
        ));
}

#[test]
fn init_refuses_a_newer_schema_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    insitu(dir.path()).arg("init").assert().success();
    sqlite(
        dir.path(),
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9998, 'future', 'x')",
    );
    insitu(dir.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("[9998]"))
        .stderr(predicate::str::contains("newer version"));
    insitu(dir.path())
        .args(["audit", "verify"])
        .assert()
        .code(2);
}

#[test]
fn commands_on_a_missing_home_say_run_init() {
    let dir = tempfile::tempdir().unwrap();
    insitu(&dir.path().join("nope"))
        .args(["audit", "log"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("run `insitu init --home"));
}

#[test]
fn audit_verify_prints_head_and_fails_on_tampering() {
    let dir = tempfile::tempdir().unwrap();
    insitu(dir.path()).arg("init").assert().success();
    let out = insitu(dir.path())
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "audit chain intact: 1 events, head seq 1 hash ",
        ))
        .get_output()
        .stdout
        .clone();
    let head = String::from_utf8(out)
        .unwrap()
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(head.len(), 64);
    insitu(dir.path())
        .args(["audit", "verify", "--expect", &head])
        .assert()
        .success()
        .stdout(predicate::str::contains("found at seq 1"));
    insitu(dir.path())
        .args(["audit", "verify", "--expect", &"ab".repeat(32)])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("is not in the chain"));

    sqlite(
        dir.path(),
        "UPDATE audit_events SET subject = 'elsewhere' WHERE seq = 1",
    );
    insitu(dir.path())
        .args(["audit", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("audit chain BROKEN at seq 1"));
    let json = insitu(dir.path())
        .args(["audit", "verify", "--json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["intact"], false);
    assert_eq!(v["first_bad_seq"], 1);
}

#[test]
fn audit_log_lists_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    insitu(dir.path()).arg("init").assert().success();
    insitu(dir.path())
        .args(["audit", "log"])
        .assert()
        .success()
        .stdout(predicate::str::contains("home.init"));
    let out = insitu(dir.path())
        .args(["audit", "log", "--json", "--action", "home"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["seq"], 1);
    assert_eq!(line["action"], "home.init");
    insitu(dir.path())
        .args(["audit", "log", "--actor", "nobody"])
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
}

#[test]
fn audit_log_actor_filter_comes_from_the_command_line_not_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    insitu(dir.path()).arg("init").assert().success();
    // INSITU_ACTOR=tester is set by `insitu()`; the init event's actor is `system`.
    insitu(dir.path())
        .args(["audit", "log"])
        .assert()
        .success()
        .stdout(predicate::str::contains("home.init"));
    insitu(dir.path())
        .args(["audit", "log", "--actor", "system"])
        .assert()
        .success()
        .stdout(predicate::str::contains("home.init"));
}
