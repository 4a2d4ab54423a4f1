//! Coalitions of up to 64 players as bitmasks, with a sorted-index-list view.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest number of players a [`Coalition`] bitmask can hold.
pub const MAX_MASK_PLAYERS: usize = 64;

/// A set of players `0..n` (n ≤ 64) stored as a bitmask: bit `i` set means player `i` is in.
///
/// The two forms are interchangeable: [`Coalition::mask`] gives the `u64`,
/// [`Coalition::members`] the sorted index list, and [`Coalition::from_members`] builds one
/// from a list. Serialised as the plain `u64` mask.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Coalition(u64);

impl Coalition {
    /// The empty coalition ∅.
    pub const EMPTY: Coalition = Coalition(0);

    /// A coalition from its bitmask.
    pub const fn from_mask(mask: u64) -> Self {
        Coalition(mask)
    }

    /// The grand coalition of `players` players, or `None` when `players > 64`.
    pub fn full(players: usize) -> Option<Self> {
        match players {
            0..=63 => Some(Coalition((1u64 << players) - 1)),
            64 => Some(Coalition(u64::MAX)),
            _ => None,
        }
    }

    /// A coalition from player indices (any order, duplicates ignored). `None` if an index
    /// is 64 or more.
    pub fn from_members(members: &[usize]) -> Option<Self> {
        let mut mask = 0u64;
        for &i in members {
            if i >= MAX_MASK_PLAYERS {
                return None;
            }
            mask |= 1u64 << i;
        }
        Some(Coalition(mask))
    }

    /// The bitmask.
    pub const fn mask(self) -> u64 {
        self.0
    }

    /// Whether player `i` is a member (always false for `i ≥ 64`).
    pub fn contains(self, i: usize) -> bool {
        i < MAX_MASK_PLAYERS && self.0 & (1u64 << i) != 0
    }

    /// This coalition with player `i` added (`i < 64`; larger indices are ignored).
    pub fn with(self, i: usize) -> Self {
        if i < MAX_MASK_PLAYERS {
            Coalition(self.0 | (1u64 << i))
        } else {
            self
        }
    }

    /// This coalition with player `i` removed.
    pub fn without(self, i: usize) -> Self {
        if i < MAX_MASK_PLAYERS {
            Coalition(self.0 & !(1u64 << i))
        } else {
            self
        }
    }

    /// Number of members.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether this is ∅.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every member is below `players`.
    pub fn fits(self, players: usize) -> bool {
        match Coalition::full(players) {
            Some(full) => self.0 & !full.0 == 0,
            None => true,
        }
    }

    /// Members in increasing order (the sorted index list form).
    pub fn members(self) -> Members {
        Members(self.0)
    }

    /// Members collected into a vector.
    pub fn to_vec(self) -> Vec<usize> {
        self.members().collect()
    }
}

/// Iterator over a coalition's members in increasing order.
#[derive(Clone, Debug)]
pub struct Members(u64);

impl Iterator for Members {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Members {}

impl fmt::Display for Coalition {
    /// `{0,2,5}`; `{}` for ∅.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (k, i) in self.members().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            write!(f, "{i}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Coalition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Coalition{self}")
    }
}

/// The `k`-th coalition of the reflected binary Gray code: `k ^ (k >> 1)`. Consecutive codes
/// differ in exactly one player, so a caller can update an aggregate by adding or removing one
/// update per step.
pub const fn gray(k: u64) -> Coalition {
    Coalition(k ^ (k >> 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_mask_forms_agree() {
        let c = Coalition::from_members(&[5, 0, 2, 2]).unwrap();
        assert_eq!(c.mask(), 0b100101);
        assert_eq!(c.to_vec(), vec![0, 2, 5]);
        assert_eq!(c.len(), 3);
        assert_eq!(c.to_string(), "{0,2,5}");
        assert!(Coalition::from_members(&[64]).is_none());
        assert_eq!(Coalition::full(64).unwrap().mask(), u64::MAX);
        assert_eq!(Coalition::full(0).unwrap(), Coalition::EMPTY);
        assert!(Coalition::full(65).is_none());
        assert!(c.fits(6) && !c.fits(5));
        assert_eq!(c.with(1).without(0).to_vec(), vec![1, 2, 5]);
        assert!(!c.contains(64));
    }

    #[test]
    fn gray_code_visits_every_coalition_once_changing_one_player() {
        let n = 10;
        let mut seen = vec![false; 1 << n];
        for k in 0..(1u64 << n) {
            let g = gray(k);
            assert!(!seen[g.mask() as usize]);
            seen[g.mask() as usize] = true;
            if k > 0 {
                assert_eq!((g.mask() ^ gray(k - 1).mask()).count_ones(), 1);
            }
        }
    }
}
