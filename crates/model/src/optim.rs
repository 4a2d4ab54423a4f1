//! AdamW in one pass over each parameter's values, with global-norm gradient clipping.
//!
//! candle-nn's AdamW issues about ten tensor ops (each a full pass and an allocation) per
//! parameter per step; this one reads the gradient once and updates θ, m and v together.
//! Its state (step, m, v) is plain vectors so a trainer can keep it across rounds and save it.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, InplaceOp2, Layout, Result as CResult, Storage, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

use crate::params::ParamStore;
use crate::{ModelError, Result};

/// AdamW hyper-parameters (decoupled weight decay).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Values per parallel chunk: large tensors (a 135M model's embedding has 28M) are updated on
/// every core; small ones stay one chunk.
const CHUNK: usize = 1 << 14;

/// One step's AdamW coefficients, applied to a chunk of a parameter.
#[derive(Debug, Clone, Copy)]
struct Coefficients {
    b1: f32,
    b2: f32,
    step_size: f32,
    inv_sqrt_bc2: f32,
    decay: f32,
    eps: f32,
    /// Gradient scale from clipping.
    scale: f32,
}

impl Coefficients {
    fn new(hp: &AdamWParams, step: u64, scale: f64) -> Self {
        let t = step.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - hp.beta1.powi(t);
        let bc2 = 1.0 - hp.beta2.powi(t);
        Self {
            b1: hp.beta1 as f32,
            b2: hp.beta2 as f32,
            step_size: (hp.lr / bc1) as f32,
            inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
            decay: (1.0 - hp.lr * hp.weight_decay) as f32,
            eps: hp.eps as f32,
            scale: scale as f32,
        }
    }

    /// [`Self::apply`] over chunks of [`CHUNK`] values on every core.
    fn apply_par(&self, theta: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        theta
            .par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((theta, m), v), g)| self.apply(theta, m, v, g));
    }

    fn apply(&self, theta: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        let k = *self;
        for j in 0..theta.len() {
            let gj = g[j] * k.scale;
            m[j] = k.b1 * m[j] + (1.0 - k.b1) * gj;
            v[j] = k.b2 * v[j] + (1.0 - k.b2) * gj * gj;
            let denom = v[j].sqrt() * k.inv_sqrt_bc2 + k.eps;
            theta[j] = theta[j] * k.decay - k.step_size * m[j] / denom;
        }
    }
}

/// `Σ x²` of a slice, per chunk on every core, the partial sums added in order (so the result
/// does not depend on the thread count's scheduling).
fn sum_sq(x: &[f32]) -> f64 {
    let parts: Vec<f64> = x
        .par_chunks(CHUNK)
        .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// `f` on the f32 values of `t`: read in place when `t` is a contiguous f32 CPU tensor,
/// copied out otherwise.
fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    if t.device().is_cpu() && t.dtype() == DType::F32 {
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            return Ok(f(&v[a..b]));
        }
    }
    let copy = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
    Ok(f(&copy))
}

/// The AdamW update of one f32 parameter, written into its storage (`Tensor::inplace_op2`
/// with the gradient as the second operand). The moments are the optimiser's own vectors.
struct InPlace<'a> {
    k: Coefficients,
    state: RefCell<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
}

impl InplaceOp2 for InPlace<'_> {
    fn name(&self) -> &'static str {
        "adamw"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> CResult<()> {
        let (CpuStorage::F32(theta), CpuStorage::F32(g)) = (s1, s2) else {
            candle_core::bail!("adamw: expected f32 parameter and gradient");
        };
        let (Some((a, b)), Some((c, d))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("adamw: parameter and gradient must be contiguous");
        };
        let mut state = self.state.borrow_mut();
        let (m, v) = &mut *state;
        if b - a != m.len() || d - c != m.len() {
            candle_core::bail!("adamw: {} values, state for {}", b - a, m.len());
        }
        self.k.apply_par(&mut theta[a..b], m, v, &g[c..d]);
        Ok(())
    }
}

/// Optimiser state: first and second moments per parameter (in the store's order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdamW {
    pub params: AdamWParams,
    pub step: u64,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl AdamW {
    pub fn new(store: &ParamStore, params: AdamWParams) -> Self {
        let sizes: Vec<usize> = store.params().iter().map(|p| p.var.elem_count()).collect();
        Self {
            params,
            step: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// Apply one update. Gradients are scaled so their global L2 norm is at most `clip`
    /// (`clip <= 0` disables clipping). Returns the gradient norm before clipping.
    pub fn step(&mut self, store: &ParamStore, grads: &GradStore, clip: f64) -> Result<f64> {
        let params = store.params();
        if params.len() != self.m.len() {
            return Err(ModelError::Config(format!(
                "optimiser state has {} tensors, the model has {}",
                self.m.len(),
                params.len()
            )));
        }
        let mut sq = 0f64;
        for p in params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                sq += with_f32(g, sum_sq)?;
            }
        }
        let norm = sq.sqrt();
        let scale = if clip > 0.0 && norm > clip {
            clip / norm
        } else {
            1.0
        };
        self.step += 1;
        let k = Coefficients::new(&self.params, self.step, scale);
        for (i, p) in params.iter().enumerate() {
            let Some(g) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            let fast = p.var.device().is_cpu()
                && p.var.dtype() == DType::F32
                && g.dtype() == DType::F32
                && p.var.is_contiguous()
                && g.is_contiguous();
            if fast {
                // In place in the parameter's own storage: no copy of θ out and back.
                let op = InPlace {
                    k,
                    state: RefCell::new((m, v)),
                };
                p.var.as_tensor().inplace_op2(g, &op)?;
            } else {
                let mut theta = p
                    .var
                    .flatten_all()?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?;
                with_f32(g, |g| k.apply_par(&mut theta, m, v, g))?;
                let t = Tensor::from_vec(theta, p.var.shape(), p.var.device())?;
                p.var.set(&t.to_dtype(p.var.dtype())?)?;
            }
        }
        Ok(norm)
    }

    /// Bytes of optimiser state (m and v).
    pub fn state_bytes(&self) -> usize {
        self.m.iter().map(|x| x.len() * 8).sum()
    }
}
