//! Fused causal self-attention: `softmax(q kᵀ · scale + mask) v` for every (batch, head).

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::slices::{axpy, dot, Elem};

/// Causal attention over `q`, `k`, `v` of shape `[batch, heads, seq, head_dim]` (same heads for
/// all three), scaled by `1/sqrt(head_dim)`. Fused and parallel on CPU; composite elsewhere.
pub fn causal_attention(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
    if !q.device().is_cpu()
        || !matches!(q.dtype(), candle_core::DType::F32 | candle_core::DType::F64)
    {
        return causal_attention_reference(q, k, v);
    }
    let (_, _, _, d) = q.dims4()?;
    if k.dims() != q.dims() || v.dims() != q.dims() {
        candle_core::bail!(
            "causal_attention: q {:?}, k {:?}, v {:?} must have the same shape",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    let op = CausalAttention {
        scale: 1.0 / (d as f64).sqrt(),
    };
    q.contiguous()?
        .apply_op3(&k.contiguous()?, &v.contiguous()?, op)
}

/// The same function from differentiable candle ops (the reference the tests compare with).
pub fn causal_attention_reference(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
    let (_, _, t, d) = q.dims4()?;
    let mask = crate::rope::causal_mask(t, q.dtype(), q.device())?;
    let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (d as f64).sqrt()))?;
    let probs = candle_nn::ops::softmax(&scores.broadcast_add(&mask)?, D::Minus1)?;
    probs.matmul(&v.contiguous()?)
}

#[derive(Debug, Clone, Copy)]
struct CausalAttention {
    scale: f64,
}

/// Normalised attention probabilities of row `i` over keys `0..=i` into `p[..=i]`.
fn row_probs<T: Elem>(qi: &[T], k: &[T], d: usize, i: usize, scale: T, p: &mut [T]) {
    let mut max = T::neg_infinity();
    for j in 0..=i {
        let s = dot(qi, &k[j * d..(j + 1) * d]) * scale;
        p[j] = s;
        if s > max {
            max = s;
        }
    }
    let mut sum = T::zero();
    for pj in p.iter_mut().take(i + 1) {
        *pj = (*pj - max).exp();
        sum += *pj;
    }
    let inv = sum.recip();
    for pj in p.iter_mut().take(i + 1) {
        *pj *= inv;
    }
}

fn forward<T: Elem>(q: &[T], k: &[T], v: &[T], t: usize, d: usize, scale: T) -> Vec<T> {
    let mut out = vec![T::zero(); q.len()];
    out.par_chunks_mut(t * d)
        .zip(q.par_chunks(t * d))
        .zip(k.par_chunks(t * d).zip(v.par_chunks(t * d)))
        .for_each(|((o, q), (k, v))| {
            let mut p = vec![T::zero(); t];
            for i in 0..t {
                row_probs(&q[i * d..(i + 1) * d], k, d, i, scale, &mut p);
                let oi = &mut o[i * d..(i + 1) * d];
                for j in 0..=i {
                    axpy(p[j], &v[j * d..(j + 1) * d], oi);
                }
            }
        });
    out
}

/// Gradients `(dq, dk, dv)` given the output `o` and its gradient `g`.
#[allow(clippy::too_many_arguments)]
fn backward<T: Elem>(
    q: &[T],
    k: &[T],
    v: &[T],
    o: &[T],
    g: &[T],
    t: usize,
    d: usize,
    scale: T,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let n = q.len();
    let (mut dq, mut dk, mut dv) = (vec![T::zero(); n], vec![T::zero(); n], vec![T::zero(); n]);
    let td = t * d;
    dq.par_chunks_mut(td)
        .zip(dk.par_chunks_mut(td))
        .zip(dv.par_chunks_mut(td))
        .enumerate()
        .for_each(|(h, ((dq, dk), dv))| {
            let r = h * td..(h + 1) * td;
            let (q, k, v, o, g) = (
                &q[r.clone()],
                &k[r.clone()],
                &v[r.clone()],
                &o[r.clone()],
                &g[r],
            );
            let mut p = vec![T::zero(); t];
            for i in 0..t {
                let (qi, gi) = (&q[i * d..(i + 1) * d], &g[i * d..(i + 1) * d]);
                row_probs(qi, k, d, i, scale, &mut p);
                let delta = dot(gi, &o[i * d..(i + 1) * d]);
                for j in 0..=i {
                    let vj = &v[j * d..(j + 1) * d];
                    axpy(p[j], gi, &mut dv[j * d..(j + 1) * d]);
                    let ds = p[j] * (dot(gi, vj) - delta) * scale;
                    axpy(ds, &k[j * d..(j + 1) * d], &mut dq[i * d..(i + 1) * d]);
                    axpy(ds, qi, &mut dk[j * d..(j + 1) * d]);
                }
            }
        });
    (dq, dk, dv)
}

impl CausalAttention {
    fn fwd_typed<T: Elem>(&self, s: [(&CpuStorage, &Layout); 3]) -> Result<(CpuStorage, Shape)> {
        let name = "causal-attention";
        let (_, _, t, d) = s[0].1.shape().dims4()?;
        let q = T::slice(s[0].0, s[0].1, name)?;
        let k = T::slice(s[1].0, s[1].1, name)?;
        let v = T::slice(s[2].0, s[2].1, name)?;
        let scale = T::from(self.scale).unwrap_or_else(T::one);
        let out = forward(q, k, v, t, d, scale);
        Ok((T::storage(out), s[0].1.shape().clone()))
    }

    fn bwd_typed<T: Elem>(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        o: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, _, t, d) = q.dims4()?;
        let scale = T::from(self.scale).unwrap_or_else(T::one);
        let (dq, dk, dv) = backward(
            &T::tensor_vec(q)?,
            &T::tensor_vec(k)?,
            &T::tensor_vec(v)?,
            &T::tensor_vec(o)?,
            &T::tensor_vec(g)?,
            t,
            d,
            scale,
        );
        let make = |x: Vec<T>| -> Result<Tensor> {
            Tensor::from_vec(x, q.shape(), q.device())?.to_dtype(q.dtype())
        };
        Ok((Some(make(dq)?), Some(make(dk)?), Some(make(dv)?)))
    }
}

impl CustomOp3 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let s = [(s1, l1), (s2, l2), (s3, l3)];
        match s1 {
            CpuStorage::F32(_) => self.fwd_typed::<f32>(s),
            CpuStorage::F64(_) => self.fwd_typed::<f64>(s),
            _ => candle_core::bail!("causal-attention: only f32 and f64 are supported"),
        }
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        match q.dtype() {
            candle_core::DType::F64 => self.bwd_typed::<f64>(q, k, v, res, grad),
            _ => self.bwd_typed::<f32>(q, k, v, res, grad),
        }
    }
}
