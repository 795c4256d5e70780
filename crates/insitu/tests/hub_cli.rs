//! The hub's scriptable contract, driven through the `insitu` binary: admin
//! commands print secrets alone on the last line, `sponsor job post` prints
//! the job id last, `job show` is JSON and fails for another sponsor's job,
//! `hub ledger --json` has the documented shape, and the IG officer's
//! `jobs show` is a plain-English summary.

mod support;

use assert_cmd::Command;
use std::path::Path;
use std::process::Stdio;

fn insitu() -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.env_remove("INSITU_HOME")
        .env_remove("INSITU_HUB_DB")
        .env_remove("INSITU_HUB_URL")
        .env_remove("INSITU_HUB_TOKEN");
    c
}

fn last_line(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn ok(args: &[&str]) -> String {
    let out = insitu().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn serve(home: &Path) -> (support::HubServer, String) {
    serve_on(home, "127.0.0.1:0")
}

fn serve_on(home: &Path, listen: &str) -> (support::HubServer, String) {
    support::hub_serve(home, listen)
}

#[test]
fn hub_contract_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let hub_home = dir.path().join("hub");
    let hub = hub_home.to_str().unwrap();
    let app = dir.path().join("appliance");
    let app = app.to_str().unwrap();

    let token = last_line(ok(&["hub", "admin", "add-sponsor", "acme", "--home", hub]).as_bytes());
    assert!(token.starts_with("isk_"), "{token}");
    let rival = last_line(ok(&["hub", "admin", "add-sponsor", "rival", "--home", hub]).as_bytes());
    let code = last_line(
        ok(&[
            "hub",
            "admin",
            "add-hospital",
            "example-hospital",
            "--home",
            hub,
        ])
        .as_bytes(),
    );
    assert!(code.starts_with("enr_"), "{code}");
    // Duplicate names are an input error.
    insitu()
        .args(["hub", "admin", "add-sponsor", "acme", "--home", hub])
        .assert()
        .code(2);

    let (_server, url) = serve(&hub_home);
    ok(&["init", "--home", app]);
    ok(&[
        "agent", "enroll", "--hub", &url, "--code", &code, "--home", app,
    ]);
    // One-time code: a second enrollment fails.
    insitu()
        .args([
            "agent", "enroll", "--hub", &url, "--code", &code, "--home", app,
        ])
        .assert()
        .failure();

    let model = dir.path().join("tiny");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), b"{\"hidden_size\": 8}").unwrap();
    std::fs::write(model.join("model.safetensors"), vec![1u8; 1000]).unwrap();
    let digest = last_line(
        ok(&[
            "sponsor",
            "model",
            "push",
            "--hub",
            &url,
            "--token",
            &token,
            model.to_str().unwrap(),
        ])
        .as_bytes(),
    );
    assert_eq!(digest.len(), 64);

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/job.toml");
    let example = example.to_str().unwrap();
    let post = [
        "sponsor", "job", "post", "--hub", &url, "--token", &token, example, "--model", &digest,
    ];
    let job = last_line(ok(&post).as_bytes());
    assert!(job.starts_with("job_"), "{job}");
    // Re-running the same post is answered from the idempotency record.
    assert_eq!(last_line(ok(&post).as_bytes()), job);

    let shown: serde_json::Value = serde_json::from_str(&ok(&[
        "sponsor", "job", "show", "--hub", &url, "--token", &token, &job,
    ]))
    .unwrap();
    assert_eq!(shown["state"], "offered");
    insitu()
        .args([
            "sponsor", "job", "show", "--hub", &url, "--token", &rival, &job,
        ])
        .assert()
        .failure();

    // A bad spec lists every problem with its field path, exit 2.
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("r = 8", "r = 0")
        .replace("currency = \"GBP\"", "currency = \"gbp\"");
    std::fs::write(&bad, text).unwrap();
    let out = insitu()
        .args([
            "sponsor",
            "job",
            "post",
            "--hub",
            &url,
            "--token",
            &token,
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hyperparameters.r") && err.contains("fee.currency"),
        "{err}"
    );

    ok(&["agent", "run", "--once", "--home", app]);
    assert!(ok(&["jobs", "list", "--home", app]).contains(&job));
    let summary = ok(&["jobs", "show", &job, "--home", app]);
    for needle in [
        "What will leave",
        "patient",
        "Privacy",
        "1,750.00 GBP",
        "2,500.00 GBP",
    ] {
        assert!(
            summary.contains(needle),
            "{needle:?} missing from:\n{summary}"
        );
    }
    ok(&["jobs", "accept", &job, "--home", app]);
    insitu()
        .args(["jobs", "decline", &job, "--home", app])
        .assert()
        .code(2);
    // Escrow holds the fee until the job ends.
    let ledger: serde_json::Value =
        serde_json::from_str(&ok(&["hub", "ledger", "--home", hub, "--json"])).unwrap();
    assert_eq!(ledger["balanced"], true);
    let accounts = ledger["accounts"].as_array().unwrap();
    let escrow = accounts.iter().find(|a| a["name"] == "escrow").unwrap();
    assert_eq!(
        (
            escrow["kind"].as_str(),
            escrow["currency"].as_str(),
            escrow["balance_minor"].as_i64()
        ),
        (Some("escrow"), Some("GBP"), Some(250000))
    );
    assert!(accounts
        .iter()
        .any(|a| a["kind"] == "sponsor" && a["balance_minor"] == -250000));

    // The agent reports the acceptance and runs the job through the
    // pipeline; this appliance has no de-identified notes, so the dataset
    // step fails, the sponsor hears why (no note text) and is refunded.
    ok(&["agent", "run", "--once", "--home", app]);
    let shown: serde_json::Value = serde_json::from_str(&ok(&[
        "sponsor", "job", "show", "--hub", &url, "--token", &token, &job,
    ]))
    .unwrap();
    assert_eq!(shown["state"], "failed", "{shown}");
    let detail = shown["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("dataset") && detail.contains("de-identified documents"),
        "{detail}"
    );
    let ledger: serde_json::Value =
        serde_json::from_str(&ok(&["hub", "ledger", "--home", hub, "--json"])).unwrap();
    assert_eq!(ledger["balanced"], true);
    assert!(
        ledger["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["balance_minor"] == 0),
        "{ledger}"
    );
    // A finished job cannot be closed again.
    insitu()
        .args([
            "jobs",
            "close",
            &job,
            "--outcome",
            "refused-by-gate",
            "--reason",
            "approver rejected the release",
            "--home",
            app,
        ])
        .assert()
        .code(2);
}

#[test]
fn hub_killed_with_sigkill_mid_upload_and_mid_job_loses_no_money() {
    let dir = tempfile::tempdir().unwrap();
    let hub_home = dir.path().join("hub");
    let hub = hub_home.to_str().unwrap();
    let token = last_line(ok(&["hub", "admin", "add-sponsor", "acme", "--home", hub]).as_bytes());
    ok(&[
        "hub",
        "admin",
        "add-hospital",
        "example-hospital",
        "--home",
        hub,
    ]);
    // A fixed port, so clients can reconnect to the restarted hub.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let (server, url) = serve_on(&hub_home, &listen);

    // Mid-upload: SIGKILL the hub once the first chunks have landed.
    let model = dir.path().join("big");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), b"{}").unwrap();
    let weights: Vec<u8> = (0..12 * 4 * 1024 * 1024u32)
        .map(|i| (i % 253) as u8)
        .collect();
    std::fs::write(model.join("model.safetensors"), weights).unwrap();
    let mut push = std::process::Command::new(assert_cmd::cargo::cargo_bin("insitu"))
        .args(["sponsor", "model", "push", "--hub", &url, "--token", &token])
        .arg(&model)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let blobs = hub_home.join("blobs");
    let count_blobs = || walk_count(&blobs);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count_blobs() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    drop(server); // SIGKILL
    let first_push_failed = !push.wait().unwrap().success();
    eprintln!("first push interrupted by the kill: {first_push_failed}");
    let (server, url) = serve_on(&hub_home, &listen);
    let out = ok(&[
        "sponsor",
        "model",
        "push",
        "--hub",
        &url,
        "--token",
        &token,
        model.to_str().unwrap(),
    ]);
    let digest = last_line(out.as_bytes());
    if first_push_failed {
        assert!(
            !out.contains("13 sent now"),
            "the resumed push re-sent everything:\n{out}"
        );
    }

    // Mid-job: post, SIGKILL, restart; the retried post is not charged again.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/job.toml");
    let post = [
        "sponsor",
        "job",
        "post",
        "--hub",
        &url,
        "--token",
        &token,
        example.to_str().unwrap(),
        "--model",
        &digest,
    ];
    let job = last_line(ok(&post).as_bytes());
    drop(server);
    let (_server, url2) = serve_on(&hub_home, &listen);
    assert_eq!(url2, url);
    assert_eq!(last_line(ok(&post).as_bytes()), job);
    let ledger: serde_json::Value =
        serde_json::from_str(&ok(&["hub", "ledger", "--home", hub, "--json"])).unwrap();
    assert_eq!(ledger["balanced"], true, "{ledger}");
    let escrow = ledger["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "escrow")
        .unwrap()["balance_minor"]
        .clone();
    assert_eq!(escrow, 250000);
}

fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk_count(&e.path())
                    } else {
                        usize::from(!e.file_name().to_string_lossy().ends_with(".tmp"))
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
