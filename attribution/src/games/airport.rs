//! The airport game (Littlechild & Owen 1973): player i needs a runway of cost c_i and a
//! coalition pays for the longest runway among its members, `v(S) = max_{i∈S} c_i`, v(∅) = 0.

use crate::coalition::Coalition;
use crate::error::GameError;
use crate::game::Game;

/// The airport (runway cost) game.
#[derive(Debug, Clone)]
pub struct AirportGame {
    costs: Vec<f64>,
}

impl AirportGame {
    pub fn new(costs: Vec<f64>) -> Self {
        AirportGame { costs }
    }

    /// Littlechild–Owen: with costs sorted ascending c_(1) ≤ … ≤ c_(n) (c_(0) = 0), the player
    /// at rank k gets `Σ_{j=1}^{k} (c_(j) − c_(j−1)) / (n − j + 1)`: each runway segment is
    /// shared equally by everyone who needs it.
    pub fn shapley(&self) -> Vec<f64> {
        let n = self.costs.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| self.costs[a].total_cmp(&self.costs[b]));
        let mut out = vec![0.0; n];
        let mut acc = 0.0;
        let mut prev = 0.0;
        for (j, &i) in order.iter().enumerate() {
            acc += (self.costs[i] - prev) / (n - j) as f64;
            prev = self.costs[i];
            out[i] = acc;
        }
        out
    }
}

impl Game for AirportGame {
    fn players(&self) -> usize {
        self.costs.len()
    }
    fn utility(&mut self, c: Coalition) -> Result<f64, GameError> {
        Ok(c.members().map(|i| self.costs[i]).fold(0.0, f64::max))
    }
}
