//! A round's revealed eval samples (`reveals/round-N.json`): each sample's pool index, tokens
//! and Merkle proof against the committed pool root.

use coalition_attribution::{verify_proof, Hash32, ProofStep};
use serde::{Deserialize, Serialize};

use super::sample_leaf;

/// Format string of [`Reveal`].
pub const REVEAL_FORMAT: &str = "coalition-reveal/v1";

/// One revealed sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealedSample {
    pub index: u64,
    /// The `seq_len + 1` tokens of the window.
    pub tokens: Vec<u32>,
    pub proof: Vec<ProofStep>,
}

/// The samples that scored a round, in draw order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reveal {
    pub format: String,
    pub round: u64,
    pub pool_root: Hash32,
    pub pool_count: u64,
    pub samples: Vec<RevealedSample>,
}

impl Reveal {
    /// The first sample whose proof does not open against `root` (or whose index is beyond
    /// `count`), as `(position, index)`.
    pub fn first_bad_proof(&self, root: &Hash32, count: u64) -> Option<(usize, u64)> {
        self.samples.iter().enumerate().find_map(|(pos, s)| {
            let ok =
                s.index < count && verify_proof(&sample_leaf(s.index, &s.tokens), &s.proof, root);
            (!ok).then_some((pos, s.index))
        })
    }

    /// Pool indices in draw order.
    pub fn indices(&self) -> Vec<u64> {
        self.samples.iter().map(|s| s.index).collect()
    }
}
