//! Privacy for a trained adapter: user-level DP-SGD as plain math on gradient
//! vectors (sampling, clipping, noise), the DP-SGD accountant (RDP of the
//! Poisson-subsampled Gaussian, ε for a δ and the inverse), membership-
//! inference metrics, canaries and exposure, extraction and PHI-in-generation
//! probes, and the leakage report (JSON, Markdown, ROC curve PNG).
//!
//! This crate measures; it never decides whether something may be released
//! (that is `insitu-release`) and it never loads a model: the trained model is
//! reached through the [`LossOracle`] and [`Generator`] traits, so the suite
//! is tested with fakes and the binary wires in the real engine.

mod accountant;
mod canary;
mod dpsgd;
mod extraction;
mod mia;
mod report;
mod suite;

pub use accountant::{
    default_orders, epsilon_from_rdp, noise_multiplier_for_epsilon, DpSgdParams, EpsilonBound,
};
pub use canary::{generate_canaries, measure_exposure, Canary, CanaryExposure, RankMethod};
pub use dpsgd::{clip_to_norm, global_norm, DpSgdStep, Gradient};
pub use extraction::{ExtractionConfig, ExtractionResult, PhiFinding};
pub use mia::{
    aggregate_by_patient, evaluate_attack, loss_ratio_score, min_k_percent, AttackResult, Estimate,
    Roc, RocPoint,
};
pub use report::{render_markdown, render_roc_png, write_report, ReportLimits, WrittenReport};
pub use suite::{
    run_leakage_suite, FoundIdentifier, Generator, LeakageReport, LeakageSummary, LossOracle,
    NoteText, SuiteConfig, SuiteData, SuiteModels,
};

/// Errors from privacy computations and report writing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter is out of range; the message names it and the valid range.
    #[error("{0}")]
    InvalidParameter(String),
    /// A report file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Drawing the ROC curve failed.
    #[error("{path}: could not draw the ROC curve: {message}")]
    Plot {
        /// The PNG being written.
        path: std::path::PathBuf,
        /// What the plotting library said.
        message: String,
    },
}
