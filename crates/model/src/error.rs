//! Errors from building, running and (de)serialising models.

use std::path::PathBuf;

/// What went wrong in this crate. File-related variants name the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("invalid model config: {0}")]
    Config(String),
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("checkpoint {path} is missing tensor `{name}`")]
    MissingTensor { path: PathBuf, name: String },
    #[error("checkpoint {path}: tensor `{name}` has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("parameter vector has {got} values, the model has {expected}")]
    FlatLength { got: usize, expected: usize },
    #[error("Hugging Face Hub: {0}")]
    Hub(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
