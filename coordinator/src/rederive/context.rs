//! What earlier rounds published that a round's re-derivation depends on: the update hashes
//! the pre-filter refuses as replays, the eval samples already revealed (the draw excludes
//! them), and the median norm the pre-filter carries forward.

use std::collections::{BTreeSet, HashMap};

use crate::manifest::{Manifest, UpdateStatus};
use crate::pool::Reveal;
use crate::prefilter::Published;

/// The state after the rounds folded in so far (start with [`History::default`] at round 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Accepted frame hashes → the round that published them.
    pub published: HashMap<[u8; 32], u64>,
    /// Pool indices revealed so far.
    pub revealed: BTreeSet<u64>,
    /// The median norm the last round carried forward.
    pub carried_median: Option<f64>,
    /// Updates and outer steps of recent rounds, by content (the pre-filter's replay check).
    pub recent: Vec<Published>,
    /// Rounds folded in (the next round to re-derive).
    pub rounds: u64,
}

impl History {
    /// Fold in a round (after it was checked), keeping the content of the last `window`
    /// rounds (`attribution.replay_window`).
    pub fn absorb(
        &mut self,
        manifest: &Manifest,
        reveal: &Reveal,
        content: &[Published],
        window: u64,
    ) {
        let round = manifest.round;
        self.recent.retain(|p| p.round + window > round + 1);
        if window > 0 {
            self.recent.extend(content.iter().cloned());
        }
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
