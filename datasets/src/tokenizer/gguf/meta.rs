//! Typed access to a GGUF file's metadata, with errors that name the file and the key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};

use crate::error::{io_error, DatasetError, Result};

/// The metadata of one GGUF file (header, key/value pairs; tensor data is never read).
pub(super) struct Metadata {
    path: PathBuf,
    values: HashMap<String, Value>,
}

impl Metadata {
    /// Read the metadata of the GGUF file at `path`.
    pub(super) fn read(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| io_error("GGUF file", path, "", e))?;
        let mut reader = std::io::BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|e| DatasetError::TokenizerLoad {
            path: path.to_path_buf(),
            message: format!("not a readable GGUF file: {e}"),
        })?;
        Ok(Metadata {
            path: path.to_path_buf(),
            values: content.metadata,
        })
    }

    /// An error about `key` in this file.
    pub(super) fn error(&self, key: &str, message: String) -> DatasetError {
        DatasetError::GgufMetadata {
            path: self.path.clone(),
            key: key.to_string(),
            message,
        }
    }

    /// The value of `key`, which must be present.
    fn get(&self, key: &str) -> Result<&Value> {
        self.values
            .get(key)
            .ok_or_else(|| self.error(key, "is missing".to_string()))
    }

    /// A string value.
    pub(super) fn string(&self, key: &str) -> Result<&str> {
        match self.get(key)? {
            Value::String(s) => Ok(s),
            other => Err(self.error(key, format!("is {}, not a string", kind(other)))),
        }
    }

    /// A string value, or `None` when the key is absent.
    pub(super) fn string_opt(&self, key: &str) -> Result<Option<&str>> {
        if self.values.contains_key(key) {
            self.string(key).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An array of strings.
    pub(super) fn strings(&self, key: &str) -> Result<Vec<&str>> {
        self.array(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.as_str()),
                other => {
                    Err(self.error(key, format!("entry {i} is {}, not a string", kind(other))))
                }
            })
            .collect()
    }

    /// An array of integers (any integer type), or `None` when the key is absent.
    pub(super) fn integers_opt(&self, key: &str) -> Result<Option<Vec<i64>>> {
        if !self.values.contains_key(key) {
            return Ok(None);
        }
        let values = self.array(key)?;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                integer(v).ok_or_else(|| {
                    self.error(key, format!("entry {i} is {}, not an integer", kind(v)))
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn array(&self, key: &str) -> Result<&[Value]> {
        match self.get(key)? {
            Value::Array(values) => Ok(values),
            other => Err(self.error(key, format!("is {}, not an array", kind(other)))),
        }
    }
}

/// An integer value widened to `i64` (a `u64` above `i64::MAX` is not one we accept).
fn integer(v: &Value) -> Option<i64> {
    match *v {
        Value::U8(x) => Some(x.into()),
        Value::I8(x) => Some(x.into()),
        Value::U16(x) => Some(x.into()),
        Value::I16(x) => Some(x.into()),
        Value::U32(x) => Some(x.into()),
        Value::I32(x) => Some(x.into()),
        Value::U64(x) => i64::try_from(x).ok(),
        Value::I64(x) => Some(x),
        _ => None,
    }
}

/// How a value's type reads in an error message.
fn kind(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(a) => format!("an array of {} values", a.len()),
        other => format!("a {:?} ({other:?})", other.value_type()),
    }
}
