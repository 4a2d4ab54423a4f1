//! The phases of closing a round, in order: [`Engine::screen`] (decode + pre-filter),
//! [`Engine::score`] (the round game, the report, `RoundScored`), [`Engine::commit`]
//! (aggregate, outer step, checkpoint, reveal and manifest ([`Engine::publish`]),
//! `RoundCommitted`).

use std::time::Instant;

use super::engine::{Engine, Outcome, Row, Submission};
use crate::aggregate::{aggregate, nonnegative_only, weights, Weighting};
use crate::error::Result;
use crate::eval::eval_loss;
use crate::evalset::eval_batches;
use crate::journal::{Entry, Rejected};
use crate::manifest::broadcast_offer;
use crate::prefilter::{prefilter, Candidate, FilterOutcome, History, PrefilterConfig, Published};
use crate::report_io::write_report;
use crate::score_round::{score_round, RoundInputs, ScoredRound, Tamper};
use crate::sketch::sketch;

/// The round's measured phases for the journal: `train` from opening to closing (trainers
/// fetch the model, train and upload), `score` (decode, pre-filter, Shapley scores, report) and
/// `commit` (aggregate, outer step, checkpoint, reveal and manifest) up to now.
fn phases(
    opened: Instant,
    scoring: Instant,
    committing: Instant,
) -> std::collections::BTreeMap<String, f64> {
    let secs = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64();
    [
        ("train", secs(opened, scoring)),
        ("score", secs(scoring, committing)),
        ("commit", secs(committing, Instant::now())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A frame that arrived, as the manifest lists it.
pub struct Frame {
    pub trainer: String,
    pub update_hash: coalition_attribution::Hash32,
    pub tokens: u64,
    pub slot: u32,
}

/// The round's updates after decoding and the pre-filter.
pub struct Screened {
    /// Every frame received, in slot order.
    pub frames: Vec<Frame>,
    /// Lines for trainers that missed the deadline or were refused or merged.
    pub rows: Vec<Row>,
    /// Frames that did not decode (journaled with the pre-filter's refusals).
    pub undecodable: Vec<Rejected>,
    pub outcome: FilterOutcome,
}

/// The scored round and the aggregation weights p_i it used.
pub struct Scored {
    pub round: ScoredRound,
    pub weights: Vec<f32>,
}

impl Engine {
    /// Decode every frame and run the pre-filter; `missed` trainers get a `Missed` row.
    pub fn screen(&self, subs: Vec<Submission>, missed: Vec<String>) -> Screened {
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
        let frames = subs
            .iter()
            .map(|s| Frame {
                trainer: s.trainer.clone(),
                update_hash: s.update_hash,
                tokens: s.tokens,
                slot: s.slot,
            })
            .collect::<Vec<_>>();
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
        let pcfg = PrefilterConfig::from_config(&self.cfg, n);
        let published = &self.published;
        let history = History {
            by_hash: |h: &[u8; 32]| published.get(h).copied(),
            recent: &self.recent,
            reference_norm: self.last_median,
        };
        let mut outcome = prefilter(candidates, &pcfg, &history);
        sort_by_slot(&mut outcome, &frames);
        let refused = undecodable
            .iter()
            .map(|r| (r.trainer.clone(), r.reason.clone()))
            .chain(
                outcome
                    .rejected
                    .iter()
                    .map(|(t, reason)| (t.clone(), reason.to_string())),
            );
        rows.extend(refused.map(|(trainer, reason)| Row {
            trainer,
            outcome: Outcome::Rejected(reason),
        }));
        rows.extend(outcome.duplicates.iter().map(|(trainer, of)| Row {
            trainer: trainer.clone(),
            outcome: Outcome::Duplicate(of.clone()),
        }));
        Screened {
            frames,
            rows,
            undecodable,
            outcome,
        }
    }

    /// Score the accepted updates, write `reports/round-N.json` and journal `RoundScored`.
    pub fn score(&self, round: u64, screened: &Screened) -> Result<Scored> {
        let accepted = &screened.outcome.accepted;
        let tokens: Vec<u64> = accepted.iter().map(|c| c.tokens).collect();
        let p = weights(Weighting::Uniform, &tokens)?;
        let inputs = RoundInputs {
            run_id: &self.run_id,
            round,
            model: &self.model,
            theta: &self.theta,
            model_hash: self.theta_hash,
            outer: &self.outer,
            players: accepted,
            weights: &p,
            pool: &self.pool,
            revealed: &self.revealed,
        };
        let scored = score_round(&inputs, &self.policy)?;
        let report_path = self.dir.report_path(round);
        let sha = write_report(&report_path, &scored.report)?;
        crate::crash::point("after-report");
        let mut entry = Entry::round_scored(
            round,
            self.dir.relative(&report_path),
            sha,
            &screened.outcome,
            &scored.eval_samples,
        );
        if let Entry::RoundScored { rejected, .. } = &mut entry {
            rejected.extend(screened.undecodable.iter().cloned());
        }
        self.append(&entry)?;
        crate::crash::point("after-scored");
        Ok(Scored {
            round: scored,
            weights: p,
        })
    }

    /// θ_{r+1} = outer step of Σ p_i Δ_i (only non-negative scorers with
    /// `aggregate_nonnegative_only`), checkpointed and journaled as `RoundCommitted`. Returns
    /// the eval loss of the committed model on the round's eval batch.
    pub fn commit(
        &mut self,
        round: u64,
        screened: &Screened,
        scored: &Scored,
        opened: Instant,
        start: Instant,
    ) -> Result<f64> {
        let committing = Instant::now();
        let n = self.theta.len();
        let accepted = &screened.outcome.accepted;
        let report = &scored.round.report;
        let p = &scored.weights;
        let scores: Vec<f64> = report.players.iter().map(|r| r.score).collect();
        let filtered = self.cfg.attribution.aggregate_nonnegative_only;
        let coeffs = if filtered {
            nonnegative_only(p, &scores)
        } else {
            p.clone()
        };
        let deltas: Vec<&[f32]> = accepted.iter().map(|c| c.values.as_slice()).collect();
        let g = aggregate(&deltas, &coeffs, n)?;
        let broadcast = self.outer_step(round, &g)?;
        if matches!(self.policy.tamper, Some(Tamper::NextModel { round: r }) if r == round) {
            if let Some(w) = self.theta.first_mut() {
                *w += 1e-3;
            }
        }
        let hash = self
            .dir
            .save_checkpoint(round + 1, &self.model, &self.theta, &self.outer)?;
        // With negative-score updates left out, or a compressed broadcast, the committed
        // model is not θ^N: measure it.
        let loss_after = if (filtered && coeffs != *p) || broadcast.is_some() {
            let samples = &scored.round.eval_samples;
            let batches = eval_batches(self.pool.samples(), samples, self.policy.eval_batch_size)?;
            eval_loss(&self.model, &batches)?
        } else {
            scored.round.loss_full
        };
        crate::crash::point("after-checkpoint");
        let manifest = self.publish(round, screened, scored, hash, broadcast.as_ref())?;
        self.last_broadcast = broadcast.map(|b| broadcast_offer(self.theta_hash, &b));
        self.theta_hash = hash;
        let next_sketch = sketch(&self.theta);
        let step = self.theta_sketch.minus(&next_sketch);
        self.theta_sketch = next_sketch;
        let traffic = self.traffic.as_ref().map(|meter| {
            let now = meter.counts();
            let round_traffic = now.since(&self.traffic_mark);
            self.traffic_mark = now;
            round_traffic
        });
        self.append(&Entry::RoundCommitted {
            round,
            model_hash: hash,
            checkpoint: self.dir.relative(&self.dir.checkpoint_dir(round + 1)),
            eval_loss_before: scored.round.loss_before,
            eval_loss_after: loss_after,
            round_seconds: opened.elapsed().as_secs_f64(),
            scoring_seconds: start.elapsed().as_secs_f64(),
            manifest_sha256: Some(manifest),
            bytes_up: traffic.map(|t| t.received),
            bytes_down: traffic.map(|t| t.sent),
            phases: Some(phases(opened, start, committing)),
        })?;
        crate::crash::point("after-commit");
        self.remember(round, &screened.outcome, &scored.round.eval_samples, step);
        Ok(loss_after)
    }

    /// The outer step of `g`: θ_{r+1} directly (`broadcast_codec = "full"`), or θ_r plus the
    /// decoded compressed broadcast of the step, whose frame is written to
    /// `broadcasts/round-N.bin` (its reference returned).
    fn outer_step(&mut self, round: u64, g: &[f32]) -> Result<Option<crate::manifest::FileRef>> {
        let Some(codec) = coalition_trainer::build::broadcast_codec(&self.cfg) else {
            self.outer.apply(&mut self.theta, g)?;
            return Ok(None);
        };
        let mut target = self.theta.clone();
        self.outer.apply(&mut target, g)?;
        let frame = self.outer.broadcast_step(&mut self.theta, &target, codec)?;
        let path = self.dir.broadcast_path(round);
        crate::fsutil::create_dir_all(path.parent().unwrap_or(self.dir.root()))?;
        crate::fsutil::write_atomic(&path, &frame)?;
        Ok(Some(crate::manifest::FileRef::of(&self.dir, &path)?))
    }

    /// After a commit: the accepted hashes are published (replays refused), the eval samples
    /// are revealed (never drawn again), the median norm carries to the next round, and frames
    /// outside the verification window (`attribution.verification_window`, 0 = keep all) are
    /// pruned.
    fn remember(
        &mut self,
        round: u64,
        outcome: &FilterOutcome,
        eval_samples: &[u64],
        step: crate::sketch::Sketch,
    ) {
        for c in &outcome.accepted {
            self.published.insert(c.update_hash, round);
        }
        let window = self.cfg.attribution.replay_window;
        self.recent.retain(|p| p.round + window > round + 1);
        if window > 0 {
            self.recent.extend(published_content(round, outcome, step));
        }
        self.revealed.extend(eval_samples.iter().copied());
        if outcome.median_norm.is_some() {
            self.last_median = outcome.median_norm;
        }
        let keep = self.cfg.attribution.verification_window;
        if keep > 0 {
            if let Err(e) = self.dir.prune_updates(round, keep) {
                tracing::warn!("could not prune old updates: {e}");
            }
        }
    }
}

/// What round `round` published, by content: its accepted updates as submitted and its outer
/// step θ_r − θ_{r+1} (whose sketch is `step`).
pub fn published_content(
    round: u64,
    outcome: &FilterOutcome,
    step: crate::sketch::Sketch,
) -> impl Iterator<Item = Published> + '_ {
    let updates = outcome.sketches.iter().map(move |(t, s)| Published {
        round,
        what: format!("update of {t}"),
        sketch: s.clone(),
    });
    updates.chain(std::iter::once(Published {
        round,
        what: "outer step".into(),
        sketch: step,
    }))
}

/// Players are scored in slot order (arrival order only decides who authored a copy).
pub fn sort_by_slot(outcome: &mut FilterOutcome, frames: &[Frame]) {
    let slot = |t: &str| {
        frames
            .iter()
            .find(|f| f.trainer == t)
            .map_or(u32::MAX, |f| f.slot)
    };
    outcome.accepted.sort_by_key(|c| slot(&c.trainer));
}
