//! Synthetic training-run directories for tests (feature `test-fixtures`):
//! a tiny PEFT adapter written with `safetensors`, `run.json`, a dataset card
//! and a `leakage.json` produced by the real leakage suite over fake models
//! (a memorising one for `leaky` runs). No real data and no real model.

use insitu_privacy::{
    generate_canaries, run_leakage_suite, FoundIdentifier, Generator, LossOracle, NoteText,
    SuiteConfig, SuiteData, SuiteModels,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How the synthetic run should look.
#[derive(Debug, Clone)]
pub struct FakeRun {
    /// Run id (directory name).
    pub run_id: String,
    /// Operator recorded in `started_by`.
    pub started_by: String,
    /// Patients in each of train/validation/test.
    pub patients_per_split: u64,
    /// Whether the fake adapter memorised its training notes and canaries.
    pub leaky: bool,
}

/// A deterministic value in [0, 1) per word (FNV-1a), standing in for how
/// surprising a model finds it.
fn jitter(word: &str) -> f64 {
    let h = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % 1000) as f64 / 1000.0
}

struct FakeBase;
impl LossOracle for FakeBase {
    fn token_logprobs(&self, texts: &[String]) -> Vec<Vec<f64>> {
        texts
            .iter()
            .map(|t| t.split_whitespace().map(|w| -2.0 - jitter(w)).collect())
            .collect()
    }
}

struct FakeAdapter {
    memorised: HashSet<String>,
}
impl LossOracle for FakeAdapter {
    fn token_logprobs(&self, texts: &[String]) -> Vec<Vec<f64>> {
        let base = FakeBase.token_logprobs(texts);
        texts
            .iter()
            .zip(base)
            .map(|(t, lp)| {
                let gain = if self.memorised.contains(t) { 1.5 } else { 0.1 };
                lp.into_iter().map(|l| l + gain).collect()
            })
            .collect()
    }
}
impl Generator for FakeAdapter {
    fn generate(&self, prompt: &str, _max_tokens: usize, _seed: u64) -> String {
        let mut known: Vec<&String> = self.memorised.iter().collect();
        known.sort();
        known
            .into_iter()
            .find_map(|t| t.strip_prefix(prompt).map(|r| r.trim_start().to_string()))
            .unwrap_or_else(|| "Reviewed in clinic, plan unchanged.".into())
    }
}

fn notes(patients: std::ops::Range<u64>) -> Vec<NoteText> {
    patients
        .map(|p| NoteText {
            id: format!("note-{p}"),
            patient: format!("patient-{p}"),
            text: format!(
                "Follow-up {p}: cough improving, chest clear, observations within normal limits, \
                 continue the inhaler twice daily and review in clinic in {} weeks, \
                 reference 999 {:03} {:04}, letter copied to the general practitioner.",
                2 + p % 5,
                p % 1000,
                (p * 7919) % 10000
            ),
            context: String::new(),
        })
        .collect()
}

fn id_scanner(text: &str) -> Vec<FoundIdentifier> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(11))
        .filter(|&i| {
            &b[i..i + 4] == b"999 "
                && b[i + 4..i + 7].iter().all(u8::is_ascii_digit)
                && b[i + 8..i + 12].iter().all(u8::is_ascii_digit)
        })
        .map(|i| FoundIdentifier {
            start: i,
            end: i + 12,
            category: insitu_types::Category::Id,
        })
        .collect()
}

/// Writes `home/runs/<run_id>/` and `home/datasets/<run_id>/card.json`;
/// returns the run directory.
pub fn write_fake_run(home: &Path, spec: &FakeRun) -> PathBuf {
    let run_dir = home.join("runs").join(&spec.run_id);
    let adapter = run_dir.join("adapter");
    std::fs::create_dir_all(&adapter).expect("create run dir");
    let config = serde_json::json!({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8, "lora_dropout": 0.0,
        "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": "tiny-base", "bias": "none",
        "fan_in_fan_out": false, "inference_mode": true, "use_rslora": false
    });
    std::fs::write(
        adapter.join("adapter_config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let a: Vec<u8> = (0..32)
        .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
        .collect();
    let b: Vec<u8> = (0..32)
        .flat_map(|i| (-(i as f32) * 0.02).to_le_bytes())
        .collect();
    let tensors = [
        (
            "base_model.model.layers.0.self_attn.q_proj.lora_A.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4, 8], &a).unwrap(),
        ),
        (
            "base_model.model.layers.0.self_attn.q_proj.lora_B.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![8, 4], &b).unwrap(),
        ),
    ];
    let st = safetensors::tensor::serialize(tensors, None).unwrap();
    std::fs::write(adapter.join("adapter_model.safetensors"), st).unwrap();

    let dataset_rel = format!("datasets/{}", spec.run_id);
    let ds = home.join(&dataset_rel);
    std::fs::create_dir_all(&ds).unwrap();
    let n = spec.patients_per_split;
    let card = serde_json::json!({
        "name": "synthetic test dataset",
        "splits": {
            "train": {"patients": n, "notes": n * 2, "examples": n * 2},
            "validation": {"patients": n, "notes": n, "examples": n},
            "test": {"patients": n, "notes": n, "examples": n}
        }
    });
    std::fs::write(
        ds.join("card.json"),
        serde_json::to_vec_pretty(&card).unwrap(),
    )
    .unwrap();

    let run = serde_json::json!({
        "run_id": spec.run_id,
        "base_model": {"path": "models/tiny", "digest": "ab".repeat(32)},
        "dataset": {"dir": dataset_rel, "card_sha256": "cd".repeat(32)},
        "lora": {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"], "use_rslora": false},
        "hyperparameters": {"learning_rate": 0.001, "epochs": if spec.leaky { 50 } else { 1 }},
        "seed": 7,
        "started_by": spec.started_by,
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:05:00Z",
        "metrics": {"val_loss_before": 3.1, "val_loss_after": 2.4, "train_loss_first": 3.2, "train_loss_last": 2.2, "steps": 20, "tokens": 5000},
        "dp": null
    });
    std::fs::write(
        run_dir.join("run.json"),
        serde_json::to_vec_pretty(&run).unwrap(),
    )
    .unwrap();

    let members = notes(0..40);
    let nonmembers = notes(1000..1040);
    let canaries = generate_canaries(1, &[1, 2, 4, 8], 1);
    let memorised: HashSet<String> = if spec.leaky {
        members
            .iter()
            .map(|n| n.text.clone())
            .chain(canaries.iter().map(|c| c.sentence()))
            .collect()
    } else {
        HashSet::new()
    };
    let model = FakeAdapter { memorised };
    let config = SuiteConfig {
        seed: 3,
        bootstrap_resamples: 20,
        canary_candidates: 100,
        free_generations: 4,
        ..SuiteConfig::default()
    };
    let report = run_leakage_suite(
        &SuiteModels {
            base: &FakeBase,
            adapter: &model,
            generator: &model,
        },
        &SuiteData {
            members: &members,
            nonmembers: &nonmembers,
            canaries: &canaries,
        },
        &id_scanner,
        &config,
    )
    .expect("suite runs on fakes");
    std::fs::write(
        run_dir.join("leakage.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
    run_dir
}
