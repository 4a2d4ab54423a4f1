//! The cooperative game the estimators score: players, a utility per coalition, and an
//! optional path-gradient hook for integrated gradients.
//!
//! In the coordinator, for round r with momentum buffer m_r fixed,
//! `v(S) = L_eval(θ^∅) − L_eval(outer_step(θ_r, m_r, Σ_{i∈S} p_i Δ_i))`.
//!
//! **Path hook.** Integrated gradients walks the straight path from ∅ to N through fractional
//! coalitions `w = t·1` (every player at weight t ∈ [0, 1]). The game's continuous extension
//! is `v(w) = L_eval(θ^∅) − L_eval(θ_w)` with `θ_w = outer_step(θ_r, m_r, Σ_i w_i p_i Δ_i)`.
//! [`Game::path_point`] returns `v(t·1)` and the gradient `∂v/∂w_i` at `w = t·1` for every
//! player. The coordinator computes it with one forward and one backward pass:
//! `∂v/∂w_i = −⟨∇_θ L_eval(θ_w), ∂θ_w/∂w_i⟩`, and since the outer step is linear in the
//! aggregate, `∂θ_w/∂w_i` is the outer step's image of `p_i Δ_i` (for Nesterov SGD with fixed
//! momentum, `−lr·(1 + μ)·p_i Δ_i` in the convention θ ← θ − lr·(…)). At the endpoints the
//! hook must agree with the coalition utility: `v(0·1) = v(∅)`, `v(1·1) = v(N)`.

use crate::coalition::Coalition;
use crate::error::GameError;

/// The value and per-player gradient of the game's continuous extension at `w = t·1`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathPoint {
    /// `v(t·1)`.
    pub value: f64,
    /// `∂v/∂w_i` at `w = t·1`, one entry per player.
    pub gradient: Vec<f64>,
}

/// A cooperative game over players `0..players()`.
///
/// Implement it directly, or build one from closures with [`from_fn`] / [`try_from_fn`].
pub trait Game {
    /// Number of players n. Coalition utilities need n ≤ 64; the path hook has no limit.
    fn players(&self) -> usize;

    /// Utility of a coalition (only members below `players()` are ever passed).
    /// Must be deterministic within a round; it is called at most once per coalition per
    /// estimation (results are cached).
    fn utility(&mut self, coalition: Coalition) -> Result<f64, GameError>;

    /// Whether [`Game::path_point`] is implemented.
    fn has_path(&self) -> bool {
        false
    }

    /// Value and gradient of the continuous extension at `w = t·1` (see the module docs).
    fn path_point(&mut self, t: f64) -> Result<PathPoint, GameError> {
        let _ = t;
        Err(GameError::new("this game has no path-gradient hook"))
    }
}

impl<G: Game + ?Sized> Game for &mut G {
    fn players(&self) -> usize {
        (**self).players()
    }
    fn utility(&mut self, coalition: Coalition) -> Result<f64, GameError> {
        (**self).utility(coalition)
    }
    fn has_path(&self) -> bool {
        (**self).has_path()
    }
    fn path_point(&mut self, t: f64) -> Result<PathPoint, GameError> {
        (**self).path_point(t)
    }
}

impl<G: Game + ?Sized> Game for Box<G> {
    fn players(&self) -> usize {
        (**self).players()
    }
    fn utility(&mut self, coalition: Coalition) -> Result<f64, GameError> {
        (**self).utility(coalition)
    }
    fn has_path(&self) -> bool {
        (**self).has_path()
    }
    fn path_point(&mut self, t: f64) -> Result<PathPoint, GameError> {
        (**self).path_point(t)
    }
}

/// A game built from closures. See [`from_fn`], [`try_from_fn`], [`FnGame::with_path`].
pub struct FnGame<U, P = NoPath> {
    players: usize,
    utility: U,
    path: P,
}

/// Marker: the game has no path hook.
pub struct NoPath;

/// A path hook closure `FnMut(f64) -> Result<PathPoint, E>`.
pub struct WithPath<P>(P);

/// A game from an infallible utility closure.
///
/// ```
/// use coalition_attribution::{from_fn, Coalition};
/// let weights = [3.0, 1.0, 2.0];
/// let game = from_fn(3, move |c: Coalition| c.members().map(|i| weights[i]).sum::<f64>());
/// ```
pub fn from_fn<F>(
    players: usize,
    mut utility: F,
) -> FnGame<impl FnMut(Coalition) -> Result<f64, GameError>>
where
    F: FnMut(Coalition) -> f64,
{
    FnGame {
        players,
        utility: move |c| Ok(utility(c)),
        path: NoPath,
    }
}

/// A game from a fallible utility closure; its error is converted with [`GameError::new`].
pub fn try_from_fn<F, E>(
    players: usize,
    mut utility: F,
) -> FnGame<impl FnMut(Coalition) -> Result<f64, GameError>>
where
    F: FnMut(Coalition) -> Result<f64, E>,
    E: std::fmt::Display,
{
    FnGame {
        players,
        utility: move |c| utility(c).map_err(GameError::new),
        path: NoPath,
    }
}

impl<U> FnGame<U, NoPath> {
    /// Adds an infallible path hook `t ↦ PathPoint` (value and gradient at `w = t·1`).
    pub fn with_path<P>(
        self,
        mut path: P,
    ) -> FnGame<U, WithPath<impl FnMut(f64) -> Result<PathPoint, GameError>>>
    where
        P: FnMut(f64) -> PathPoint,
    {
        FnGame {
            players: self.players,
            utility: self.utility,
            path: WithPath(move |t| Ok(path(t))),
        }
    }

    /// Adds a fallible path hook.
    pub fn try_with_path<P, E>(
        self,
        mut path: P,
    ) -> FnGame<U, WithPath<impl FnMut(f64) -> Result<PathPoint, GameError>>>
    where
        P: FnMut(f64) -> Result<PathPoint, E>,
        E: std::fmt::Display,
    {
        FnGame {
            players: self.players,
            utility: self.utility,
            path: WithPath(move |t| path(t).map_err(GameError::new)),
        }
    }
}

/// Internal: dispatch for the optional path hook.
pub trait PathHook {
    /// Whether a hook is present.
    fn present(&self) -> bool;
    /// Calls the hook.
    fn call(&mut self, t: f64) -> Result<PathPoint, GameError>;
}

impl PathHook for NoPath {
    fn present(&self) -> bool {
        false
    }
    fn call(&mut self, _t: f64) -> Result<PathPoint, GameError> {
        Err(GameError::new("this game has no path-gradient hook"))
    }
}

impl<P> PathHook for WithPath<P>
where
    P: FnMut(f64) -> Result<PathPoint, GameError>,
{
    fn present(&self) -> bool {
        true
    }
    fn call(&mut self, t: f64) -> Result<PathPoint, GameError> {
        (self.0)(t)
    }
}

impl<U, P> Game for FnGame<U, P>
where
    U: FnMut(Coalition) -> Result<f64, GameError>,
    P: PathHook,
{
    fn players(&self) -> usize {
        self.players
    }
    fn utility(&mut self, coalition: Coalition) -> Result<f64, GameError> {
        (self.utility)(coalition)
    }
    fn has_path(&self) -> bool {
        self.path.present()
    }
    fn path_point(&mut self, t: f64) -> Result<PathPoint, GameError> {
        self.path.call(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_make_games() {
        let mut g = from_fn(3, |c| c.len() as f64);
        assert_eq!(g.players(), 3);
        assert_eq!(g.utility(Coalition::from_mask(0b101)).unwrap(), 2.0);
        assert!(!g.has_path());
        assert!(g.path_point(0.5).is_err());

        let mut g = try_from_fn(2, |c| {
            if c.is_empty() {
                Err("no model")
            } else {
                Ok(1.0)
            }
        })
        .with_path(|t| PathPoint {
            value: t,
            gradient: vec![t, t],
        });
        assert!(g.has_path());
        assert_eq!(g.utility(Coalition::EMPTY), Err(GameError::new("no model")));
        assert_eq!(g.path_point(0.25).unwrap().gradient, vec![0.25, 0.25]);
        let mut boxed: Box<dyn Game> = Box::new(g);
        assert!(boxed.has_path());
        assert_eq!(boxed.utility(Coalition::from_mask(1)).unwrap(), 1.0);
    }
}
