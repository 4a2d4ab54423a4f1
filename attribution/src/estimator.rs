//! Estimator configurations, results, and the single entry point [`estimate`].

use crate::cache::Cached;
use crate::encoding::{f64_hex, Seed};
use crate::error::AttributionError;
use crate::game::Game;
use crate::transcript::{Transcript, TRANSCRIPT_FORMAT};
use crate::{exact, integrated, permutation};
use serde::{Deserialize, Serialize};

/// Which estimator to run, with every parameter that affects its output. Recorded in the
/// transcript so that [`verify`](crate::verify()) can replay it. All parameters are integers so
/// that JSON round trips are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EstimatorSpec {
    /// Enumerate all 2^n coalitions (Gray-code order) and apply the Shapley formula.
    /// Refuses games with more than `max_players` players (at most [`exact::HARD_LIMIT`]).
    Exact { max_players: u32 },
    /// Antithetic permutation sampling (see [`crate::permutation`]).
    Permutation {
        /// Stop once every player's standard error is ≤ `tolerance_ppm`·10⁻⁶·|v(N) − v(∅)|.
        tolerance_ppm: u32,
        /// Hard cap on charged coalition evaluations: 2 + 2(n−1) per antithetic pair.
        max_evaluations: u64,
        /// Minimum number of pairs before the tolerance may stop sampling (effectively ≥ 2).
        min_pairs: u32,
    },
    /// Integrated gradients along w = t·1 with `points` Gauss–Legendre nodes (1..=64).
    IntegratedGradients { points: u32 },
}

/// Default maximum number of players for exact enumeration.
pub const DEFAULT_EXACT_MAX_PLAYERS: u32 = 12;
/// Default permutation tolerance: 0.1% of |v(N) − v(∅)| (see the accuracy table in docs/ATTRIBUTION.md).
pub const DEFAULT_TOLERANCE_PPM: u32 = 1_000;
/// Default minimum number of antithetic pairs.
pub const DEFAULT_MIN_PAIRS: u32 = 2;
/// Default number of Gauss–Legendre points.
pub const DEFAULT_IG_POINTS: u32 = 4;
/// Largest permutation budget accepted (2^24 evaluations). Besides being far beyond any real
/// round, it bounds the work of replaying a hostile transcript: with cache hits a pair costs no
/// new evaluations, so without this cap a tiny game with tolerance 0 could loop for ages.
pub const MAX_EVALUATIONS: u64 = 1 << 24;

impl EstimatorSpec {
    /// Exact enumeration refusing more than [`DEFAULT_EXACT_MAX_PLAYERS`] players.
    pub const fn exact() -> Self {
        EstimatorSpec::Exact {
            max_players: DEFAULT_EXACT_MAX_PLAYERS,
        }
    }

    /// Permutation sampling with the default tolerance (0.1%) and minimum pairs (2).
    pub const fn permutation(max_evaluations: u64) -> Self {
        EstimatorSpec::Permutation {
            tolerance_ppm: DEFAULT_TOLERANCE_PPM,
            max_evaluations,
            min_pairs: DEFAULT_MIN_PAIRS,
        }
    }

    /// Integrated gradients with `points` Gauss–Legendre nodes.
    pub const fn integrated_gradients(points: u32) -> Self {
        EstimatorSpec::IntegratedGradients { points }
    }

    /// Short name: `exact`, `permutation` or `integrated_gradients`.
    pub const fn name(&self) -> &'static str {
        match self {
            EstimatorSpec::Exact { .. } => "exact",
            EstimatorSpec::Permutation { .. } => "permutation",
            EstimatorSpec::IntegratedGradients { .. } => "integrated_gradients",
        }
    }

    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<(), AttributionError> {
        match *self {
            EstimatorSpec::Exact { max_players } if max_players > exact::HARD_LIMIT => {
                Err(AttributionError::InvalidParameter {
                    name: "max_players",
                    reason: format!(
                        "{max_players} exceeds the hard limit of {} (2^n values are held in memory)",
                        exact::HARD_LIMIT
                    ),
                })
            }
            EstimatorSpec::Permutation { min_pairs: 0, .. } => {
                Err(AttributionError::InvalidParameter {
                    name: "min_pairs",
                    reason: "must be at least 1".into(),
                })
            }
            EstimatorSpec::Permutation {
                max_evaluations, ..
            } if max_evaluations > MAX_EVALUATIONS => Err(AttributionError::InvalidParameter {
                name: "max_evaluations",
                reason: format!("{max_evaluations} exceeds the limit of {MAX_EVALUATIONS}"),
            }),
            EstimatorSpec::IntegratedGradients { points }
                if !(1..=integrated::MAX_POINTS).contains(&points) =>
            {
                Err(AttributionError::InvalidParameter {
                    name: "points",
                    reason: format!("{points} is outside 1..={}", integrated::MAX_POINTS),
                })
            }
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for EstimatorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EstimatorSpec::Exact { max_players } => write!(f, "exact (max {max_players} players)"),
            EstimatorSpec::Permutation {
                tolerance_ppm,
                max_evaluations,
                min_pairs,
            } => write!(
                f,
                "permutation (tolerance {tolerance_ppm} ppm, cap {max_evaluations} evaluations, min {min_pairs} pairs)"
            ),
            EstimatorSpec::IntegratedGradients { points } => {
                write!(f, "integrated gradients ({points} Gauss-Legendre points)")
            }
        }
    }
}

/// Why an estimator stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The estimator ran to completion (exact, integrated gradients, or n ≤ 1).
    Complete,
    /// Every player's standard error fell below the tolerance.
    Tolerance,
    /// The next antithetic pair would have exceeded the evaluation cap.
    Budget,
}

/// Diagnostics of one estimation. Replayed bit-exactly by [`verify`](crate::verify()).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    /// Distinct coalition utilities evaluated (the real cost: one eval-loss pass each).
    pub evaluations: u64,
    /// Distinct path points evaluated (one forward + backward pass each).
    pub path_points: u64,
    /// Antithetic permutation pairs sampled (permutation estimator only).
    pub pairs: u64,
    /// Largest per-player standard error at the stop (permutation with ≥ 2 pairs), else `None`.
    #[serde(with = "opt_f64_hex")]
    pub max_std_error: Option<f64>,
    /// `(v(N) − v(∅)) − Σφ` in floating point: ~0 for exact and permutation (efficiency is
    /// enforced), the quadrature/extension error for integrated gradients.
    #[serde(with = "f64_hex")]
    pub efficiency_gap: f64,
    /// Why sampling stopped.
    pub stop: StopReason,
}

mod opt_f64_hex {
    use crate::encoding::{f64_from_hex, f64_to_hex};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match x {
            Some(v) => s.serialize_some(&f64_to_hex(*v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| f64_from_hex(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Scores and endpoint utilities of one estimation.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// φ_i per player, in player order.
    pub scores: Vec<f64>,
    /// v(∅).
    pub v_empty: f64,
    /// v(N).
    pub v_full: f64,
    /// Diagnostics.
    pub stats: Stats,
}

/// The result of [`estimate`] / [`auto`](crate::auto()): scores plus the transcript that lets
/// anyone recompute them.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub estimate: Estimate,
    pub transcript: Transcript,
}

impl Attribution {
    /// φ_i per player.
    pub fn scores(&self) -> &[f64] {
        &self.estimate.scores
    }
    /// The estimator that produced the scores.
    pub fn estimator(&self) -> EstimatorSpec {
        self.transcript.estimator
    }
    /// The seed the scores were computed with.
    pub fn seed(&self) -> Seed {
        self.transcript.seed
    }
}

/// Runs `spec` on `game` with `seed` (only the permutation estimator draws from it, but every
/// transcript records it). Evaluations go through a fresh [`Cached`], whose records become the
/// transcript.
pub fn estimate<G: Game + ?Sized>(
    game: &mut G,
    spec: &EstimatorSpec,
    seed: Seed,
) -> Result<Attribution, AttributionError> {
    spec.validate()?;
    let mut cache = Cached::new(game);
    let players =
        u32::try_from(cache.players()).map_err(|_| AttributionError::InvalidParameter {
            name: "players",
            reason: "more than 2^32 - 1 players".into(),
        })?;
    let est = match *spec {
        EstimatorSpec::Exact { max_players } => exact::run(&mut cache, max_players)?,
        EstimatorSpec::Permutation {
            tolerance_ppm,
            max_evaluations,
            min_pairs,
        } => permutation::run(
            &mut cache,
            permutation::Params {
                tolerance_ppm,
                max_evaluations,
                min_pairs,
            },
            &seed,
        )?,
        EstimatorSpec::IntegratedGradients { points } => integrated::run(&mut cache, points)?,
    };
    if let Some(&value) = est.scores.iter().find(|s| !s.is_finite()) {
        return Err(AttributionError::NonFiniteScore { value });
    }
    let (coalitions, path) = cache.records();
    Ok(Attribution {
        estimate: est,
        transcript: Transcript {
            format: TRANSCRIPT_FORMAT.to_string(),
            players,
            estimator: *spec,
            seed,
            coalitions,
            path,
        },
    })
}
