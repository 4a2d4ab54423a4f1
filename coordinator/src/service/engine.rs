//! The round engine: the model, θ_r, the outer optimizer and the run directory, and the
//! blocking work of closing a round — decode, pre-filter, score, write the report, aggregate,
//! step, checkpoint, journal. The async loop moves it onto a blocking thread for that work.

use coalition_attribution::Hash32;
use coalition_config::RunConfig;
use coalition_datasets::SampleSet;
use coalition_model::Llama;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::aggregate::{aggregate, nonnegative_only, weights, Weighting};
use crate::error::{CoordinatorError, Result};
use crate::eval::eval_loss;
use crate::evalset::eval_batches;
use crate::journal::{Entry, Journal, Rejected};
use crate::outer::OuterOptimizer;
use crate::prefilter::{prefilter, Candidate, PrefilterConfig};
use crate::report_io::write_report;
use crate::rundir::RunDir;
use crate::score_round::{score_round, RoundInputs, ScoringPolicy};

/// Rounds whose update frames are kept on disk for re-verification.
pub const VERIFICATION_WINDOW: u64 = 8;

/// An update that arrived in time.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Wallet (base58).
    pub trainer: String,
    pub update_hash: Hash32,
    pub frame: Vec<u8>,
    /// Tokens the assignment covered (computed by the coordinator, not reported).
    pub tokens: u64,
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
    pub held_out: SampleSet,
    pub policy: ScoringPolicy,
    /// Update hashes of committed rounds → round (replays are refused).
    pub published: HashMap<[u8; 32], u64>,
    pub last_median: Option<f64>,
}

impl Engine {
    pub fn append(&self, entry: &Entry) -> Result<()> {
        self.journal
            .lock()
            .map_err(|_| CoordinatorError::Internal("journal lock poisoned".into()))?
            .append(entry)
    }

    /// Close round `round` with the updates that arrived; `missed` lists participants that
    /// sent nothing; `opened` is when the round opened (for the journal's timing).
    pub fn close_round(
        &mut self,
        round: u64,
        subs: Vec<Submission>,
        missed: Vec<String>,
        opened: Instant,
    ) -> Result<RoundSummary> {
        let start = Instant::now();
        let n = self.theta.len();
        let mut rows: Vec<Row> = missed
            .into_iter()
            .map(|trainer| Row {
                trainer,
                outcome: Outcome::Missed,
            })
            .collect();
        let mut undecodable = Vec::new();
        let mut candidates = Vec::new();
        for s in subs {
            match coalition_net::decode(&s.frame, n as u64) {
                Ok(values) => candidates.push(Candidate {
                    trainer: s.trainer,
                    update_hash: s.update_hash.0,
                    values,
                    tokens: s.tokens,
                }),
                Err(e) => undecodable.push(Rejected {
                    trainer: s.trainer,
                    reason: format!("undecodable update: {e}"),
                }),
            }
        }
        for r in &undecodable {
            rows.push(Row {
                trainer: r.trainer.clone(),
                outcome: Outcome::Rejected(r.reason.clone()),
            });
        }
        let pcfg = PrefilterConfig::from_config(&self.cfg, n);
        let published = &self.published;
        let outcome = prefilter(
            candidates,
            &pcfg,
            |h| published.get(h).copied(),
            self.last_median,
        );
        for (trainer, reason) in &outcome.rejected {
            rows.push(Row {
                trainer: trainer.clone(),
                outcome: Outcome::Rejected(reason.to_string()),
            });
        }
        for (trainer, of) in &outcome.duplicates {
            rows.push(Row {
                trainer: trainer.clone(),
                outcome: Outcome::Duplicate(of.clone()),
            });
        }
        if outcome.accepted.is_empty() {
            return Ok(RoundSummary {
                round,
                committed: false,
                rows,
                loss_before: f64::NAN,
                loss_after: f64::NAN,
                estimator: "none".into(),
                evaluations: 0,
                scoring_seconds: start.elapsed().as_secs_f64(),
                model_hash: self.theta_hash,
            });
        }

        let tokens: Vec<u64> = outcome.accepted.iter().map(|c| c.tokens).collect();
        let p = weights(Weighting::Uniform, &tokens)?;
        let scored = score_round(
            &RoundInputs {
                run_id: &self.run_id,
                round,
                model: &self.model,
                theta: &self.theta,
                model_hash: self.theta_hash,
                outer: &self.outer,
                players: &outcome.accepted,
                weights: &p,
                held_out: &self.held_out,
            },
            &self.policy,
        )?;
        let report_path = self.dir.report_path(round);
        let sha = write_report(&report_path, &scored.report)?;
        let mut entry = Entry::round_scored(
            round,
            self.dir.relative(&report_path),
            sha,
            &outcome,
            &scored.eval_samples,
        );
        if let Entry::RoundScored { rejected, .. } = &mut entry {
            rejected.extend(undecodable);
        }
        self.append(&entry)?;

        let scores: Vec<f64> = scored.report.players.iter().map(|r| r.score).collect();
        let filtered = self.cfg.attribution.aggregate_nonnegative_only;
        let coeffs = if filtered {
            nonnegative_only(&p, &scores)
        } else {
            p.clone()
        };
        let deltas: Vec<&[f32]> = outcome
            .accepted
            .iter()
            .map(|c| c.values.as_slice())
            .collect();
        let g = aggregate(&deltas, &coeffs, n)?;
        self.outer.apply(&mut self.theta, &g)?;
        let hash = self
            .dir
            .save_checkpoint(round + 1, &self.model, &self.theta, &self.outer)?;
        // With negative-score updates left out, the committed model is not θ^N: measure it.
        let loss_after = if filtered && coeffs != p {
            let batches = eval_batches(
                &self.held_out,
                &scored.eval_samples,
                self.policy.eval_batch_size,
            )?;
            eval_loss(&self.model, &batches)?
        } else {
            scored.loss_full
        };
        self.theta_hash = hash;
        self.append(&Entry::RoundCommitted {
            round,
            model_hash: hash,
            checkpoint: self.dir.relative(&self.dir.checkpoint_dir(round + 1)),
            eval_loss_before: scored.loss_before,
            eval_loss_after: loss_after,
            round_seconds: opened.elapsed().as_secs_f64(),
            scoring_seconds: start.elapsed().as_secs_f64(),
            bytes_up: None,
            bytes_down: None,
            phases: None,
        })?;
        for c in &outcome.accepted {
            self.published.insert(c.update_hash, round);
        }
        if outcome.median_norm.is_some() {
            self.last_median = outcome.median_norm;
        }
        if let Err(e) = self.dir.prune_updates(round, VERIFICATION_WINDOW) {
            tracing::warn!("could not prune old updates: {e}");
        }
        for row in &scored.report.players {
            rows.push(Row {
                trainer: row.id.clone(),
                outcome: Outcome::Scored {
                    score: row.score,
                    payout: row.payout,
                },
            });
        }
        Ok(RoundSummary {
            round,
            committed: true,
            rows,
            loss_before: scored.loss_before,
            loss_after,
            estimator: format!("{:?}", scored.report.estimator),
            evaluations: scored.report.stats.evaluations,
            scoring_seconds: start.elapsed().as_secs_f64(),
            model_hash: hash,
        })
    }
}
