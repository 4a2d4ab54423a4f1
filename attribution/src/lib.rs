//! # coalition-attribution
//!
//! Pays each volunteer by its marginal contribution: Shapley values of the round's game, the
//! reward split they imply, and the transcript and Merkle roots that let anyone recompute them.
//! A pure library — no ML, no network, no chain — driven by a utility function.
//!
//! ## The game
//! For round r the coordinator scores players (trainers) `0..n` with
//! `v(S) = L_eval(θ^∅) − L_eval(outer_step(θ_r, m_r, Σ_{i∈S} p_i Δ_i))` (docs/DESIGN.md §5). Here it
//! is any [`Game`]: a number of players, a utility per [`Coalition`] (u64 bitmask, n ≤ 64, or
//! its sorted member list), and optionally a path hook returning v and ∂v/∂w_i at the
//! fractional coalition w = t·1 (see [`game`]). Build one from closures with [`from_fn`] /
//! [`try_from_fn`] and [`FnGame::with_path`]. Evaluations are cached per estimation ([`Cached`]),
//! and the cache is the transcript.
//!
//! ## Estimators ([`EstimatorSpec`], [`estimate`], [`auto()`])
//! * [`exact`]: all 2^n coalitions in Gray-code order (refuses n above a configured maximum,
//!   default 12, hard limit 20);
//! * [`permutation`]: antithetic permutation pairs, standard-error stopping, hard evaluation cap,
//!   efficiency enforced;
//! * [`integrated`]: integrated gradients along w = t·1 with Gauss–Legendre nodes
//!   ([`gauss_legendre`]); the only option above 64 players;
//! * [`auto`](mod@auto): picks among them by n and budget.
//!
//! ## Determinism and verification
//! The round seed is [`round_seed`]`(run id, round, model hash, update hashes)`; randomness
//! comes from a specified ChaCha20 stream and Fisher–Yates shuffle ([`shuffle`]); sums run in
//! fixed orders and no platform maths is used, so the same inputs give the same bits on any
//! machine. A [`Transcript`] records every evaluation plus estimator and seed, has a canonical
//! byte form and a sha256 [`merkle`] root, and [`verify()`] replays it into the identical scores.
//!
//! ## Payouts and reports
//! [`payout`] turns scores into fixed-point integers and splits a round's reward
//! (floor of the positive share, nothing below the noise threshold, dust returned). A
//! [`Report`] bundles it all as JSON; [`verify_report`] checks one and names the first mismatch.
//!
//! ```
//! use coalition_attribution::*;
//!
//! // Three trainers whose updates add 0.3, 0.2 and 0.1 nats with mild overlap.
//! let gains = [0.3, 0.2, 0.1];
//! let mut game = from_fn(3, move |s: Coalition| {
//!     let g: f64 = s.members().map(|i| gains[i]).sum();
//!     g - 0.1 * g * g
//! });
//! let players: Vec<PlayerInput> = (0..3)
//!     .map(|i| PlayerInput { id: format!("trainer-{i}"), update_hash: sha256(&[i as u8]) })
//!     .collect();
//! let hashes: Vec<Hash32> = players.iter().map(|p| p.update_hash).collect();
//! let model_hash = sha256(b"theta_r");
//! let seed = round_seed(b"run-1", 7, &model_hash, &hashes);
//!
//! let attribution = auto(&mut game, &AutoPolicy::default(), seed).unwrap();
//! let info = RoundInfo {
//!     run_id: "run-1", round: 7, model_hash, players: &players,
//!     reward: 1_000_000, noise_threshold: 1_000_000, // 0.001 nats
//! };
//! let report = Report::build(&info, attribution).unwrap();
//! let json = report.to_json();
//!
//! let outcome = verify_report(&Report::from_json(&json).unwrap());
//! assert!(outcome.is_match(), "{outcome}");
//! ```

pub mod auto;
pub mod balance;
pub mod cache;
pub mod coalition;
pub mod encoding;
pub mod error;
pub mod estimator;
pub mod exact;
pub mod game;
pub mod games;
pub mod gauss_legendre;
pub mod integrated;
pub mod merkle;
pub mod payout;
pub mod permutation;
pub mod report;
pub mod seed;
pub mod shuffle;
pub mod spot;
pub mod transcript;
pub mod verify;

#[cfg(test)]
mod accuracy_tests;
#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod test_support;

pub use auto::{auto, choose, AutoPolicy};
pub use cache::Cached;
pub use coalition::{gray, Coalition, MAX_MASK_PLAYERS};
pub use encoding::{f64_from_hex, f64_to_hex, Hash32, HexError, Seed};
pub use error::{AttributionError, GameError, VerifyError};
pub use estimator::{estimate, Attribution, Estimate, EstimatorSpec, Stats, StopReason};
pub use game::{from_fn, try_from_fn, FnGame, Game, PathPoint};
pub use merkle::{merkle_proof, merkle_root, verify_proof, MerkleTree, ProofStep};
pub use payout::{split_reward, to_fixed, PayoutStatus, Payouts, SCORE_SCALE};
pub use report::{PlayerInput, PlayerRow, Report, Roots, RoundInfo, REPORT_FORMAT};
pub use seed::{round_seed, sha256};
pub use spot::{spot_check_agrees, spot_check_sample};
pub use transcript::{CoalitionEval, PathEval, Transcript, TRANSCRIPT_FORMAT};
pub use verify::{verify, verify_report, Mismatch, Summary, VerifyOutcome};
