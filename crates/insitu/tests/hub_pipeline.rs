//! The compute-to-data loop for real, through the `insitu` binary: a hub on
//! loopback, a sponsor pushing a (tiny) base model and posting two jobs, an
//! appliance with synthetic notes whose agent runs both through the pipeline
//! (dataset → train → eval → leakage → gate). One passes, waits for two
//! approvals (one is not enough), is sealed, delivered, pulled and verified,
//! and the ledger splits its fee 70/30; the other asks for a test loss no
//! model reaches, is refused by the gate and refunded; a third passes the
//! gate but an approver rejects it (the sponsor hears the role, not the
//! reason). Polls after the end redo nothing.

mod support;

use std::path::Path;
use support::{insitu, read_json, tiny_model};

fn ok(args: &[&str]) -> String {
    let out = insitu().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn last_line(out: &str) -> String {
    out.lines().last().unwrap_or_default().trim().to_string()
}

/// A job for the tiny model: a few steps on radiology notes; `extra`
/// replaces the `[evaluation]` table.
fn job_toml(digest: &str, name: &str, evaluation: &str) -> String {
    format!(
        r#"[job]
name = "{name}"
description = "test job"
deadline = "2099-01-01T00:00:00Z"
target_hospitals = ["example-hospital"]
[model]
base_digest = "{digest}"
[task]
kind = "sft"
template = "radiology-impression"
[dataset]
note_kinds = ["radiology"]
min_patients = 20
max_examples = 400
split = {{ train = 0.6, validation = 0.2, test = 0.2 }}
seed = 3
[hyperparameters]
r = 4
lora_alpha = 8.0
target_modules = ["q_proj", "v_proj"]
learning_rate = 0.001
epochs = 1
batch_size = 2
max_seq_len = 256
max_steps = 3
seed = 5
[privacy]
dp = "none"
max_mia_auc = 1.0
max_canary_exposure = 1000.0
max_verbatim_phi = 100
{evaluation}
[fee]
amount_minor = 10001
currency = "GBP"
"#
    )
}

fn job_state(url: &str, token: &str, job: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&[
        "sponsor", "job", "show", "--hub", url, "--token", token, job,
    ]))
    .unwrap()
}

#[test]
fn a_job_runs_through_the_pipeline_and_only_the_approved_bundle_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let hub_home = root.join("hub");
    let hub = hub_home.to_str().unwrap();
    let app_dir = root.join("appliance");
    let app = app_dir.to_str().unwrap();

    // The appliance: synthetic notes, de-identified; two approvers; a policy
    // whose cohort minimum suits a small corpus.
    ok(&["init", "--home", app]);
    let input = root.join("input");
    ok(&[
        "synth",
        "--patients",
        "150",
        "--seed",
        "3",
        "--out",
        input.to_str().unwrap(),
    ]);
    ok(&[
        "ingest",
        input.join("notes.jsonl").to_str().unwrap(),
        "--source",
        "test-ehr",
        "--home",
        app,
    ]);
    ok(&["deid", "--home", app]);
    // The few-step tiny model is judged by the job's own limits here.
    std::fs::write(
        app_dir.join("policy.toml"),
        "min_patients_per_split = 5\ndp_required = false\nmax_epsilon = 8.0\nmax_delta = 1e-5\n\
         max_mia_tpr_at_0_1pct_fpr = 1.0\nmax_canary_exposure = 1000.0\ncanaries_required = true\n\
         max_phi_findings = 100\nrequired_approver_roles = [\"ig_officer\", \"clinical_safety_officer\"]\n",
    )
    .unwrap();
    for (user, role) in [("ana", "ig_officer"), ("cai", "clinical_safety_officer")] {
        let pass = root.join(format!("{user}.pass"));
        std::fs::write(&pass, format!("passphrase of {user}\n")).unwrap();
        ok(&[
            "users",
            "add",
            user,
            "--role",
            role,
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--home",
            app,
        ]);
    }

    // The hub and its parties.
    let token = last_line(&ok(&["hub", "admin", "add-sponsor", "acme", "--home", hub]));
    let code = last_line(&ok(&[
        "hub",
        "admin",
        "add-hospital",
        "example-hospital",
        "--home",
        hub,
    ]));
    let (_server, url) = support::hub_serve(&hub_home, "127.0.0.1:0");
    ok(&[
        "agent", "enroll", "--hub", &url, "--code", &code, "--home", app,
    ]);

    // The sponsor: a model and two jobs.
    let model = tiny_model(root);
    let digest = last_line(&ok(&[
        "sponsor",
        "model",
        "push",
        "--hub",
        &url,
        "--token",
        &token,
        model.to_str().unwrap(),
    ]));
    let post = |name: &str, evaluation: &str| {
        let path = root.join(format!("{name}.toml"));
        std::fs::write(&path, job_toml(&digest, name, evaluation)).unwrap();
        last_line(&ok(&[
            "sponsor",
            "job",
            "post",
            "--hub",
            &url,
            "--token",
            &token,
            path.to_str().unwrap(),
        ]))
    };
    let good = post("good", "[evaluation]\nmetrics = [\"loss\"]");
    let vetoed = post("vetoed", "[evaluation]\nmetrics = [\"loss\"]");
    let strict = post(
        "strict",
        "[evaluation]\nmetrics = [\"loss\"]\nmax_eval_loss = 0.001",
    );

    let agent_run = [
        "agent",
        "run",
        "--once",
        "--leakage-examples",
        "12",
        "--canary-candidates",
        "200",
        "--eval-examples",
        "8",
        "--eval-generate",
        "1",
        "--home",
        app,
    ];
    ok(&agent_run);
    ok(&["jobs", "accept", &good, "--home", app]);
    ok(&["jobs", "accept", &strict, "--home", app]);
    ok(&["jobs", "accept", &vetoed, "--home", app]);
    let out = ok(&agent_run);

    // The strict job: trained and measured, refused by its own rule, refunded.
    let refused = job_state(&url, &token, &strict);
    assert_eq!(refused["state"], "refused-by-gate", "{refused}\n{out}");
    let why = refused["detail"].as_str().unwrap();
    assert!(why.contains("job_max_eval_loss"), "{why}");
    assert!(!why.contains("not measured"), "{why}");
    let strict_run = app_dir.join("runs").join(&strict);
    assert_eq!(read_json(&strict_run.join("eval.json"))["split"], "test");
    assert_eq!(
        read_json(&strict_run.join("job.json"))["max_eval_loss"],
        0.001
    );

    // The good job: the gate passed, and it waits for people.
    let run = app_dir.join("runs").join(&good);
    let waiting = job_state(&url, &token, &good);
    assert_eq!(waiting["state"], "running", "{waiting}\n{out}");
    let toml = std::fs::read_to_string(app_dir.join("jobs").join(&good).join("run.toml")).unwrap();
    assert!(
        toml.contains("max_steps = 3") && toml.contains("canaries = true"),
        "{toml}"
    );
    let run_json = read_json(&run.join("run.json"));
    assert_eq!(run_json["metrics"]["steps"], 3, "{run_json}");
    assert_eq!(run_json["lora"]["r"], 4);
    let card = read_json(&app_dir.join("datasets").join(&good).join("card.json"));
    assert!(
        card["splits"]["test"]["patients"].as_u64().unwrap() >= 5,
        "{card}"
    );

    let approve = |user: &str| {
        ok(&[
            "approve",
            &good,
            "--as",
            user,
            "--passphrase-file",
            root.join(format!("{user}.pass")).to_str().unwrap(),
            "--home",
            app,
            "--actor",
            user,
        ])
    };
    approve("ana");
    let run_json_before = std::fs::read(run.join("run.json")).unwrap();
    let out = ok(&agent_run);
    assert_eq!(job_state(&url, &token, &good)["state"], "running", "{out}");
    assert!(!app_dir.join("bundles").join(&good).exists());
    approve("cai");
    // The third job passed the gate too, but a clinician rejects it: it is
    // refused, and the sponsor learns the role, never the free-text reason.
    ok(&[
        "approve",
        &vetoed,
        "--as",
        "cai",
        "--reject",
        "--reason",
        "outputs mention ward 7B staff by name",
        "--passphrase-file",
        root.join("cai.pass").to_str().unwrap(),
        "--home",
        app,
        "--actor",
        "cai",
    ]);
    ok(&agent_run);
    let refused = job_state(&url, &token, &vetoed);
    assert_eq!(refused["state"], "refused-by-gate", "{refused}");
    let why = refused["detail"].as_str().unwrap();
    assert!(why.contains("clinical safety officer rejected"), "{why}");
    assert!(!why.contains("7B") && !why.contains("by name"), "{why}");
    let delivered = job_state(&url, &token, &good);
    assert_eq!(delivered["state"], "delivered", "{delivered}");
    // Nothing was trained, measured or gated twice.
    assert_eq!(
        std::fs::read(run.join("run.json")).unwrap(),
        run_json_before
    );

    // The sponsor pulls and verifies exactly the sealed bundle.
    let pulled = root.join("pulled");
    ok(&[
        "sponsor",
        "bundle",
        "pull",
        "--hub",
        &url,
        "--token",
        &token,
        &good,
        "--out",
        pulled.to_str().unwrap(),
    ]);
    ok(&[
        "verify",
        pulled.to_str().unwrap(),
        "--pubkey",
        app_dir.join("keys/signing.pub").to_str().unwrap(),
    ]);
    let manifest = read_json(&pulled.join("manifest.json"));
    assert_eq!(manifest["job_id"], good.as_str(), "{manifest}");
    for secret in ["canaries.secret.json", "eval-samples.jsonl", "job.json"] {
        assert!(
            !walk(&pulled).iter().any(|p| p.ends_with(secret)),
            "{secret} left"
        );
    }

    // Ledger: the delivered fee split 70/30 (remainder to the hospital), the
    // refused one refunded, balanced.
    let ledger: serde_json::Value =
        serde_json::from_str(&ok(&["hub", "ledger", "--home", hub, "--json"])).unwrap();
    assert_eq!(ledger["balanced"], true, "{ledger}");
    let balance = |kind: &str| -> i64 {
        ledger["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == kind)
            .map(|a| a["balance_minor"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(
        (
            balance("hospital"),
            balance("platform"),
            balance("sponsor"),
            balance("escrow")
        ),
        // Two refunds and one delivery: the sponsor paid one fee.
        (7001, 3000, -10001, 0)
    );

    // Later polls change nothing: no new bundle, no new money movement.
    ok(&agent_run);
    assert_eq!(
        std::fs::read_dir(app_dir.join("bundles")).unwrap().count(),
        1
    );
    let again: serde_json::Value =
        serde_json::from_str(&ok(&["hub", "ledger", "--home", hub, "--json"])).unwrap();
    assert_eq!(again, ledger);
    ok(&["audit", "verify", "--home", app]);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
