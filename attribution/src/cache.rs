//! The per-round evaluation cache, which is also the transcript recorder.
//!
//! Every estimator runs its game through a [`Cached`]: a coalition (or path point) is
//! evaluated at most once, its result is checked to be finite, and it is kept, keyed by mask
//! (or by the bits of t), to become the transcript. [`Cached`] also implements [`Game`], so a
//! coordinator that runs several estimators on one round (say permutation and an
//! integrated-gradients cross-check) can wrap its game once and share evaluations; each
//! estimation still records exactly what it asked for.

use crate::coalition::Coalition;
use crate::error::{AttributionError, GameError};
use crate::game::{Game, PathPoint};
use crate::transcript::{CoalitionEval, PathEval};
use std::collections::BTreeMap;

/// A caching, recording wrapper around a [`Game`].
pub struct Cached<G> {
    game: G,
    players: usize,
    coalitions: BTreeMap<u64, f64>,
    path: BTreeMap<u64, PathPoint>,
}

impl<G: Game> Cached<G> {
    /// Wraps a game with an empty cache.
    pub fn new(game: G) -> Self {
        let players = game.players();
        Cached {
            game,
            players,
            coalitions: BTreeMap::new(),
            path: BTreeMap::new(),
        }
    }

    /// Number of players.
    pub fn players(&self) -> usize {
        self.players
    }

    /// Whether the wrapped game has a path hook.
    pub fn has_path(&self) -> bool {
        self.game.has_path()
    }

    /// The utility of `coalition`, evaluating it on first use. Non-finite results are errors.
    pub fn eval(&mut self, coalition: Coalition) -> Result<f64, AttributionError> {
        if let Some(&v) = self.coalitions.get(&coalition.mask()) {
            return Ok(v);
        }
        if self.players > crate::coalition::MAX_MASK_PLAYERS || !coalition.fits(self.players) {
            return Err(AttributionError::PlayerOutOfRange {
                coalition,
                players: self.players,
            });
        }
        let value = self
            .game
            .utility(coalition)
            .map_err(|source| AttributionError::Utility {
                coalition,
                error: source,
            })?;
        if !value.is_finite() {
            return Err(AttributionError::NonFiniteUtility { coalition, value });
        }
        self.coalitions.insert(coalition.mask(), value);
        Ok(value)
    }

    /// The path point at `t`, evaluating it on first use. Checks length and finiteness.
    pub fn eval_path(&mut self, t: f64) -> Result<&PathPoint, AttributionError> {
        let key = t.to_bits();
        if !self.path.contains_key(&key) {
            let p = self
                .game
                .path_point(t)
                .map_err(|source| AttributionError::Path { t, error: source })?;
            if p.gradient.len() != self.players {
                return Err(AttributionError::GradientLength {
                    t,
                    expected: self.players,
                    got: p.gradient.len(),
                });
            }
            if !p.value.is_finite() {
                return Err(AttributionError::NonFinitePath {
                    t,
                    what: format!("value {}", p.value),
                });
            }
            if let Some(i) = p.gradient.iter().position(|g| !g.is_finite()) {
                return Err(AttributionError::NonFinitePath {
                    t,
                    what: format!("gradient entry {i} ({})", p.gradient[i]),
                });
            }
            self.path.insert(key, p);
        }
        // The entry was inserted above if it was missing.
        self.path
            .get(&key)
            .ok_or_else(|| AttributionError::NonFinitePath {
                t,
                what: "cache entry vanished".into(),
            })
    }

    /// Number of distinct coalitions evaluated so far.
    pub fn evaluations(&self) -> u64 {
        self.coalitions.len() as u64
    }

    /// Number of distinct path points evaluated so far.
    pub fn path_evaluations(&self) -> u64 {
        self.path.len() as u64
    }

    /// The recorded evaluations, coalitions sorted by mask and path points sorted by t.
    pub fn records(&self) -> (Vec<CoalitionEval>, Vec<PathEval>) {
        let c = self
            .coalitions
            .iter()
            .map(|(&mask, &value)| CoalitionEval { mask, value })
            .collect();
        let p = self
            .path
            .iter()
            .map(|(&bits, p)| PathEval {
                t: f64::from_bits(bits),
                value: p.value,
                gradient: p.gradient.clone(),
            })
            .collect();
        (c, p)
    }

    /// Gives back the wrapped game.
    pub fn into_inner(self) -> G {
        self.game
    }
}

impl<G: Game> Game for Cached<G> {
    fn players(&self) -> usize {
        self.players
    }
    fn utility(&mut self, coalition: Coalition) -> Result<f64, GameError> {
        self.eval(coalition).map_err(GameError::new)
    }
    fn has_path(&self) -> bool {
        self.game.has_path()
    }
    fn path_point(&mut self, t: f64) -> Result<PathPoint, GameError> {
        self.eval_path(t).cloned().map_err(GameError::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::from_fn;

    #[test]
    fn evaluates_each_coalition_once_and_rejects_non_finite() {
        let mut calls = 0;
        let mut c = Cached::new(from_fn(3, |s: Coalition| {
            calls += 1;
            if s.mask() == 0b111 {
                f64::NAN
            } else {
                s.len() as f64
            }
        }));
        assert_eq!(c.eval(Coalition::from_mask(3)).unwrap(), 2.0);
        assert_eq!(c.eval(Coalition::from_mask(3)).unwrap(), 2.0);
        assert_eq!(c.evaluations(), 1);
        assert!(matches!(
            c.eval(Coalition::from_mask(7)),
            Err(AttributionError::NonFiniteUtility { .. })
        ));
        assert!(matches!(
            c.eval(Coalition::from_mask(8)),
            Err(AttributionError::PlayerOutOfRange { .. })
        ));
        assert!(matches!(
            c.eval_path(0.5),
            Err(AttributionError::Path { .. })
        ));
        let (recs, path) = c.records();
        assert_eq!(recs.len(), 1);
        assert!(path.is_empty());
        drop(c);
        assert_eq!(calls, 2);
    }
}
