//! Fused CPU kernels with hand-written backward passes, for the hot spots of a training step.
//!
//! candle's composite ops cost a full pass (and an allocation) per elementary op, forward and
//! backward, most of them single-threaded. These kernels do the same math in one pass per
//! direction, parallel over rows or heads with rayon:
//!
//! * [`causal_attention`]: `softmax(q kᵀ · scale + causal mask) v` per head; the backward
//!   recomputes the probabilities row by row instead of storing them.
//! * [`rms_norm`]: `x / sqrt(mean(x²) + eps) · w` over the last dimension.
//! * [`cross_entropy_rows`]: `logsumexp(x_r) − x_r[t_r]` per row; the backward writes
//!   `softmax − onehot` in one pass.
//!
//! Each has a composite twin (`*_reference`) built from differentiable candle ops; tests check
//! outputs and gradients of both agree. On non-CPU devices the composite form is used.

mod attention;
mod cross_entropy;
mod rms_norm;
mod slices;

pub use attention::{causal_attention, causal_attention_reference};
pub use cross_entropy::{cross_entropy_rows, cross_entropy_rows_reference};
pub use rms_norm::{rms_norm, rms_norm_reference};
