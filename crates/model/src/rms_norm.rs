//! RMSNorm written with differentiable ops (candle's fused `ops::rms_norm` has no backward).

use candle_core::{Tensor, D};

use crate::params::{Fill, InitState, ParamStore};
use crate::Result;

/// `x / sqrt(mean(x²) + eps) * weight` over the last dimension.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub fn new(
        store: &mut ParamStore,
        init: &mut InitState<'_>,
        name: &str,
        size: usize,
        eps: f64,
    ) -> Result<Self> {
        let weight = store.register(init, &format!("{name}.weight"), &[size], Fill::Ones)?;
        Ok(Self { weight, eps })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        let inv = (ms + self.eps)?.sqrt()?.recip()?;
        x.broadcast_mul(&inv)?.broadcast_mul(&self.weight)
    }
}
