//! What earlier rounds published that a round's re-derivation depends on: the update hashes
//! the pre-filter refuses as replays, the eval samples already revealed (the draw excludes
//! them), and the median norm the pre-filter carries forward.

use std::collections::{BTreeSet, HashMap};

use crate::manifest::{Manifest, UpdateStatus};
use crate::pool::Reveal;

/// The state after the rounds folded in so far (start with [`History::default`] at round 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Accepted frame hashes → the round that published them.
    pub published: HashMap<[u8; 32], u64>,
    /// Pool indices revealed so far.
    pub revealed: BTreeSet<u64>,
    /// The median norm the last round carried forward.
    pub carried_median: Option<f64>,
    /// Rounds folded in (the next round to re-derive).
    pub rounds: u64,
}

impl History {
    /// Fold in a round (after it was checked).
    pub fn absorb(&mut self, manifest: &Manifest, reveal: &Reveal) {
        for u in &manifest.updates {
            if matches!(u.status, UpdateStatus::Accepted { .. }) {
                self.published.insert(u.frame.sha256.0, manifest.round);
            }
        }
        self.revealed.extend(reveal.indices());
        self.carried_median = manifest.next_median;
        self.rounds = manifest.round + 1;
    }
}
