//! Training datasets from de-identified notes: task extraction (handover,
//! radiology impression, ICD-10, triage, continued pre-training, custom
//! minijinja templates), alpaca / messages / preference / text JSONL,
//! deterministic patient-level splits, the minimum-cohort rule and the
//! dataset card. It works on in-memory [`Record`]s so it can be tested
//! without a store; it must not know about candle, the store or the network.

mod advise;
mod build;
mod card;
mod splits;
mod tasks;

pub use advise::{advise, Advice, Approach};
pub use build::{build, BuildOptions, Dataset, Example, WrittenDataset};
pub use card::{DatasetCard, LengthStats, PhiRescan, SplitCounts};
pub use splits::{assign_splits, Split};
pub use tasks::{CustomTemplate, Format, Task};

use serde::{Deserialize, Serialize};

/// One de-identified document as the dataset builder sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Document id.
    pub doc_id: String,
    /// Patient pseudonym; splits never put one patient in two splits.
    pub patient_key: String,
    /// Note kind (`discharge_summary`, `radiology`, `ed_triage`, …).
    pub kind: String,
    /// When the note was written (ISO 8601); orders each patient's timeline.
    pub written_at: String,
    /// De-identified text.
    pub text: String,
    /// Extra fields from ingest (`icd10`, `triage_category`, `encounter_id`…).
    #[serde(default)]
    pub meta: serde_json::Map<String, serde_json::Value>,
}

/// Errors from dataset building.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A split has fewer patients than the policy allows.
    #[error("split {} would hold {patients} patient(s), below the minimum cohort of {minimum} per split — add more patients' notes, or (with IG approval) lower `min_patients_per_split` in the home's policy.toml", split.as_str())]
    CohortTooSmall {
        /// The split.
        split: Split,
        /// Patients it would hold.
        patients: usize,
        /// The policy minimum.
        minimum: usize,
    },
    /// No record produced an example for the task.
    #[error("no document produced a {task} example ({considered} considered; skipped: {skipped}) — check the notes' kinds and metadata")]
    NoExamples {
        /// Task name.
        task: String,
        /// Documents considered.
        considered: usize,
        /// Skip reasons with counts.
        skipped: String,
    },
    /// The task and format cannot be combined, or an option is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A custom template failed to compile or render.
    #[error("custom template {which}: {message}")]
    Template {
        /// Which template (`instruction`, `input`, `output`).
        which: String,
        /// The engine's message.
        message: String,
    },
    /// Writing the dataset failed.
    #[error("{path}: {source}")]
    Io {
        /// File or directory.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// JSON encoding failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}
