//! Which pool samples score a round.
//!
//! `draw(seed, unrevealed, k)`: the unrevealed pool indices in ascending order, and from them
//! the `k` at the positions `coalition_datasets::choose_indices(seed', len, k)` with
//! `seed' = round_seed.derive("eval-pool")`, in that order. A reviewer recomputes it from the
//! round seed and the indices revealed by earlier rounds.

use coalition_attribution::Seed;
use coalition_datasets::choose_indices;
use std::collections::BTreeSet;

use crate::error::{CoordinatorError, Result};

/// Sub-seed label of the eval draw.
pub const EVAL_DRAW_LABEL: &str = "eval-pool";

/// Pool indices below `count` that are not in `revealed`, ascending.
pub fn unrevealed(count: u64, revealed: &BTreeSet<u64>) -> Vec<u64> {
    (0..count).filter(|i| !revealed.contains(i)).collect()
}

/// `k` distinct indices out of `unrevealed` (ascending), chosen by the round seed.
pub fn draw(round_seed: &Seed, unrevealed: &[u64], k: usize) -> Result<Vec<u64>> {
    if k == 0 || k > unrevealed.len() {
        return Err(CoordinatorError::PoolExhausted {
            needed: k as u64,
            left: unrevealed.len() as u64,
        });
    }
    let seed = round_seed.derive(EVAL_DRAW_LABEL);
    let positions = choose_indices(seed.0, unrevealed.len(), k)?;
    Ok(positions.into_iter().map(|p| unrevealed[p]).collect())
}
