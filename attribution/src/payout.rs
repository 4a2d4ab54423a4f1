//! Fixed-point scores and the split of a round's reward.
//!
//! **Fixed point.** Scores are utilities (differences of mean cross-entropy, in nats) times
//! [`SCORE_SCALE`] = 10⁹, rounded half away from zero, saturating at the `i64` range
//! (±9.2·10⁹ nats, far beyond any real loss). NaN and ±∞ are errors.
//!
//! **Split.** With fixed-point scores `f_i`, their positive part `P = Σ max(f_i, 0)`, reward
//! `R` and noise threshold `T` (fixed point):
//! * no players → nothing paid;
//! * `P = 0` → nothing paid;
//! * `P ≤ T` → nothing paid (the measured help is indistinguishable from noise);
//! * otherwise `reward_i = floor(R · max(f_i, 0) / P)`, computed in `u128`
//!   (`R < 2^64`, `max(f_i, 0) < 2^63`, so the product is below 2^127 and cannot overflow).
//!
//! The gate is on `P`, not on the round's total gain `v(N) − v(∅)`: one harmful trainer can pull
//! `v(N)` below any threshold, and must not thereby veto the pay of everyone who helped (the
//! coordinator can leave negative-score updates out of the model; their damage is then never
//! committed). Negative scores are recorded but never paid. Since Σ floor(·) ≤ R·Σ max(f_i,0)/P = R, the
//! payouts never exceed R; the remainder `dust = R − Σ reward_i` (at most n − 1 units when
//! paying, all of R otherwise) is returned explicitly, so `paid + dust = R` always.

use crate::error::AttributionError;
use serde::{Deserialize, Serialize};

/// Fixed-point scale: one unit is 10⁻⁹ of a utility unit (nano-nats).
pub const SCORE_SCALE: f64 = 1e9;

/// `round(x · 10⁹)` half away from zero, saturating; errors on NaN/∞.
pub fn to_fixed(x: f64) -> Result<i64, AttributionError> {
    if !x.is_finite() {
        return Err(AttributionError::NonFiniteScore { value: x });
    }
    // `as` saturates at the i64 range.
    Ok((x * SCORE_SCALE).round() as i64)
}

/// Why a round paid or did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// The reward was split among positive scores.
    Paid,
    /// The round had no players.
    NoPlayers,
    /// The positive part of the scores did not exceed the noise threshold.
    BelowNoiseThreshold,
    /// No player had a positive score.
    NoPositiveScores,
}

/// The split of one round's reward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payouts {
    /// Reward per player, in player order.
    pub amounts: Vec<u64>,
    /// Σ amounts.
    pub paid: u64,
    /// reward − paid (unallocated remainder; stays in the vault).
    pub dust: u64,
    pub status: PayoutStatus,
}

/// Splits `reward` by the rule in the module docs.
pub fn split_reward(reward: u64, fixed_scores: &[i64], noise_threshold: i64) -> Payouts {
    let nothing = |status| Payouts {
        amounts: vec![0; fixed_scores.len()],
        paid: 0,
        dust: reward,
        status,
    };
    if fixed_scores.is_empty() {
        return nothing(PayoutStatus::NoPlayers);
    }
    let total: u128 = fixed_scores.iter().map(|&f| f.max(0) as u128).sum();
    if total == 0 {
        return nothing(PayoutStatus::NoPositiveScores);
    }
    if (total as i128) <= noise_threshold as i128 {
        return nothing(PayoutStatus::BelowNoiseThreshold);
    }
    let amounts: Vec<u64> = fixed_scores
        .iter()
        .map(|&f| {
            // ≤ reward because max(f, 0) ≤ total.
            (reward as u128 * f.max(0) as u128 / total) as u64
        })
        .collect();
    let paid: u64 = amounts.iter().fold(0u64, |acc, &a| acc.saturating_add(a));
    Payouts {
        amounts,
        paid,
        dust: reward - paid.min(reward),
        status: PayoutStatus::Paid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_point() {
        assert_eq!(to_fixed(1.0).unwrap(), 1_000_000_000);
        assert_eq!(to_fixed(-2.5e-9).unwrap(), -3);
        assert_eq!(to_fixed(1e300).unwrap(), i64::MAX);
        assert_eq!(to_fixed(-1e300).unwrap(), i64::MIN);
        assert!(to_fixed(f64::NAN).is_err());
        assert!(to_fixed(f64::INFINITY).is_err());
    }

    #[test]
    fn split_examples() {
        let p = split_reward(100, &[1, 1, 1, -5], 0);
        assert_eq!(p.amounts, vec![33, 33, 33, 0]);
        assert_eq!((p.paid, p.dust, p.status), (99, 1, PayoutStatus::Paid));
        let p = split_reward(100, &[1, 2], 3);
        assert_eq!(
            (p.paid, p.dust, p.status),
            (0, 100, PayoutStatus::BelowNoiseThreshold)
        );
        let p = split_reward(100, &[-1, 0], 0);
        assert_eq!(p.status, PayoutStatus::NoPositiveScores);
        let p = split_reward(100, &[], 0);
        assert_eq!((p.dust, p.status), (100, PayoutStatus::NoPlayers));
        let p = split_reward(u64::MAX, &[i64::MAX, i64::MAX], 0);
        assert_eq!(p.amounts, vec![u64::MAX / 2, u64::MAX / 2]);
        assert_eq!(p.paid + p.dust, u64::MAX);
    }

    proptest! {
        #[test]
        fn never_exceeds_the_reward(
            reward in any::<u64>(),
            scores in prop::collection::vec(any::<i64>(), 0..40),
            threshold in any::<i64>(),
        ) {
            let p = split_reward(reward, &scores, threshold);
            let total: u128 = p.amounts.iter().map(|&a| a as u128).sum();
            prop_assert!(total <= reward as u128);
            prop_assert_eq!(p.paid as u128, total);
            prop_assert_eq!(p.paid + p.dust, reward);
            for (a, s) in p.amounts.iter().zip(&scores) {
                if *s <= 0 { prop_assert_eq!(*a, 0); }
            }
            if p.status == PayoutStatus::Paid {
                prop_assert!(p.dust < scores.len() as u64);
            }
        }
    }
}
