//! The per-round report: who took part, what they scored and earned, and the transcript that
//! proves it. Serialised as JSON (`reports/round-N.json`); checked by
//! [`verify_report`](crate::verify_report).
//!
//! **Roots.**
//! * `updates`: Merkle root over the players' 32-byte update hashes, in player order.
//! * `transcript`: [`Transcript::root`].
//! * `scores`: Merkle root over one leaf per player, in player order:
//!   `u32le(index) ‖ u32le(len(id)) ‖ id (UTF-8) ‖ update_hash (32) ‖ u64le(score bits) ‖
//!   i64le(score_fixed) ‖ u64le(payout)`.

use crate::encoding::{f64_hex, Hash32, Seed};
use crate::error::AttributionError;
use crate::estimator::{Attribution, EstimatorSpec, Stats};
use crate::merkle::merkle_root;
use crate::payout::{split_reward, to_fixed, PayoutStatus};
use crate::seed::round_seed;
use crate::transcript::Transcript;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The format string of this version.
pub const REPORT_FORMAT: &str = "coalition-report/v1";

/// One participant as the coordinator knows it before scoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerInput {
    /// Stable id, e.g. the trainer's wallet pubkey (base58) or peer id. Non-empty, unique.
    pub id: String,
    /// sha256 of the submitted update.
    pub update_hash: Hash32,
}

/// Round facts that go into a report besides the attribution itself.
#[derive(Debug, Clone)]
pub struct RoundInfo<'a> {
    /// Run id; its UTF-8 bytes feed [`round_seed`].
    pub run_id: &'a str,
    pub round: u64,
    /// Hash of θ_r.
    pub model_hash: Hash32,
    /// Players, in the game's player order.
    pub players: &'a [PlayerInput],
    /// Round reward R in token base units.
    pub reward: u64,
    /// Noise threshold on v(N) − v(∅), fixed point (10⁻⁹ units).
    pub noise_threshold: i64,
}

/// One player's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayerRow {
    pub id: String,
    pub update_hash: Hash32,
    /// φ_i (hex of the f64 bits).
    #[serde(with = "f64_hex")]
    pub score: f64,
    /// φ_i in fixed point (10⁻⁹ units): the human-readable score.
    pub score_fixed: i64,
    /// Reward in token base units.
    pub payout: u64,
}

/// The Merkle roots a round commits to (recorded on chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roots {
    pub updates: Hash32,
    pub transcript: Hash32,
    pub scores: Hash32,
}

/// A round's attribution report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: String,
    pub run_id: String,
    pub round: u64,
    pub model_hash: Hash32,
    /// Copy of the transcript's estimator, for readers.
    pub estimator: EstimatorSpec,
    /// Copy of the transcript's seed; must equal [`round_seed`] of this report's inputs.
    pub seed: Seed,
    #[serde(with = "f64_hex")]
    pub v_empty: f64,
    #[serde(with = "f64_hex")]
    pub v_full: f64,
    /// fixed(v(N) − v(∅)).
    pub gain_fixed: i64,
    pub reward: u64,
    pub noise_threshold: i64,
    pub payout_status: PayoutStatus,
    pub paid: u64,
    pub dust: u64,
    pub players: Vec<PlayerRow>,
    pub stats: Stats,
    pub roots: Roots,
    pub transcript: Transcript,
}

/// Merkle root over update hashes in player order.
pub fn updates_root(hashes: &[Hash32]) -> Hash32 {
    merkle_root(hashes.iter().map(|h| h.0))
}

/// One scores-root leaf (layout in the module docs).
pub fn score_leaf(index: u32, row: &PlayerRow) -> Vec<u8> {
    let id = row.id.as_bytes();
    let mut b = Vec::with_capacity(64 + id.len());
    b.extend_from_slice(&index.to_le_bytes());
    b.extend_from_slice(&(id.len() as u32).to_le_bytes());
    b.extend_from_slice(id);
    b.extend_from_slice(row.update_hash.as_bytes());
    b.extend_from_slice(&row.score.to_bits().to_le_bytes());
    b.extend_from_slice(&row.score_fixed.to_le_bytes());
    b.extend_from_slice(&row.payout.to_le_bytes());
    b
}

/// Merkle root over [`score_leaf`]s in player order.
pub fn scores_root(rows: &[PlayerRow]) -> Hash32 {
    merkle_root(
        rows.iter()
            .enumerate()
            .map(|(i, r)| score_leaf(i as u32, r)),
    )
}

/// Rejects empty and duplicate ids and duplicate update hashes.
pub(crate) fn check_players<'a>(
    players: impl Iterator<Item = (&'a str, &'a Hash32)>,
) -> Result<(), AttributionError> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut hashes: HashMap<&Hash32, usize> = HashMap::new();
    for (index, (id, hash)) in players.enumerate() {
        if id.is_empty() {
            return Err(AttributionError::EmptyPlayerId { index });
        }
        if let Some(&first) = ids.get(id) {
            return Err(AttributionError::DuplicatePlayerId {
                id: id.to_string(),
                first,
                second: index,
            });
        }
        if let Some(&first) = hashes.get(hash) {
            return Err(AttributionError::DuplicateUpdateHash {
                hash: *hash,
                first,
                second: index,
            });
        }
        ids.insert(id, index);
        hashes.insert(hash, index);
    }
    Ok(())
}

/// Fixed-point scores, payouts and rows from float scores (shared by build and verify).
pub(crate) fn derive_rows(
    ids: impl Iterator<Item = (String, Hash32)>,
    scores: &[f64],
    gain: f64,
    reward: u64,
    noise_threshold: i64,
) -> Result<(Vec<PlayerRow>, i64, crate::payout::Payouts), AttributionError> {
    let fixed: Vec<i64> = scores
        .iter()
        .map(|&s| to_fixed(s))
        .collect::<Result<_, _>>()?;
    let gain_fixed = to_fixed(gain)?;
    let payouts = split_reward(reward, &fixed, noise_threshold);
    let rows = ids
        .zip(scores)
        .zip(&fixed)
        .zip(&payouts.amounts)
        .map(
            |((((id, update_hash), &score), &score_fixed), &payout)| PlayerRow {
                id,
                update_hash,
                score,
                score_fixed,
                payout,
            },
        )
        .collect();
    Ok((rows, gain_fixed, payouts))
}

impl Report {
    /// Builds a report, checking ids (non-empty, unique), update hashes (unique — merge copies
    /// before scoring), the player count, and that the attribution used the round seed.
    pub fn build(
        info: &RoundInfo<'_>,
        attribution: Attribution,
    ) -> Result<Report, AttributionError> {
        let Attribution {
            estimate,
            transcript,
        } = attribution;
        if info.players.len() != estimate.scores.len() {
            return Err(AttributionError::PlayerCountMismatch {
                players: info.players.len(),
                scores: estimate.scores.len(),
            });
        }
        check_players(info.players.iter().map(|p| (p.id.as_str(), &p.update_hash)))?;
        let hashes: Vec<Hash32> = info.players.iter().map(|p| p.update_hash).collect();
        let expected = round_seed(
            info.run_id.as_bytes(),
            info.round,
            &info.model_hash,
            &hashes,
        );
        if transcript.seed != expected {
            return Err(AttributionError::SeedMismatch {
                expected,
                got: transcript.seed,
            });
        }
        let (rows, gain_fixed, payouts) = derive_rows(
            info.players.iter().map(|p| (p.id.clone(), p.update_hash)),
            &estimate.scores,
            estimate.v_full - estimate.v_empty,
            info.reward,
            info.noise_threshold,
        )?;
        let roots = Roots {
            updates: updates_root(&hashes),
            transcript: transcript.root(),
            scores: scores_root(&rows),
        };
        Ok(Report {
            format: REPORT_FORMAT.to_string(),
            run_id: info.run_id.to_string(),
            round: info.round,
            model_hash: info.model_hash,
            estimator: transcript.estimator,
            seed: transcript.seed,
            v_empty: estimate.v_empty,
            v_full: estimate.v_full,
            gain_fixed,
            reward: info.reward,
            noise_threshold: info.noise_threshold,
            payout_status: payouts.status,
            paid: payouts.paid,
            dust: payouts.dust,
            players: rows,
            stats: estimate.stats,
            roots,
            transcript,
        })
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising these plain data types cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses JSON (unknown fields are rejected).
    pub fn from_json(s: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(s)
    }

    /// Update hashes in player order.
    pub fn update_hashes(&self) -> Vec<Hash32> {
        self.players.iter().map(|p| p.update_hash).collect()
    }
}
