//! The transcript: every evaluated coalition and path point, plus what is needed to replay the
//! estimator (format, player count, estimator parameters, seed).
//!
//! # Canonical byte format (v1)
//!
//! A transcript is a list of *records*; its canonical serialisation is, for each record in
//! order, `u32le(record length) ‖ record`. All integers are little-endian; every `f64` is its
//! IEEE-754 bit pattern as `u64le`.
//!
//! 1. Header record: `"coalition-transcript/v1"` (23 ASCII bytes) ‖ `u32 players` ‖
//!    `seed` (32 bytes) ‖ estimator:
//!    * exact: `0x01 ‖ u32 max_players`
//!    * permutation: `0x02 ‖ u32 tolerance_ppm ‖ u64 max_evaluations ‖ u32 min_pairs`
//!    * integrated gradients: `0x03 ‖ u32 points`
//! 2. One record per evaluated coalition, strictly increasing by mask:
//!    `0x43 ('C') ‖ u64 mask ‖ f64 value` (17 bytes).
//! 3. One record per path point, strictly increasing by t:
//!    `0x50 ('P') ‖ f64 t ‖ f64 value ‖ u32 k ‖ k × f64 gradient` (k = players).
//!
//! The transcript's Merkle root ([`Transcript::root`]) is the [`merkle`](crate::merkle) root
//! over these records as leaves, header first. In JSON the same data appears with every `f64`
//! as 16 hex digits of its bits.

use crate::coalition::Coalition;
use crate::encoding::{f64_hex, vec_f64_hex, Hash32, Seed};
use crate::error::VerifyError;
use crate::estimator::EstimatorSpec;
use crate::merkle::merkle_root;
use serde::{Deserialize, Serialize};

/// The format string of this version.
pub const TRANSCRIPT_FORMAT: &str = "coalition-transcript/v1";

/// One evaluated coalition.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoalitionEval {
    /// Bitmask of members.
    pub mask: u64,
    /// v(S).
    #[serde(with = "f64_hex")]
    pub value: f64,
}

impl CoalitionEval {
    /// The coalition.
    pub fn coalition(&self) -> Coalition {
        Coalition::from_mask(self.mask)
    }
}

/// One evaluated path point (integrated gradients).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathEval {
    #[serde(with = "f64_hex")]
    pub t: f64,
    #[serde(with = "f64_hex")]
    pub value: f64,
    #[serde(with = "vec_f64_hex")]
    pub gradient: Vec<f64>,
}

/// Everything needed to recompute a round's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    /// [`TRANSCRIPT_FORMAT`].
    pub format: String,
    /// Number of players n.
    pub players: u32,
    /// The estimator and its parameters.
    pub estimator: EstimatorSpec,
    /// The seed (permutation stream key is `seed.derive("permutations")`).
    pub seed: Seed,
    /// Evaluated coalitions, strictly increasing by mask.
    pub coalitions: Vec<CoalitionEval>,
    /// Evaluated path points, strictly increasing by t.
    pub path: Vec<PathEval>,
}

impl Transcript {
    /// The header record.
    pub fn header_record(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(80);
        b.extend_from_slice(TRANSCRIPT_FORMAT.as_bytes());
        b.extend_from_slice(&self.players.to_le_bytes());
        b.extend_from_slice(self.seed.as_bytes());
        match self.estimator {
            EstimatorSpec::Exact { max_players } => {
                b.push(0x01);
                b.extend_from_slice(&max_players.to_le_bytes());
            }
            EstimatorSpec::Permutation {
                tolerance_ppm,
                max_evaluations,
                min_pairs,
            } => {
                b.push(0x02);
                b.extend_from_slice(&tolerance_ppm.to_le_bytes());
                b.extend_from_slice(&max_evaluations.to_le_bytes());
                b.extend_from_slice(&min_pairs.to_le_bytes());
            }
            EstimatorSpec::IntegratedGradients { points } => {
                b.push(0x03);
                b.extend_from_slice(&points.to_le_bytes());
            }
        }
        b
    }

    /// All records in canonical order (header, coalitions, path points): the Merkle leaves.
    pub fn records(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(1 + self.coalitions.len() + self.path.len());
        out.push(self.header_record());
        for c in &self.coalitions {
            let mut b = Vec::with_capacity(17);
            b.push(b'C');
            b.extend_from_slice(&c.mask.to_le_bytes());
            b.extend_from_slice(&c.value.to_bits().to_le_bytes());
            out.push(b);
        }
        for p in &self.path {
            let mut b = Vec::with_capacity(21 + 8 * p.gradient.len());
            b.push(b'P');
            b.extend_from_slice(&p.t.to_bits().to_le_bytes());
            b.extend_from_slice(&p.value.to_bits().to_le_bytes());
            b.extend_from_slice(&(p.gradient.len() as u32).to_le_bytes());
            for g in &p.gradient {
                b.extend_from_slice(&g.to_bits().to_le_bytes());
            }
            out.push(b);
        }
        out
    }

    /// The canonical serialisation: `u32le(len) ‖ record` for each record.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for r in self.records() {
            out.extend_from_slice(&(r.len() as u32).to_le_bytes());
            out.extend_from_slice(&r);
        }
        out
    }

    /// The Merkle root over [`Transcript::records`].
    pub fn root(&self) -> Hash32 {
        merkle_root(self.records())
    }

    /// The recorded utility of `coalition`, if present.
    pub fn value(&self, coalition: Coalition) -> Option<f64> {
        self.coalitions
            .binary_search_by_key(&coalition.mask(), |c| c.mask)
            .ok()
            .map(|i| self.coalitions[i].value)
    }

    /// The recorded path point at exactly `t` (bitwise), if present.
    pub fn path_point(&self, t: f64) -> Option<&PathEval> {
        self.path.iter().find(|p| p.t.to_bits() == t.to_bits())
    }

    /// Checks the structural rules: known format, coalitions strictly increasing and within
    /// `players`, path points strictly increasing in t with `players` gradient entries, and
    /// every number finite.
    pub fn check_canonical(&self) -> Result<(), VerifyError> {
        if self.format != TRANSCRIPT_FORMAT {
            return Err(VerifyError::UnsupportedFormat(self.format.clone()));
        }
        let players = self.players as usize;
        for (index, c) in self.coalitions.iter().enumerate() {
            if index > 0 && self.coalitions[index - 1].mask >= c.mask {
                return Err(VerifyError::CoalitionsNotSorted {
                    index,
                    mask: c.mask,
                });
            }
            if players > 64 || !c.coalition().fits(players) {
                return Err(VerifyError::MaskOutOfRange {
                    index,
                    mask: c.mask,
                    players: self.players,
                });
            }
            if !c.value.is_finite() {
                return Err(VerifyError::NonFinite { index });
            }
        }
        let base = self.coalitions.len();
        for (k, p) in self.path.iter().enumerate() {
            let index = base + k;
            if k > 0 && self.path[k - 1].t.partial_cmp(&p.t) != Some(std::cmp::Ordering::Less) {
                return Err(VerifyError::PathNotSorted { index });
            }
            if p.gradient.len() != players {
                return Err(VerifyError::GradientLength {
                    index,
                    expected: players,
                    got: p.gradient.len(),
                });
            }
            if !p.t.is_finite() || !p.value.is_finite() || p.gradient.iter().any(|g| !g.is_finite())
            {
                return Err(VerifyError::NonFinite { index });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn sample() -> Transcript {
        Transcript {
            format: TRANSCRIPT_FORMAT.into(),
            players: 2,
            estimator: EstimatorSpec::Permutation {
                tolerance_ppm: 7,
                max_evaluations: 9,
                min_pairs: 2,
            },
            seed: Seed([3; 32]),
            coalitions: vec![
                CoalitionEval {
                    mask: 0,
                    value: 0.0,
                },
                CoalitionEval {
                    mask: 3,
                    value: 1.5,
                },
            ],
            path: vec![PathEval {
                t: 0.5,
                value: 1.0,
                gradient: vec![2.0, -0.0],
            }],
        }
    }

    #[test]
    fn canonical_bytes_follow_the_documented_layout() {
        let t = sample();
        let bytes = t.to_canonical_bytes();
        let mut want = Vec::new();
        let mut header = b"coalition-transcript/v1".to_vec();
        header.extend(2u32.to_le_bytes());
        header.extend([3u8; 32]);
        header.push(2);
        header.extend(7u32.to_le_bytes());
        header.extend(9u64.to_le_bytes());
        header.extend(2u32.to_le_bytes());
        want.extend((header.len() as u32).to_le_bytes());
        want.extend(&header);
        for (mask, v) in [(0u64, 0.0f64), (3, 1.5)] {
            want.extend(17u32.to_le_bytes());
            want.push(b'C');
            want.extend(mask.to_le_bytes());
            want.extend(v.to_bits().to_le_bytes());
        }
        want.extend((1u32 + 8 + 8 + 4 + 16).to_le_bytes());
        want.push(b'P');
        want.extend(0.5f64.to_bits().to_le_bytes());
        want.extend(1.0f64.to_bits().to_le_bytes());
        want.extend(2u32.to_le_bytes());
        want.extend(2.0f64.to_bits().to_le_bytes());
        want.extend((-0.0f64).to_bits().to_le_bytes());
        assert_eq!(bytes, want);
        assert_eq!(t.records()[0], header);
        assert_eq!(merkle_root([&header]), leaf_hash(&header));
    }

    #[test]
    fn json_round_trip_is_bit_exact_and_root_changes_with_any_bit() {
        let t = sample();
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"kind\":\"permutation\""));
        let back: Transcript = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_canonical_bytes(), t.to_canonical_bytes());
        let mut tampered = t.clone();
        tampered.coalitions[1].value = f64::from_bits(1.5f64.to_bits() + 1);
        assert_ne!(tampered.root(), t.root());
        assert_eq!(t.value(Coalition::from_mask(3)), Some(1.5));
        assert_eq!(t.value(Coalition::from_mask(1)), None);
        assert!(t.path_point(0.5).is_some());
    }

    #[test]
    fn structural_checks() {
        assert!(sample().check_canonical().is_ok());
        let mut t = sample();
        t.coalitions.swap(0, 1);
        assert!(matches!(
            t.check_canonical(),
            Err(VerifyError::CoalitionsNotSorted { .. })
        ));
        let mut t = sample();
        t.coalitions[1].mask = 4;
        assert!(matches!(
            t.check_canonical(),
            Err(VerifyError::MaskOutOfRange { .. })
        ));
        let mut t = sample();
        t.coalitions[0].value = f64::NAN;
        assert!(matches!(
            t.check_canonical(),
            Err(VerifyError::NonFinite { index: 0 })
        ));
        let mut t = sample();
        t.path[0].gradient.pop();
        assert!(matches!(
            t.check_canonical(),
            Err(VerifyError::GradientLength { .. })
        ));
        let mut t = sample();
        t.format = "v0".into();
        assert!(matches!(
            t.check_canonical(),
            Err(VerifyError::UnsupportedFormat(_))
        ));
    }
}
