//! The crate's one error type. Every variant names what went wrong and where:
//! the file, the key, the line, the value.

use std::path::PathBuf;

/// Everything that can go wrong while reading manifests, loading data, tokenizing or sharding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// A file could not be read (it exists, or the error is not "not found").
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    /// A data, manifest or tokenizer file is missing.
    #[error("{what} not found: looked for {}{hint}", display_paths(looked_in))]
    NotFound {
        /// What was being looked for ("data file", "manifest", "tokenizer.json", ...).
        what: String,
        /// Every place that was tried, in order.
        looked_in: Vec<PathBuf>,
        /// Extra advice, starting with "; " when non-empty.
        hint: String,
    },

    /// A manifest is not valid TOML or does not match the schema (unknown key, wrong type).
    #[error("{origin}: {message}")]
    ManifestParse { origin: String, message: String },

    /// A manifest key has a value outside its allowed range or set.
    #[error("{origin}: key `{key}` = {value} is invalid: {reason}")]
    InvalidValue {
        origin: String,
        key: String,
        value: String,
        reason: String,
    },

    /// `Manifest::builtin` / `Manifest::resolve` got a name that is not shipped.
    #[error("unknown dataset manifest `{name}`: built-in manifests are {}; or pass a path to a .toml file", available.join(", "))]
    UnknownManifest {
        name: String,
        available: Vec<String>,
    },

    /// A `LoadOptions` setting does not make sense for this manifest.
    #[error("dataset `{dataset}`: {message}")]
    BadOption { dataset: String, message: String },

    /// A file's sha256 differs from the one the manifest pins.
    #[error("sha256 mismatch for {path}: manifest expects {expected}, file has {actual}; refusing to use it")]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// A text file is not valid UTF-8.
    #[error("{path}:{line}: not valid UTF-8 (at byte offset {byte_offset})")]
    InvalidUtf8 {
        path: PathBuf,
        line: usize,
        byte_offset: usize,
    },

    /// A JSON-lines file has a bad line.
    #[error("{path}:{line}: {reason}")]
    Jsonl {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    /// The Hugging Face Hub client failed (network, HTTP status, I/O in the cache).
    #[error("fetching {target} (hub cache {cache}): {message}")]
    Hub {
        /// `<file> from hub <dataset|model> repo <repo> at revision <rev>`.
        target: String,
        cache: PathBuf,
        message: String,
    },

    /// No Hugging Face cache directory could be determined.
    #[error("no Hugging Face hub cache directory: set LoadOptions::hub_cache, HF_HUB_CACHE, HF_HOME or HOME")]
    NoHubCache,

    /// A `tokenizer.json` could not be loaded.
    #[error("cannot load tokenizer {path}: {message}")]
    TokenizerLoad { path: PathBuf, message: String },

    /// A GGUF file's tokenizer metadata is missing, has the wrong type, or describes a tokenizer
    /// we do not build.
    #[error("{path}: GGUF metadata key `{key}`: {message}")]
    GgufMetadata {
        path: PathBuf,
        key: String,
        message: String,
    },

    /// Encoding or decoding failed.
    #[error("tokenizer {tokenizer}: {message}")]
    Tokenize { tokenizer: String, message: String },

    /// A token id is outside the tokenizer's vocabulary.
    #[error(
        "token id {id} is outside the vocabulary of tokenizer {tokenizer} (size {vocab_size})"
    )]
    TokenOutOfVocab {
        id: u32,
        tokenizer: String,
        vocab_size: usize,
    },

    /// The train/eval split left one side without tokens.
    #[error("dataset `{dataset}`: split gives {train_tokens} train and {eval_tokens} eval tokens; both must be non-empty (is the data too small?)")]
    EmptySplit {
        dataset: String,
        train_tokens: usize,
        eval_tokens: usize,
    },

    /// A size parameter that must be positive was zero.
    #[error("`{name}` must be at least 1, got 0")]
    Zero { name: &'static str },

    /// A size computation overflowed.
    #[error("{what} overflows")]
    Overflow { what: String },

    /// The data is too small for one round of sharding.
    #[error("dataset has {samples} samples but one round needs {needed} ({slots} slots x {steps_per_round} steps x batch size {batch_size})")]
    TooFewSamples {
        samples: usize,
        needed: usize,
        slots: u32,
        steps_per_round: u32,
        batch_size: usize,
    },

    /// An index (round, slot, batch, sample) is outside its range.
    #[error("{what} {index} is out of range (there are {len})")]
    OutOfRange {
        what: &'static str,
        index: u64,
        len: u64,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(nowhere)".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", then ")
}

/// Shorthand for this crate's results.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// Read a whole file, turning "not found" into [`DatasetError::NotFound`] that says where it looked.
pub(crate) fn read_file(what: &str, path: &std::path::Path, hint: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| io_error(what, path, hint, source))
}

pub(crate) fn io_error(
    what: &str,
    path: &std::path::Path,
    hint: &str,
    source: std::io::Error,
) -> DatasetError {
    if source.kind() == std::io::ErrorKind::NotFound {
        DatasetError::NotFound {
            what: what.to_string(),
            looked_in: vec![absolute(path)],
            hint: if hint.is_empty() {
                String::new()
            } else {
                format!("; {hint}")
            },
        }
    } else {
        DatasetError::Io {
            path: path.to_path_buf(),
            error: source,
        }
    }
}

/// The path made absolute against the current directory (for messages only).
pub(crate) fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_every_place_and_hint() {
        let err = read_file(
            "data file",
            std::path::Path::new("/nonexistent/x.txt"),
            "pass a path",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("data file not found"), "{msg}");
        assert!(msg.contains("/nonexistent/x.txt"), "{msg}");
        assert!(msg.ends_with("; pass a path"), "{msg}");
    }
}
