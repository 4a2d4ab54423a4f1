//! Deterministic parameter initialisation from a seed (same bits on every machine).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Draws standard normals with Box–Muller from ChaCha20, so initial weights depend only on
/// the seed and the parameter's position, not on a platform RNG.
pub struct NormalInit {
    rng: ChaCha20Rng,
}

impl NormalInit {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    fn uniform_open(&mut self) -> f64 {
        // 53 random bits mapped into (0, 1).
        ((self.rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// `n` values from N(0, std²).
    pub fn normal(&mut self, n: usize, std: f64) -> Vec<f32> {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let u1 = self.uniform_open();
            let u2 = self.uniform_open();
            let r = (-2.0 * u1.ln()).sqrt();
            let t = std::f64::consts::TAU * u2;
            out.push((std * r * t.cos()) as f32);
            out.push((std * r * t.sin()) as f32);
        }
        out.truncate(n);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::NormalInit;

    #[test]
    fn same_seed_same_values_and_right_moments() {
        let a = NormalInit::new(7).normal(20_001, 0.5);
        let b = NormalInit::new(7).normal(20_001, 0.5);
        assert_eq!(a, b);
        let mean = a.iter().map(|&x| x as f64).sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.02, "std {}", var.sqrt());
        assert_ne!(a, NormalInit::new(8).normal(20_001, 0.5));
    }
}
