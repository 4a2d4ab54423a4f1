//! Checkpoints in the Hugging Face layout: `config.json` + `model.safetensors` (or shards listed
//! in `model.safetensors.index.json`), so our checkpoints load in `transformers` and Hub
//! Llama checkpoints load here.

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::LlamaConfig;
use crate::llama::Llama;
use crate::{ModelError, Result};

/// File name of the single-file weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the shard index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// File name of the model config.
pub const CONFIG_FILE: &str = "config.json";
/// File name of the tokenizer (Hugging Face `tokenizers` JSON), when the run has one.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// File name of the tokenizer's settings for `transformers`' `AutoTokenizer`.
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |error| ModelError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// sha256 of a flat parameter vector (little-endian f32 bytes): the model's content address.
pub fn params_hash(flat: &[f32]) -> [u8; 32] {
    let mut h = Sha256::new();
    for x in flat {
        h.update(x.to_le_bytes());
    }
    h.finalize().into()
}

/// Write `config.json` and `model.safetensors` for `model` into `dir` (created if missing).
/// Files are written to a temporary name and renamed, so a crash never leaves a torn file.
pub fn save_llama(model: &Llama, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let cfg_path = dir.join(CONFIG_FILE);
    let json = serde_json::to_string_pretty(&model.config().to_hf_json())
        .map_err(|e| ModelError::Config(e.to_string()))?;
    write_atomic(&cfg_path, json.as_bytes())?;
    let weights = dir.join(WEIGHTS_FILE);
    let tmp = dir.join(format!("{WEIGHTS_FILE}.tmp"));
    candle_core::safetensors::save(&model.params().named_tensors(), &tmp)?;
    std::fs::rename(&tmp, &weights).map_err(io_err(&weights))?;
    Ok(())
}

/// Write `tokenizer.json` (the `tokenizers` JSON text) and a `tokenizer_config.json` into a
/// checkpoint directory, so `AutoTokenizer.from_pretrained(dir)` gives the ids the run trained
/// on: a plain fast tokenizer, adding no BOS or EOS (our tokenizers add none).
pub fn save_tokenizer(dir: &Path, tokenizer_json: &str) -> Result<()> {
    write_atomic(&dir.join(TOKENIZER_FILE), tokenizer_json.as_bytes())?;
    let settings = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": false,
        "add_eos_token": false,
        "clean_up_tokenization_spaces": false,
    });
    write_atomic(
        &dir.join(TOKENIZER_CONFIG_FILE),
        settings.to_string().as_bytes(),
    )
}

/// Write bytes to `path` via a temporary file and rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Read a `config.json` (extra Hugging Face keys are ignored).
pub fn read_config(path: &Path) -> Result<LlamaConfig> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let cfg: LlamaConfig = serde_json::from_str(&text).map_err(|e| ModelError::BadFile {
        path: path.to_path_buf(),
        message: format!("not a Llama config.json: {e}"),
    })?;
    cfg.validate().map_err(|e| ModelError::BadFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(cfg)
}

/// The weight files of a checkpoint directory: the single file, or every shard in the index.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join(WEIGHTS_FILE);
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join(INDEX_FILE);
    if !index.is_file() {
        return Err(ModelError::BadFile {
            path: dir.to_path_buf(),
            message: format!("no {WEIGHTS_FILE} or {INDEX_FILE} in this directory"),
        });
    }
    shard_files(&index)
}

/// Shard file paths listed in a `model.safetensors.index.json`.
pub fn shard_files(index: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(index).map_err(io_err(index))?;
    let bad = |message: String| ModelError::BadFile {
        path: index.to_path_buf(),
        message,
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("missing object `weight_map`".into()))?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let mut files: Vec<String> = Vec::new();
    for (name, file) in map {
        let file = file
            .as_str()
            .ok_or_else(|| bad(format!("weight_map[{name}] is not a file name")))?;
        if file.contains("..") || file.starts_with('/') {
            return Err(bad(format!(
                "weight_map[{name}] = {file:?} leaves the directory"
            )));
        }
        if !files.iter().any(|f| f == file) {
            files.push(file.to_string());
        }
    }
    files.sort();
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

/// Load every tensor from a set of safetensors files.
pub fn load_tensors(files: &[PathBuf], dev: &Device) -> Result<HashMap<String, Tensor>> {
    let mut all = HashMap::new();
    for f in files {
        if !f.is_file() {
            return Err(ModelError::BadFile {
                path: f.clone(),
                message: "weights file not found".into(),
            });
        }
        let part = candle_core::safetensors::load(f, dev).map_err(|e| ModelError::BadFile {
            path: f.clone(),
            message: format!("not a readable safetensors file: {e}"),
        })?;
        all.extend(part);
    }
    Ok(all)
}

/// Load a Llama checkpoint directory (`config.json` + weights).
pub fn load_llama(dir: &Path, dev: &Device) -> Result<Llama> {
    let cfg_path = dir.join(CONFIG_FILE);
    if !cfg_path.is_file() {
        return Err(ModelError::BadFile {
            path: cfg_path,
            message: "config.json not found in the checkpoint directory".into(),
        });
    }
    load_llama_files(&cfg_path, &weight_files(dir)?, dev)
}

/// Load the model a `--checkpoint` or `init_from` value names: `gguf:PATH` (a llama.cpp GGUF
/// file) or a checkpoint directory. Relative paths are joined to `base`.
pub fn load_llama_spec(spec: &str, base: &Path, dev: &Device) -> Result<Llama> {
    match spec.strip_prefix(crate::gguf::PREFIX) {
        Some(file) => crate::gguf::load_llama_gguf(&base.join(file), dev),
        None => load_llama(&base.join(spec), dev),
    }
}

/// Load a Llama model from an explicit config file and weight files (e.g. from the Hub cache).
pub fn load_llama_files(config: &Path, weights: &[PathBuf], dev: &Device) -> Result<Llama> {
    let cfg = read_config(config)?;
    let tensors = load_tensors(weights, dev)?;
    let first = weights.first().ok_or_else(|| ModelError::BadFile {
        path: config.to_path_buf(),
        message: "no weight files".into(),
    })?;
    Llama::from_tensors(&cfg, &tensors, first, dev)
}

/// A flat parameter vector as little-endian f32 bytes: the model blob trainers fetch by hash
/// (its sha256 is [`params_hash`]).
pub fn params_to_le_bytes(flat: &[f32]) -> Vec<u8> {
    flat.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Inverse of [`params_to_le_bytes`]; refuses a length that is not a multiple of 4 and
/// non-finite values.
pub fn params_from_le_bytes(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(ModelError::Config(format!(
            "parameter blob of {} bytes is not a whole number of f32 values",
            bytes.len()
        )));
    }
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(ModelError::Config(format!(
            "parameter blob has a non-finite value at index {i}"
        )));
    }
    Ok(values)
}
