//! Test helpers: table games, brute force over all orders, game transformations.

use crate::coalition::Coalition;
use crate::encoding::Seed;
use crate::error::GameError;
use crate::game::Game;
use crate::shuffle::Stream;

/// A game given by a table of 2^n utilities indexed by mask.
pub struct TableGame {
    pub n: usize,
    pub values: Vec<f64>,
}

impl Game for TableGame {
    fn players(&self) -> usize {
        self.n
    }
    fn utility(&mut self, c: Coalition) -> Result<f64, GameError> {
        Ok(self.values[c.mask() as usize])
    }
}

pub fn table_game(n: usize, values: &[f64]) -> TableGame {
    TableGame {
        n,
        values: values[..1 << n].to_vec(),
    }
}

/// 2^n utilities in [−scale, scale), deterministic in `seed`.
pub fn random_values(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut s = Stream::new(&Seed(key));
    (0..1usize << n)
        .map(|_| scale * (2.0 * ((s.next_word() >> 11) as f64 / (1u64 << 53) as f64) - 1.0))
        .collect()
}

/// v'(S) = v(S \ {k}): player k is null.
pub fn with_null_player(n: usize, values: &[f64], k: usize) -> Vec<f64> {
    (0..1usize << n).map(|m| values[m & !(1 << k)]).collect()
}

/// v'(S) = v(canon(S)) where a coalition holding exactly one of i, j is mapped to holding i:
/// players i and j become symmetric.
pub fn symmetrised(n: usize, values: &[f64], i: usize, j: usize) -> Vec<f64> {
    (0..1usize << n)
        .map(|m| {
            let (hi, hj) = (m & (1 << i) != 0, m & (1 << j) != 0);
            if hi != hj {
                values[(m | (1 << i)) & !(1 << j)]
            } else {
                values[m]
            }
        })
        .collect()
}

/// The Shapley value by averaging marginals over all n! orders (Heap's algorithm).
pub fn brute_force(g: &TableGame) -> Vec<f64> {
    let n = g.n;
    let mut phi = vec![0.0; n];
    let mut perm: Vec<usize> = (0..n).collect();
    let mut count = 0u64;
    let mut visit = |p: &[usize]| {
        let mut mask = 0usize;
        for &i in p {
            let before = g.values[mask];
            mask |= 1 << i;
            phi[i] += g.values[mask] - before;
        }
        count += 1;
    };
    // Heap's algorithm, iterative.
    let mut c = vec![0usize; n];
    visit(&perm);
    let mut i = 1;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(c[i], i);
            }
            visit(&perm);
            c[i] += 1;
            i = 1;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    phi.iter().map(|p| p / count as f64).collect()
}
