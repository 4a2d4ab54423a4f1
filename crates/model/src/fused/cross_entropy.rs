//! Fused per-row cross-entropy: `loss_r = logsumexp(x_r) − x_r[t_r]` for logits `x` `[n, C]`
//! and class ids `t` `[n]`.
//!
//! Forward reads each row twice (max, then Σ exp) and writes one value; backward writes
//! `dx_r = g_r · (softmax(x_r) − onehot(t_r))` in one pass, recovering `logsumexp` from the
//! saved loss (`lse_r = loss_r + x_r[t_r]`). The composite form (log-softmax, gather) makes about
//! six full passes over the logits forward and twice that backward, one allocation each: with a
//! 49,152-token vocabulary that is most of a step's element-wise work.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::slices::Elem;

/// Per-row cross-entropy (nats) of `logits` `[n, C]` against class ids `targets` `[n]` (u32).
/// Fused on CPU for f32/f64; composite elsewhere.
pub fn cross_entropy_rows(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (n, _) = logits.dims2()?;
    if targets.dims() != [n] {
        candle_core::bail!(
            "cross_entropy: targets have shape {:?}, expected [{n}]",
            targets.dims()
        );
    }
    if !logits.device().is_cpu() || !matches!(logits.dtype(), DType::F32 | DType::F64) {
        return cross_entropy_rows_reference(logits, targets);
    }
    logits
        .contiguous()?
        .apply_op2(&targets.to_dtype(DType::U32)?.contiguous()?, CrossEntropyOp)
}

/// The same function from differentiable candle ops.
pub fn cross_entropy_rows_reference(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    log_probs
        .gather(&targets.unsqueeze(1)?, 1)?
        .squeeze(1)?
        .neg()
}

#[derive(Debug, Clone, Copy)]
struct CrossEntropyOp;

/// `logsumexp` of one row.
fn lse<T: Elem>(row: &[T]) -> T {
    let m = row
        .iter()
        .copied()
        .fold(T::neg_infinity(), num_traits::Float::max);
    if !m.is_finite() {
        return m;
    }
    // Σ exp in f64: a 49,152-term f32 sum drifts by ~1e-4 relative.
    let s: f64 = row.iter().map(|&x| (x - m).exp().to_f64()).sum();
    m + T::from(s.ln()).unwrap_or_else(T::nan)
}

fn targets_of<'a>(s: &'a CpuStorage, l: &Layout, classes: usize) -> Result<&'a [u32]> {
    let CpuStorage::U32(v) = s else {
        candle_core::bail!("cross_entropy: targets must be u32");
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("cross_entropy: targets must be contiguous");
    };
    let t = &v[a..b];
    if let Some(bad) = t.iter().find(|&&t| t as usize >= classes) {
        candle_core::bail!("cross_entropy: target {bad} is not below the {classes} classes");
    }
    Ok(t)
}

impl CrossEntropyOp {
    fn fwd_typed<T: Elem>(x: &[T], t: &[u32], classes: usize) -> (CpuStorage, Shape) {
        let mut out = vec![T::zero(); t.len()];
        out.par_iter_mut()
            .zip(x.par_chunks(classes).zip(t.par_iter()))
            .for_each(|(o, (row, &t))| *o = lse(row) - row[t as usize]);
        (T::storage(out), Shape::from(t.len()))
    }

    fn bwd_typed<T: Elem>(x: &Tensor, t: &Tensor, loss: &Tensor, g: &Tensor) -> Result<Tensor> {
        let (xs, ls, gs) = (T::tensor_vec(x)?, T::tensor_vec(loss)?, T::tensor_vec(g)?);
        let ts: Vec<u32> = t.to_vec1()?;
        let classes = x.dim(D::Minus1)?;
        let mut dx = vec![T::zero(); xs.len()];
        dx.par_chunks_mut(classes)
            .zip(xs.par_chunks(classes))
            .zip(ts.par_iter().zip(ls.par_iter().zip(gs.par_iter())))
            .for_each(|((d, row), (&t, (&l, &g)))| {
                let t = t as usize;
                let lse = l + row[t];
                for (di, &xi) in d.iter_mut().zip(row) {
                    *di = g * (xi - lse).exp();
                }
                d[t] -= g;
            });
        Tensor::from_vec(dx, x.shape(), x.device())?.to_dtype(x.dtype())
    }
}

impl CustomOp2 for CrossEntropyOp {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = "cross-entropy";
        let (_, classes) = l1.shape().dims2()?;
        let t = targets_of(s2, l2, classes)?;
        match s1 {
            CpuStorage::F32(_) => Ok(Self::fwd_typed(f32::slice(s1, l1, name)?, t, classes)),
            CpuStorage::F64(_) => Ok(Self::fwd_typed(f64::slice(s1, l1, name)?, t, classes)),
            _ => candle_core::bail!("cross-entropy: only f32 and f64 are supported"),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        t: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dx = match x.dtype() {
            DType::F64 => Self::bwd_typed::<f64>(x, t, res, grad)?,
            _ => Self::bwd_typed::<f32>(x, t, res, grad)?,
        };
        Ok((Some(dx), None))
    }
}
