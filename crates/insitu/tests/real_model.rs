//! LoRA fine-tuning of the real SmolLM2-135M-Instruct (imported from its
//! GGUF by `insitu base fetch smollm2-135m-instruct`, which CI runs first)
//! through the same commands a person types: `train` then `eval`. Where the
//! model has not been fetched the test prints a notice and passes.

use assert_cmd::Command;
use std::path::PathBuf;

fn smollm2() -> Option<PathBuf> {
    let dir = match std::env::var_os("INSITU_SMOLLM2_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache/insitu/models/smollm2-135m-instruct"),
    };
    if dir.join("config.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "notice: SmolLM2 not imported at {} — skipped (run `insitu base fetch smollm2-135m-instruct`)",
            dir.display()
        );
        None
    }
}

fn insitu() -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.env_remove("INSITU_HOME").arg("--quiet");
    c
}

#[test]
fn lora_on_smollm2_lowers_held_out_loss_and_answers_through_its_chat_template() {
    let Some(model) = smollm2() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    std::fs::create_dir_all(&ds).unwrap();
    // A house style the base model does not know: impressions start with "IMPRESSION:".
    let line = |i: usize| {
        let finding = [
            "small left pleural effusion",
            "no focal consolidation",
            "mild cardiomegaly",
            "right basal atelectasis",
        ][i % 4];
        serde_json::json!({"messages": [
            {"role": "user", "content": format!("Findings: {finding}. Write the impression.")},
            {"role": "assistant", "content": format!("IMPRESSION: {finding}.")},
        ]})
        .to_string()
    };
    let lines = |r: std::ops::Range<usize>| r.map(line).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(ds.join("train.jsonl"), lines(0..12)).unwrap();
    std::fs::write(ds.join("validation.jsonl"), lines(12..16)).unwrap();
    std::fs::write(
        ds.join("dataset_card.json"),
        "{\"name\": \"real-model test\"}\n",
    )
    .unwrap();
    let config = tmp.path().join("run.toml");
    std::fs::write(
        &config,
        "[lora]\nr = 8\nlora_alpha = 16\ntarget_modules = [\"q_proj\", \"v_proj\"]\n\n\
         [training]\nseed = 1\nmax_seq_length = 64\nper_device_train_batch_size = 4\nmax_steps = 4\nlearning_rate = 0.002\n",
    )
    .unwrap();
    let run = tmp.path().join("run");
    insitu()
        .args(["train", "--model"])
        .arg(&model)
        .arg("--dataset")
        .arg(&ds)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    insitu()
        .arg("eval")
        .arg(&run)
        .args(["--generate", "1", "--max-new-tokens", "12"])
        .assert()
        .success();
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let base = eval["base"]["loss"].as_f64().unwrap();
    let adapted = eval["adapter"]["loss"].as_f64().unwrap();
    assert!(
        adapted < base - 0.1,
        "4 LoRA steps on a fixed house style should lower held-out loss clearly: base {base:.3}, adapter {adapted:.3}"
    );
    let sample: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(run.join("eval-samples.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let answer = sample["adapter"].as_str().unwrap();
    assert!(!answer.is_empty(), "the adapted model answered nothing");
    assert!(
        !answer.contains("<|im_end|>") && !answer.contains("<|im_start|>"),
        "special tokens leaked into the decoded answer: {answer:?}"
    );
}
