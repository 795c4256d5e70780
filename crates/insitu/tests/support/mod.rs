//! Shared set-up for the CLI integration tests: the binary with a clean
//! environment, the real SmolLM2 directory when it has been fetched, a very
//! small tiny-preset model, and a training run on plain directories.
#![allow(dead_code)] // each test binary uses its own subset

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// `insitu --quiet` with no `$INSITU_HOME` leaking in from the caller.
pub fn insitu() -> Command {
    let mut c = Command::cargo_bin("insitu").unwrap();
    c.env_remove("INSITU_HOME").arg("--quiet");
    c
}

/// The imported SmolLM2-135M-Instruct (`$INSITU_SMOLLM2_DIR`, else the
/// `insitu base fetch` cache), or `None` with a notice when absent.
pub fn smollm2_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("INSITU_SMOLLM2_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".cache/insitu/models/smollm2-135m-instruct"),
    };
    if dir.join("config.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "notice: SmolLM2 not imported at {} — skipped (run `insitu base fetch smollm2-135m-instruct` or set INSITU_SMOLLM2_DIR)",
            dir.display()
        );
        None
    }
}

/// A tiny-preset model with a 400-token vocabulary and 2 pretraining steps
/// (seconds to make), written to `root/tiny`.
pub fn tiny_model(root: &Path) -> PathBuf {
    let out = root.join("tiny");
    insitu()
        .args(["base", "init", "--preset", "tiny", "--seed", "1"])
        .args([
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

/// Writes a messages dataset (`train.jsonl`, `validation.jsonl`, a card)
/// whose lines come from `line(i)`.
pub fn messages_dataset(
    dir: &Path,
    train: std::ops::Range<usize>,
    validation: std::ops::Range<usize>,
    line: impl Fn(usize) -> (String, String),
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let lines = |r: std::ops::Range<usize>| {
        r.map(|i| {
            let (user, assistant) = line(i);
            serde_json::json!({"messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
            ]})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
            + "\n"
    };
    std::fs::write(dir.join("train.jsonl"), lines(train)).unwrap();
    std::fs::write(dir.join("validation.jsonl"), lines(validation)).unwrap();
    std::fs::write(dir.join("dataset_card.json"), "{\"name\": \"test set\"}\n").unwrap();
    dir.to_path_buf()
}

/// `insitu train` on plain directories with `run_toml` as the config;
/// returns the run directory `root/run`.
pub fn train(root: &Path, model: &Path, dataset: &Path, run_toml: &str) -> PathBuf {
    let config = root.join("run.toml");
    std::fs::write(&config, run_toml).unwrap();
    let run = root.join("run");
    insitu()
        .args(["train", "--model"])
        .arg(model)
        .arg("--dataset")
        .arg(dataset)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    run
}

/// A JSON file parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A running `insitu hub serve`, killed (SIGKILL) when dropped.
pub struct HubServer(std::process::Child);

impl Drop for HubServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `insitu hub serve --listen LISTEN --home HOME` (SQLite in the
/// hub's home) and returns it with the URL it printed.
pub fn hub_serve(home: &Path, listen: &str) -> (HubServer, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("insitu"))
        .args(["hub", "serve", "--listen", listen, "--home"])
        .arg(home)
        .env_remove("INSITU_HUB_DB")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    // Keep draining: a closed pipe would kill the server on its next print.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    (HubServer(child), url)
}
