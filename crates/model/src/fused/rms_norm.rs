//! Fused RMSNorm over the last dimension: `y = x · r · w` with `r = 1/sqrt(mean(x²) + eps)`.
//!
//! Backward, with `u = g ⊙ w` per row of `C` values:
//! `dx = r·u − (r³/C)·x·Σ(u ⊙ x)` and `dw = Σ_rows g ⊙ x · r`.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::slices::{dot, Elem};

/// RMSNorm of `x` (`[..., C]`) with gain `w` (`[C]`). Fused on CPU; composite elsewhere.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    if !x.device().is_cpu()
        || !matches!(x.dtype(), candle_core::DType::F32 | candle_core::DType::F64)
    {
        return rms_norm_reference(x, w, eps);
    }
    let c = x.dim(D::Minus1)?;
    if w.dims() != [c] {
        candle_core::bail!("rms_norm: gain has shape {:?}, expected [{c}]", w.dims());
    }
    x.contiguous()?
        .apply_op2(&w.contiguous()?, RmsNormOp { eps })
}

/// The same function from differentiable candle ops.
pub fn rms_norm_reference(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    let inv = (ms + eps)?.sqrt()?.recip()?;
    x.broadcast_mul(&inv)?.broadcast_mul(w)
}

#[derive(Debug, Clone, Copy)]
struct RmsNormOp {
    eps: f64,
}

fn inv_rms<T: Elem>(row: &[T], eps: T) -> T {
    let c = T::from(row.len()).unwrap_or_else(T::one);
    (dot(row, row) / c + eps).sqrt().recip()
}

impl RmsNormOp {
    fn fwd_typed<T: Elem>(&self, x: &[T], w: &[T], shape: &Shape) -> (CpuStorage, Shape) {
        let c = w.len();
        let eps = T::from(self.eps).unwrap_or_else(T::zero);
        let mut out = vec![T::zero(); x.len()];
        out.par_chunks_mut(c)
            .zip(x.par_chunks(c))
            .for_each(|(y, x)| {
                let r = inv_rms(x, eps);
                for ((yi, &xi), &wi) in y.iter_mut().zip(x).zip(w) {
                    *yi = xi * r * wi;
                }
            });
        (T::storage(out), shape.clone())
    }

    fn bwd_typed<T: Elem>(&self, x: &Tensor, w: &Tensor, g: &Tensor) -> Result<(Tensor, Tensor)> {
        let (xs, ws, gs) = (T::tensor_vec(x)?, T::tensor_vec(w)?, T::tensor_vec(g)?);
        let c = ws.len();
        let eps = T::from(self.eps).unwrap_or_else(T::zero);
        let cf = T::from(c).unwrap_or_else(T::one);
        let mut dx = vec![T::zero(); xs.len()];
        dx.par_chunks_mut(c)
            .zip(xs.par_chunks(c).zip(gs.par_chunks(c)))
            .for_each(|(dx, (x, g))| {
                let r = inv_rms(x, eps);
                let ux: T = x
                    .iter()
                    .zip(g)
                    .zip(&ws)
                    .map(|((&xi, &gi), &wi)| gi * wi * xi)
                    .sum();
                let k = r * r * r / cf * ux;
                for (((d, &xi), &gi), &wi) in dx.iter_mut().zip(x).zip(g).zip(&ws) {
                    *d = r * gi * wi - k * xi;
                }
            });
        let dw = xs
            .par_chunks(c)
            .zip(gs.par_chunks(c))
            .fold(
                || vec![T::zero(); c],
                |mut acc, (x, g)| {
                    let r = inv_rms(x, eps);
                    for ((a, &xi), &gi) in acc.iter_mut().zip(x).zip(g) {
                        *a += gi * xi * r;
                    }
                    acc
                },
            )
            .reduce(
                || vec![T::zero(); c],
                |mut a, b| {
                    for (ai, bi) in a.iter_mut().zip(b) {
                        *ai += bi;
                    }
                    a
                },
            );
        let dx = Tensor::from_vec(dx, x.shape(), x.device())?.to_dtype(x.dtype())?;
        let dw = Tensor::from_vec(dw, w.shape(), w.device())?.to_dtype(w.dtype())?;
        Ok((dx, dw))
    }
}

impl CustomOp2 for RmsNormOp {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = "rms-norm";
        match s1 {
            CpuStorage::F32(_) => Ok(self.fwd_typed(
                f32::slice(s1, l1, name)?,
                f32::slice(s2, l2, name)?,
                l1.shape(),
            )),
            CpuStorage::F64(_) => Ok(self.fwd_typed(
                f64::slice(s1, l1, name)?,
                f64::slice(s2, l2, name)?,
                l1.shape(),
            )),
            _ => candle_core::bail!("rms-norm: only f32 and f64 are supported"),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw) = match x.dtype() {
            candle_core::DType::F64 => self.bwd_typed::<f64>(x, w, grad)?,
            _ => self.bwd_typed::<f32>(x, w, grad)?,
        };
        Ok((Some(dx), Some(dw)))
    }
}
