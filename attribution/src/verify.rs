//! Recomputing scores from a transcript alone, and checking a whole report.
//!
//! [`verify`] replays the transcript's estimator, with the transcript's seed, against a game
//! that answers only from the transcript. Because every estimator is deterministic (specified
//! shuffle, fixed summation orders, no platform maths), the replay reproduces the scores bit for
//! bit. It fails if the replay needs an entry the transcript lacks, or if the transcript holds
//! entries the estimator never asked for.
//!
//! [`verify_report`] checks a [`Report`] end to end and returns the first discrepancy, in this
//! order: format and players → seed (recomputed from run id, round, model hash, update hashes)
//! → estimator/seed copies → updates root → transcript root → replay → v(∅), v(N), stats →
//! each player's score, fixed-point score and payout → totals → scores root.

use crate::coalition::Coalition;
use crate::encoding::{f64_to_hex, Hash32, Seed};
use crate::error::{GameError, VerifyError};
use crate::estimator::{estimate, Estimate, EstimatorSpec};
use crate::game::{Game, PathPoint};
use crate::report::{
    check_players, derive_rows, scores_root, updates_root, Report, Roots, REPORT_FORMAT,
};
use crate::seed::round_seed;
use crate::transcript::Transcript;
use std::fmt;

/// A game that answers from a transcript and remembers the first thing it could not answer.
struct Oracle<'a> {
    transcript: &'a Transcript,
    missing: Option<VerifyError>,
}

impl Game for Oracle<'_> {
    fn players(&self) -> usize {
        self.transcript.players as usize
    }
    fn utility(&mut self, coalition: Coalition) -> Result<f64, GameError> {
        self.transcript.value(coalition).ok_or_else(|| {
            self.missing
                .get_or_insert(VerifyError::MissingCoalition { coalition });
            GameError::new("not in transcript")
        })
    }
    fn has_path(&self) -> bool {
        true
    }
    fn path_point(&mut self, t: f64) -> Result<PathPoint, GameError> {
        match self.transcript.path_point(t) {
            Some(p) => Ok(PathPoint {
                value: p.value,
                gradient: p.gradient.clone(),
            }),
            None => {
                self.missing
                    .get_or_insert(VerifyError::MissingPathPoint { t });
                Err(GameError::new("not in transcript"))
            }
        }
    }
}

/// Recomputes the scores (and v(∅), v(N), stats) from the transcript alone, bit-exactly.
pub fn verify(transcript: &Transcript) -> Result<Estimate, VerifyError> {
    transcript.check_canonical()?;
    let mut oracle = Oracle {
        transcript,
        missing: None,
    };
    let replay = match estimate(&mut oracle, &transcript.estimator, transcript.seed) {
        Ok(r) => r,
        Err(e) => return Err(oracle.missing.take().unwrap_or(VerifyError::Replay(e))),
    };
    let used = &replay.transcript;
    let unused_coalitions = transcript.coalitions.len() - used.coalitions.len();
    let unused_path = transcript.path.len() - used.path.len();
    if unused_coalitions + unused_path > 0 {
        let first = transcript
            .coalitions
            .iter()
            .find(|c| used.value(c.coalition()).is_none())
            .map(|c| format!("coalition {} (mask {:#x})", c.coalition(), c.mask))
            .or_else(|| {
                transcript
                    .path
                    .iter()
                    .find(|p| used.path_point(p.t).is_none())
                    .map(|p| format!("path point t = {}", p.t))
            })
            .unwrap_or_default();
        return Err(VerifyError::UnusedEntries {
            count: unused_coalitions + unused_path,
            first,
        });
    }
    Ok(replay.estimate)
}

/// The first discrepancy [`verify_report`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// The report is malformed (unknown format, duplicate ids, wrong player count, ...).
    Malformed { reason: String },
    /// The seed is not the round seed derived from the report's inputs.
    Seed { reported: Seed, recomputed: Seed },
    /// A report field disagrees with what the transcript implies.
    Field {
        field: &'static str,
        reported: String,
        recomputed: String,
    },
    /// A Merkle root disagrees.
    Root {
        root: &'static str,
        reported: Hash32,
        recomputed: Hash32,
    },
    /// The transcript could not be replayed.
    Transcript(VerifyError),
    /// A player's score disagrees with the replay.
    Score {
        index: usize,
        id: String,
        reported: f64,
        recomputed: f64,
    },
    /// A player's fixed-point score disagrees.
    FixedScore {
        index: usize,
        id: String,
        reported: i64,
        recomputed: i64,
    },
    /// A player's payout disagrees.
    Payout {
        index: usize,
        id: String,
        reported: u64,
        recomputed: u64,
    },
}

fn float(x: f64) -> String {
    format!("{x:e} (bits {})", f64_to_hex(x))
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Malformed { reason } => write!(f, "malformed report: {reason}"),
            Mismatch::Seed {
                reported,
                recomputed,
            } => write!(
                f,
                "seed mismatch: report says {reported}, but run id, round, model hash and update hashes give {recomputed}"
            ),
            Mismatch::Field {
                field,
                reported,
                recomputed,
            } => write!(f, "{field} mismatch: report says {reported}, recomputed {recomputed}"),
            Mismatch::Root {
                root,
                reported,
                recomputed,
            } => write!(f, "{root} root mismatch: report says {reported}, recomputed {recomputed}"),
            Mismatch::Transcript(e) => write!(f, "transcript does not replay: {e}"),
            Mismatch::Score {
                index,
                id,
                reported,
                recomputed,
            } => write!(
                f,
                "score of player {index} ({id}) mismatch: report says {}, transcript gives {}",
                float(*reported),
                float(*recomputed)
            ),
            Mismatch::FixedScore {
                index,
                id,
                reported,
                recomputed,
            } => write!(
                f,
                "fixed-point score of player {index} ({id}) mismatch: report says {reported}, recomputed {recomputed}"
            ),
            Mismatch::Payout {
                index,
                id,
                reported,
                recomputed,
            } => write!(
                f,
                "payout of player {index} ({id}) mismatch: report says {reported}, recomputed {recomputed}"
            ),
        }
    }
}

/// What a successful verification confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub run_id: String,
    pub round: u64,
    pub players: usize,
    pub estimator: EstimatorSpec,
    pub evaluations: u64,
    pub path_points: u64,
    pub pairs: u64,
    pub v_empty: f64,
    pub v_full: f64,
    pub paid: u64,
    pub dust: u64,
    pub roots: Roots,
}

/// The result of [`verify_report`]. `Display` gives a printable summary or the first mismatch.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyOutcome {
    Match(Summary),
    Mismatch(Mismatch),
}

impl VerifyOutcome {
    /// Whether everything matched.
    pub fn is_match(&self) -> bool {
        matches!(self, VerifyOutcome::Match(_))
    }
}

impl fmt::Display for VerifyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyOutcome::Match(s) => {
                writeln!(
                    f,
                    "OK: run {} round {}: {} players, scores recomputed bit-exactly",
                    s.run_id, s.round, s.players
                )?;
                writeln!(f, "  estimator:   {}", s.estimator)?;
                write!(f, "  evaluations: {} coalitions", s.evaluations)?;
                if s.path_points > 0 {
                    write!(f, ", {} path points", s.path_points)?;
                }
                if s.pairs > 0 {
                    write!(f, ", {} antithetic pairs", s.pairs)?;
                }
                writeln!(f)?;
                writeln!(f, "  v(empty) = {}, v(all) = {}", s.v_empty, s.v_full)?;
                writeln!(f, "  paid {} + dust {}", s.paid, s.dust)?;
                writeln!(f, "  updates root:    {}", s.roots.updates)?;
                writeln!(f, "  transcript root: {}", s.roots.transcript)?;
                write!(f, "  scores root:     {}", s.roots.scores)
            }
            VerifyOutcome::Mismatch(m) => write!(f, "MISMATCH: {m}"),
        }
    }
}

fn field<T: PartialEq + fmt::Display>(
    name: &'static str,
    reported: T,
    recomputed: T,
) -> Result<(), Mismatch> {
    if reported == recomputed {
        Ok(())
    } else {
        Err(Mismatch::Field {
            field: name,
            reported: reported.to_string(),
            recomputed: recomputed.to_string(),
        })
    }
}

fn bits_field(name: &'static str, reported: f64, recomputed: f64) -> Result<(), Mismatch> {
    if reported.to_bits() == recomputed.to_bits() {
        Ok(())
    } else {
        Err(Mismatch::Field {
            field: name,
            reported: float(reported),
            recomputed: float(recomputed),
        })
    }
}

fn root(name: &'static str, reported: Hash32, recomputed: Hash32) -> Result<(), Mismatch> {
    if reported == recomputed {
        Ok(())
    } else {
        Err(Mismatch::Root {
            root: name,
            reported,
            recomputed,
        })
    }
}

fn check(report: &Report) -> Result<Summary, Mismatch> {
    let malformed = |reason: String| Mismatch::Malformed { reason };
    if report.format != REPORT_FORMAT {
        return Err(malformed(format!(
            "unsupported report format {:?}",
            report.format
        )));
    }
    check_players(
        report
            .players
            .iter()
            .map(|p| (p.id.as_str(), &p.update_hash)),
    )
    .map_err(|e| malformed(e.to_string()))?;
    if report.transcript.players as usize != report.players.len() {
        return Err(malformed(format!(
            "{} players listed but the transcript has {}",
            report.players.len(),
            report.transcript.players
        )));
    }
    let hashes = report.update_hashes();
    let seed = round_seed(
        report.run_id.as_bytes(),
        report.round,
        &report.model_hash,
        &hashes,
    );
    if report.seed != seed {
        return Err(Mismatch::Seed {
            reported: report.seed,
            recomputed: seed,
        });
    }
    field("transcript seed", report.transcript.seed, report.seed)?;
    field("estimator", report.transcript.estimator, report.estimator)?;
    root("updates", report.roots.updates, updates_root(&hashes))?;
    root(
        "transcript",
        report.roots.transcript,
        report.transcript.root(),
    )?;

    let replay = verify(&report.transcript).map_err(Mismatch::Transcript)?;
    bits_field("v_empty", report.v_empty, replay.v_empty)?;
    bits_field("v_full", report.v_full, replay.v_full)?;
    if report.stats != replay.stats {
        return Err(Mismatch::Field {
            field: "stats",
            reported: format!("{:?}", report.stats),
            recomputed: format!("{:?}", replay.stats),
        });
    }
    for (index, (row, &score)) in report.players.iter().zip(&replay.scores).enumerate() {
        if row.score.to_bits() != score.to_bits() {
            return Err(Mismatch::Score {
                index,
                id: row.id.clone(),
                reported: row.score,
                recomputed: score,
            });
        }
    }
    let (rows, gain_fixed, payouts) = derive_rows(
        report.players.iter().map(|p| (p.id.clone(), p.update_hash)),
        &replay.scores,
        replay.v_full - replay.v_empty,
        report.reward,
        report.noise_threshold,
    )
    .map_err(|e| malformed(e.to_string()))?;
    for (index, (got, want)) in report.players.iter().zip(&rows).enumerate() {
        if got.score_fixed != want.score_fixed {
            return Err(Mismatch::FixedScore {
                index,
                id: got.id.clone(),
                reported: got.score_fixed,
                recomputed: want.score_fixed,
            });
        }
        if got.payout != want.payout {
            return Err(Mismatch::Payout {
                index,
                id: got.id.clone(),
                reported: got.payout,
                recomputed: want.payout,
            });
        }
    }
    field("gain_fixed", report.gain_fixed, gain_fixed)?;
    field(
        "payout_status",
        format!("{:?}", report.payout_status),
        format!("{:?}", payouts.status),
    )?;
    field("paid", report.paid, payouts.paid)?;
    field("dust", report.dust, payouts.dust)?;
    root("scores", report.roots.scores, scores_root(&report.players))?;
    Ok(Summary {
        run_id: report.run_id.clone(),
        round: report.round,
        players: report.players.len(),
        estimator: report.estimator,
        evaluations: replay.stats.evaluations,
        path_points: replay.stats.path_points,
        pairs: replay.stats.pairs,
        v_empty: replay.v_empty,
        v_full: replay.v_full,
        paid: payouts.paid,
        dust: payouts.dust,
        roots: report.roots,
    })
}

/// Checks a report end to end; see the module docs for the order of checks.
pub fn verify_report(report: &Report) -> VerifyOutcome {
    match check(report) {
        Ok(s) => VerifyOutcome::Match(s),
        Err(m) => VerifyOutcome::Mismatch(m),
    }
}
