//! Weighted majority voting games `[q; w_1, …, w_n]`: a coalition wins (v = 1) when its total
//! weight reaches the quota q, else v = 0. The Shapley value is the Shapley–Shubik power index.

use crate::coalition::Coalition;
use crate::error::GameError;
use crate::game::Game;

/// A weighted majority game.
#[derive(Debug, Clone)]
pub struct WeightedMajority {
    quota: u64,
    weights: Vec<u64>,
}

impl WeightedMajority {
    pub fn new(quota: u64, weights: Vec<u64>) -> Self {
        WeightedMajority { quota, weights }
    }

    /// The UN Security Council: 5 permanent members (weight 7, listed first) and 10 elected
    /// members (weight 1), quota 39 — a resolution needs all 5 permanent members and 4 others.
    /// Published Shapley–Shubik indices: 421/2145 per permanent, 4/2145 per elected member.
    pub fn un_security_council() -> Self {
        let mut w = vec![7; 5];
        w.extend([1; 10]);
        WeightedMajority::new(39, w)
    }

    /// Shapley–Shubik index by counting, without enumerating coalitions: for each player i,
    /// a dynamic programme counts coalitions S ∌ i by (size, weight); i is pivotal for S when
    /// `q − w_i ≤ w(S) < q`, and `φ_i = Σ count(s, w) · s!(n−s−1)!/n!`.
    pub fn shapley(&self) -> Vec<f64> {
        let n = self.weights.len();
        let total: u64 = self.weights.iter().sum();
        // Weights are tracked up to `cap`; when cap = q it stands for "≥ q".
        let cap = self.quota.min(total) as usize;
        (0..n)
            .map(|i| {
                // counts[s][w] for w in 0..=cap (cap means ≥ q)
                let mut counts = vec![vec![0f64; cap + 1]; n];
                counts[0][0] = 1.0;
                for (j, &wj) in self.weights.iter().enumerate() {
                    if j == i {
                        continue;
                    }
                    for s in (0..n - 1).rev() {
                        for w in (0..=cap).rev() {
                            let c = counts[s][w];
                            if c != 0.0 {
                                let nw = (w + wj as usize).min(cap);
                                counts[s + 1][nw] += c;
                            }
                        }
                    }
                }
                let wi = self.weights[i];
                let mut phi = 0.0;
                for (s, row) in counts.iter().enumerate() {
                    let weight =
                        1.0 / (n as f64 * crate::exact::binomial(n as u64 - 1, s as u64) as f64);
                    for (w, &c) in row.iter().enumerate() {
                        let w = w as u64;
                        if w < self.quota && w + wi >= self.quota {
                            phi += c * weight;
                        }
                    }
                }
                phi
            })
            .collect()
    }
}

impl Game for WeightedMajority {
    fn players(&self) -> usize {
        self.weights.len()
    }
    fn utility(&mut self, c: Coalition) -> Result<f64, GameError> {
        let w: u64 = c.members().map(|i| self.weights[i]).sum();
        Ok(if w >= self.quota { 1.0 } else { 0.0 })
    }
}
