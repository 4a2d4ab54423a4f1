//! The round engine: the model, θ_r, the outer optimizer and the run directory, and the
//! blocking work of closing a round. The async loop moves it onto a blocking thread for that
//! work ([`super::state::ScoringJob`]); the phases of a close are in [`super::close`].

use coalition_attribution::Hash32;
use coalition_config::RunConfig;
use coalition_model::Llama;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::{CoordinatorError, Result};
use crate::journal::{Entry, Journal};
use crate::outer::OuterOptimizer;
use crate::pool::EvalPool;
use crate::rundir::RunDir;
use crate::score_round::ScoringPolicy;

/// An update that arrived in time.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Wallet (base58).
    pub trainer: String,
    pub update_hash: Hash32,
    pub frame: Vec<u8>,
    /// Tokens the assignment covered (computed by the coordinator, not reported).
    pub tokens: u64,
    /// The trainer's data slot in the round (the scoring order).
    pub slot: u32,
}

/// What happened to one trainer in a round.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Scored: φ_i (nats of eval loss) and the payout.
    Scored { score: f64, payout: u64 },
    /// Refused before scoring, with the reason.
    Rejected(String),
    /// A copy of another trainer's update (that trainer's wallet).
    Duplicate(String),
    /// Did not submit before the deadline.
    Missed,
}

/// One trainer's line for a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub trainer: String,
    pub outcome: Outcome,
}

/// A closed round.
#[derive(Debug, Clone)]
pub struct RoundSummary {
    pub round: u64,
    /// False when nothing was accepted: the round is run again.
    pub committed: bool,
    pub rows: Vec<Row>,
    pub loss_before: f64,
    pub loss_after: f64,
    pub estimator: String,
    pub evaluations: u64,
    pub scoring_seconds: f64,
    pub model_hash: Hash32,
}

/// State that persists across rounds.
pub struct Engine {
    pub cfg: RunConfig,
    pub run_id: String,
    pub dir: RunDir,
    pub journal: Arc<Mutex<Journal>>,
    pub model: Llama,
    pub theta: Vec<f32>,
    pub theta_hash: Hash32,
    pub outer: OuterOptimizer,
    /// The committed eval pool, and the samples committed rounds revealed.
    pub pool: EvalPool,
    pub revealed: BTreeSet<u64>,
    pub policy: ScoringPolicy,
    /// Update hashes of committed rounds → round (replays are refused).
    pub published: HashMap<[u8; 32], u64>,
    /// Updates and outer steps of the last `attribution.replay_window` rounds, by content.
    pub recent: Vec<crate::prefilter::Published>,
    /// The sketch of θ_r (the outer step's sketch is the difference of two).
    pub theta_sketch: crate::sketch::Sketch,
    pub last_median: Option<f64>,
    /// The node's byte counters once the network is up, and their reading at the last commit
    /// (a round's traffic is what crossed the wire between two commits).
    pub traffic: Option<coalition_net::TrafficMeter>,
    pub traffic_mark: coalition_net::TrafficCounts,
    /// The last committed round's compressed broadcast (θ_r − θ_{r−1}), offered in `Work`.
    pub last_broadcast: Option<coalition_net::Broadcast>,
}

impl Engine {
    pub fn append(&self, entry: &Entry) -> Result<()> {
        self.journal
            .lock()
            .map_err(|_| CoordinatorError::Internal("journal lock poisoned".into()))?
            .append(entry)
    }

    /// Close round `round` with the updates that arrived (in arrival order); `missed` lists
    /// participants that sent nothing; `opened` is when the round opened (for the journal).
    ///
    /// Decode and pre-filter ([`Engine::screen`]) → score and write the report
    /// ([`Engine::score`], journals `RoundScored`) → aggregate, step, checkpoint
    /// ([`Engine::commit`], journals `RoundCommitted`: the commit point) → the summary.
    /// A round in which nothing survives the pre-filter is not committed (it runs again).
    pub fn close_round(
        &mut self,
        round: u64,
        subs: Vec<Submission>,
        missed: Vec<String>,
        opened: Instant,
    ) -> Result<RoundSummary> {
        let start = Instant::now();
        let screened = self.screen(subs, missed);
        if screened.outcome.accepted.is_empty() {
            return Ok(RoundSummary {
                round,
                committed: false,
                rows: screened.rows,
                loss_before: f64::NAN,
                loss_after: f64::NAN,
                estimator: "none".into(),
                evaluations: 0,
                scoring_seconds: start.elapsed().as_secs_f64(),
                model_hash: self.theta_hash,
            });
        }
        let scored = self.score(round, &screened)?;
        let loss_after = self.commit(round, &screened, &scored, opened, start)?;
        let mut rows = screened.rows;
        rows.extend(scored.round.report.players.iter().map(|p| Row {
            trainer: p.id.clone(),
            outcome: Outcome::Scored {
                score: p.score,
                payout: p.payout,
            },
        }));
        let report = &scored.round.report;
        Ok(RoundSummary {
            round,
            committed: true,
            rows,
            loss_before: scored.round.loss_before,
            loss_after,
            estimator: format!("{:?}", report.estimator),
            evaluations: report.stats.evaluations,
            scoring_seconds: start.elapsed().as_secs_f64(),
            model_hash: self.theta_hash,
        })
    }
}
