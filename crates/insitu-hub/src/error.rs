//! The hub's error type and its mapping to HTTP status codes.

/// Errors from the hub (server side and administration).
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No such object *for this caller*. Also used for objects that exist but
    /// belong to someone else, so that ids leak nothing (never 403).
    #[error("{0} not found")]
    NotFound(String),
    /// Missing, malformed, replayed or stale credentials.
    #[error("unauthorised: {0}")]
    Unauthorized(String),
    /// The request is well-formed but its content is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state (e.g. a job already accepted).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("hub database: {0}")]
    Db(#[from] sqlx::Error),
    /// A file in the hub's home could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// An internal invariant does not hold (a bug, or a damaged database).
    #[error("internal error: {0}")]
    Internal(String),
}

impl HubError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            HubError::NotFound(_) => 404,
            HubError::Unauthorized(_) => 401,
            HubError::Invalid(_) => 422,
            HubError::Conflict(_) => 409,
            HubError::Db(_) | HubError::Io { .. } | HubError::Internal(_) => 500,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = HubError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> HubError + '_ {
    move |source| HubError::Io {
        path: path.to_path_buf(),
        source,
    }
}
