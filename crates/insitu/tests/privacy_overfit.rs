//! The issue's acceptance case on a real (very small) model: a run
//! deliberately over-fitted on a handful of patients, with canaries, is
//! refused by the gate on its leakage rules, while a DP-SGD run with a small
//! ε passes the ε rule and leaves its canaries unexposed. Everything goes
//! through the CLI: base init → train → leakage → gate.

mod support;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use support::{read_json, tiny_model};

fn insitu(home: &Path) -> Command {
    let mut c = support::insitu();
    c.arg("--home").arg(home);
    c
}

const DRUGS: [&str; 6] = [
    "ramipril",
    "metformin",
    "amoxicillin",
    "furosemide",
    "atorvastatin",
    "sertraline",
];
const FINDINGS: [&str; 6] = [
    "mild cardiomegaly",
    "clear lung fields",
    "small pleural effusion",
    "no focal consolidation",
    "healed rib fracture",
    "hyperinflated lungs",
];

/// `patients` × 2 short radiology-style examples (a findings prompt and a
/// one-line impression), each row carrying its patient key.
fn split_lines(patients: std::ops::Range<usize>) -> String {
    let mut out = String::new();
    for p in patients {
        for k in 0..2 {
            let i = p * 2 + k;
            let row = serde_json::json!({
                "messages": [
                    {"role": "user", "content": format!("Chest film {i}: {}. Impression?", FINDINGS[(p + k) % 6])},
                    {"role": "assistant", "content": format!("{} on film {i}, continue {}, review in {} weeks.", FINDINGS[(p * 5 + k) % 6], DRUGS[(p * 7 + 3 * k) % 6], 2 + (p + k) % 5)},
                ],
                "doc_id": format!("doc-{i}"),
                "patient_key": format!("pt-{p}"),
            });
            out.push_str(&row.to_string());
            out.push('\n');
        }
    }
    out
}

/// 6 training patients, 6 held-out patients, and the card the gate reads.
fn dataset(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("train.jsonl"), split_lines(0..6)).unwrap();
    std::fs::write(dir.join("validation.jsonl"), split_lines(6..8)).unwrap();
    std::fs::write(dir.join("test.jsonl"), split_lines(8..14)).unwrap();
    std::fs::write(
        dir.join("card.json"),
        r#"{"splits": {"train": {"patients": 6}, "validation": {"patients": 2}, "test": {"patients": 6}}}"#,
    )
    .unwrap();
    dir.to_path_buf()
}

/// Trains run `id` in the home with `toml` and extra flags, then runs the
/// leakage suite on it.
fn train_and_attack(home: &Path, model: &Path, ds: &Path, id: &str, toml: &str, flags: &[&str]) {
    let config = home.join(format!("{id}.toml"));
    std::fs::write(&config, toml).unwrap();
    insitu(home)
        .args(["train", "--model"])
        .arg(model)
        .arg("--dataset")
        .arg(ds)
        .arg("--config")
        .arg(&config)
        .args(["--run-id", id, "--canaries"])
        .args(flags)
        .assert()
        .success();
    insitu(home)
        .args(["leakage", id, "--canary-candidates", "200", "--seed", "1"])
        .assert()
        .success();
}

/// `insitu gate RUN --json` → (exit code, rule name → passed).
fn gate(home: &Path, id: &str) -> (i32, serde_json::Value) {
    let out = insitu(home).args(["gate", id, "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("gate --json: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v)
}

fn rule_passed(decision: &serde_json::Value, rule: &str) -> bool {
    decision["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap_or_else(|| panic!("no rule {rule} in {decision}"))["passed"]
        .as_bool()
        .unwrap()
}

const LORA: &str = "[lora]\nr = 32\nlora_alpha = 64\nlora_dropout = 0.0\ntarget_modules = [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]\n";

/// A home whose policy differs from the default only in the cohort size, so
/// that with 6 patients only the leakage and ε rules decide.
fn home_with_policy(root: &Path) -> PathBuf {
    let home = root.join("home");
    insitu(&home).arg("init").assert().success();
    std::fs::write(
        home.join("policy.toml"),
        "min_patients_per_split = 2\nmax_epsilon = 8.0\nmax_delta = 1e-5\nmax_mia_tpr_at_0_1pct_fpr = 0.05\nmax_canary_exposure = 10.0\nmax_phi_findings = 0\n",
    )
    .unwrap();
    home
}

/// A tiny-preset model pretrained for `steps` steps on 6 synthetic patients.
fn pretrained_tiny(root: &Path, steps: usize) -> PathBuf {
    let out = root.join(format!("tiny-{steps}"));
    support::insitu()
        .args([
            "base",
            "init",
            "--preset",
            "tiny",
            "--seed",
            "1",
            "--patients",
            "6",
        ])
        .args([
            "--vocab-size",
            "400",
            "--steps",
            &steps.to_string(),
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    out
}

fn summary(home: &Path, run: &str) -> serde_json::Value {
    read_json(&home.join(format!("runs/{run}/leakage.json")))["summary"].clone()
}

/// The issue's acceptance case, and the slowest CLI test (3.5–4 minutes in
/// the dev profile on 2 cores): LoRA needs a base that knows the notes'
/// language (60 pretraining steps, ~50 s) and ~240 steps to memorise
/// (~80 s). It runs in CI because it is the evidence that the gate refuses a
/// memorising run; the test below covers the same path in seconds.
#[test]
fn overfitted_run_is_refused_and_a_dp_run_passes_the_epsilon_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let home = home_with_policy(tmp.path());
    let model = pretrained_tiny(tmp.path(), 60);
    let ds = dataset(&tmp.path().join("ds"));

    // 240 steps over 12 notes and 15 canary copies: memorisation.
    let overfit = format!(
        "{LORA}[training]\nseed = 7\nmax_seq_length = 128\nper_device_train_batch_size = 4\nmax_steps = 240\nlearning_rate = 0.002\nlr_scheduler_type = \"constant\"\n\n[privacy]\ncanaries_per_count = 1\n"
    );
    train_and_attack(&home, &model, &ds, "overfit", &overfit, &[]);
    let leaked = summary(&home, "overfit");
    let (code, decision) = gate(&home, "overfit");
    assert_eq!(code, 1, "the over-fitted run must be refused: {decision}");
    assert!(!rule_passed(&decision, "max_canary_exposure"), "{leaked}");
    assert!(
        !rule_passed(&decision, "max_mia_tpr_at_0_1pct_fpr"),
        "{leaked}"
    );
    assert!(rule_passed(&decision, "min_patients_per_split"));

    // The same data and steps under DP-SGD with ε = 1: the ε rule passes and
    // the canaries stay far less exposed.
    train_and_attack(
        &home,
        &model,
        &ds,
        "private",
        &overfit,
        &["--target-epsilon", "1", "--delta", "1e-5"],
    );
    let dp = read_json(&home.join("runs/private/run.json"))["dp"].clone();
    assert!(dp["epsilon"].as_f64().unwrap() <= 1.0, "{dp}");
    let (_, decision) = gate(&home, "private");
    assert!(rule_passed(&decision, "max_epsilon"), "{decision}");
    let private = summary(&home, "private");
    assert!(
        private["canary_exposure_max"].as_f64() < leaked["canary_exposure_max"].as_f64(),
        "DP {private} vs over-fitted {leaked}"
    );
}

/// The same path at a size that runs in seconds: canaries and DP-SGD in
/// training, exposure measured by `insitu leakage`, and the gate reading
/// both — the ε rule from run.json (recomputed), the exposure rule from
/// leakage.json — with no secret in anything the gate or report writes.
#[test]
fn canaries_and_epsilon_reach_the_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let home = home_with_policy(tmp.path());
    let model = tiny_model(tmp.path());
    let ds = dataset(&tmp.path().join("ds"));
    let toml = format!(
        "{LORA}[training]\nseed = 7\nmax_seq_length = 128\nper_device_train_batch_size = 4\nmax_steps = 6\nlearning_rate = 0.002\n\n[privacy]\ncanaries_per_count = 1\n"
    );
    train_and_attack(
        &home,
        &model,
        &ds,
        "private",
        &toml,
        &["--target-epsilon", "1"],
    );
    let (_, decision) = gate(&home, "private");
    assert!(rule_passed(&decision, "max_epsilon"), "{decision}");
    let exposure = summary(&home, "private")["canary_exposure_max"]
        .as_f64()
        .expect("canaries were measured");
    let rule = decision["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "max_canary_exposure")
        .unwrap()
        .clone();
    assert_eq!(rule["value"], format!("{exposure:.2} bits"));
    assert_eq!(rule["passed"].as_bool(), Some(exposure <= 10.0));

    // Secrets stay in the canary file.
    let secrets = read_json(&home.join("runs/private/canaries.secret.json"));
    let written: String = [
        "runs/private/run.json",
        "runs/private/leakage.json",
        "runs/private/leakage.md",
        "reports/private/leakage.md",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(home.join(f)).unwrap_or_default())
    .collect();
    assert!(
        written.contains("canary-0"),
        "the reports name the canaries by id"
    );
    for c in secrets["canaries"].as_array().unwrap() {
        let secret = c["secret"].as_str().unwrap();
        assert!(
            !written.contains(secret),
            "secret {secret} leaked into a report"
        );
    }
}
