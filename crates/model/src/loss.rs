//! Cross-entropy from differentiable ops (log-softmax + gather).

use candle_core::{Tensor, D};

/// Mean cross-entropy of `logits` `[n, classes]` against class ids `targets` `[n]` (u32).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = log_probs.gather(&targets.unsqueeze(1)?, 1)?;
    picked.mean_all()?.neg()
}
