//! Errors of the observe crate: each names the file or address it is about.

use std::path::PathBuf;

/// Why a run could not be read or served.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A file of the run directory could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        /// Shown in the message (not as a `source`, so chains print the cause once).
        error: std::io::Error,
    },
    /// A file of the run directory is not what it should be.
    #[error("{path}: {message}")]
    Malformed { path: PathBuf, message: String },
    /// The directory holds no run (no journal).
    #[error("{path} is not a run directory (no journal.jsonl in it)")]
    NotARun { path: PathBuf },
    /// The HTTP server could not listen.
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: std::io::Error },
    /// The Prometheus recorder could not be installed (another recorder is in place).
    #[error("cannot install the metrics recorder: {0}")]
    Metrics(String),
    /// The server's thread or runtime failed.
    #[error("dashboard server: {0}")]
    Server(String),
}

pub type Result<T, E = ObserveError> = std::result::Result<T, E>;

/// `map_err` helper for I/O on `path`.
pub(crate) fn read_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ObserveError {
    let path = path.to_path_buf();
    move |error| ObserveError::Read { path, error }
}
