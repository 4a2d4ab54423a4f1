//! Llama models from llama.cpp's GGUF files (`model.init_from = "gguf:PATH"`).
//!
//! The file is read with candle's GGUF reader; every tensor is dequantised to f32 (candle knows
//! F32/F16/BF16 and the Q4_0..Q8_K block formats) and renamed from llama.cpp's names
//! (`token_embd`, `blk.N.attn_q`, ...) to the Hugging Face names our [`Llama`] uses. llama.cpp's
//! converter permutes the rows of q and k for its interleaved RoPE; [`unpermute_rows`] undoes
//! that so our rotate-half RoPE computes the same logits. Sizes, RoPE base, RMSNorm epsilon,
//! grouped-query heads and tied embeddings come from the metadata; anything we cannot run
//! (another architecture, RoPE scaling, a head size RoPE does not cover) is refused with the
//! metadata key named.

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::config::LlamaConfig;
use crate::llama::Llama;
use crate::{ModelError, Result};

/// The prefix that marks a GGUF model reference in `init_from` and `--checkpoint`.
pub const PREFIX: &str = "gguf:";

/// A GGUF file opened for reading: its metadata, tensor table and a reader.
pub struct GgufFile {
    path: PathBuf,
    content: Content,
    reader: BufReader<File>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("tensors", &self.content.tensor_infos.len())
            .finish()
    }
}

impl GgufFile {
    /// Open `path` and read its header (metadata and tensor table, not the tensor data).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|error| ModelError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|e| ModelError::BadFile {
            path: path.to_path_buf(),
            message: format!("not a readable GGUF file: {e}"),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            content,
            reader,
        })
    }

    fn bad(&self, message: String) -> ModelError {
        ModelError::BadFile {
            path: self.path.clone(),
            message,
        }
    }

    fn meta(&self, key: &str) -> Result<&Value> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| self.bad(format!("metadata key `{key}` is missing")))
    }

    /// `read` of an optional key: `None` when the file does not have it.
    fn optional<T>(&self, key: &str, read: impl Fn(&Self, &str) -> Result<T>) -> Result<Option<T>> {
        if self.content.metadata.contains_key(key) {
            read(self, key).map(Some)
        } else {
            Ok(None)
        }
    }

    fn meta_usize(&self, key: &str) -> Result<usize> {
        let v = self.meta(key)?;
        let n = match v {
            Value::U8(x) => Some(u64::from(*x)),
            Value::U16(x) => Some(u64::from(*x)),
            Value::U32(x) => Some(u64::from(*x)),
            Value::U64(x) => Some(*x),
            Value::I8(x) => u64::try_from(*x).ok(),
            Value::I16(x) => u64::try_from(*x).ok(),
            Value::I32(x) => u64::try_from(*x).ok(),
            Value::I64(x) => u64::try_from(*x).ok(),
            _ => None,
        };
        n.and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.bad(format!("metadata key `{key}` = {v:?} is not a count")))
    }

    fn meta_f64(&self, key: &str) -> Result<f64> {
        match self.meta(key)? {
            // The shortest decimal that round-trips the f32 (1e-5, not 9.99999974e-6).
            Value::F32(x) => Ok(x.to_string().parse().unwrap_or(f64::from(*x))),
            Value::F64(x) => Ok(*x),
            v => Err(self.bad(format!("metadata key `{key}` = {v:?} is not a number"))),
        }
    }

    fn meta_str(&self, key: &str) -> Result<&str> {
        match self.meta(key)? {
            Value::String(s) => Ok(s),
            v => Err(self.bad(format!("metadata key `{key}` = {v:?} is not a string"))),
        }
    }

    /// The Llama config the metadata describes; refuses what our model cannot run.
    pub fn llama_config(&self) -> Result<LlamaConfig> {
        let arch = self.meta_str("general.architecture")?;
        if arch != "llama" {
            return Err(self.bad(format!(
                "metadata key `general.architecture` = {arch:?}: only \"llama\" is supported"
            )));
        }
        let key = |k: &str| format!("llama.{k}");
        if let Some(v) = self.content.metadata.get(&key("rope.scaling.type")) {
            if !matches!(v, Value::String(s) if s == "none") {
                return Err(self.bad(format!(
                    "metadata key `llama.rope.scaling.type` = {v:?}: RoPE scaling is not supported"
                )));
            }
        }
        let embed = self.tensor_shape("token_embd.weight")?;
        let [vocab, hidden] = embed[..] else {
            return Err(self.bad(format!("tensor `token_embd.weight` has shape {embed:?}")));
        };
        let heads = self.meta_usize(&key("attention.head_count"))?;
        let kv_heads = self
            .optional(&key("attention.head_count_kv"), Self::meta_usize)?
            .unwrap_or(heads);
        let cfg = LlamaConfig {
            vocab_size: vocab,
            hidden_size: self.meta_usize(&key("embedding_length"))?,
            intermediate_size: self.meta_usize(&key("feed_forward_length"))?,
            num_hidden_layers: self.meta_usize(&key("block_count"))?,
            num_attention_heads: heads,
            num_key_value_heads: Some(kv_heads),
            max_position_embeddings: self.meta_usize(&key("context_length"))?,
            rms_norm_eps: self.meta_f64(&key("attention.layer_norm_rms_epsilon"))?,
            rope_theta: self
                .optional(&key("rope.freq_base"), Self::meta_f64)?
                .unwrap_or(10_000.0),
            tie_word_embeddings: !self.content.tensor_infos.contains_key("output.weight"),
        };
        if cfg.hidden_size != hidden {
            return Err(self.bad(format!(
                "metadata key `llama.embedding_length` = {} but `token_embd.weight` is {embed:?}",
                cfg.hidden_size
            )));
        }
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            return Err(self.bad(format!(
                "metadata keys `llama.attention.head_count` = {heads} and \
                 `llama.attention.head_count_kv` = {kv_heads} do not form grouped-query attention"
            )));
        }
        let rope_dims = self.optional(&key("rope.dimension_count"), Self::meta_usize)?;
        if let Some(dims) = rope_dims.filter(|&d| d != cfg.head_dim()) {
            return Err(self.bad(format!(
                "metadata key `llama.rope.dimension_count` = {dims}: partial RoPE (head size {}) \
                 is not supported",
                cfg.head_dim()
            )));
        }
        cfg.validate().map_err(|e| self.bad(e.to_string()))?;
        Ok(cfg)
    }

    fn tensor_shape(&self, name: &str) -> Result<Vec<usize>> {
        self.content
            .tensor_infos
            .get(name)
            .map(|t| t.shape.dims().to_vec())
            .ok_or_else(|| self.bad(format!("tensor `{name}` is missing")))
    }

    /// Tensor `name` dequantised to f32, in PyTorch dimension order.
    fn f32_tensor(&mut self, name: &str, dev: &Device) -> Result<Tensor> {
        if !self.content.tensor_infos.contains_key(name) {
            return Err(self.bad(format!("tensor `{name}` is missing")));
        }
        let q = self
            .content
            .tensor(&mut self.reader, name, dev)
            .map_err(|e| self.bad(format!("tensor `{name}`: {e}")))?;
        q.dequantize(dev)
            .map_err(|e| self.bad(format!("tensor `{name}`: cannot dequantise: {e}")))
    }

    /// Every weight under its Hugging Face name, dequantised, q/k rows in rotate-half order.
    pub fn hf_tensors(
        &mut self,
        cfg: &LlamaConfig,
        dev: &Device,
    ) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for (ours, theirs) in name_map(cfg) {
            let mut t = self.f32_tensor(&theirs, dev)?;
            if ours.ends_with("q_proj.weight") {
                t = unpermute_rows(&t, cfg.num_attention_heads)?;
            } else if ours.ends_with("k_proj.weight") {
                t = unpermute_rows(&t, cfg.kv_heads())?;
            }
            out.insert(ours, t);
        }
        Ok(out)
    }
}

/// Our (Hugging Face) parameter names paired with llama.cpp's GGUF tensor names.
pub fn name_map(cfg: &LlamaConfig) -> Vec<(String, String)> {
    let mut m = vec![(
        "model.embed_tokens.weight".to_string(),
        "token_embd.weight".to_string(),
    )];
    let per_layer = [
        ("input_layernorm", "attn_norm"),
        ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"),
        ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_proj", "ffn_gate"),
        ("mlp.up_proj", "ffn_up"),
        ("mlp.down_proj", "ffn_down"),
    ];
    for i in 0..cfg.num_hidden_layers {
        for (ours, theirs) in per_layer {
            m.push((
                format!("model.layers.{i}.{ours}.weight"),
                format!("blk.{i}.{theirs}.weight"),
            ));
        }
    }
    m.push(("model.norm.weight".into(), "output_norm.weight".into()));
    if !cfg.tie_word_embeddings {
        m.push(("lm_head.weight".into(), "output.weight".into()));
    }
    m
}

/// Undo llama.cpp's q/k permutation. Its converter stores
/// `w.reshape(h, 2, d/h/2, in).swapaxes(1, 2).reshape(d, in)`; the inverse views the rows as
/// `(h, d/h/2, 2)` and swaps the last two row axes back.
pub fn unpermute_rows(w: &Tensor, heads: usize) -> Result<Tensor> {
    let (d, inp) = w.dims2()?;
    if heads == 0 || !d.is_multiple_of(2 * heads) {
        return Err(ModelError::Config(format!(
            "cannot undo the RoPE permutation: {d} rows are not {heads} heads of an even size"
        )));
    }
    Ok(w.reshape((heads, d / heads / 2, 2, inp))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((d, inp))?)
}

/// Load a Llama model from a GGUF file.
pub fn load_llama_gguf(path: &Path, dev: &Device) -> Result<Llama> {
    let mut file = GgufFile::open(path)?;
    let cfg = file.llama_config()?;
    let tensors = file.hf_tensors(&cfg, dev)?;
    Llama::from_tensors(&cfg, &tensors, path, dev)
}

#[cfg(test)]
#[path = "gguf_tests.rs"]
mod tests;
