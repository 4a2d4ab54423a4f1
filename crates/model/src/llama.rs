//! The Llama-style decoder: embeddings, `num_hidden_layers` pre-norm blocks, final norm, head.

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

use crate::attention::{Attention, AttentionShape};
use crate::config::LlamaConfig;
use crate::linear::linear;
use crate::loss::cross_entropy;
use crate::params::{Fill, Init, InitState, ParamStore};
use crate::rms_norm::RmsNorm;
use crate::rope::Rope;
use crate::swiglu::SwiGlu;
use crate::Result;

#[derive(Debug, Clone)]
struct Block {
    input_norm: RmsNorm,
    attn: Attention,
    post_norm: RmsNorm,
    mlp: SwiGlu,
}

/// A trainable Llama-style causal language model with Hugging Face parameter names.
#[derive(Debug)]
pub struct Llama {
    cfg: LlamaConfig,
    embed: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    /// `lm_head.weight`, or the embedding matrix when tied.
    head: Tensor,
    rope: Rope,
    store: ParamStore,
}

impl Llama {
    /// Build with seeded random weights (std `init_std`; output projections scaled by
    /// `1/sqrt(2·layers)`).
    pub fn new_random(cfg: &LlamaConfig, init_std: f64, seed: u64, dev: &Device) -> Result<Self> {
        Self::build(cfg, init_std, Init::Random { seed }, dev, DType::F32)
    }

    /// Like [`Self::new_random`] with parameters kept in `dtype` (f64 for gradient checks).
    pub fn new_random_dtype(
        cfg: &LlamaConfig,
        init_std: f64,
        seed: u64,
        dev: &Device,
        dtype: DType,
    ) -> Result<Self> {
        Self::build(cfg, init_std, Init::Random { seed }, dev, dtype)
    }

    /// Build from named tensors (a checkpoint read from `path`).
    pub fn from_tensors(
        cfg: &LlamaConfig,
        tensors: &HashMap<String, Tensor>,
        path: &Path,
        dev: &Device,
    ) -> Result<Self> {
        Self::build(cfg, 0.02, Init::Tensors { tensors, path }, dev, DType::F32)
    }

    fn build(
        cfg: &LlamaConfig,
        std: f64,
        init: Init<'_>,
        dev: &Device,
        dtype: DType,
    ) -> Result<Self> {
        cfg.validate()?;
        let mut store = ParamStore::with_dtype(dev, dtype);
        let mut init = InitState::new(init);
        let h = cfg.hidden_size;
        let out_std = std / (2.0 * cfg.num_hidden_layers as f64).sqrt();
        let embed = store.register(
            &mut init,
            "model.embed_tokens.weight",
            &[cfg.vocab_size, h],
            Fill::Normal(std),
        )?;
        let mut blocks = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let input_norm = RmsNorm::new(
                &mut store,
                &mut init,
                &format!("{p}.input_layernorm"),
                h,
                cfg.rms_norm_eps,
            )?;
            let shape = AttentionShape {
                hidden: h,
                heads: cfg.num_attention_heads,
                kv_heads: cfg.kv_heads(),
                std,
                out_std,
            };
            let attn = Attention::new(&mut store, &mut init, &format!("{p}.self_attn"), shape)?;
            let post_norm = RmsNorm::new(
                &mut store,
                &mut init,
                &format!("{p}.post_attention_layernorm"),
                h,
                cfg.rms_norm_eps,
            )?;
            let mlp = SwiGlu::new(
                &mut store,
                &mut init,
                &format!("{p}.mlp"),
                h,
                cfg.intermediate_size,
                std,
                out_std,
            )?;
            blocks.push(Block {
                input_norm,
                attn,
                post_norm,
                mlp,
            });
        }
        let norm = RmsNorm::new(&mut store, &mut init, "model.norm", h, cfg.rms_norm_eps)?;
        let head = if cfg.tie_word_embeddings {
            embed.clone()
        } else {
            store.register(
                &mut init,
                "lm_head.weight",
                &[cfg.vocab_size, h],
                Fill::Normal(std),
            )?
        };
        let rope = Rope::new(
            cfg.head_dim(),
            cfg.max_position_embeddings,
            cfg.rope_theta,
            dev,
        )?
        .to_dtype(dtype)?;
        Ok(Self {
            cfg: cfg.clone(),
            embed,
            blocks,
            norm,
            head,
            rope,
            store,
        })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    pub fn params(&self) -> &ParamStore {
        &self.store
    }

    /// Logits `[batch, seq, vocab]` for token ids `[batch, seq]` (u32).
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if t > self.rope.max_seq() {
            candle_core::bail!(
                "sequence of {t} tokens is longer than max_position_embeddings {}",
                self.rope.max_seq()
            );
        }
        let mut x = self.embed.index_select(&ids.flatten_all()?, 0)?.reshape((
            b,
            t,
            self.cfg.hidden_size,
        ))?;
        for blk in &self.blocks {
            let a = blk.attn.forward(&blk.input_norm.forward(&x)?, &self.rope)?;
            x = (x + a)?;
            let m = blk.mlp.forward(&blk.post_norm.forward(&x)?)?;
            x = (x + m)?;
        }
        linear(&self.norm.forward(&x)?, &self.head)
    }

    /// Mean next-token cross-entropy (nats) of `targets` given `inputs`, both `[batch, seq]`.
    pub fn loss(&self, inputs: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
        let logits = self.forward(inputs)?;
        let (b, t, v) = logits.dims3()?;
        cross_entropy(&logits.reshape((b * t, v))?, &targets.flatten_all()?)
    }

    /// Token ids as a `[batch, seq]` u32 tensor on this model's device.
    pub fn ids_tensor(&self, rows: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        let b = rows.len();
        let t = rows.first().map(Vec::len).unwrap_or(0);
        if rows.iter().any(|r| r.len() != t) {
            candle_core::bail!("ragged batch: every row must have {t} tokens");
        }
        let flat: Vec<u32> = rows.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (b, t), self.store.device())?.to_dtype(DType::U32)
    }
}
