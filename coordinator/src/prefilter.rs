//! The pre-filter every decoded update passes before it is scored or aggregated
//! (docs/DESIGN.md §5).
//!
//! Candidates are taken **in submission order**. In that order:
//!
//! 1. **Resubmission**: a trainer's second update in the round is rejected (the first stands).
//! 2. **Wrong length**: the update must have one value per model parameter.
//! 3. **Replay**: an update hash already published in an earlier round is rejected (except an
//!    all-zero update, which carries no work to replay and stays a null player).
//! 4. **Non-finite**: NaN or ±∞ anywhere is rejected, naming the first bad index.
//! 5. **Oversized**: ‖Δ‖ above the hard cap [`PrefilterConfig::max_norm`] is rejected.
//!    [`PrefilterConfig::from_config`] sets it from how far AdamW can move the weights in H
//!    steps: `NORM_SLACK · lr · H · √n` (AdamW moves each coordinate by at most about lr per
//!    step; the slack covers Adam's occasional larger steps, weight decay and the codec's
//!    error feedback).
//! 6. **Duplicates**: an update whose cosine similarity with an *earlier accepted* update exceeds
//!    `duplicate_cosine` (or that is bit-identical to it — two zero updates are duplicates) is
//!    a duplicate of that update. **Policy: the earliest submission is kept as the player;
//!    later copies are left out of scoring and aggregation and earn nothing.** We do not split
//!    one player's credit among the group: splitting would let a copier take half of the
//!    original's reward for no work, and keeping copies as separate players would multiply
//!    credit. Copying within a round needs the original before the round closes, which only
//!    collusion or a leak provides; the earliest submission is the best available evidence of
//!    authorship.
//! 7. **Norm clipping**: with `M` the lower median of the non-zero norms of the accepted
//!    updates (plus the previous round's median, if given, as one more sample), an update with
//!    ‖Δ‖ > c·M is scaled by c·M/‖Δ‖ and the factor recorded. Zero updates are left out of the
//!    median so that free riders cannot drag it down and clip honest work; the lower median (not
//!    the mean of the two middle values) means a single giant update among two never sets the
//!    bar; the previous round's median lets a lone trainer's update be clipped too.
//!
//! A zero update passes: it is a legitimate null player and scores exactly 0.
//! The update hash stays the hash of the submitted frame; clip factors are recorded in the
//! journal so a verifier can reproduce the values that were scored.

use coalition_config::RunConfig;
use std::fmt;

use crate::vecmath;

/// Slack on the AdamW movement bound used for the hard norm cap.
pub const NORM_SLACK: f64 = 10.0;

/// A decoded update, as submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The trainer's id (wallet public key, base58).
    pub trainer: String,
    /// sha256 of the submitted update frame.
    pub update_hash: [u8; 32],
    /// Δ_i = θ_r − θ_i, one value per parameter.
    pub values: Vec<f32>,
    /// Tokens the trainer processed (from its assignment).
    pub tokens: u64,
}

/// Pre-filter settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PrefilterConfig {
    /// Number of model parameters.
    pub expected_len: usize,
    /// Hard cap on ‖Δ‖ (reject above).
    pub max_norm: f64,
    /// c in "clip to c × median norm" (≥ 1).
    pub clip_multiplier: f64,
    /// Cosine similarity above which two updates are duplicates.
    pub duplicate_cosine: f64,
}

impl PrefilterConfig {
    /// From `[attribution] clip_multiplier, duplicate_cosine` and the AdamW movement bound of
    /// `[training] lr, inner_steps` for a model of `num_params` parameters.
    pub fn from_config(cfg: &RunConfig, num_params: usize) -> Self {
        PrefilterConfig {
            expected_len: num_params,
            max_norm: adamw_norm_bound(cfg.training.lr, cfg.training.inner_steps, num_params),
            clip_multiplier: cfg.attribution.clip_multiplier,
            duplicate_cosine: cfg.attribution.duplicate_cosine,
        }
    }
}

/// `NORM_SLACK · lr · H · √n`: a generous bound on ‖θ_r − θ_i‖ after H AdamW steps.
pub fn adamw_norm_bound(peak_lr: f64, inner_steps: usize, num_params: usize) -> f64 {
    NORM_SLACK * peak_lr * inner_steps.max(1) as f64 * (num_params as f64).sqrt()
}

/// Why an update was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The trainer already submitted an update this round.
    Resubmission,
    WrongLength {
        got: usize,
        expected: usize,
    },
    /// The update was published in round `round` already.
    Replay {
        round: u64,
    },
    NonFinite {
        index: usize,
        value: f32,
    },
    Oversized {
        norm: f64,
        cap: f64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Resubmission => write!(f, "second update from this trainer in the round"),
            Reason::WrongLength { got, expected } => {
                write!(f, "wrong length: {got} values, the model has {expected}")
            }
            Reason::Replay { round } => {
                write!(f, "replay of an update already published in round {round}")
            }
            Reason::NonFinite { index, value } => {
                write!(f, "non-finite value {value} at index {index}")
            }
            Reason::Oversized { norm, cap } => {
                write!(f, "norm {norm:.6e} exceeds the hard cap {cap:.6e}")
            }
        }
    }
}

/// What the pre-filter decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterOutcome {
    /// Players of the round, in submission order, clipped where recorded.
    pub accepted: Vec<Candidate>,
    pub rejected: Vec<(String, Reason)>,
    /// `(trainer, factor)`: the accepted update was multiplied by `factor` (< 1).
    pub clipped: Vec<(String, f32)>,
    /// `(trainer, of_trainer)`: left out as a copy of `of_trainer`'s earlier update.
    pub duplicates: Vec<(String, String)>,
    /// The lower median M of non-zero accepted norms (with the reference), if any.
    pub median_norm: Option<f64>,
}

/// Run the pre-filter on `candidates` (in submission order). `published(hash)` returns the
/// round an update hash was published in, if it was; `reference_norm` is the previous
/// round's [`FilterOutcome::median_norm`].
pub fn prefilter(
    candidates: Vec<Candidate>,
    cfg: &PrefilterConfig,
    published: impl Fn(&[u8; 32]) -> Option<u64>,
    reference_norm: Option<f64>,
) -> FilterOutcome {
    let mut out = FilterOutcome::default();
    let mut kept: Vec<(Candidate, f64)> = Vec::new();
    let mut seen_trainers: Vec<String> = Vec::new();
    for c in candidates {
        if seen_trainers.contains(&c.trainer) {
            out.rejected.push((c.trainer, Reason::Resubmission));
            continue;
        }
        seen_trainers.push(c.trainer.clone());
        if let Some(reason) = check(&c, cfg, &published) {
            out.rejected.push((c.trainer, reason));
            continue;
        }
        let norm = vecmath::norm(&c.values);
        if norm > cfg.max_norm {
            out.rejected.push((
                c.trainer,
                Reason::Oversized {
                    norm,
                    cap: cfg.max_norm,
                },
            ));
            continue;
        }
        if let Some((orig, _)) = kept
            .iter()
            .find(|(k, kn)| is_duplicate(k, *kn, &c, norm, cfg.duplicate_cosine))
        {
            out.duplicates.push((c.trainer, orig.trainer.clone()));
            continue;
        }
        kept.push((c, norm));
    }
    let mut norms: Vec<f64> = kept.iter().map(|(_, n)| *n).filter(|&n| n > 0.0).collect();
    if let Some(r) = reference_norm.filter(|r| r.is_finite() && *r > 0.0) {
        norms.push(r);
    }
    norms.sort_by(f64::total_cmp);
    out.median_norm = (!norms.is_empty()).then(|| norms[(norms.len() - 1) / 2]);
    if let Some(m) = out.median_norm {
        let cap = cfg.clip_multiplier * m;
        for (c, norm) in &mut kept {
            if *norm > cap {
                let factor = (cap / *norm) as f32;
                vecmath::scale(&mut c.values, factor);
                out.clipped.push((c.trainer.clone(), factor));
            }
        }
    }
    out.accepted = kept.into_iter().map(|(c, _)| c).collect();
    for (t, r) in &out.rejected {
        tracing::info!(trainer = %t, reason = %r, "update rejected by the pre-filter");
    }
    out
}

fn check(
    c: &Candidate,
    cfg: &PrefilterConfig,
    published: &impl Fn(&[u8; 32]) -> Option<u64>,
) -> Option<Reason> {
    if c.values.len() != cfg.expected_len {
        return Some(Reason::WrongLength {
            got: c.values.len(),
            expected: cfg.expected_len,
        });
    }
    // A zero update carries no work to replay; it stays a null player (scored exactly 0).
    if let Some(round) = published(&c.update_hash) {
        if c.values.iter().any(|v| *v != 0.0) {
            return Some(Reason::Replay { round });
        }
    }
    vecmath::first_non_finite(&c.values).map(|(index, value)| Reason::NonFinite { index, value })
}

fn is_duplicate(a: &Candidate, na: f64, b: &Candidate, nb: f64, threshold: f64) -> bool {
    if a.update_hash == b.update_hash {
        return true;
    }
    if na == 0.0 || nb == 0.0 {
        return na == 0.0 && nb == 0.0;
    }
    vecmath::dot(&a.values, &b.values) / (na * nb) > threshold
}

#[cfg(test)]
mod tests;
