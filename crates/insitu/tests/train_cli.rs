//! `insitu base init`, `insitu train` and `insitu merge` end to end on a
//! very small tiny-preset model: run directory contents, run.json keys,
//! exact resume after SIGKILL, store records, and input errors (exit 2).

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn insitu() -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.env_remove("INSITU_HOME").arg("--quiet");
    c
}

/// A tiny-preset model with a small vocabulary and 2 pretraining steps.
fn tiny_model(root: &Path) -> PathBuf {
    let out = root.join("tiny");
    insitu()
        .args([
            "base",
            "init",
            "--preset",
            "tiny",
            "--seed",
            "1",
            "--patients",
            "6",
            "--steps",
            "2",
            "--vocab-size",
            "400",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    out
}

fn dataset(root: &Path) -> PathBuf {
    let dir = root.join("ds");
    std::fs::create_dir_all(&dir).unwrap();
    let line = |i: usize| {
        let drug = ["ramipril", "metformin", "amoxicillin", "furosemide"][i % 4];
        serde_json::json!({"messages": [
            {"role": "user", "content": format!("Which drug was started for patient {i}?")},
            {"role": "assistant", "content": format!("{drug} was started.")},
        ]})
        .to_string()
    };
    let train: Vec<String> = (0..16).map(line).collect();
    let val: Vec<String> = (16..20).map(line).collect();
    std::fs::write(dir.join("train.jsonl"), train.join("\n") + "\n").unwrap();
    // Alpaca form is accepted too.
    std::fs::write(
        dir.join("validation.jsonl"),
        val.join("\n") + "\n" + &serde_json::json!({"instruction": "Name the drug.", "input": "Started ramipril.", "output": "ramipril"}).to_string() + "\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("dataset_card.json"),
        "{\"name\": \"synthetic test set\"}\n",
    )
    .unwrap();
    dir
}

const RUN_TOML: &str = "[lora]\nr = 8\nlora_alpha = 16\nlora_dropout = 0.1\n\n[training]\nseed = 3\nmax_seq_length = 64\nper_device_train_batch_size = 2\nmax_steps = 6\nlearning_rate = 0.01\nsave_steps = 3\neval_steps = 3\n";

fn losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Some((v["step"].as_u64()?, v.get("loss")?.as_f64()?))
        })
        .collect()
}

#[test]
fn train_writes_a_run_resumes_exactly_after_sigkill_and_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let ds = dataset(tmp.path());
    let cfg = tmp.path().join("run.toml");
    std::fs::write(&cfg, RUN_TOML).unwrap();

    let full = tmp.path().join("run-full");
    insitu()
        .args(["train", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&ds)
        .arg("--out")
        .arg(&full)
        .arg("--config")
        .arg(&cfg)
        .assert()
        .success();
    for f in [
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "metrics.jsonl",
        "run.json",
        "checkpoints/latest",
    ] {
        assert!(full.join(f).exists(), "{f} missing");
    }
    assert_eq!(
        std::fs::read_dir(full.join("tensorboard")).unwrap().count(),
        1
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(full.join("run.json")).unwrap()).unwrap();
    for key in [
        "run_id",
        "base_model",
        "dataset",
        "lora",
        "hyperparameters",
        "seed",
        "started_by",
        "started_at",
        "finished_at",
        "metrics",
        "dp",
    ] {
        assert!(run.get(key).is_some(), "run.json lacks {key}");
    }
    assert_eq!(run["base_model"]["digest"].as_str().unwrap().len(), 64);
    assert_eq!(run["dataset"]["card_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(run["metrics"]["steps"], 6);
    assert_eq!(run["lora"]["r"], 8);
    assert!(run["dp"].is_null());

    // Same run, killed with SIGKILL after the step-3 checkpoint, then resumed.
    let cut = tmp.path().join("run-cut");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("insitu"))
        .args(["--quiet", "train", "--hang-after-step", "3", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&ds)
        .arg("--out")
        .arg(&cut)
        .arg("--config")
        .arg(&cfg)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(cut.join("checkpoints/latest"))
        .ok()
        .as_deref()
        != Some("step-000003")
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint at step 3"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!cut.join("run.json").exists());
    insitu()
        .args(["train", "--resume", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&ds)
        .arg("--out")
        .arg(&cut)
        .arg("--config")
        .arg(&cfg)
        .assert()
        .success();
    assert_eq!(
        losses(&full),
        losses(&cut),
        "resumed run's losses differ from the uninterrupted run"
    );
    assert_eq!(losses(&full).len(), 6);
    let cut_run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cut.join("run.json")).unwrap()).unwrap();
    assert_eq!(cut_run["metrics"], run["metrics"]);
    assert_eq!(
        std::fs::read(full.join("adapter/adapter_model.safetensors")).unwrap(),
        std::fs::read(cut.join("adapter/adapter_model.safetensors")).unwrap()
    );

    // Merge writes a loadable HF directory.
    let merged = tmp.path().join("merged");
    insitu()
        .args(["merge", "--model"])
        .arg(&model)
        .arg("--adapter")
        .arg(full.join("adapter"))
        .arg("--out")
        .arg(&merged)
        .assert()
        .success();
    assert!(merged.join("config.json").exists() && merged.join("model.safetensors").exists());
}

#[test]
fn train_with_a_home_records_the_run_and_refuses_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let ds = dataset(tmp.path());
    let home = tmp.path().join("home");
    insitu()
        .arg("--home")
        .arg(&home)
        .arg("init")
        .assert()
        .success();
    let cfg = tmp.path().join("run.toml");
    std::fs::write(&cfg, RUN_TOML.replace("max_steps = 6", "max_steps = 2")).unwrap();
    let out = insitu()
        .arg("--home")
        .arg(&home)
        .args(["train", "--run-id", "r1", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&ds)
        .arg("--config")
        .arg(&cfg)
        .assert()
        .success();
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(printed.trim().ends_with("runs/r1"), "{printed}");
    assert!(home.join("runs/r1/adapter/adapter_config.json").exists());
    let status = insitu()
        .arg("--home")
        .arg(&home)
        .args(["status", "--json"])
        .assert()
        .success();
    let status: serde_json::Value = serde_json::from_slice(&status.get_output().stdout).unwrap();
    assert_eq!(status["runs"], 1);

    // Input errors exit 2 with a message that says what to do.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    insitu()
        .args(["train", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&empty)
        .arg("--out")
        .arg(tmp.path().join("x"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("train.jsonl"));
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[training]\nlearning_rat = 0.1\n").unwrap();
    insitu()
        .args(["train", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&ds)
        .arg("--out")
        .arg(tmp.path().join("y"))
        .arg("--config")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("learning_rat"));
    insitu()
        .args(["train", "--model"])
        .arg(&ds)
        .arg("--dataset")
        .arg(&ds)
        .arg("--out")
        .arg(tmp.path().join("z"))
        .assert()
        .code(2);
}
