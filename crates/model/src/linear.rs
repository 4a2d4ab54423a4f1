//! Bias-free linear projection `y = x Wᵀ` with Hugging Face weight layout `[out, in]`.

use candle_core::{Tensor, D};

/// Apply `w` (`[out, in]`) to the last dimension of `x`.
pub fn linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let last = dims.len().saturating_sub(1);
    let inner = x.dim(D::Minus1)?;
    let rows: usize = dims[..last].iter().product();
    let y = x.reshape((rows, inner))?.matmul(&w.t()?)?;
    let mut out_dims = dims[..last].to_vec();
    out_dims.push(w.dim(0)?);
    y.reshape(out_dims)
}

/// `linear` plus a bias broadcast over the rows.
pub fn linear_bias(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    linear(x, w)?.broadcast_add(b)
}
