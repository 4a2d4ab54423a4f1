//! Fixed-length training samples cut from a token stream.
//!
//! Sample `k` is the window `tokens[k*seq_len .. k*seq_len + seq_len + 1]`: its first `seq_len`
//! tokens are the input, its last `seq_len` the target (the input shifted by one). Windows
//! overlap by one token, so every token but the first is a target exactly once; there are
//! `(tokens.len() - 1) / seq_len` samples (0 if fewer than `seq_len + 1` tokens).

use std::sync::Arc;

use crate::error::{DatasetError, Result};

/// Samples over a shared token stream (cheap to clone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSet {
    tokens: Arc<[u32]>,
    seq_len: usize,
}

impl SampleSet {
    /// Samples of `seq_len` (≥ 1) input tokens over `tokens` (a `Vec<u32>` or `&[u32]`).
    pub fn new(tokens: impl Into<Arc<[u32]>>, seq_len: usize) -> Result<Self> {
        if seq_len == 0 {
            return Err(DatasetError::Zero { name: "seq_len" });
        }
        Ok(SampleSet {
            tokens: tokens.into(),
            seq_len,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.tokens.len().saturating_sub(1) / self.seq_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The underlying tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The `seq_len + 1` tokens of sample `k`.
    pub fn window(&self, k: usize) -> Result<&[u32]> {
        if k >= self.len() {
            return Err(DatasetError::OutOfRange {
                what: "sample",
                index: k as u64,
                len: self.len() as u64,
            });
        }
        let start = k * self.seq_len;
        Ok(&self.tokens[start..start + self.seq_len + 1])
    }

    /// Input tokens of sample `k`.
    pub fn input(&self, k: usize) -> Result<&[u32]> {
        self.window(k).map(|w| &w[..self.seq_len])
    }

    /// Target tokens of sample `k` (input shifted by one).
    pub fn target(&self, k: usize) -> Result<&[u32]> {
        self.window(k).map(|w| &w[1..])
    }

    /// Inputs and targets of several samples, each flattened row-major
    /// (`indices.len() × seq_len`), ready to become `[batch, seq_len]` tensors.
    pub fn batch(&self, indices: &[usize]) -> Result<(Vec<u32>, Vec<u32>)> {
        let mut inputs = Vec::with_capacity(indices.len() * self.seq_len);
        let mut targets = Vec::with_capacity(indices.len() * self.seq_len);
        for &k in indices {
            let w = self.window(k)?;
            inputs.extend_from_slice(&w[..self.seq_len]);
            targets.extend_from_slice(&w[1..]);
        }
        Ok((inputs, targets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_overlap_by_one_and_shift_targets() {
        let tokens: Vec<u32> = (0..10).collect();
        let s = SampleSet::new(tokens.clone(), 3).unwrap();
        assert_eq!(s.len(), 3); // (10-1)/3
        assert_eq!(s.window(0).unwrap(), &[0, 1, 2, 3]);
        assert_eq!(s.input(2).unwrap(), &[6, 7, 8]);
        assert_eq!(s.target(2).unwrap(), &[7, 8, 9]);
        let (x, y) = s.batch(&[1, 0]).unwrap();
        assert_eq!(x, vec![3, 4, 5, 0, 1, 2]);
        assert_eq!(y, vec![4, 5, 6, 1, 2, 3]);
        assert_eq!(SampleSet::new(&tokens[..], 9).unwrap().len(), 1);
        assert_eq!(SampleSet::new(&tokens[..], 10).unwrap().len(), 0);
        assert!(SampleSet::new(Vec::new(), 4).unwrap().is_empty());
    }

    #[test]
    fn errors_not_panics() {
        assert!(matches!(
            SampleSet::new(vec![1, 2], 0),
            Err(DatasetError::Zero { name: "seq_len" })
        ));
        let s = SampleSet::new(vec![1, 2, 3], 1).unwrap();
        let e = s.batch(&[0, 2]).unwrap_err().to_string();
        assert_eq!(e, "sample 2 is out of range (there are 2)");
    }
}
