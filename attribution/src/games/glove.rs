//! The glove game: players `0..left` own a left glove, the rest a right glove; a coalition is
//! worth the number of pairs it can form, `v(S) = min(|S ∩ L|, |S ∩ R|)`.

use crate::coalition::Coalition;
use crate::error::GameError;
use crate::game::Game;

/// The glove game with `left` left-glove owners followed by `right` right-glove owners.
#[derive(Debug, Clone)]
pub struct GloveGame {
    left: usize,
    right: usize,
}

impl GloveGame {
    pub fn new(left: usize, right: usize) -> Self {
        GloveGame { left, right }
    }

    /// Closed form when one side has a single owner: with one owner facing r ≥ 1 on the other
    /// side, the single owner gets r/(r+1) and each of the r gets 1/(r(r+1)). `None` otherwise.
    pub fn shapley(&self) -> Option<Vec<f64>> {
        let (single, many, single_first) = match (self.left, self.right) {
            (1, r) if r >= 1 => (1.0, r, true),
            (l, 1) if l >= 1 => (1.0, l, false),
            _ => return None,
        };
        let r = many as f64;
        let s = single * r / (r + 1.0);
        let m = 1.0 / (r * (r + 1.0));
        let mut out = vec![m; many + 1];
        if single_first {
            out[0] = s;
        } else {
            out[many] = s;
        }
        Some(out)
    }
}

impl Game for GloveGame {
    fn players(&self) -> usize {
        self.left + self.right
    }
    fn utility(&mut self, c: Coalition) -> Result<f64, GameError> {
        let l = c.members().filter(|&i| i < self.left).count();
        Ok(l.min(c.len() - l) as f64)
    }
}
