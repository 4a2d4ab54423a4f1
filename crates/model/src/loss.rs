//! Mean cross-entropy over rows, through the fused kernel ([`crate::fused::cross_entropy_rows`]).

use candle_core::Tensor;

/// Mean cross-entropy of `logits` `[n, classes]` against class ids `targets` `[n]` (u32).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    crate::fused::cross_entropy_rows(logits, targets)?.mean_all()
}
