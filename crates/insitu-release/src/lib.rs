//! Release control: the policy gate over a run's recorded evidence, two-person
//! approvals bound to the digest of exactly what would leave, the signed
//! export bundle with its generated model card, and offline verification of a
//! bundle. It never trains and never measures privacy itself (that is
//! `insitu-privacy`); it never writes SQL (the binary records decisions
//! through `insitu-store`).
//!
//! Order of use: [`RunFacts::load`] → [`release_digest`] → [`evaluate_gate`]
//! (record it) → [`check_may_approve`] per approver (record it) →
//! [`write_bundle`] (re-checks approvals at the current digest) →
//! [`verify_bundle`] anywhere, offline.

mod approval;
mod bundle;
mod facts;
#[cfg(feature = "test-fixtures")]
pub mod fixtures;
mod gate;
mod job;
mod model_card;
mod policy;
mod verify;

pub use approval::{
    approvals_for_export, check_may_approve, hash_passphrase, verify_passphrase, Approver,
};
pub use bundle::{
    plan_payload, release_digest, sha256_file, write_bundle, ExportRequest, Manifest, ManifestFile,
    PayloadFile, WrittenBundle, ADAPTER_FILES, BUNDLE_FILES, MANIFEST, MANIFEST_FORMAT, SIGNATURE,
};
pub use facts::{BaseModelRef, DatasetRef, DpRecord, RunFacts, RunRecord};
pub use gate::{evaluate_gate, GateDecision, RuleOutcome};
pub use job::{JobDpBudget, JobRequirements, JOB_FILE};
pub use policy::{Policy, ROLES};
pub use verify::{parse_public_key, verify_bundle, KeySource, VerifyOutcome};

/// Errors from release operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// An input file is malformed; the message names the field and the fix.
    #[error("{path}: {message}")]
    BadInput {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A release rule refuses the action; the message says which and why.
    #[error("{0}")]
    Refused(String),
}
