//! Round seeds and labelled sub-seeds.
//!
//! The round seed commits to everything the round's scores depend on, so the coordinator cannot
//! shop for a favourable permutation stream:
//!
//! ```text
//! round_seed = sha256( "coalition/round-seed/v1" ‖ 0x00
//!                    ‖ u64le(len(run_id)) ‖ run_id
//!                    ‖ u64le(round)
//!                    ‖ model_hash                       (32 bytes: hash of θ_r)
//!                    ‖ u64le(k) ‖ h_1 ‖ … ‖ h_k )        (update hashes sorted bytewise ascending)
//! ```
//!
//! This is docs/DESIGN.md §5's `sha256(run id ‖ round ‖ model hash ‖ sorted update hashes)`
//! with a domain tag and length prefixes added so that no two different inputs share a preimage.
//!
//! Each consumer of randomness uses its own sub-seed,
//! `sha256("coalition-attribution/v1/" ‖ label ‖ 0x00 ‖ seed)`, so streams never overlap:
//! the permutation estimator uses label `"permutations"`, spot checks `"spot-check"`.

use crate::encoding::{Hash32, Seed};
use sha2::{Digest, Sha256};

/// Domain tag of [`round_seed`].
pub const ROUND_SEED_TAG: &[u8] = b"coalition/round-seed/v1";

/// The round seed; see the module docs for the exact byte layout. `update_hashes` may be in
/// any order (they are sorted here); duplicates are kept.
pub fn round_seed(
    run_id: &[u8],
    round: u64,
    model_hash: &Hash32,
    update_hashes: &[Hash32],
) -> Seed {
    let mut sorted: Vec<&Hash32> = update_hashes.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    h.update(ROUND_SEED_TAG);
    h.update([0u8]);
    h.update((run_id.len() as u64).to_le_bytes());
    h.update(run_id);
    h.update(round.to_le_bytes());
    h.update(model_hash.as_bytes());
    h.update((sorted.len() as u64).to_le_bytes());
    for u in sorted {
        h.update(u.as_bytes());
    }
    Seed(h.finalize().into())
}

impl Seed {
    /// A labelled sub-seed: `sha256("coalition-attribution/v1/" ‖ label ‖ 0x00 ‖ seed)`.
    pub fn derive(&self, label: &str) -> Seed {
        let mut h = Sha256::new();
        h.update(b"coalition-attribution/v1/");
        h.update(label.as_bytes());
        h.update([0u8]);
        h.update(self.0);
        Seed(h.finalize().into())
    }
}

/// sha256 of arbitrary bytes, e.g. to hash an update blob into a [`Hash32`].
pub fn sha256(bytes: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_seed_ignores_update_order_but_not_content() {
        let m = sha256(b"model");
        let a = sha256(b"a");
        let b = sha256(b"b");
        let s1 = round_seed(b"run", 3, &m, &[a, b]);
        assert_eq!(s1, round_seed(b"run", 3, &m, &[b, a]));
        assert_ne!(s1, round_seed(b"run", 4, &m, &[a, b]));
        assert_ne!(s1, round_seed(b"run", 3, &m, &[a]));
        assert_ne!(s1, round_seed(b"ru", 3, &m, &[a, b]));
        assert_ne!(s1, round_seed(b"run", 3, &sha256(b"other"), &[a, b]));
        assert_ne!(s1.derive("permutations"), s1.derive("spot-check"));
    }

    #[test]
    fn round_seed_matches_its_documented_layout() {
        let m = Hash32([7; 32]);
        let u1 = Hash32([9; 32]);
        let u2 = Hash32([1; 32]);
        let mut bytes = b"coalition/round-seed/v1\0".to_vec();
        bytes.extend(2u64.to_le_bytes());
        bytes.extend(b"r1");
        bytes.extend(5u64.to_le_bytes());
        bytes.extend([7; 32]);
        bytes.extend(2u64.to_le_bytes());
        bytes.extend([1; 32]);
        bytes.extend([9; 32]);
        assert_eq!(round_seed(b"r1", 5, &m, &[u1, u2]).0, sha256(&bytes).0);
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
