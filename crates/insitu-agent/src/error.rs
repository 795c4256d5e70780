//! The agent's error type.

use std::path::PathBuf;

/// Errors from talking to a hub or moving files.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The hub answered with an error status.
    #[error("{method} {url}: hub answered {status}: {message}")]
    Hub {
        /// HTTP method.
        method: String,
        /// Full URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The hub's `error` message.
        message: String,
    },
    /// The hub could not be reached.
    #[error("{url}: cannot reach the hub ({message}) — check --hub and that `insitu hub serve` is running")]
    Transport {
        /// Full URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// A downloaded or uploaded item failed verification.
    #[error("verification failed: {0}")]
    Verify(String),
    /// The input (directory, spec, state) is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The appliance store failed.
    #[error(transparent)]
    Store(#[from] insitu_store::StoreError),
}

impl AgentError {
    /// The HTTP status when the hub refused the request.
    pub fn status(&self) -> Option<u16> {
        match self {
            AgentError::Hub { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = AgentError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |source| AgentError::Io {
        path: path.to_path_buf(),
        source,
    }
}
