//! Rotary position embeddings in Hugging Face Llama's "rotate half" layout, with
//! differentiable ops only (candle's fused `rotary_emb::rope*` kernels have no backward).

use candle_core::{DType, Device, Tensor, D};

/// Precomputed cos/sin tables, `[max_seq, head_dim]` (each half repeated).
#[derive(Debug, Clone)]
pub struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    pub fn new(
        head_dim: usize,
        max_seq: usize,
        theta: f64,
        dev: &Device,
    ) -> candle_core::Result<Self> {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(max_seq * head_dim);
        let mut sin = Vec::with_capacity(max_seq * head_dim);
        for pos in 0..max_seq {
            let row: Vec<f64> = (0..half)
                .map(|i| pos as f64 / theta.powf(2.0 * i as f64 / head_dim as f64))
                .collect();
            for _ in 0..2 {
                cos.extend(row.iter().map(|a| a.cos() as f32));
                sin.extend(row.iter().map(|a| a.sin() as f32));
            }
        }
        Ok(Self {
            cos: Tensor::from_vec(cos, (max_seq, head_dim), dev)?,
            sin: Tensor::from_vec(sin, (max_seq, head_dim), dev)?,
        })
    }

    /// The same tables in `dtype`.
    pub fn to_dtype(&self, dtype: DType) -> candle_core::Result<Self> {
        Ok(Self {
            cos: self.cos.to_dtype(dtype)?,
            sin: self.sin.to_dtype(dtype)?,
        })
    }

    /// Rotate `x` of shape `[batch, heads, seq, head_dim]`.
    pub fn apply(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (_, _, seq, dim) = x.dims4()?;
        let cos = self.cos.narrow(0, 0, seq)?;
        let sin = self.sin.narrow(0, 0, seq)?;
        let x1 = x.narrow(D::Minus1, 0, dim / 2)?;
        let x2 = x.narrow(D::Minus1, dim / 2, dim / 2)?;
        let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
        x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?
    }

    /// Longest sequence the tables cover.
    pub fn max_seq(&self) -> usize {
        self.cos.dims()[0]
    }
}

/// Causal mask `[seq, seq]`: 0 on and below the diagonal, a large negative value above.
pub fn causal_mask(seq: usize, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
    let mask: Vec<f32> = (0..seq)
        .flat_map(|i| (0..seq).map(move |j| if j > i { -1e9 } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (seq, seq), dev)?.to_dtype(dtype)
}
