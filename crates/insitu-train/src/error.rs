//! The crate's error type, shared by compute and format modules. Add variants
//! at the end; do not change existing ones.

use std::path::PathBuf;

/// Errors from training, model loading and format conversion.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A model, tokenizer, adapter or checkpoint file is malformed or refused.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// An argument or configuration value is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A chat template failed to render.
    #[error("chat template: {0}")]
    Template(String),
    /// JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A safetensors file is malformed.
    #[error("safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
