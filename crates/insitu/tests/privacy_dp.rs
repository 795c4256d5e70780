//! `insitu train` with `[privacy]`: DP-SGD from a target ε (the contract the
//! hub's job executor relies on), the `--target-epsilon`/`--delta` flags,
//! canaries kept out of run.json, and refusals.

mod support;

use std::path::{Path, PathBuf};
use support::{insitu, read_json, tiny_model, train};

/// A messages dataset whose lines carry `patient_key` (as `insitu dataset
/// build` writes them): 16 examples from 8 patients.
fn patient_dataset(dir: &Path, with_keys: bool) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let lines: Vec<String> = (0..16)
        .map(|i| {
            let drug = ["ramipril", "metformin", "amoxicillin", "furosemide"][i % 4];
            let mut v = serde_json::json!({"messages": [
                {"role": "user", "content": format!("Which drug was started for case {i}?")},
                {"role": "assistant", "content": format!("{drug} was started.")},
            ], "doc_id": format!("doc-{i}")});
            if with_keys {
                v["patient_key"] = format!("pt-{}", i % 8).into();
            }
            v.to_string()
        })
        .collect();
    std::fs::write(dir.join("train.jsonl"), lines.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("validation.jsonl"), lines[..4].join("\n") + "\n").unwrap();
    dir.to_path_buf()
}

const BASE_TOML: &str = "[lora]\nr = 4\nlora_alpha = 8\n\n[training]\nseed = 5\nmax_seq_length = 48\nper_device_train_batch_size = 2\nmax_steps = 4\nlearning_rate = 0.01\n";

fn accountant_epsilon(dp: &serde_json::Value) -> f64 {
    insitu_privacy::DpSgdParams {
        sampling_rate: dp["sampling_rate"].as_f64().unwrap(),
        noise_multiplier: dp["noise_multiplier"].as_f64().unwrap(),
        steps: dp["steps"].as_u64().unwrap(),
    }
    .epsilon(dp["delta"].as_f64().unwrap())
    .unwrap()
    .epsilon
}

#[test]
fn target_epsilon_in_run_toml_trains_with_dp_and_records_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let ds = patient_dataset(&tmp.path().join("ds"), true);
    let toml = format!(
        "{BASE_TOML}\n[privacy]\ntarget_epsilon = 4.0\ndelta = 1e-5\nexpected_patients_per_step = 4\ncanaries = true\ncanaries_per_count = 1\n"
    );
    let run = train(tmp.path(), &model, &ds, &toml);
    let rj = read_json(&run.join("run.json"));
    let dp = &rj["dp"];
    assert_eq!(dp["sampling_rate"].as_f64(), Some(0.5), "4 of 8 patients");
    assert_eq!(dp["steps"].as_u64(), Some(4));
    assert_eq!(dp["delta"].as_f64(), Some(1e-5));
    let eps = dp["epsilon"].as_f64().unwrap();
    assert!(
        eps <= 4.0 && eps > 3.9,
        "σ solved for the target: ε = {eps}"
    );
    assert!((eps - accountant_epsilon(dp)).abs() <= 1e-9 * eps);
    // ε spent so far is logged every step and ends at the recorded figure.
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let logged: Vec<f64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["epsilon"].as_f64())
        .collect();
    assert_eq!(logged.len(), 4);
    assert_eq!(*logged.last().unwrap(), eps);

    // Canaries: 4 counts × 1; secrets only in the canary file.
    assert_eq!(rj["canaries"].as_u64(), Some(4));
    let secrets = read_json(&run.join("canaries.secret.json"));
    let canaries = secrets["canaries"].as_array().unwrap();
    assert_eq!(canaries.len(), 4);
    let run_json_text = std::fs::read_to_string(run.join("run.json")).unwrap();
    for c in canaries {
        let secret = c["secret"].as_str().unwrap();
        assert!(!run_json_text.contains(secret) && !metrics.contains(secret));
    }
}

#[test]
fn flags_override_the_toml_and_bad_privacy_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let ds = patient_dataset(&tmp.path().join("ds"), true);
    let config = tmp.path().join("run.toml");
    std::fs::write(
        &config,
        format!("{BASE_TOML}\n[privacy]\nnoise_multiplier = 0.5\n"),
    )
    .unwrap();
    let cmd = |out: &str| {
        let mut c = insitu();
        c.args(["train", "--model"])
            .arg(&model)
            .arg("--dataset")
            .arg(&ds)
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(tmp.path().join(out));
        c
    };
    cmd("flag")
        .args(["--target-epsilon", "2", "--delta", "1e-6"])
        .assert()
        .success();
    let dp = read_json(&tmp.path().join("flag/run.json"))["dp"].clone();
    assert_eq!(dp["delta"].as_f64(), Some(1e-6));
    let eps = dp["epsilon"].as_f64().unwrap();
    assert!(eps <= 2.0 && eps > 1.9, "{dp}");

    // Without the flags the file's σ is used; ε is then whatever it gives.
    cmd("sigma").assert().success();
    let dp = read_json(&tmp.path().join("sigma/run.json"))["dp"].clone();
    assert_eq!(dp["noise_multiplier"].as_f64(), Some(0.5));
    assert!((dp["epsilon"].as_f64().unwrap() - accountant_epsilon(&dp)).abs() < 1e-9);

    // Unknown [privacy] key, impossible δ, rows without patient keys: exit 2.
    std::fs::write(
        &config,
        format!("{BASE_TOML}\n[privacy]\ntarget_epsilon = 1\nepsilon = 3\n"),
    )
    .unwrap();
    cmd("unknown")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("epsilon"));
    std::fs::write(&config, BASE_TOML).unwrap();
    cmd("delta")
        .args(["--target-epsilon", "2", "--delta", "2"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("delta"));
    let anonymous = patient_dataset(&tmp.path().join("anon"), false);
    insitu()
        .args(["train", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&anonymous)
        .arg("--config")
        .arg(&config)
        .args(["--target-epsilon", "2", "--out"])
        .arg(tmp.path().join("anon-run"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("patient_key"));
}
