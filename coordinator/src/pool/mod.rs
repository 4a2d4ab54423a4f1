//! The eval pool: the coordinator's held-out samples, committed before training, drawn from
//! without replacement, and revealed (with Merkle proofs) after each round is scored.
//!
//! A round's utility v(S) is measured on eval samples. If trainers could read those samples,
//! a trainer could train on them and inflate its own Shapley value; hiding *which* samples a
//! round draws does not help when the population is public. So:
//!
//! 1. **The pool is the coordinator's own** ([`build`]): `[data.eval]` names a source that is
//!    never sent to trainers (they get [`coalition_config::trainer_view`]) — the run's generator
//!    with a secret seed, or a private file. A public split is allowed but flagged.
//! 2. **Committed before training**: [`EvalPool::root`], a Merkle root over the pool's samples
//!    ([`sample_leaf`]: `u64le(index) ‖ u32le(token)…` for the `seq_len + 1` tokens of the
//!    window) and their count, go into the Run account when the run is created.
//! 3. **Drawn from the unrevealed samples** ([`draw`]): each round draws its eval batch with
//!    the round seed (which commits to the accepted update hashes, so nobody knows the draw
//!    before submitting) from the samples no earlier round revealed; each sample scores at most
//!    one round. A run whose pool runs out stops with [`PoolExhausted`](crate::CoordinatorError::PoolExhausted)
//!    before the round opens (start-up checks `rounds × eval_sequences` fits).
//! 4. **Revealed after scoring** ([`Reveal`]): the round's samples with their proofs, published
//!    with the round. A trainer can then train on revealed samples, but they never score again.
//!
//! For a generated pool the secret seed itself is revealed when the run ends, so anyone can
//! regenerate the whole pool and check it against the committed root.

mod build;
mod draw;
mod reveal;

pub use build::{build, EvalSecret, PoolOrigin, SECRET_FILE};
pub use draw::{draw, unrevealed, EVAL_DRAW_LABEL};
pub use reveal::{Reveal, RevealedSample, REVEAL_FORMAT};

use coalition_attribution::{Hash32, MerkleTree};
use coalition_datasets::SampleSet;

/// A committed eval pool.
pub struct EvalPool {
    samples: SampleSet,
    tree: MerkleTree,
    /// Where the samples came from.
    pub origin: PoolOrigin,
}

/// The leaf of sample `index` with window `tokens` (see the module docs).
pub fn sample_leaf(index: u64, tokens: &[u32]) -> Vec<u8> {
    let mut leaf = Vec::with_capacity(8 + 4 * tokens.len());
    leaf.extend_from_slice(&index.to_le_bytes());
    for t in tokens {
        leaf.extend_from_slice(&t.to_le_bytes());
    }
    leaf
}

impl EvalPool {
    /// The pool over every window of `samples`.
    pub fn new(samples: SampleSet, origin: PoolOrigin) -> crate::Result<EvalPool> {
        let leaves = (0..samples.len())
            .map(|k| Ok(sample_leaf(k as u64, samples.window(k)?)))
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(EvalPool {
            tree: MerkleTree::new(&leaves),
            samples,
            origin,
        })
    }

    /// The commitment: Merkle root over [`sample_leaf`]s.
    pub fn root(&self) -> Hash32 {
        self.tree.root()
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.samples.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The samples (windows of `seq_len + 1` tokens).
    pub fn samples(&self) -> &SampleSet {
        &self.samples
    }

    /// The reveal of `indices` (pool indices, in draw order) for `round`.
    pub fn reveal(&self, round: u64, indices: &[u64]) -> crate::Result<Reveal> {
        let samples = indices
            .iter()
            .map(|&i| {
                let k = usize::try_from(i).unwrap_or(usize::MAX);
                let tokens = self.samples.window(k)?.to_vec();
                let proof = self.tree.proof(k).unwrap_or_default();
                Ok(RevealedSample {
                    index: i,
                    tokens,
                    proof,
                })
            })
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(Reveal {
            format: REVEAL_FORMAT.to_string(),
            round,
            pool_root: self.root(),
            pool_count: self.len(),
            samples,
        })
    }
}

#[cfg(test)]
mod tests;
