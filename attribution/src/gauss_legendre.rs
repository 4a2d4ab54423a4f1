//! Gauss–Legendre quadrature nodes and weights, computed bit-reproducibly.
//!
//! The k nodes are the roots of the Legendre polynomial P_k on [−1, 1]; the weights are
//! `w = 2 / ((1 − x²) P_k'(x)²)`. Each root is found by Newton's method from the classical
//! guess `x₀ = cos(π (i + 3/4) / (k + 1/2))`, with P_k and P_k' from the three-term recurrence
//! `(j+1) P_{j+1} = (2j+1) x P_j − j P_{j−1}`, `P_k' = k (x P_k − P_{k−1}) / (x² − 1)`.
//!
//! Only IEEE-754 +, −, ×, ÷ are used (the guess's cosine is a fixed Taylor series, not the
//! platform libm), Newton stops after a fixed rule (|dx| ≤ 1e-15 or 100 steps), nodes are
//! mirrored to be exactly symmetric, and the middle node of an odd rule is exactly 0. The
//! result is therefore the same on every machine.

use std::f64::consts::PI;

/// cos(θ) for θ in [0, π] by its Taylor series, using only basic arithmetic (deterministic).
fn taylor_cos(theta: f64) -> f64 {
    let x2 = theta * theta;
    let mut term = 1.0;
    let mut sum = 1.0;
    for m in 1..=30u32 {
        let m = f64::from(m);
        term *= -x2 / ((2.0 * m - 1.0) * (2.0 * m));
        sum += term;
    }
    sum
}

/// (P_k(x), P_{k−1}(x)).
fn legendre(k: usize, x: f64) -> (f64, f64) {
    let mut p_prev = 1.0; // P_0
    let mut p = x; // P_1
    if k == 0 {
        return (1.0, 0.0);
    }
    for j in 1..k {
        let jf = j as f64;
        let next = ((2.0 * jf + 1.0) * x * p - jf * p_prev) / (jf + 1.0);
        p_prev = p;
        p = next;
    }
    (p, p_prev)
}

/// P_k'(x) from P_k and P_{k−1} (|x| < 1).
fn derivative(k: usize, x: f64, p: f64, p_prev: f64) -> f64 {
    k as f64 * (x * p - p_prev) / (x * x - 1.0)
}

/// Nodes (ascending) and weights of the k-point Gauss–Legendre rule on [−1, 1]; empty for k = 0.
pub fn gauss_legendre(k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; k];
    let mut weights = vec![0.0; k];
    for i in 0..k.div_ceil(2) {
        let mut x = taylor_cos(PI * (i as f64 + 0.75) / (k as f64 + 0.5));
        let middle = k % 2 == 1 && i == k / 2;
        if middle {
            x = 0.0;
        } else {
            for _ in 0..100 {
                let (p, p_prev) = legendre(k, x);
                let dx = p / derivative(k, x, p, p_prev);
                x -= dx;
                if dx.abs() <= 1e-15 {
                    break;
                }
            }
        }
        let (p, p_prev) = legendre(k, x);
        let dp = derivative(k, x, p, p_prev);
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        // i-th largest root.
        nodes[k - 1 - i] = x;
        nodes[i] = -x;
        weights[k - 1 - i] = w;
        weights[i] = w;
    }
    (nodes, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_rules() {
        let (x, w) = gauss_legendre(1);
        assert_eq!((x, w), (vec![0.0], vec![2.0]));
        let (x, w) = gauss_legendre(2);
        let r = 1.0 / 3.0f64.sqrt();
        assert!((x[0] + r).abs() < 1e-15 && (x[1] - r).abs() < 1e-15);
        assert!((w[0] - 1.0).abs() < 1e-15 && (w[1] - 1.0).abs() < 1e-15);
        let (x, w) = gauss_legendre(3);
        let r = (3.0f64 / 5.0).sqrt();
        assert!((x[0] + r).abs() < 1e-15 && x[1] == 0.0 && (x[2] - r).abs() < 1e-15);
        assert!((w[0] - 5.0 / 9.0).abs() < 1e-15 && (w[1] - 8.0 / 9.0).abs() < 1e-15);
        // 5-point rule, published values.
        let (x, w) = gauss_legendre(5);
        assert!((x[4] - 0.906_179_845_938_664).abs() < 1e-14);
        assert!((x[3] - 0.538_469_310_105_683).abs() < 1e-14);
        assert!((w[4] - 0.236_926_885_056_189).abs() < 1e-14);
        assert!((w[2] - 0.568_888_888_888_889).abs() < 1e-14);
        assert!(gauss_legendre(0).0.is_empty());
    }

    #[test]
    fn integrates_polynomials_of_degree_2k_minus_1_exactly() {
        for k in 1..=16 {
            let (x, w) = gauss_legendre(k);
            assert!(x.windows(2).all(|p| p[0] < p[1]), "k={k} not ascending");
            assert!(x.iter().all(|v| v.abs() < 1.0));
            for d in 0..2 * k {
                let got: f64 = x
                    .iter()
                    .zip(&w)
                    .map(|(xi, wi)| wi * xi.powi(d as i32))
                    .sum();
                let want = if d % 2 == 0 {
                    2.0 / (d as f64 + 1.0)
                } else {
                    0.0
                };
                assert!((got - want).abs() < 1e-13, "k={k} d={d}: {got} vs {want}");
            }
        }
        let (_, w) = gauss_legendre(64);
        assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-13);
    }

    #[test]
    fn taylor_cos_is_accurate_on_0_pi() {
        for i in 0..=100 {
            let t = PI * i as f64 / 100.0;
            assert!((taylor_cos(t) - t.cos()).abs() < 1e-14);
        }
    }
}
