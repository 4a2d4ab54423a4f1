//! The round's eval batches: the pool samples drawn for the round ([`crate::pool::draw`]),
//! in draw order, cut into batches of `batch_size`.

use coalition_datasets::SampleSet;
use coalition_trainer::batches::TokenBatch;

use crate::error::Result;

/// The eval batches for pool `indices`, `batch_size` sequences per batch.
pub fn eval_batches(
    samples: &SampleSet,
    indices: &[u64],
    batch_size: usize,
) -> Result<Vec<TokenBatch>> {
    let indices: Vec<usize> = indices
        .iter()
        .map(|&i| usize::try_from(i).unwrap_or(usize::MAX))
        .collect();
    indices
        .chunks(batch_size.max(1))
        .map(|idx| Ok(TokenBatch::gather(samples, idx)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_follow_the_draw_order() {
        let set = SampleSet::new((0..500u32).collect::<Vec<_>>(), 8).unwrap();
        let batches = eval_batches(&set, &[9, 2, 4, 1, 0, 3, 7, 8, 5, 6], 4).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.inputs.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        assert_eq!(batches[0].inputs[0][0], 72);
        assert!(eval_batches(&set, &[1000], 4).is_err());
    }
}
