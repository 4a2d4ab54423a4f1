//! Causal multi-head self-attention with grouped-query heads and RoPE.

use candle_core::Tensor;

use crate::linear::linear;
use crate::params::{Fill, InitState, ParamStore};
use crate::rope::Rope;
use crate::Result;

/// `self_attn` of one Llama layer: `q_proj`, `k_proj`, `v_proj`, `o_proj` (no biases).
#[derive(Debug, Clone)]
pub struct Attention {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    o: Tensor,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

/// Sizes of an attention block.
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub std: f64,
    /// Standard deviation for the output projection (scaled down with depth).
    pub out_std: f64,
}

impl Attention {
    pub fn new(
        store: &mut ParamStore,
        init: &mut InitState<'_>,
        name: &str,
        s: AttentionShape,
    ) -> Result<Self> {
        let head_dim = s.hidden / s.heads;
        let kv_dim = s.kv_heads * head_dim;
        let q = store.register(
            init,
            &format!("{name}.q_proj.weight"),
            &[s.hidden, s.hidden],
            Fill::Normal(s.std),
        )?;
        let k = store.register(
            init,
            &format!("{name}.k_proj.weight"),
            &[kv_dim, s.hidden],
            Fill::Normal(s.std),
        )?;
        let v = store.register(
            init,
            &format!("{name}.v_proj.weight"),
            &[kv_dim, s.hidden],
            Fill::Normal(s.std),
        )?;
        let o = store.register(
            init,
            &format!("{name}.o_proj.weight"),
            &[s.hidden, s.hidden],
            Fill::Normal(s.out_std),
        )?;
        Ok(Self {
            q,
            k,
            v,
            o,
            heads: s.heads,
            kv_heads: s.kv_heads,
            head_dim,
        })
    }

    /// `x`: `[batch, seq, hidden]`; each position attends to itself and earlier positions.
    pub fn forward(&self, x: &Tensor, rope: &Rope) -> candle_core::Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let split = |w: &Tensor, heads: usize| -> candle_core::Result<Tensor> {
            linear(x, w)?
                .reshape((b, t, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = rope.apply(&split(&self.q, self.heads)?)?;
        let k = rope.apply(&split(&self.k, self.kv_heads)?)?;
        let v = split(&self.v, self.kv_heads)?;
        let (k, v) = if self.kv_heads == self.heads {
            (k, v)
        } else {
            (self.repeat_kv(&k)?, self.repeat_kv(&v)?)
        };
        let out = crate::fused::causal_attention(&q, &k, &v)?
            .transpose(1, 2)?
            .reshape((b, t, c))?;
        linear(&out, &self.o)
    }

    /// `[b, kv, t, d]` → `[b, heads, t, d]` by repeating each key/value head.
    fn repeat_kv(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, kv, t, d) = x.dims4()?;
        let rep = self.heads / self.kv_heads;
        x.unsqueeze(2)?
            .expand((b, kv, rep, t, d))?
            .reshape((b, kv * rep, t, d))
    }
}
