//! Models for coalition, written in candle with differentiable ops only.
//!
//! * [`Llama`]: a Llama-style decoder (RMSNorm, RoPE, SwiGLU, causal grouped-query attention)
//!   whose parameters carry Hugging Face names (`model.layers.0.self_attn.q_proj.weight`, ...).
//!   candle's fused `rms_norm`, `softmax_last_dim`, `rope*` and `sdpa` kernels have no backward
//!   (the gradient is silently missing), so none of them is used here; tests assert every
//!   parameter receives a gradient and that gradients match finite differences.
//! * [`Mlp`]: a ReLU multi-layer perceptron classifier for fast tests and benchmarks.
//! * [`ParamStore`]: parameters in a stable order, viewed as one flat `f32` vector
//!   (flatten / unflatten / load) — the unit trainers and the coordinator exchange.
//! * [`AdamW`]: a single-pass AdamW with global-norm clipping and serialisable state.
//! * [`checkpoint`]: `config.json` + `model.safetensors` (or shards), loadable by
//!   `transformers`' `LlamaForCausalLM`; [`hub`] resolves Hub checkpoints through `hf-hub`,
//!   online or from the offline cache; [`gguf`] reads llama.cpp GGUF files (dequantised, q/k
//!   rows un-permuted for rotate-half RoPE).

mod attention;
pub mod bench;
pub mod checkpoint;
mod config;
mod error;
pub mod fused;
pub mod gguf;
pub mod hub;
mod init;
mod linear;
mod llama;
mod loss;
mod mlp;
mod optim;
mod params;
mod rms_norm;
mod rope;
mod swiglu;

#[cfg(test)]
mod tests;

pub use config::{LlamaConfig, MlpConfig};
pub use error::{ModelError, Result};
pub use llama::Llama;
pub use loss::cross_entropy;
pub use mlp::Mlp;
pub use optim::{AdamW, AdamWParams};
pub use params::{Param, ParamStore};

/// The compute device named by `cpu` or `cuda:N` (CUDA needs the `cuda` cargo feature).
pub fn device(spec: &str) -> Result<candle_core::Device> {
    if spec == "cpu" {
        return Ok(candle_core::Device::Cpu);
    }
    if let Some(n) = spec.strip_prefix("cuda:") {
        let ordinal: usize = n
            .parse()
            .map_err(|_| ModelError::Config(format!("bad CUDA device {spec:?}")))?;
        return Ok(candle_core::Device::new_cuda(ordinal)?);
    }
    Err(ModelError::Config(format!(
        "unknown device {spec:?} (expected cpu or cuda:N)"
    )))
}
