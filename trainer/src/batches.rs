//! Turning sample indices into `(inputs, targets)` token rows.

use coalition_datasets::{DatasetError, SampleSet};

/// One training or eval batch: `inputs[i]` predicts `targets[i]` (shifted by one token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    pub inputs: Vec<Vec<u32>>,
    pub targets: Vec<Vec<u32>>,
}

impl TokenBatch {
    /// Tokens predicted in this batch.
    pub fn tokens(&self) -> usize {
        self.targets.iter().map(Vec::len).sum()
    }

    /// Gather the samples `indices` of `set`.
    pub fn gather(set: &SampleSet, indices: &[usize]) -> Result<Self, DatasetError> {
        let mut inputs = Vec::with_capacity(indices.len());
        let mut targets = Vec::with_capacity(indices.len());
        for &i in indices {
            inputs.push(set.input(i)?.to_vec());
            targets.push(set.target(i)?.to_vec());
        }
        Ok(Self { inputs, targets })
    }

    /// The first `count` batches of `batch_size` consecutive samples: the fixed eval set.
    pub fn eval_set(
        set: &SampleSet,
        batch_size: usize,
        count: usize,
    ) -> Result<Vec<Self>, DatasetError> {
        let n = set.len();
        (0..count)
            .map(|b| b * batch_size)
            .take_while(|&start| start < n)
            .map(|start| {
                let idx: Vec<usize> = (start..(start + batch_size).min(n)).collect();
                Self::gather(set, &idx)
            })
            .collect()
    }
}
