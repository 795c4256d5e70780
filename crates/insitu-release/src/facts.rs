//! What the release side reads from a training run directory
//! (`runs/<run-id>/`, written by the training engine): `run.json`, the
//! dataset card it names, `leakage.json` and `adapter/`. Optional fields are
//! tolerated; what the gate needs is checked strictly, with the file and
//! field named in the error.

use crate::Error;
use insitu_privacy::LeakageReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `run.json`, the fields release uses. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id (must match the directory name).
    pub run_id: String,
    /// Base model reference.
    pub base_model: BaseModelRef,
    /// Dataset used.
    pub dataset: DatasetRef,
    /// LoRA settings (PEFT names), as recorded.
    #[serde(default)]
    pub lora: serde_json::Value,
    /// Training hyperparameters, as recorded.
    #[serde(default)]
    pub hyperparameters: serde_json::Value,
    /// Training seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Who started the run (cannot approve it).
    pub started_by: String,
    /// Start time.
    #[serde(default)]
    pub started_at: Option<String>,
    /// End time (a run without it has not finished).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Evaluation metrics, as recorded.
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// DP-SGD parameters, or null when trained without DP.
    #[serde(default)]
    pub dp: Option<DpRecord>,
}

/// `run.json` → `base_model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseModelRef {
    /// Where the base model was loaded from.
    #[serde(default)]
    pub path: Option<String>,
    /// sha256 digest of the base model.
    pub digest: String,
}

/// `run.json` → `dataset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRef {
    /// Dataset directory (absolute, or relative to the home).
    pub dir: String,
    /// sha256 of the dataset card.
    #[serde(default)]
    pub card_sha256: Option<String>,
}

/// `run.json` → `dp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpRecord {
    /// ε the training engine reported (recomputed by the gate).
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// δ.
    pub delta: f64,
    /// σ.
    pub noise_multiplier: f64,
    /// Poisson sampling rate of patients.
    pub sampling_rate: f64,
    /// Noisy steps.
    pub steps: u64,
}

/// Everything read from one run directory.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// The run directory.
    pub dir: PathBuf,
    /// Parsed `run.json`.
    pub run: RunRecord,
    /// The dataset card's numbers only (never its text), flattened to dotted
    /// keys, e.g. `splits.train.patients` → 61.
    pub dataset_counts: BTreeMap<String, f64>,
    /// Distinct patients per split, when the card says.
    pub patients_per_split: BTreeMap<String, u64>,
    /// Problem reading the dataset card, if any (the gate fails on it).
    pub dataset_problem: Option<String>,
    /// Parsed `leakage.json`, or why it is unusable.
    pub leakage: Result<LeakageReport, String>,
    /// The numbers of `eval.json` (`insitu eval`: base vs adapter on held-out
    /// patients), flattened to dotted keys; empty when the run was not
    /// evaluated. Numbers only, like the dataset counts.
    pub evaluation: BTreeMap<String, f64>,
    /// Which split `eval.json` scored (`validation` or `test`), if evaluated.
    pub evaluation_split: Option<String>,
    /// The sponsor job's own requirements (`job.json`), when the run was
    /// trained for a hub job.
    pub job: Option<crate::JobRequirements>,
}

/// Candidate names of the dataset card inside the dataset directory.
const CARD_NAMES: &[&str] = &["card.json", "dataset_card.json", "dataset.json"];

impl RunFacts {
    /// Reads `run.json` (required), the dataset card and `leakage.json`.
    /// `home` resolves a relative dataset dir.
    pub fn load(run_dir: &Path, home: &Path) -> Result<RunFacts, Error> {
        let run_path = run_dir.join("run.json");
        let text = std::fs::read_to_string(&run_path).map_err(|source| Error::Io {
            path: run_path.clone(),
            source,
        })?;
        let run: RunRecord = serde_json::from_str(&text).map_err(|e| Error::BadInput {
            path: run_path.clone(),
            message: format!(
                "{e} — run.json needs run_id, base_model.digest, dataset.dir and started_by"
            ),
        })?;
        if let Some(name) = run_dir.file_name().and_then(|n| n.to_str()) {
            if name != run.run_id {
                return Err(Error::BadInput {
                    path: run_path,
                    message: format!(
                        "run_id {:?} does not match the directory name {name:?}",
                        run.run_id
                    ),
                });
            }
        }
        let dataset_dir = {
            let d = PathBuf::from(&run.dataset.dir);
            if d.is_absolute() {
                d
            } else {
                home.join(d)
            }
        };
        let (dataset_counts, patients_per_split, dataset_problem) = match read_card(&dataset_dir) {
            Ok((counts, patients)) if patients.is_empty() => (
                counts,
                patients,
                Some(format!("the dataset card in {} gives no patients per split (expected splits.<name>.patients)", dataset_dir.display())),
            ),
            Ok((counts, patients)) => (counts, patients, None),
            Err(e) => (BTreeMap::new(), BTreeMap::new(), Some(e)),
        };
        let leakage_path = run_dir.join("leakage.json");
        let leakage = match std::fs::read_to_string(&leakage_path) {
            Ok(t) => serde_json::from_str::<LeakageReport>(&t)
                .map_err(|e| format!("{}: {e}", leakage_path.display())),
            Err(e) => Err(format!(
                "{}: {e} — run the leakage suite first",
                leakage_path.display()
            )),
        };
        let mut evaluation = BTreeMap::new();
        let mut evaluation_split = None;
        let eval_path = run_dir.join("eval.json");
        if let Ok(text) = std::fs::read_to_string(&eval_path) {
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::BadInput {
                    path: eval_path.clone(),
                    message: format!("{e} — rerun `insitu eval` to rewrite it"),
                })?;
            flatten_numbers("", &value, &mut evaluation);
            evaluation_split = value["split"].as_str().map(str::to_string);
        }
        let job = crate::JobRequirements::load(run_dir)?;
        Ok(RunFacts {
            dir: run_dir.to_path_buf(),
            run,
            dataset_counts,
            patients_per_split,
            dataset_problem,
            leakage,
            evaluation,
            evaluation_split,
            job,
        })
    }
}

type CardNumbers = (BTreeMap<String, f64>, BTreeMap<String, u64>);

fn read_card(dataset_dir: &Path) -> Result<CardNumbers, String> {
    let path = CARD_NAMES
        .iter()
        .map(|n| dataset_dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no dataset card ({}) in {}",
                CARD_NAMES.join(" / "),
                dataset_dir.display()
            )
        })?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let card: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut counts = BTreeMap::new();
    flatten_numbers("", &card, &mut counts);
    let mut patients = BTreeMap::new();
    if let Some(splits) = card.get("splits").and_then(|s| s.as_object()) {
        for (name, s) in splits {
            if let Some(n) = s.get("patients").and_then(|v| v.as_u64()) {
                patients.insert(name.clone(), n);
            }
        }
    }
    if let Some(m) = card.get("patients_per_split").and_then(|s| s.as_object()) {
        for (name, v) in m {
            if let Some(n) = v.as_u64() {
                patients.insert(name.clone(), n);
            }
        }
    }
    Ok((counts, patients))
}

/// Keeps only numbers: a card's text fields never reach a model card.
fn flatten_numbers(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, f64>) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.insert(prefix.to_string(), f);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_numbers(&key, v, out);
            }
        }
        _ => {}
    }
}
