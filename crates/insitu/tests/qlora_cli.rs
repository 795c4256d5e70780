//! `insitu train` with a QLoRA-style 4-bit frozen base (`[lora]
//! base_quantization = "nf4"`): the adapter learns, the exported adapter is
//! plain PEFT, and combinations that cannot work are refused with exit 2.

mod support;

use support::{insitu, messages_dataset, read_json, tiny_model, train};

fn drug_dataset(root: &std::path::Path) -> std::path::PathBuf {
    messages_dataset(&root.join("ds"), 0..16, 16..20, |i| {
        (
            format!("Which drug was started for patient {i}?"),
            "ramipril was started.".to_string(),
        )
    })
}

#[test]
fn lora_on_an_nf4_base_learns_and_exports_plain_peft() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let ds = drug_dataset(tmp.path());
    let run = train(
        tmp.path(),
        &model,
        &ds,
        "[lora]\nbase_quantization = \"nf4\"\n\n[training]\nseed = 3\nmax_seq_length = 64\nper_device_train_batch_size = 4\nmax_steps = 8\nlearning_rate = 0.01\n",
    );
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["lora"]["base_quantization"], "nf4");
    let before = record["metrics"]["val_loss_before"].as_f64().unwrap();
    let after = record["metrics"]["val_loss_after"].as_f64().unwrap();
    assert!(after < before, "validation loss {before} -> {after}");
    let adapter = read_json(&run.join("adapter/adapter_config.json"));
    assert!(
        adapter.get("base_quantization").is_none(),
        "PEFT's adapter_config.json has no such key: {adapter}"
    );
}

#[test]
fn quantised_bases_that_cannot_train_are_refused_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let ds = drug_dataset(tmp.path());
    for (toml, expect) in [
        (
            "[lora]\nbase_quantization = \"nf4\"\n[training]\nfull_finetune = true\n",
            "full_finetune",
        ),
        ("[lora]\nbase_quantization = \"gguf\"\n", "nf4"),
        ("[lora]\nbase_quantization = \"int3\"\n", "int3"),
    ] {
        let config = tmp.path().join("bad.toml");
        std::fs::write(&config, toml).unwrap();
        let out = insitu()
            .args(["train", "--model"])
            .arg(&model)
            .arg("--dataset")
            .arg(&ds)
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(tmp.path().join("never"))
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains(expect), "{toml}: {err}");
        assert!(!tmp.path().join("never/run.json").exists());
    }
}
