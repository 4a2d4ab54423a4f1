//! The round's phases as the event loop drives them: *gathering* → [`Service::open_round`] →
//! *open* (updates arrive through the handlers) → [`Service::close_round`] hands the engine to
//! a [`ScoringJob`] → [`Service::on_scored`] takes it back and starts gathering again.

use coalition_model::checkpoint::params_to_le_bytes;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};

use super::engine::{Engine, RoundSummary, Submission};
use super::error::ServiceError;
use super::options::ServiceObserver;
use super::state::{unix_ms, LiveRound, Phase, ScoringJob, Service};

/// Pause before a round that could not be closed runs again.
const RETRY_AFTER: Duration = Duration::from_secs(5);
use crate::journal::{DataAssignment, Entry, Participant};

impl Service {
    /// Phase transitions driven by time and membership. Returns a scoring job when a round
    /// closes.
    pub fn on_tick(&mut self) -> Option<ScoringJob> {
        match &self.phase {
            Phase::Gathering { since } => {
                if Instant::now() < *since {
                    return None; // a retry's pause
                }
                if self.round >= self.rounds {
                    self.phase = Phase::Finished {
                        since: Instant::now(),
                    };
                    return None;
                }
                let connected = self.connected();
                let net = &self.cfg.network;
                let window = Duration::from_secs(net.join_window_secs);
                let enough = connected.len() >= net.min_trainers;
                let waited = since.elapsed() >= window && !connected.is_empty();
                if enough || waited {
                    if let Err(e) = self.open_round(connected) {
                        warn!("cannot open round {}: {e}", self.round);
                    }
                }
                None
            }
            Phase::Open(open) => {
                let mut missing = open
                    .slots
                    .iter()
                    .map(|(t, _)| *t)
                    .filter(|t| !open.submitted.contains_key(t));
                let all_gone = missing.all(|t| self.trainers[t].peer.is_none());
                // `all_gone` is also true when nobody is missing: every update is in.
                if all_gone || Instant::now() >= open.deadline || self.stragglers_only(open) {
                    return self.close_round();
                }
                None
            }
            Phase::Scoring | Phase::Finished { .. } => None,
        }
    }

    /// Whether only stragglers are left: three quarters of the participants submitted and
    /// `network.straggler_factor ×` the median submitter's time (at least 5 s) has passed.
    fn stragglers_only(&self, open: &LiveRound) -> bool {
        let factor = self.cfg.network.straggler_factor;
        let (n, k) = (open.slots.len(), open.arrivals.len());
        if factor <= 0.0 || k == 0 || 4 * k < 3 * n {
            return false;
        }
        let median = open.arrivals[(k - 1) / 2].1.duration_since(open.opened);
        let grace = median.mul_f64(factor).max(Duration::from_secs(5));
        open.opened.elapsed() >= grace
    }

    /// Open round `self.round` for the connected trainers (up to `max_trainers`): journal
    /// `RoundOpened` with the data assignment, then take uploads from them.
    fn open_round(&mut self, connected: Vec<usize>) -> Result<(), ServiceError> {
        let net = &self.cfg.network;
        let h = self.cfg.training.inner_steps as u64;
        let chosen: Vec<usize> = connected.into_iter().take(net.max_trainers).collect();
        let cursor = self.data.next_batch;
        let slots: Vec<(usize, u64)> = chosen
            .iter()
            .enumerate()
            .map(|(s, &t)| (t, cursor + s as u64 * h))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(net.round_deadline_secs);
        let participants = slots
            .iter()
            .enumerate()
            .map(|(s, (t, _))| Participant {
                trainer: self.trainers[*t].wallet.clone(),
                slot: s as u32,
            })
            .collect();
        let per_epoch = self.data.batches_per_epoch;
        self.journal(&Entry::RoundOpened {
            round: self.round,
            model_hash: self.model.hash,
            participants,
            assignment: DataAssignment {
                data_seed: self.cfg.run.seed,
                epoch: cursor / per_epoch,
                round_in_epoch: cursor % per_epoch,
                slots: slots.len() as u32,
                steps_per_round: h as u32,
                batch_size: self.cfg.training.batch_size,
            },
        })?;
        self.blobs
            .set_uploaders(chosen.iter().filter_map(|&t| self.trainers[t].peer));
        info!(
            round = self.round,
            participants = slots.len(),
            "round opened"
        );
        self.data.open_slots = slots.len() as u64;
        self.phase = Phase::Open(LiveRound {
            round: self.round,
            opened: Instant::now(),
            slots,
            deadline,
            deadline_unix_ms: unix_ms(deadline),
            submitted: HashMap::new(),
            arrivals: Vec::new(),
        });
        Ok(())
    }

    /// Stop taking updates and score the round on a blocking thread. Submissions are passed in
    /// arrival order (the pre-filter credits a copied update's first submitter); players are
    /// then scored in slot order.
    fn close_round(&mut self) -> Option<ScoringJob> {
        let Phase::Open(open) = std::mem::replace(&mut self.phase, Phase::Scoring) else {
            return None;
        };
        let mut engine = self.engine.take()?;
        let missed: Vec<String> = open
            .slots
            .iter()
            .filter(|(t, _)| !open.submitted.contains_key(t))
            .map(|(t, _)| self.trainers[*t].wallet.clone())
            .collect();
        self.count_no_shows(&open);
        let mut submitted = open.submitted;
        let subs: Vec<Submission> = open
            .arrivals
            .iter()
            .filter_map(|(t, _)| submitted.remove(t))
            .collect();
        let (round, opened) = (open.round, open.opened);
        self.blobs.set_uploaders(std::iter::empty());
        Some(tokio::task::spawn_blocking(move || {
            let result = engine.close_round(round, subs, missed, opened);
            (engine, result)
        }))
    }

    /// The round could not be closed. The coordinator does not stop: it runs the round again
    /// (after `RETRY_AFTER`, so a full disk or a busy ledger gets time to recover), except when
    /// the eval pool is exhausted, which ends the run.
    pub fn on_failed(&mut self, engine: Engine, error: crate::CoordinatorError) {
        self.engine = Some(engine);
        if let crate::CoordinatorError::PoolExhausted { .. } = error {
            tracing::error!(round = self.round, "{error}; the run stops here");
            self.rounds = self.round;
            self.phase = Phase::Finished {
                since: Instant::now(),
            };
            return;
        }
        tracing::error!(
            round = self.round,
            "the round could not be closed ({error}); running it again in {RETRY_AFTER:?}"
        );
        self.phase = Phase::Gathering {
            since: Instant::now() + RETRY_AFTER,
        };
    }

    /// Participants that sent nothing this round get a strike; `network.evict_after_missed`
    /// strikes in a row evict one (disconnected, its place freed; it may join again).
    fn count_no_shows(&mut self, open: &LiveRound) {
        let limit = self.cfg.network.evict_after_missed;
        for &(t, _) in &open.slots {
            let trainer = &mut self.trainers[t];
            if open.submitted.contains_key(&t) {
                trainer.missed = 0;
                continue;
            }
            trainer.missed += 1;
            if trainer.missed < limit {
                continue;
            }
            trainer.missed = 0;
            trainer.barred_until = open.round + 1 + u64::from(limit);
            let Some(peer) = trainer.peer.take() else {
                continue;
            };
            warn!(wallet = %trainer.wallet, "evicted after missing {limit} rounds in a row");
            self.pending.push(Entry::TrainerLeft {
                wallet: trainer.wallet.clone(),
                reason: format!("missed {limit} rounds in a row"),
            });
            let client = self.client.clone();
            tokio::spawn(async move { client.disconnect(peer).await });
        }
    }

    /// The scoring job is done: serve the new model and move the data cursor if the round was
    /// committed (else it runs again), then gather for the next round.
    pub fn on_scored(
        &mut self,
        engine: Engine,
        summary: RoundSummary,
        observer: &mut dyn ServiceObserver,
    ) {
        if summary.committed {
            let bytes = params_to_le_bytes(&engine.theta);
            self.model.hash = engine.theta_hash;
            self.model.bytes = bytes.len() as u64;
            self.model.broadcast = engine.last_broadcast.clone();
            self.blobs.set_model(engine.theta_hash.0, bytes);
            match crate::manifest::published_files(&engine.dir, summary.round) {
                Ok(files) => self.blobs.publish(files.into_iter().map(|(h, p)| (h.0, p))),
                Err(e) => warn!(
                    round = summary.round,
                    "cannot serve the round's artifacts: {e}"
                ),
            }
            self.data.next_batch += self.cfg.training.inner_steps as u64 * self.data.open_slots;
            self.summary.rounds_committed = summary.round + 1;
            self.summary.final_model_hash = engine.theta_hash;
            self.summary
                .eval_losses
                .push((summary.round, summary.loss_before, summary.loss_after));
            self.round += 1;
        } else {
            warn!(
                round = summary.round,
                "no update was accepted; running the round again"
            );
        }
        self.engine = Some(engine);
        observer.round_closed(&summary);
        self.phase = Phase::Gathering {
            since: Instant::now(),
        };
    }
}
