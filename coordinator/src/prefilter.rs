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
//! 6. **Replay by content**: a non-zero update whose sketch ([`crate::sketch`]) has cosine above
//!    `copy_cosine` with an update or outer step published in the last
//!    `attribution.replay_window` rounds is rejected, naming what it replays — whatever codec
//!    or block size it was re-encoded with.
//! 7. **Duplicates**: an update whose cosine similarity with an *earlier accepted* update exceeds
//!    `duplicate_cosine` (or that is bit-identical to it — two zero updates are duplicates) is
//!    a duplicate of that update and left out. **Policy: the earliest submission (arrival order)
//!    is kept as the player; later copies earn nothing.** We do not split one player's credit
//!    among the group: splitting would let a copier take half of the original's reward for no
//!    work, and keeping copies as separate players would multiply credit.
//! 8. **Near-copies are projected**: an update whose cosine with an earlier accepted update
//!    exceeds `copy_cosine` (but not `duplicate_cosine`) keeps only its part orthogonal to it,
//!    `u − (⟨u,v⟩/‖v‖²)·v` (for each such earlier v, in order). A copy plus noise therefore scores
//!    as the noise; independent trainers' updates, whose cosines sit well below `copy_cosine`
//!    (0.2–0.6 measured between the demo's honest trainers), are untouched.
//! 9. **Norm clipping**: with `M` the lower median of the non-zero norms of the accepted
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

use crate::sketch::{sketch, Sketch};

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
    /// Cosine similarity above which an update is a near-copy (projected) or, against a
    /// published update or outer step, a replay (rejected).
    pub copy_cosine: f64,
}

/// Something published by an earlier round, known by its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub round: u64,
    /// e.g. `update of <wallet>` or `outer step`.
    pub what: String,
    pub sketch: Sketch,
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
            copy_cosine: cfg.attribution.copy_cosine,
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
    /// The update is, by content, something round `round` published.
    ContentReplay {
        round: u64,
        what: String,
        cosine: f64,
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
            Reason::ContentReplay {
                round,
                what,
                cosine,
            } => {
                write!(
                    f,
                    "replays the {what} published in round {round} (cosine {cosine:.3})"
                )
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
    /// `(trainer, of_trainer)`: scored on its part orthogonal to `of_trainer`'s update.
    pub projected: Vec<(String, String)>,
    /// Sketches of the accepted non-zero updates as submitted (before projection or clipping):
    /// what later rounds compare against to refuse replays.
    pub sketches: Vec<(String, Sketch)>,
    /// The lower median M of non-zero accepted norms (with the reference), if any.
    pub median_norm: Option<f64>,
}

/// What earlier rounds published that the pre-filter refuses to see again: update hashes
/// (`by_hash(hash)` → the round) and the content of recent updates and outer steps.
pub struct History<'a, F: Fn(&[u8; 32]) -> Option<u64>> {
    pub by_hash: F,
    pub recent: &'a [Published],
    /// The previous round's [`FilterOutcome::median_norm`].
    pub reference_norm: Option<f64>,
}

/// Run the pre-filter on `candidates` in arrival order (see the module docs).
pub fn prefilter<F: Fn(&[u8; 32]) -> Option<u64>>(
    candidates: Vec<Candidate>,
    cfg: &PrefilterConfig,
    history: &History<'_, F>,
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
        let sketched = match check(&c, cfg, history) {
            Err(reason) => {
                out.rejected.push((c.trainer, reason));
                continue;
            }
            Ok(s) => s,
        };
        let norm = vecmath::norm(&c.values);
        if norm > cfg.max_norm {
            let cap = cfg.max_norm;
            out.rejected
                .push((c.trainer, Reason::Oversized { norm, cap }));
            continue;
        }
        if let Some((orig, _)) = kept
            .iter()
            .find(|(k, kn)| is_duplicate(k, *kn, &c, norm, cfg.duplicate_cosine))
        {
            out.duplicates.push((c.trainer, orig.trainer.clone()));
            continue;
        }
        if let Some(s) = sketched {
            out.sketches.push((c.trainer.clone(), s));
        }
        let (c, norm) = project_copies(c, norm, &kept, cfg.copy_cosine, &mut out.projected);
        kept.push((c, norm));
    }
    clip(&mut kept, cfg, history.reference_norm, &mut out);
    out.accepted = kept.into_iter().map(|(c, _)| c).collect();
    for (t, r) in &out.rejected {
        tracing::info!(trainer = %t, reason = %r, "update rejected by the pre-filter");
    }
    out
}

/// Remove from `c` its components along earlier kept updates it is a near-copy of.
fn project_copies(
    mut c: Candidate,
    mut norm: f64,
    kept: &[(Candidate, f64)],
    threshold: f64,
    projected: &mut Vec<(String, String)>,
) -> (Candidate, f64) {
    for (k, kn) in kept {
        if *kn == 0.0 || norm == 0.0 {
            continue;
        }
        let along = vecmath::dot(&c.values, &k.values);
        if along / (norm * kn) <= threshold {
            continue;
        }
        let coef = (along / (kn * kn)) as f32;
        for (u, v) in c.values.iter_mut().zip(&k.values) {
            *u -= coef * v;
        }
        norm = vecmath::norm(&c.values);
        projected.push((c.trainer.clone(), k.trainer.clone()));
    }
    (c, norm)
}

/// Clip norms above `clip_multiplier ×` the lower median (see the module docs).
fn clip(
    kept: &mut [(Candidate, f64)],
    cfg: &PrefilterConfig,
    reference_norm: Option<f64>,
    out: &mut FilterOutcome,
) {
    let mut norms: Vec<f64> = kept.iter().map(|(_, n)| *n).filter(|&n| n > 0.0).collect();
    if let Some(r) = reference_norm.filter(|r| r.is_finite() && *r > 0.0) {
        norms.push(r);
    }
    norms.sort_by(f64::total_cmp);
    out.median_norm = (!norms.is_empty()).then(|| norms[(norms.len() - 1) / 2]);
    if let Some(m) = out.median_norm {
        let cap = cfg.clip_multiplier * m;
        for (c, norm) in kept.iter_mut() {
            if *norm > cap {
                let factor = (cap / *norm) as f32;
                vecmath::scale(&mut c.values, factor);
                out.clipped.push((c.trainer.clone(), factor));
            }
        }
    }
}

/// Checks 2-4 and 6 of the module docs; the update's sketch if it is not zero.
fn check<F: Fn(&[u8; 32]) -> Option<u64>>(
    c: &Candidate,
    cfg: &PrefilterConfig,
    history: &History<'_, F>,
) -> Result<Option<Sketch>, Reason> {
    if c.values.len() != cfg.expected_len {
        return Err(Reason::WrongLength {
            got: c.values.len(),
            expected: cfg.expected_len,
        });
    }
    if let Some((index, value)) = vecmath::first_non_finite(&c.values) {
        return Err(Reason::NonFinite { index, value });
    }
    // A zero update carries no work to replay; it stays a null player (scored exactly 0).
    if c.values.iter().all(|v| *v == 0.0) {
        return Ok(None);
    }
    if let Some(round) = (history.by_hash)(&c.update_hash) {
        return Err(Reason::Replay { round });
    }
    let s = sketch(&c.values);
    for p in history.recent {
        let cosine = s.cosine(&p.sketch);
        if cosine > cfg.copy_cosine {
            return Err(Reason::ContentReplay {
                round: p.round,
                what: p.what.clone(),
                cosine,
            });
        }
    }
    Ok(Some(s))
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
