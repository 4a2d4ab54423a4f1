//! The outer optimizer: SGD with momentum and optional Nesterov on flat `f32` vectors.
//!
//! With the aggregated pseudo-gradient g = Σ p_i Δ_i (Δ_i = θ_r − θ_i), PyTorch's `SGD`
//! semantics (dampening 0, no weight decay):
//!
//! ```text
//! m ← μ·m + g
//! step = g + μ·m   (Nesterov)   or   m   (plain)
//! θ ← θ − lr·step
//! ```
//!
//! The momentum buffer starts at zero, which matches PyTorch's first step (`m = g`).
//! H = 1, lr = 1, μ = 0 is plain synchronous gradient averaging; DiLoCo uses lr 0.7, μ 0.9,
//! Nesterov.
//!
//! **Scoring.** [`OuterOptimizer::preview`] computes the θ that [`OuterOptimizer::apply`] would
//! produce, bit for bit, without touching the momentum — the round game's θ^S with m_r held
//! fixed. θ^S is affine in g: θ^S = θ_r − lr·μ²·m_r − lr(1+μ)·g for Nesterov, so
//! ∂θ^S/∂g = [`OuterOptimizer::d_theta_d_g`] = −lr(1+μ) (−lr for plain momentum).
//!
//! **State.** The momentum buffer (and the number of steps applied) is saved as
//! `outer.safetensors` with tensors `momentum` (f32, shape `[n]`) and `steps` (i64, shape `[1]`).

use candle_core::{DType, Device, Tensor};
use coalition_config::TrainingSection;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

use crate::error::{io, CoordinatorError, Result};
use crate::fsutil;

/// Elements per parallel chunk.
const CHUNK: usize = 1 << 15;

/// Outer optimizer hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OuterParams {
    pub lr: f32,
    pub momentum: f32,
    pub nesterov: bool,
}

impl OuterParams {
    /// `[training] outer_lr`, `outer_momentum`, `nesterov`.
    pub fn from_config(t: &TrainingSection) -> Self {
        OuterParams {
            lr: t.outer_lr as f32,
            momentum: t.outer_momentum as f32,
            nesterov: t.nesterov,
        }
    }

    /// Plain gradient averaging: lr 1, no momentum.
    pub fn averaging() -> Self {
        OuterParams {
            lr: 1.0,
            momentum: 0.0,
            nesterov: false,
        }
    }
}

/// SGD with (Nesterov) momentum over a flat parameter vector of fixed length.
#[derive(Debug, Clone, PartialEq)]
pub struct OuterOptimizer {
    params: OuterParams,
    momentum: Vec<f32>,
    steps: u64,
    /// What the compressed broadcasts have not sent yet (their error feedback; empty until the
    /// first [`OuterOptimizer::broadcast_step`], and with `broadcast_codec = "full"`).
    residual: Vec<f32>,
}

/// One element of the update: (new momentum, step).
#[inline(always)]
fn step_elem(p: &OuterParams, g: f32, m: f32) -> (f32, f32) {
    let m_new = p.momentum * m + g;
    let step = if p.nesterov {
        g + p.momentum * m_new
    } else {
        m_new
    };
    (m_new, step)
}

impl OuterOptimizer {
    /// A fresh optimizer (zero momentum) for `len` parameters.
    pub fn new(params: OuterParams, len: usize) -> Self {
        OuterOptimizer {
            params,
            momentum: vec![0.0; len],
            steps: 0,
            residual: Vec::new(),
        }
    }

    /// The broadcast's carried error (empty when no compressed broadcast was made).
    pub fn residual(&self) -> &[f32] {
        &self.residual
    }

    /// Commits `target` (θ_r after [`OuterOptimizer::apply`]) as a compressed broadcast:
    /// encodes `target − θ_r` plus the carried residual with `codec`, sets `theta` (θ_r) to
    /// θ_r + the decoded frame with [`coalition_net::decode_into_add`] (what every trainer
    /// applies, so all rebuild the same bits), and carries what the frame did not send into the
    /// next broadcast. Returns the frame. On an encoding error `theta` and the residual are unchanged.
    pub fn broadcast_step(
        &mut self,
        theta: &mut [f32],
        target: &[f32],
        codec: coalition_net::CodecSpec,
    ) -> Result<Vec<u8>> {
        self.check("theta", theta.len())?;
        self.check("broadcast target", target.len())?;
        let codec_err = |e: coalition_net::CodecError| {
            CoordinatorError::Internal(format!("cannot encode the model broadcast: {e}"))
        };
        codec.check().map_err(codec_err)?;
        // The carried residual moves into the encoder and back (no copy of a model-sized
        // vector); an encoding error puts it back unchanged.
        let residual = if self.residual.len() == theta.len() {
            std::mem::take(&mut self.residual)
        } else {
            vec![0.0; theta.len()]
        };
        // With the codec checked, only a non-finite residual is refused here; it is dropped
        // (the next broadcast starts from zero error) rather than carried.
        let mut feedback = coalition_net::ErrorFeedback::from_residual_with_codec(residual, codec)
            .map_err(codec_err)?;
        let mut delta = target.to_vec();
        delta
            .iter_mut()
            .zip(theta.iter())
            .for_each(|(d, x)| *d -= x);
        let frame = match feedback.encode_owned(delta) {
            Ok(frame) => frame,
            Err(e) => {
                self.residual = feedback.into_residual();
                return Err(codec_err(e));
            }
        };
        // Decoding the frame just encoded cannot fail short of a codec bug; the residual then
        // is the one that matches the frame.
        self.residual = feedback.into_residual();
        coalition_net::decode_into_add(&frame, theta).map_err(codec_err)?;
        Ok(frame)
    }

    pub fn params(&self) -> OuterParams {
        self.params
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.momentum.len()
    }

    pub fn is_empty(&self) -> bool {
        self.momentum.is_empty()
    }

    /// The momentum buffer m_r.
    pub fn momentum(&self) -> &[f32] {
        &self.momentum
    }

    /// Outer steps applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    fn check(&self, what: &str, got: usize) -> Result<()> {
        if got != self.momentum.len() {
            return Err(CoordinatorError::Length {
                what: what.to_string(),
                got,
                expected: self.momentum.len(),
            });
        }
        Ok(())
    }

    /// θ ← θ − lr·step(g), updating the momentum.
    pub fn apply(&mut self, theta: &mut [f32], g: &[f32]) -> Result<()> {
        self.check("theta", theta.len())?;
        self.check("aggregated update", g.len())?;
        let p = self.params;
        theta
            .par_chunks_mut(CHUNK)
            .zip(self.momentum.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|((th, m), g)| {
                for ((t, m), &g) in th.iter_mut().zip(m.iter_mut()).zip(g) {
                    let (m_new, step) = step_elem(&p, g, *m);
                    *m = m_new;
                    *t -= p.lr * step;
                }
            });
        self.steps += 1;
        Ok(())
    }

    /// The θ that [`Self::apply`] would produce from `theta` and `g` (bit-identical), leaving
    /// the momentum untouched.
    pub fn preview(&self, theta: &[f32], g: &[f32]) -> Result<Vec<f32>> {
        let mut out = g.to_vec();
        self.preview_in_place(theta, &mut out)?;
        Ok(out)
    }

    /// [`Self::preview`] with the aggregated update's buffer as the output: `buf` holds g on
    /// entry and θ^S on return (one model-sized vector instead of two).
    pub fn preview_in_place(&self, theta: &[f32], buf: &mut [f32]) -> Result<()> {
        self.check("theta", theta.len())?;
        self.check("aggregated update", buf.len())?;
        let p = self.params;
        buf.par_chunks_mut(CHUNK)
            .zip(theta.par_chunks(CHUNK))
            .zip(self.momentum.par_chunks(CHUNK))
            .for_each(|((o, th), m)| {
                for ((o, &t), &m) in o.iter_mut().zip(th).zip(m) {
                    let (_, step) = step_elem(&p, *o, m);
                    *o = t - p.lr * step;
                }
            });
        Ok(())
    }

    /// ∂θ^S/∂g (a scalar times the identity): −lr(1+μ) for Nesterov, −lr for plain momentum.
    pub fn d_theta_d_g(&self) -> f64 {
        let lr = f64::from(self.params.lr);
        let mu = f64::from(self.params.momentum);
        if self.params.nesterov {
            -lr * (1.0 + mu)
        } else {
            -lr
        }
    }

    /// Write the state to `path` (safetensors, atomically and durably).
    pub fn save_state(&self, path: &Path) -> Result<()> {
        let n = self.momentum.len();
        let mut tensors = HashMap::new();
        tensors.insert(
            "momentum".to_string(),
            Tensor::from_slice(&self.momentum, n, &Device::Cpu)?,
        );
        tensors.insert(
            "steps".to_string(),
            Tensor::from_slice(&[self.steps as i64], 1, &Device::Cpu)?,
        );
        if !self.residual.is_empty() {
            tensors.insert(
                "broadcast_residual".to_string(),
                Tensor::from_slice(&self.residual, n, &Device::Cpu)?,
            );
        }
        let tmp = fsutil::tmp_path(path);
        candle_core::safetensors::save(&tensors, &tmp).map_err(|e| CoordinatorError::BadFile {
            path: tmp.clone(),
            message: format!("cannot write outer optimizer state: {e}"),
        })?;
        fsutil::sync_file(&tmp)?;
        std::fs::rename(&tmp, path).map_err(io("rename into place", path))?;
        fsutil::sync_parent(path)
    }

    /// Replace the state with the one saved at `path`; its length must match.
    pub fn load_state(&mut self, path: &Path) -> Result<()> {
        let bad = |message: String| CoordinatorError::BadFile {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(bad("outer optimizer state file not found".into()));
        }
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| bad(format!("not a readable safetensors file: {e}")))?;
        let get = |name: &str, dtype: DType| -> Result<&Tensor> {
            let t = tensors
                .get(name)
                .ok_or_else(|| bad(format!("missing tensor `{name}`")))?;
            if t.dtype() != dtype || t.rank() != 1 {
                return Err(bad(format!(
                    "tensor `{name}` is {:?} {:?}, expected rank-1 {dtype:?}",
                    t.dtype(),
                    t.dims()
                )));
            }
            Ok(t)
        };
        let momentum: Vec<f32> = get("momentum", DType::F32)?.to_vec1()?;
        let steps: Vec<i64> = get("steps", DType::I64)?.to_vec1()?;
        if momentum.len() != self.momentum.len() {
            return Err(bad(format!(
                "momentum has {} values, the model has {} parameters",
                momentum.len(),
                self.momentum.len()
            )));
        }
        if let Some(i) = momentum.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "momentum[{i}] = {} is not finite",
                momentum[i]
            )));
        }
        let steps = match steps.as_slice() {
            [s] if *s >= 0 => *s as u64,
            other => {
                return Err(bad(format!(
                    "`steps` must be one non-negative value, got {other:?}"
                )))
            }
        };
        let residual: Vec<f32> = match tensors.get("broadcast_residual") {
            None => Vec::new(),
            Some(_) => get("broadcast_residual", DType::F32)?.to_vec1()?,
        };
        if !residual.is_empty() && residual.len() != momentum.len() {
            return Err(bad(format!(
                "broadcast_residual has {} values, the model has {} parameters",
                residual.len(),
                momentum.len()
            )));
        }
        if let Some(i) = residual.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "broadcast_residual[{i}] = {} is not finite",
                residual[i]
            )));
        }
        self.momentum = momentum;
        self.steps = steps;
        self.residual = residual;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nesterov(lr: f32, mu: f32) -> OuterParams {
        OuterParams {
            lr,
            momentum: mu,
            nesterov: true,
        }
    }

    /// Ten broadcasts of a drifting target: each θ_{r+1} is θ_r plus exactly what the frame
    /// decodes to, and with the carried residual θ tracks the target to within one
    /// quantization error however many rounds pass; the residual survives a save and load.
    #[test]
    fn broadcasts_track_the_target_and_carry_their_error() {
        let n = 1000;
        let codec = coalition_net::CodecSpec::Int8 { block_size: 64 };
        let mut opt = OuterOptimizer::new(OuterParams::averaging(), n);
        let mut theta: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut target = theta.clone();
        for r in 0..10 {
            for (i, t) in target.iter_mut().enumerate() {
                *t += 1e-3 * ((i * 7 + r * 13) % 11) as f32 - 5e-3;
            }
            let before = theta.clone();
            let frame = opt.broadcast_step(&mut theta, &target, codec).unwrap();
            let mut rebuilt = before;
            coalition_net::decode_into_add(&frame, &mut rebuilt).unwrap();
            assert!(rebuilt
                .iter()
                .zip(&theta)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        let worst = theta
            .iter()
            .zip(&target)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-4,
            "θ is {worst} from the target after 10 broadcasts"
        );
        assert!(opt.residual().iter().any(|r| *r != 0.0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outer.safetensors");
        opt.save_state(&path).unwrap();
        let mut back = OuterOptimizer::new(OuterParams::averaging(), n);
        back.load_state(&path).unwrap();
        assert_eq!(back, opt);
    }

    #[test]
    fn averaging_is_plain_gradient_averaging() {
        // H = 1: each Δ_i is lr_inner·∇L_i; the outer step with lr 1, μ 0 subtracts their mean.
        let theta0 = vec![1.0f32, -2.0, 0.5];
        let deltas = [vec![0.1f32, 0.2, -0.3], vec![0.3f32, -0.2, 0.1]];
        let g: Vec<f32> = (0..3)
            .map(|k| 0.5 * deltas[0][k] + 0.5 * deltas[1][k])
            .collect();
        let mut opt = OuterOptimizer::new(OuterParams::averaging(), 3);
        let mut theta = theta0.clone();
        for _ in 0..2 {
            opt.apply(&mut theta, &g).unwrap();
        }
        for k in 0..3 {
            assert_eq!(theta[k], (theta0[k] - g[k]) - g[k]);
        }
        assert!(opt.momentum().iter().zip(&g).all(|(m, g)| m == g));
        assert_eq!(opt.d_theta_d_g(), -1.0);
    }

    #[test]
    fn nesterov_matches_a_hand_computed_two_step_example() {
        // lr 0.5, μ 0.9. Step 1, g = 1: m = 1, step = 1 + 0.9 = 1.9, θ = 1 − 0.95 = 0.05.
        // Step 2, g = 2: m = 0.9 + 2 = 2.9, step = 2 + 2.61 = 4.61, θ = 0.05 − 2.305 = −2.255.
        let mut opt = OuterOptimizer::new(nesterov(0.5, 0.9), 1);
        let mut theta = vec![1.0f32];
        opt.apply(&mut theta, &[1.0]).unwrap();
        assert!((theta[0] - 0.05).abs() < 1e-6, "{}", theta[0]);
        assert!((opt.momentum()[0] - 1.0).abs() < 1e-6);
        opt.apply(&mut theta, &[2.0]).unwrap();
        assert!((opt.momentum()[0] - 2.9).abs() < 1e-6);
        assert!((theta[0] + 2.255).abs() < 1e-5, "{}", theta[0]);
        assert_eq!(opt.steps(), 2);
        assert!((opt.d_theta_d_g() + 0.95).abs() < 1e-7);
    }

    #[test]
    fn preview_equals_apply_bit_for_bit_and_leaves_momentum() {
        let n = 100_003;
        let theta: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-2)
            .collect();
        let g: Vec<f32> = (0..n)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) * 1e-3)
            .collect();
        let mut opt = OuterOptimizer::new(nesterov(0.7, 0.9), n);
        let mut th = theta.clone();
        opt.apply(&mut th, &g).unwrap();
        let m_before = opt.momentum().to_vec();
        let preview = opt.preview(&th, &g).unwrap();
        assert_eq!(opt.momentum(), &m_before[..]);
        opt.apply(&mut th, &g).unwrap();
        assert!(preview
            .iter()
            .zip(&th)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn preview_is_affine_in_g_with_slope_d_theta_d_g() {
        let mut opt = OuterOptimizer::new(nesterov(0.7, 0.9), 2);
        let mut theta = vec![0.3f32, -0.1];
        opt.apply(&mut theta, &[0.2, -0.4]).unwrap();
        let a = opt.preview(&theta, &[0.0, 0.0]).unwrap();
        let b = opt.preview(&theta, &[0.01, -0.02]).unwrap();
        let slope = opt.d_theta_d_g();
        assert!(((b[0] - a[0]) as f64 - slope * 0.01).abs() < 1e-6);
        assert!(((b[1] - a[1]) as f64 - slope * -0.02).abs() < 1e-6);
    }

    #[test]
    fn state_round_trips_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outer.safetensors");
        let mut opt = OuterOptimizer::new(nesterov(0.7, 0.9), 4);
        let mut theta = vec![1.0f32; 4];
        opt.apply(&mut theta, &[0.1, 0.2, 0.3, 0.4]).unwrap();
        opt.save_state(&path).unwrap();
        let mut back = OuterOptimizer::new(nesterov(0.7, 0.9), 4);
        back.load_state(&path).unwrap();
        assert_eq!(back, opt);

        let mut wrong = OuterOptimizer::new(nesterov(0.7, 0.9), 5);
        let err = wrong.load_state(&path).unwrap_err().to_string();
        assert!(
            err.contains("outer.safetensors") && err.contains("5 parameters"),
            "{err}"
        );

        std::fs::write(&path, b"garbage").unwrap();
        let err = back.load_state(&path).unwrap_err().to_string();
        assert!(err.contains("outer.safetensors"), "{err}");
        let err = back
            .load_state(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn length_mismatches_are_errors() {
        let mut opt = OuterOptimizer::new(OuterParams::averaging(), 3);
        let mut theta = vec![0.0f32; 2];
        assert!(opt.apply(&mut theta, &[0.0; 3]).is_err());
        assert!(opt.preview(&[0.0; 3], &[0.0; 4]).is_err());
    }
}
