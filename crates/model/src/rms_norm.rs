//! RMSNorm with a backward (candle's fused `ops::rms_norm` has none): see [`crate::fused`].

use candle_core::Tensor;

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
        crate::fused::rms_norm(x, &self.weight, self.eps)
    }
}
