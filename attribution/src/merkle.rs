//! sha256 Merkle trees with domain separation.
//!
//! * leaf hash: `sha256(0x00 ‖ leaf bytes)`
//! * node hash: `sha256(0x01 ‖ left ‖ right)`
//! * a level with an odd number of nodes promotes its last node unchanged to the next level
//!   (no duplication, so no two leaf lists share a root — unlike Bitcoin's duplicate-last rule);
//! * the root of one leaf is its leaf hash; the root of zero leaves is `sha256("")`.

use crate::encoding::Hash32;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `sha256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash32(h.finalize().into())
}

/// `sha256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash32(h.finalize().into())
}

fn next_level(level: &[Hash32]) -> Vec<Hash32> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => node_hash(l, r),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two items"),
        })
        .collect()
}

/// The Merkle root of `leaves` (raw leaf bytes, in order).
pub fn merkle_root<I, T>(leaves: I) -> Hash32
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut level: Vec<Hash32> = leaves.into_iter().map(|l| leaf_hash(l.as_ref())).collect();
    if level.is_empty() {
        return Hash32(Sha256::digest([]).into());
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// One step of an inclusion proof: the sibling hash and which side it sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofStep {
    pub sibling: Hash32,
    pub sibling_is_left: bool,
}

/// An inclusion proof for leaf `index`, or `None` if out of range. Levels where the node is
/// promoted without a sibling contribute no step.
pub fn merkle_proof<T: AsRef<[u8]>>(leaves: &[T], index: usize) -> Option<Vec<ProofStep>> {
    if index >= leaves.len() {
        return None;
    }
    let mut level: Vec<Hash32> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    let mut idx = index;
    let mut proof = Vec::new();
    while level.len() > 1 {
        let sibling = idx ^ 1;
        if sibling < level.len() {
            proof.push(ProofStep {
                sibling: level[sibling],
                sibling_is_left: sibling < idx,
            });
        }
        level = next_level(&level);
        idx /= 2;
    }
    Some(proof)
}

/// A Merkle tree kept whole, for many proofs over the same leaves (same construction as
/// [`merkle_root`] and [`merkle_proof`]; O(n) to build, O(log n) per proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` are the leaf hashes; the last level is the root alone.
    levels: Vec<Vec<Hash32>>,
}

impl MerkleTree {
    /// The tree over `leaves` (raw leaf bytes, in order).
    pub fn new<I, T>(leaves: I) -> MerkleTree
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let first: Vec<Hash32> = leaves.into_iter().map(|l| leaf_hash(l.as_ref())).collect();
        let mut levels = vec![first];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = next_level(levels.last().map_or(&[][..], |l| &l[..]));
            levels.push(next);
        }
        MerkleTree { levels }
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root (`sha256("")` for no leaves), equal to [`merkle_root`] of the same leaves.
    pub fn root(&self) -> Hash32 {
        match self.levels.last().and_then(|l| l.first()) {
            Some(root) => *root,
            None => Hash32(Sha256::digest([]).into()),
        }
    }

    /// The inclusion proof of leaf `index` (equal to [`merkle_proof`]'s), `None` if out of range.
    pub fn proof(&self, index: usize) -> Option<Vec<ProofStep>> {
        if index >= self.len() {
            return None;
        }
        let mut idx = index;
        let mut proof = Vec::new();
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = idx ^ 1;
            if let Some(h) = level.get(sibling) {
                proof.push(ProofStep {
                    sibling: *h,
                    sibling_is_left: sibling < idx,
                });
            }
            idx /= 2;
        }
        Some(proof)
    }
}

/// Checks an inclusion proof of `leaf` against `root`.
pub fn verify_proof(leaf: &[u8], proof: &[ProofStep], root: &Hash32) -> bool {
    let mut h = leaf_hash(leaf);
    for step in proof {
        h = if step.sibling_is_left {
            node_hash(&step.sibling, &h)
        } else {
            node_hash(&h, &step.sibling)
        };
    }
    h == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(parts: &[&[u8]]) -> Hash32 {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Hash32(h.finalize().into())
    }

    #[test]
    fn matches_the_documented_construction() {
        let l: Vec<Vec<u8>> = (0u8..5).map(|i| vec![i; 3]).collect();
        let lh: Vec<Hash32> = l.iter().map(|x| sha(&[&[0], x])).collect();
        let n01 = sha(&[&[1], &lh[0].0, &lh[1].0]);
        let n23 = sha(&[&[1], &lh[2].0, &lh[3].0]);
        let n0123 = sha(&[&[1], &n01.0, &n23.0]);
        let root = sha(&[&[1], &n0123.0, &lh[4].0]);
        assert_eq!(merkle_root(&l), root);
        assert_eq!(merkle_root(&l[..1]), lh[0]);
        assert_eq!(merkle_root(Vec::<Vec<u8>>::new()), sha(&[]));
        // Promotion, not duplication: [a, b, c] and [a, b, c, c] differ.
        assert_ne!(
            merkle_root(&l[..3]),
            merkle_root([&l[0], &l[1], &l[2], &l[2]])
        );
    }

    #[test]
    fn proofs_verify_for_every_leaf_and_size() {
        for n in 1..20usize {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| (i as u32).to_le_bytes().to_vec()).collect();
            let root = merkle_root(&leaves);
            for (i, leaf) in leaves.iter().enumerate() {
                let p = merkle_proof(&leaves, i).unwrap();
                assert!(verify_proof(leaf, &p, &root));
                assert!(!verify_proof(b"other", &p, &root));
            }
            assert!(merkle_proof(&leaves, n).is_none());
            let tree = MerkleTree::new(&leaves);
            assert_eq!(tree.root(), root);
            assert_eq!(tree.len(), n);
            for i in 0..n {
                assert_eq!(tree.proof(i), merkle_proof(&leaves, i));
            }
            assert!(tree.proof(n).is_none());
        }
    }
}
