//! LoRA fine-tuning of the real SmolLM2-135M-Instruct (imported from its
//! GGUF by `insitu base fetch smollm2-135m-instruct`, which CI runs first)
//! through the same commands a person types: `train` then `eval`. Where the
//! model has not been fetched the test prints a notice and passes.

mod support;

use support::{insitu, messages_dataset, read_json, smollm2_dir, train};

#[test]
fn lora_on_smollm2_lowers_held_out_loss_and_answers_through_its_chat_template() {
    let Some(model) = smollm2_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // A house style the base model does not know: impressions start with "IMPRESSION:".
    let findings = [
        "small left pleural effusion",
        "no focal consolidation",
        "mild cardiomegaly",
        "right basal atelectasis",
    ];
    let ds = messages_dataset(&tmp.path().join("ds"), 0..12, 12..16, |i| {
        let finding = findings[i % 4];
        (
            format!("Findings: {finding}. Write the impression."),
            format!("IMPRESSION: {finding}."),
        )
    });
    let run = train(
        tmp.path(),
        &model,
        &ds,
        "[lora]\nr = 8\nlora_alpha = 16\ntarget_modules = [\"q_proj\", \"v_proj\"]\n\n\
         [training]\nseed = 1\nmax_seq_length = 64\nper_device_train_batch_size = 4\nmax_steps = 4\nlearning_rate = 0.002\n",
    );
    insitu()
        .arg("eval")
        .arg(&run)
        .args(["--generate", "1", "--max-new-tokens", "12"])
        .assert()
        .success();
    let eval = read_json(&run.join("eval.json"));
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
