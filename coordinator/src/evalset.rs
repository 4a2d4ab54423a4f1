//! The round's eval batch: `eval_sequences` held-out samples chosen by the round seed.
//!
//! The indices are `coalition_datasets::choose_indices(seed', population, count)` with
//! `seed' = round_seed.derive("eval-batch")` (attribution's labelled sub-seed,
//! sha256("coalition-attribution/v1/eval-batch" ‖ 0x00 ‖ round seed)) over the held-out
//! split's samples, in the order returned, cut into batches of `batch_size`. Because the round
//! seed commits to the accepted update hashes, no trainer can know the eval samples before it
//! submits (so none can train on them), yet anyone can recompute them from the report's seed and
//! the held-out split (whose hash the run records).

use coalition_attribution::Seed;
use coalition_datasets::{choose_indices, SampleSet};
use coalition_trainer::batches::TokenBatch;

use crate::error::{CoordinatorError, Result};

/// Sub-seed label of the eval sample choice.
pub const EVAL_SEED_LABEL: &str = "eval-batch";

/// The held-out sample indices of a round's eval batch (at most `sequences`).
pub fn eval_indices(
    round_seed: &Seed,
    held_out: &SampleSet,
    sequences: usize,
) -> Result<Vec<usize>> {
    if held_out.is_empty() || sequences == 0 {
        return Err(CoordinatorError::Invalid {
            name: "eval sequences",
            value: format!("{sequences} of {} held-out samples", held_out.len()),
            reason: "the round's eval batch would be empty".into(),
        });
    }
    let seed = round_seed.derive(EVAL_SEED_LABEL);
    Ok(choose_indices(
        seed.0,
        held_out.len(),
        sequences.min(held_out.len()),
    )?)
}

/// The eval batches for `indices`, `batch_size` sequences per batch.
pub fn eval_batches(
    held_out: &SampleSet,
    indices: &[usize],
    batch_size: usize,
) -> Result<Vec<TokenBatch>> {
    indices
        .chunks(batch_size.max(1))
        .map(|idx| Ok(TokenBatch::gather(held_out, idx)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use coalition_attribution::sha256;

    #[test]
    fn deterministic_distinct_and_seed_dependent() {
        let set = SampleSet::new((0..500u32).collect::<Vec<_>>(), 8).unwrap();
        let s1 = Seed(sha256(b"a").0);
        let s2 = Seed(sha256(b"b").0);
        let a = eval_indices(&s1, &set, 10).unwrap();
        assert_eq!(a, eval_indices(&s1, &set, 10).unwrap());
        assert_ne!(a, eval_indices(&s2, &set, 10).unwrap());
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        let batches = eval_batches(&set, &a, 4).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.inputs.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        assert_eq!(eval_indices(&s1, &set, 10_000).unwrap().len(), set.len());
        assert!(eval_indices(&s1, &set, 0).is_err());
    }
}
