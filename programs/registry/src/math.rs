//! Pure arithmetic the program relies on, with host tests.
//!
//! BPF rule: no 128-bit arithmetic and no `checked_mul`/`saturating_mul`/`overflowing_mul` on
//! u64 — LLVM lowers them to the i128 libcall `__multi3`, which the BPF backend cannot link.
//! [`mul_u64`] is the checked multiply to use instead. `checked_add`/`checked_sub` are fine.

/// `a * b`, or `None` on overflow, computed from 32-bit halves (no 128-bit intermediate).
#[inline]
pub const fn mul_u64(a: u64, b: u64) -> Option<u64> {
    let (a_hi, a_lo) = (a >> 32, a & 0xffff_ffff);
    let (b_hi, b_lo) = (b >> 32, b & 0xffff_ffff);
    if a_hi != 0 && b_hi != 0 {
        return None;
    }
    // At most one of the cross terms is non-zero; each 32x32 product fits in 64 bits.
    let cross = a_hi
        .wrapping_mul(b_lo)
        .wrapping_add(a_lo.wrapping_mul(b_hi));
    if cross > 0xffff_ffff {
        return None;
    }
    let low = a_lo.wrapping_mul(b_lo);
    (cross << 32).checked_add(low)
}

/// Adds one payout to a round's running total, refusing to pass the declared `round_total`.
/// Returns the new running total.
#[inline]
pub fn add_payout(credited: u64, payout: u64, round_total: u64) -> Option<u64> {
    match credited.checked_add(payout) {
        Some(sum) if sum <= round_total => Some(sum),
        _ => None,
    }
}

/// The sum of `payouts`, or `None` on overflow. (Off-chain builders use it to fill in the
/// round header's total; the program accumulates entry by entry with [`add_payout`].)
pub fn sum_payouts(payouts: impl IntoIterator<Item = u64>) -> Option<u64> {
    payouts
        .into_iter()
        .try_fold(0u64, |acc, p| acc.checked_add(p))
}

/// The close-time check: every declared trainer recorded, entries summing exactly to the declared
/// total, which is within the run's reward per round.
#[inline]
pub fn check_close(
    recorded: u32,
    trainer_count: u32,
    credited: u64,
    total_payout: u64,
    reward_per_round: u64,
) -> Result<(), crate::error::RegistryError> {
    use crate::error::RegistryError;
    if recorded != trainer_count {
        return Err(RegistryError::TrainerCountMismatch);
    }
    if total_payout > reward_per_round {
        return Err(RegistryError::PayoutExceedsReward);
    }
    if credited != total_payout {
        return Err(RegistryError::PayoutSumMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_matches_checked_mul() {
        let edges = [
            0u64,
            1,
            2,
            3,
            0xffff,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0xffff_ffff_ffff,
            u64::MAX / 2,
            u64::MAX / 3,
            u64::MAX - 1,
            u64::MAX,
            1_000_000_000,
            4_294_967_296,
            4_294_967_297,
        ];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(mul_u64(a, b), a.checked_mul(b), "{a} * {b}");
            }
        }
        // A deterministic pseudo-random sweep (xorshift), biased towards the overflow boundary.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let (r1, r2, r3) = (next(), next(), next());
            let a = r1 >> (r3 % 64);
            let b = r2 >> ((r3 >> 8) % 64);
            assert_eq!(mul_u64(a, b), a.checked_mul(b), "{a} * {b}");
        }
    }

    #[test]
    fn payouts_accumulate_up_to_the_total() {
        assert_eq!(add_payout(0, 5, 10), Some(5));
        assert_eq!(add_payout(5, 5, 10), Some(10));
        assert_eq!(add_payout(5, 6, 10), None);
        assert_eq!(add_payout(u64::MAX, 1, u64::MAX), None);
        assert_eq!(sum_payouts([1, 2, 3]), Some(6));
        assert_eq!(sum_payouts([u64::MAX, 1]), None);
        assert_eq!(sum_payouts([]), Some(0));
    }

    #[test]
    fn close_checks() {
        use crate::error::RegistryError::*;
        assert_eq!(check_close(3, 3, 100, 100, 100), Ok(()));
        assert_eq!(check_close(2, 3, 100, 100, 100), Err(TrainerCountMismatch));
        assert_eq!(check_close(3, 3, 99, 100, 100), Err(PayoutSumMismatch));
        assert_eq!(check_close(3, 3, 101, 101, 100), Err(PayoutExceedsReward));
        assert_eq!(check_close(0, 0, 0, 0, 0), Ok(()));
    }
}
