//! A near-quadratic game modelled on a second-order expansion of the eval loss.
//!
//! Expanding `L_eval(θ_r − Σ w_i u_i)` to third order around θ_r gives a utility in the
//! player weights w of the form
//!
//! `v(w) = Σ_i a_i w_i − ½ Σ_{i,j} H_ij w_i w_j + (κ/6) (Σ_i c_i w_i)³`,
//!
//! with a_i the first-order gain of update i, H the (symmetric) interaction of updates through
//! the loss curvature, and a rank-one cubic term standing in for higher-order effects. A
//! coalition S is w = 1_S; the path hook gives v and ∇v at w = t·1.
//!
//! **Closed-form Shapley value.** Every term is a sum of unanimity games, each split equally
//! among its members: a_i is i's alone; the pair term −½(H_ij + H_ji) = −H_ij is split evenly,
//! and H_ii is i's alone, so the quadratic part gives `a_i − ½H_ii − ½Σ_{j≠i} H_ij`. For the
//! cubic, group the ordered triples of (Σ_{k∈S} c_k)³ by their index set: {i} contributes
//! c_i³, {i,j} contributes 3c_i²c_j + 3c_i c_j² (split by 2), {i,j,k} contributes 6c_i c_j c_k
//! (split by 3). With s_i = Σ_{j≠i} c_j and q_i = Σ_{j≠i} c_j²:
//!
//! `φ_i = a_i − ½H_ii − ½Σ_{j≠i}H_ij + (κ/6)[c_i³ + (3/2)(c_i² s_i + c_i q_i) + c_i (s_i² − q_i)]`.
//!
//! This is exact for any n, which is how the accuracy bench scores n = 32 without 2^32
//! evaluations; tests check it against exact enumeration.

use crate::coalition::Coalition;
use crate::encoding::Seed;
use crate::error::GameError;
use crate::game::{Game, PathPoint};
use crate::shuffle::Stream;

/// The near-quadratic game (see the module docs).
#[derive(Debug, Clone)]
pub struct QuadraticGame {
    a: Vec<f64>,
    h: Vec<f64>,
    c: Vec<f64>,
    kappa: f64,
    h_row: Vec<f64>,
    c_total: f64,
}

impl QuadraticGame {
    /// A game from its coefficients: `a` (n), `h` (n×n, row-major, symmetrised here), `c` (n),
    /// `kappa`. `None` if the lengths disagree.
    pub fn new(a: Vec<f64>, h: Vec<f64>, c: Vec<f64>, kappa: f64) -> Option<Self> {
        let n = a.len();
        if h.len() != n * n || c.len() != n {
            return None;
        }
        let mut hs = h.clone();
        for i in 0..n {
            for j in 0..n {
                hs[i * n + j] = 0.5 * (h[i * n + j] + h[j * n + i]);
            }
        }
        let h_row = (0..n)
            .map(|i| hs[i * n..(i + 1) * n].iter().sum())
            .collect();
        let c_total = c.iter().sum();
        Some(QuadraticGame {
            a,
            h: hs,
            c,
            kappa,
            h_row,
            c_total,
        })
    }

    /// A random game, deterministic in `seed`: `a_i ~ U[0.5, 1.5)`;
    /// `H_ij = H_ji = interaction · U[0.5, 1.5) / n` (so interactions remove about
    /// `interaction/2` of Σa from v(N)); `c_i ~ U[0.5, 1.5)` and κ set so that the cubic term
    /// at N equals `cubic_share · Σ a_i`.
    pub fn random(n: usize, seed: u64, interaction: f64, cubic_share: f64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        let mut s = Stream::new(&Seed(key).derive("quadratic-game"));
        let mut u = || 0.5 + (s.next_word() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let a: Vec<f64> = (0..n).map(|_| u()).collect();
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let x = interaction * u() / n as f64;
                h[i * n + j] = x;
                h[j * n + i] = x;
            }
        }
        let c: Vec<f64> = (0..n).map(|_| u()).collect();
        let a_total: f64 = a.iter().sum();
        let c_total: f64 = c.iter().sum();
        let kappa = if n == 0 {
            0.0
        } else {
            6.0 * cubic_share * a_total / (c_total * c_total * c_total)
        };
        QuadraticGame::new(a, h, c, kappa).unwrap_or_else(|| unreachable!("lengths match"))
    }

    fn n(&self) -> usize {
        self.a.len()
    }

    /// The closed-form Shapley value (module docs).
    pub fn shapley(&self) -> Vec<f64> {
        let n = self.n();
        let q_total: f64 = self.c.iter().map(|x| x * x).sum();
        (0..n)
            .map(|i| {
                let hii = self.h[i * n + i];
                let quad = self.a[i] - 0.5 * hii - 0.5 * (self.h_row[i] - hii);
                let ci = self.c[i];
                let s = self.c_total - ci;
                let q = q_total - ci * ci;
                let cubic = ci * ci * ci + 1.5 * (ci * ci * s + ci * q) + ci * (s * s - q);
                quad + self.kappa / 6.0 * cubic
            })
            .collect()
    }
}

impl Game for QuadraticGame {
    fn players(&self) -> usize {
        self.n()
    }

    fn utility(&mut self, coalition: Coalition) -> Result<f64, GameError> {
        let n = self.n();
        let mut lin = 0.0;
        let mut quad = 0.0;
        let mut cs = 0.0;
        for i in coalition.members() {
            lin += self.a[i];
            cs += self.c[i];
            for j in coalition.members() {
                quad += self.h[i * n + j];
            }
        }
        Ok(lin - 0.5 * quad + self.kappa / 6.0 * cs * cs * cs)
    }

    fn has_path(&self) -> bool {
        true
    }

    fn path_point(&mut self, t: f64) -> Result<PathPoint, GameError> {
        let a_total: f64 = self.a.iter().sum();
        let h_total: f64 = self.h_row.iter().sum();
        let ct = self.c_total;
        let value =
            t * a_total - 0.5 * t * t * h_total + self.kappa / 6.0 * (t * ct) * (t * ct) * (t * ct);
        let gradient = (0..self.n())
            .map(|i| {
                self.a[i] - t * self.h_row[i] + 0.5 * self.kappa * self.c[i] * (t * ct) * (t * ct)
            })
            .collect();
        Ok(PathPoint { value, gradient })
    }
}
