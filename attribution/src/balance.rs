//! Enforcing efficiency (Σφ = v(N) − v(∅)) exactly up to the last bits of floating point.
//!
//! For the exact and permutation estimators efficiency holds in exact arithmetic (each
//! permutation's marginals telescope to v(N) − v(∅)). Floating-point summation leaves a residual
//! of a few ulps. [`balance`] removes it deterministically: with `r = (v(N) − v(∅)) − Σ_i φ_i`
//! (the sum taken in player order) and `A = Σ_i |φ_i|`, each score becomes
//! `φ_i + r·(|φ_i| / A)`. The correction is proportional to |φ_i|, so a null player (φ_i = 0
//! exactly) stays exactly 0 and equal scores get equal corrections. If A = 0 nothing changes.
//! The correction is applied once; what remains is re-rounding of the order of 1 ulp of the
//! largest score, far inside the 1e-9 relative tolerance the tests hold it to.

/// Sum in index order (the summation order every efficiency check in this crate uses).
pub fn ordered_sum(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0, |acc, &x| acc + x)
}

/// Neumaier-compensated sum in index order.
pub fn compensated_sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut acc = Neumaier::default();
    for x in xs {
        acc.add(x);
    }
    acc.value()
}

/// A running Neumaier (improved Kahan) sum.
#[derive(Debug, Clone, Copy, Default)]
pub struct Neumaier {
    sum: f64,
    compensation: f64,
}

impl Neumaier {
    /// Adds one term.
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }
    /// The compensated total.
    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Redistributes the efficiency residual; returns the remaining gap `(v(N) − v(∅)) − Σφ`.
pub fn balance(scores: &mut [f64], gain: f64) -> f64 {
    let residual = gain - ordered_sum(scores);
    let total_abs = ordered_sum(&scores.iter().map(|s| s.abs()).collect::<Vec<_>>());
    if residual != 0.0 && total_abs > 0.0 && total_abs.is_finite() {
        for s in scores.iter_mut() {
            *s += residual * (s.abs() / total_abs);
        }
    }
    gain - ordered_sum(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_keeps_zeros_and_closes_the_gap() {
        let mut s = vec![0.1, 0.2, 0.0, 0.3];
        let gain = 0.6000000000000002;
        let gap = balance(&mut s, gain);
        assert_eq!(s[2], 0.0);
        assert!(gap.abs() <= 2.0 * f64::EPSILON);
        let mut z = vec![0.0, 0.0];
        assert_eq!(balance(&mut z, 1.0), 1.0);
        assert_eq!(z, vec![0.0, 0.0]);
    }

    #[test]
    fn neumaier_beats_naive() {
        let xs = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(compensated_sum(xs), 2.0);
    }
}
