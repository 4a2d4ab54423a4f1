//! The round game of docs/DESIGN.md §5 on a real model.
//!
//! For players i = 0..n with (pre-filtered) pseudo-gradients Δ_i and aggregation weights p_i,
//! the momentum buffer m_r held fixed:
//!
//! ```text
//! θ_w  = outer.preview(θ_r, Σ_i w_i p_i Δ_i)        w ∈ [0,1]^n; a coalition S is w = 1_S
//! v(w) = L_eval(θ^∅) − L_eval(θ_w)
//! ```
//!
//! so v(∅) = 0 exactly and v(N) is the improvement the round's real aggregate makes (θ^N is
//! bit-identical to the committed θ_{r+1}: both come from [`crate::aggregate::combine`] and the
//! outer optimizer's shared element update).
//!
//! **Path hook (integrated gradients).** θ_w is affine in the aggregate with slope
//! `d = outer.d_theta_d_g()` (−lr(1+μ) for Nesterov, −lr plain), so
//! ∂θ_w/∂w_i = d·p_i·Δ_i and
//!
//! ```text
//! ∂v/∂w_i = −⟨∇L_eval(θ_w), ∂θ_w/∂w_i⟩ = −d · p_i · ⟨∇L_eval(θ_w), Δ_i⟩
//! ```
//!
//! Since Δ_i = θ_r − θ_i points along the trainer's descent direction, an update aligned with
//! the eval gradient has ⟨∇L, Δ_i⟩ > 0 and, with d < 0, a positive ∂v/∂w_i. One forward and one
//! backward pass per path point; tested against finite differences of v along w_i.
//!
//! **Divergence.** A coalition whose eval loss is not finite is given the loss
//! L_eval(θ^∅) + [`DIVERGED_PENALTY`] (a warning is logged), so one poisonous update costs its
//! sender instead of failing the round; a non-finite path point is an error.
//!
//! The model passed in is scratch space: its parameters are overwritten with each θ_w.

use coalition_attribution::{Coalition, Game, GameError, PathPoint};
use coalition_model::Llama;
use coalition_trainer::batches::TokenBatch;
use std::collections::HashMap;

use crate::aggregate::combine;
use crate::error::{CoordinatorError, Result};
use crate::eval::{eval_loss, eval_loss_and_grad};
use crate::outer::OuterOptimizer;
use crate::vecmath;

/// Loss (nats) added to L_eval(θ^∅) for a coalition whose model diverges.
pub const DIVERGED_PENALTY: f64 = 1e3;

/// The round game: v(S) = L_eval(θ^∅) − L_eval(θ^S).
pub struct RoundGame<'a> {
    model: &'a Llama,
    theta: &'a [f32],
    outer: &'a OuterOptimizer,
    deltas: Vec<&'a [f32]>,
    weights: Vec<f32>,
    eval: &'a [TokenBatch],
    base_loss: f64,
    losses: HashMap<u64, f64>,
    /// Σ c_i Δ_i, then θ^S in place: the one model-sized scratch vector.
    g: Vec<f32>,
}

impl<'a> RoundGame<'a> {
    /// Build the game and evaluate L_eval(θ^∅). `deltas[i]` and `weights[i]` belong to player
    /// i; every vector must have the model's parameter count.
    pub fn new(
        model: &'a Llama,
        theta: &'a [f32],
        outer: &'a OuterOptimizer,
        deltas: Vec<&'a [f32]>,
        weights: Vec<f32>,
        eval: &'a [TokenBatch],
    ) -> Result<Self> {
        let n = model.params().num_elements();
        let len = |what: String, got: usize, expected: usize| -> Result<()> {
            if got == expected {
                Ok(())
            } else {
                Err(CoordinatorError::Length {
                    what,
                    got,
                    expected,
                })
            }
        };
        len("theta".into(), theta.len(), n)?;
        len("outer momentum".into(), outer.len(), n)?;
        len("weights".into(), weights.len(), deltas.len())?;
        for (i, d) in deltas.iter().enumerate() {
            len(format!("update of player {i}"), d.len(), n)?;
        }
        if let Some(i) = weights.iter().position(|p| !p.is_finite()) {
            return Err(CoordinatorError::Invalid {
                name: "aggregation weight",
                value: weights[i].to_string(),
                reason: format!("weight of player {i} is not finite"),
            });
        }
        let mut game = RoundGame {
            model,
            theta,
            outer,
            deltas,
            weights,
            eval,
            base_loss: f64::NAN,
            losses: HashMap::new(),
            g: vec![0.0; n],
        };
        let base = game.loss_with(&vec![0.0; game.deltas.len()])?;
        if !base.is_finite() {
            return Err(CoordinatorError::Invalid {
                name: "L_eval(θ^∅)",
                value: base.to_string(),
                reason: "the round's starting model does not give a finite eval loss".into(),
            });
        }
        game.base_loss = base;
        game.losses.insert(0, base);
        Ok(game)
    }

    /// Number of players.
    pub fn len(&self) -> usize {
        self.deltas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty()
    }

    /// L_eval(θ^∅).
    pub fn base_loss(&self) -> f64 {
        self.base_loss
    }

    /// The aggregation weights p_i.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Load θ = outer.preview(θ_r, Σ coeffs_i Δ_i) into the model.
    fn load(&mut self, coeffs: &[f32]) -> Result<()> {
        combine(&self.deltas, coeffs, &mut self.g)?;
        // `g` becomes θ^S in place.
        self.outer.preview_in_place(self.theta, &mut self.g)?;
        self.model.params().load_flat(&self.g)?;
        Ok(())
    }

    /// L_eval at θ = outer.preview(θ_r, Σ coeffs_i Δ_i) (uncached, may be non-finite).
    pub fn loss_with(&mut self, coeffs: &[f32]) -> Result<f64> {
        self.load(coeffs)?;
        eval_loss(self.model, self.eval)
    }

    fn coeffs(&self, w: &[f64]) -> Result<Vec<f32>> {
        if w.len() != self.deltas.len() {
            return Err(CoordinatorError::Length {
                what: "coalition weights w".into(),
                got: w.len(),
                expected: self.deltas.len(),
            });
        }
        Ok(w.iter()
            .zip(&self.weights)
            .map(|(&w, &p)| w as f32 * p)
            .collect())
    }

    /// L_eval(θ^S) (cached per coalition; a diverged coalition gets the penalty loss).
    pub fn loss_of(&mut self, s: Coalition) -> Result<f64> {
        if let Some(&l) = self.losses.get(&s.mask()) {
            return Ok(l);
        }
        let n = self.deltas.len();
        if n > 64 || !s.fits(n) {
            return Err(CoordinatorError::Invalid {
                name: "coalition",
                value: s.to_string(),
                reason: format!("names a player outside 0..{n}"),
            });
        }
        let coeffs: Vec<f32> = (0..n)
            .map(|i| if s.contains(i) { self.weights[i] } else { 0.0 })
            .collect();
        let mut l = self.loss_with(&coeffs)?;
        if !l.is_finite() {
            tracing::warn!(coalition = %s, loss = l, "coalition diverges; scoring it with the penalty loss");
            l = self.base_loss + DIVERGED_PENALTY;
        }
        self.losses.insert(s.mask(), l);
        Ok(l)
    }

    /// v(S) = L_eval(θ^∅) − L_eval(θ^S).
    pub fn value(&mut self, s: Coalition) -> Result<f64> {
        Ok(self.base_loss - self.loss_of(s)?)
    }

    /// v(w) for fractional weights w (one per player).
    pub fn value_at(&mut self, w: &[f64]) -> Result<f64> {
        let coeffs = self.coeffs(w)?;
        Ok(self.base_loss - self.loss_with(&coeffs)?)
    }

    /// v(w) and ∂v/∂w_i = −d·p_i·⟨∇L_eval(θ_w), Δ_i⟩ at fractional weights w.
    pub fn gradient_at(&mut self, w: &[f64]) -> Result<PathPoint> {
        let coeffs = self.coeffs(w)?;
        self.load(&coeffs)?;
        let (loss, grad) = eval_loss_and_grad(self.model, self.eval)?;
        let d = self.outer.d_theta_d_g();
        let gradient = self
            .deltas
            .iter()
            .zip(&self.weights)
            .map(|(delta, &p)| -d * f64::from(p) * vecmath::dot_f64(delta, &grad))
            .collect();
        Ok(PathPoint {
            value: self.base_loss - loss,
            gradient,
        })
    }
}

impl Game for RoundGame<'_> {
    fn players(&self) -> usize {
        self.deltas.len()
    }

    fn utility(&mut self, coalition: Coalition) -> std::result::Result<f64, GameError> {
        self.value(coalition).map_err(GameError::new)
    }

    fn has_path(&self) -> bool {
        true
    }

    fn path_point(&mut self, t: f64) -> std::result::Result<PathPoint, GameError> {
        let w = vec![t; self.deltas.len()];
        self.gradient_at(&w).map_err(GameError::new)
    }
}

#[cfg(test)]
mod tests;
