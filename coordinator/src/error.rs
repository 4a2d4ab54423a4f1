//! The crate's error type. Every variant that concerns a file names it; every variant about a
//! value names the value and what was expected.

use coalition_attribution::{AttributionError, Hash32};
use std::path::PathBuf;

/// Everything that can go wrong in the coordinator core.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// A broken internal invariant (a poisoned lock, a failed worker thread).
    #[error("internal error: {0}")]
    Internal(String),
    /// A filesystem operation failed.
    #[error("cannot {op} {path}: {error}")]
    Io {
        op: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// Another coordinator holds the run directory.
    #[error(
        "{path} is held by another coordinator (pid {holder}); one coordinator per run \
         directory: stop that one first, or choose another [run] name"
    )]
    RunLocked { path: PathBuf, holder: String },
    /// The run name cannot name a directory.
    #[error(
        "run name {name:?} is not allowed: use 1-128 letters, digits, `-` and `_` \
         (it names the directory runs/<name>/)"
    )]
    BadRunName { name: String },
    /// The run directory was launched with a different config.
    #[error(
        "{path} records a run launched with config sha256 {recorded}, but this config hashes to \
         {launched}; resume with the original config, choose another [run] name, or start over \
         (the old run directory is moved aside, not deleted)"
    )]
    ConfigChanged {
        path: PathBuf,
        recorded: Hash32,
        launched: Hash32,
    },
    /// The run directory holds a journal but no config.toml.
    #[error("{path} has a journal but no config.toml; refusing to guess which config it ran")]
    MissingRunConfig { path: PathBuf },
    /// A journal line is not a valid entry (and is not a torn last line).
    #[error("{path}:{line}: malformed journal entry: {message}")]
    JournalMalformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The journal's entries contradict each other.
    #[error("journal entry {line}: {message}")]
    JournalInconsistent { line: usize, message: String },
    /// An entry could not be written in a form that replays (e.g. a non-finite number).
    #[error("refusing to journal an entry that would not replay: {message}")]
    EntryNotReplayable { message: String },
    /// A vector has the wrong length.
    #[error("{what} has {got} values, expected {expected}")]
    Length {
        what: String,
        got: usize,
        expected: usize,
    },
    /// A state or report file is unreadable or malformed.
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    /// Content did not hash to what it was supposed to.
    #[error("{what}: sha256 is {got}, expected {expected}")]
    HashMismatch {
        what: String,
        expected: Hash32,
        got: Hash32,
    },
    /// An argument is out of range.
    #[error("invalid {name} = {value}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// The eval pool has fewer unrevealed samples than a round needs.
    #[error(
        "the eval pool is exhausted: a round needs {needed} unrevealed samples and {left} are left \
         (each sample scores one round only; enlarge `data.eval.samples` or lower \
         `attribution.eval_sequences`)"
    )]
    PoolExhausted { needed: u64, left: u64 },
    /// The eval pool cannot be built from the config.
    #[error("config key `{key}`: {message}")]
    EvalPool { key: &'static str, message: String },
    /// The model crate failed (checkpoint I/O, parameter vectors).
    #[error(transparent)]
    Model(#[from] coalition_model::ModelError),
    /// The datasets crate failed (eval sample selection).
    #[error(transparent)]
    Dataset(#[from] coalition_datasets::DatasetError),
    /// Estimating scores or building a report failed.
    #[error(transparent)]
    Attribution(#[from] AttributionError),
    /// A tensor operation failed while evaluating the model.
    #[error("model evaluation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, CoordinatorError>;

/// Maps an `io::Error` into [`CoordinatorError::Io`] naming the operation and path.
pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> CoordinatorError {
    let path = path.into();
    move |error| CoordinatorError::Io { op, path, error }
}
