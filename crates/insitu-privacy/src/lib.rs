//! Privacy evidence for a trained adapter: the DP-SGD accountant (RDP of the
//! Poisson-subsampled Gaussian, ε for a δ and the inverse), membership-
//! inference metrics, canaries and exposure, extraction and PHI-in-generation
//! probes, and the leakage report (JSON, Markdown, ROC curve PNG).
//!
//! This crate measures; it never decides whether something may be released
//! (that is `insitu-release`) and it never loads a model: the trained model is
//! reached through the small traits in [`suite`], so the suite is tested with
//! fakes and the binary wires in the real engine.

mod accountant;

pub use accountant::{
    default_orders, epsilon_from_rdp, noise_multiplier_for_epsilon, DpSgdParams, EpsilonBound,
};

/// Errors from privacy computations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter is out of range; the message names it and the valid range.
    #[error("{0}")]
    InvalidParameter(String),
}
