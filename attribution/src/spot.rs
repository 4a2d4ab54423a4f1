//! Choosing coalitions for spot checks.
//!
//! Bit-exact replay proves the scores follow from the transcript; it cannot prove the
//! transcript's utilities are the real eval losses. A reviewer re-evaluates a few recorded
//! coalitions from the published model and updates and compares (within a tolerance, since
//! hardware differs). The coordinator must not know which coalitions will be checked, so the
//! choice depends on a reviewer-supplied `challenge` (fresh random bytes, or a block hash
//! published after the report) as well as the round seed:
//!
//! `key = sha256("coalition-attribution/v1/spot-check" ‖ 0x00 ‖ seed ‖ challenge)`; with the
//! specified [`crate::shuffle::Stream`] keyed by it, a partial Fisher–Yates picks
//! `k` distinct entries: for `i = 0..k`, `j = i + below(len − i)`, swap `i` and `j`. The picks
//! are returned sorted by mask.

use crate::encoding::Seed;
use crate::shuffle::Stream;
use crate::transcript::{CoalitionEval, Transcript};
use sha2::{Digest, Sha256};

/// Up to `k` distinct recorded coalitions chosen from `challenge` and the transcript's seed.
pub fn spot_check_sample(
    transcript: &Transcript,
    k: usize,
    challenge: &[u8],
) -> Vec<CoalitionEval> {
    let mut h = Sha256::new();
    h.update(b"coalition-attribution/v1/spot-check\0");
    h.update(transcript.seed.as_bytes());
    h.update(challenge);
    let mut stream = Stream::new(&Seed(h.finalize().into()));
    let mut entries = transcript.coalitions.clone();
    let k = k.min(entries.len());
    for i in 0..k {
        let j = i + stream.below((entries.len() - i) as u64) as usize;
        entries.swap(i, j);
    }
    entries.truncate(k);
    entries.sort_by_key(|c| c.mask);
    entries
}

/// Whether a re-evaluated utility agrees with the recorded one:
/// `|recorded − recomputed| ≤ abs_tol + rel_tol · |recorded|`.
pub fn spot_check_agrees(recorded: f64, recomputed: f64, rel_tol: f64, abs_tol: f64) -> bool {
    (recorded - recomputed).abs() <= abs_tol + rel_tol * recorded.abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimator::{estimate, EstimatorSpec};
    use crate::games::QuadraticGame;

    #[test]
    fn samples_are_distinct_deterministic_and_challenge_dependent() {
        let mut g = QuadraticGame::random(6, 1, 0.5, 0.1);
        let a = estimate(&mut g, &EstimatorSpec::exact(), Seed([4; 32])).unwrap();
        let t = &a.transcript;
        let s1 = spot_check_sample(t, 5, b"abc");
        assert_eq!(s1.len(), 5);
        assert!(s1.windows(2).all(|w| w[0].mask < w[1].mask));
        assert_eq!(s1, spot_check_sample(t, 5, b"abc"));
        assert_ne!(s1, spot_check_sample(t, 5, b"abd"));
        assert_eq!(spot_check_sample(t, 1000, b"x").len(), 64);
        for c in &s1 {
            assert_eq!(t.value(c.coalition()), Some(c.value));
        }
        assert!(spot_check_agrees(1.0, 1.0 + 1e-7, 1e-6, 0.0));
        assert!(!spot_check_agrees(1.0, 1.1, 1e-6, 1e-3));
    }
}
