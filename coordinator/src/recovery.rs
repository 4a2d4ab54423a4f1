//! What a restarted coordinator learns from its journal.
//!
//! [`RecoveredState::from_entries`] folds the replayed entries into: the run's identity, the
//! trainers currently admitted, the last committed round with the current model hash and its
//! checkpoint, every committed round's report, and — if the coordinator died mid-round — the
//! round that was opened but not committed. Such a round is **rerun from its start** (a new
//! `RoundOpened` for the same round number); its report, if one was written, is superseded.
//! Since a round counts only once its `RoundCommitted` entry is on disk, and a round number
//! can be committed only once, no round is lost and none is recorded (or credited) twice.
//!
//! Round invariants are checked strictly (they are what recovery relies on): the first entry is
//! `RunStarted` and the only one; rounds open in order, from the current model; updates, scores
//! and commits belong to the open round; a round is scored before it is committed.

use coalition_attribution::Hash32;
use std::path::PathBuf;

use crate::error::{CoordinatorError, Result};
use crate::journal::{DataAssignment, Entry, Participant, PoolCommitment};

/// The run's identity, from `RunStarted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    pub run_id: String,
    pub config_hash: Hash32,
    pub initial_model_hash: Hash32,
    pub seed: u64,
    /// The eval pool's commitment, if the journal records one.
    pub eval_pool: Option<PoolCommitment>,
}

/// A trainer currently admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedTrainer {
    pub wallet: String,
    pub peer_id: String,
    pub slot: u32,
}

/// An update received in the open round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedUpdate {
    pub trainer: String,
    pub update_hash: Hash32,
    pub bytes: u64,
    pub tokens: u64,
}

/// A round that was opened but not committed when the journal ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRound {
    pub round: u64,
    pub model_hash: Hash32,
    pub participants: Vec<Participant>,
    pub assignment: DataAssignment,
    pub updates: Vec<ReceivedUpdate>,
    /// `(report path, report sha256)` if it was scored before the crash.
    pub scored: Option<(PathBuf, Hash32)>,
    /// The trainers whose updates were accepted, once scored.
    pub accepted: Vec<String>,
    /// Pool indices of the eval batch, once scored.
    pub eval_samples: Vec<u64>,
    /// How many times this round number was opened (1 = no rerun yet).
    pub openings: u32,
}

/// A committed round.
#[derive(Debug, Clone, PartialEq)]
pub struct CommittedRound {
    pub round: u64,
    /// Model after the round (θ_{r+1}).
    pub model_hash: Hash32,
    pub checkpoint: PathBuf,
    pub report: PathBuf,
    pub report_sha256: Hash32,
    pub eval_loss_before: f64,
    pub eval_loss_after: f64,
    /// The round's data assignment (its data span is `assignment.first_batch(..)` onwards).
    pub assignment: DataAssignment,
    /// Hashes of the update frames the round accepted (published: a replay is refused).
    pub accepted_updates: Vec<Hash32>,
    /// Pool indices the round revealed (they never score again).
    pub eval_samples: Vec<u64>,
    /// sha256 of the round's artifact manifest, if one was written.
    pub manifest_sha256: Option<Hash32>,
}

impl CommittedRound {
    /// Global index of the first batch after this round's data, given the number of batches
    /// per epoch: where the next round's data starts.
    pub fn next_batch(&self, batches_per_epoch: u64) -> u64 {
        let a = &self.assignment;
        let first = a.epoch * batches_per_epoch + a.round_in_epoch;
        first + u64::from(a.slots) * u64::from(a.steps_per_round)
    }
}

/// Everything a restarted coordinator needs to resume.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredState {
    pub run: RunStart,
    /// Admitted trainers, in order of first admission.
    pub trainers: Vec<AdmittedTrainer>,
    /// Committed rounds in order; the last one is the resume point.
    pub committed: Vec<CommittedRound>,
    /// Hash of the current model (θ of the next round to run).
    pub model_hash: Hash32,
    /// Checkpoint directory of the current model, relative to the run directory.
    pub checkpoint: PathBuf,
    /// The next round to run (the open round's number if one is open).
    pub next_round: u64,
    /// A round opened but not committed: rerun it from its start.
    pub open_round: Option<OpenRound>,
}

impl RecoveredState {
    /// Fold journal entries into the state. `Ok(None)` for an empty journal (a fresh run).
    /// Errors name the 1-based entry (= journal line) that breaks an invariant.
    pub fn from_entries(entries: &[Entry]) -> Result<Option<RecoveredState>> {
        let Some((first, rest)) = entries.split_first() else {
            return Ok(None);
        };
        let bad =
            |line: usize, message: String| CoordinatorError::JournalInconsistent { line, message };
        let Entry::RunStarted {
            run_id,
            config_hash,
            initial_model_hash,
            seed,
            checkpoint,
            eval_pool,
        } = first
        else {
            return Err(bad(1, "the first entry must be run_started".into()));
        };
        let mut st = RecoveredState {
            run: RunStart {
                run_id: run_id.clone(),
                config_hash: *config_hash,
                initial_model_hash: *initial_model_hash,
                seed: *seed,
                eval_pool: *eval_pool,
            },
            trainers: Vec::new(),
            committed: Vec::new(),
            model_hash: *initial_model_hash,
            checkpoint: checkpoint.clone(),
            next_round: 0,
            open_round: None,
        };
        for (i, entry) in rest.iter().enumerate() {
            st.apply(entry).map_err(|m| bad(i + 2, m))?;
        }
        Ok(Some(st))
    }

    fn open_round_mut(
        &mut self,
        round: u64,
        what: &str,
    ) -> std::result::Result<&mut OpenRound, String> {
        match self.open_round.as_ref().map(|o| o.round) {
            Some(r) if r != round => {
                return Err(format!(
                    "{what} for round {round}, but round {r} is the open round"
                ))
            }
            None => return Err(format!("{what} for round {round}, but no round is open")),
            Some(_) => {}
        }
        self.open_round
            .as_mut()
            .ok_or_else(|| format!("{what} for round {round}, but no round is open"))
    }

    fn apply(&mut self, entry: &Entry) -> std::result::Result<(), String> {
        match entry {
            Entry::RunStarted { .. } => {
                return Err("run_started appears again after the first entry".into())
            }
            Entry::TrainerAdmitted {
                wallet,
                peer_id,
                slot,
            } => {
                let t = AdmittedTrainer {
                    wallet: wallet.clone(),
                    peer_id: peer_id.clone(),
                    slot: *slot,
                };
                match self.trainers.iter_mut().find(|t| t.wallet == *wallet) {
                    Some(existing) => *existing = t,
                    None => self.trainers.push(t),
                }
            }
            Entry::TrainerLeft { wallet, .. } => {
                self.trainers.retain(|t| t.wallet != *wallet);
            }
            Entry::RoundOpened {
                round,
                model_hash,
                participants,
                assignment,
            } => {
                if *round != self.next_round {
                    return Err(format!(
                        "round {round} opened, but the next round is {}",
                        self.next_round
                    ));
                }
                if *model_hash != self.model_hash {
                    return Err(format!(
                        "round {round} opened from model {model_hash}, but the current model is {}",
                        self.model_hash
                    ));
                }
                let openings = self.open_round.as_ref().map_or(0, |o| o.openings) + 1;
                self.open_round = Some(OpenRound {
                    round: *round,
                    model_hash: *model_hash,
                    participants: participants.clone(),
                    assignment: assignment.clone(),
                    updates: Vec::new(),
                    scored: None,
                    accepted: Vec::new(),
                    eval_samples: Vec::new(),
                    openings,
                });
            }
            Entry::UpdateReceived {
                round,
                trainer,
                update_hash,
                bytes,
                tokens,
            } => {
                let open = self.open_round_mut(*round, "update_received")?;
                open.updates.push(ReceivedUpdate {
                    trainer: trainer.clone(),
                    update_hash: *update_hash,
                    bytes: *bytes,
                    tokens: *tokens,
                });
            }
            Entry::RoundScored {
                round,
                report,
                report_sha256,
                accepted,
                eval_samples,
                ..
            } => {
                let open = self.open_round_mut(*round, "round_scored")?;
                if open.scored.is_some() {
                    return Err(format!("round {round} was already scored in this opening"));
                }
                open.scored = Some((report.clone(), *report_sha256));
                open.accepted = accepted.clone();
                open.eval_samples = eval_samples.clone();
            }
            Entry::RoundCommitted {
                round,
                model_hash,
                checkpoint,
                eval_loss_before,
                eval_loss_after,
                manifest_sha256,
                ..
            } => {
                let open = self.open_round_mut(*round, "round_committed")?;
                let Some((report, report_sha256)) = open.scored.clone() else {
                    return Err(format!("round {round} committed before it was scored"));
                };
                let accepted_updates = open
                    .accepted
                    .iter()
                    .filter_map(|t| open.updates.iter().find(|u| u.trainer == *t))
                    .map(|u| u.update_hash)
                    .collect();
                let assignment = open.assignment.clone();
                let eval_samples = open.eval_samples.clone();
                self.committed.push(CommittedRound {
                    round: *round,
                    model_hash: *model_hash,
                    checkpoint: checkpoint.clone(),
                    report,
                    report_sha256,
                    eval_loss_before: *eval_loss_before,
                    eval_loss_after: *eval_loss_after,
                    assignment,
                    accepted_updates,
                    eval_samples,
                    manifest_sha256: *manifest_sha256,
                });
                self.model_hash = *model_hash;
                self.checkpoint = checkpoint.clone();
                self.next_round = round + 1;
                self.open_round = None;
            }
        }
        Ok(())
    }

    /// The last committed round, if any.
    pub fn last_committed(&self) -> Option<&CommittedRound> {
        self.committed.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::tests::sample_entries;
    use coalition_attribution::sha256;

    fn h(s: &str) -> Hash32 {
        sha256(s.as_bytes())
    }

    #[test]
    fn an_empty_journal_is_a_fresh_run() {
        assert_eq!(RecoveredState::from_entries(&[]).unwrap(), None);
    }

    #[test]
    fn resumes_after_the_last_commit_with_the_open_round_to_rerun() {
        let entries = sample_entries();
        let s = RecoveredState::from_entries(&entries).unwrap().unwrap();
        assert_eq!(s.run.run_id, "demo");
        assert_eq!(s.run.seed, 7);
        assert_eq!(s.trainers.len(), 2);
        assert_eq!(s.committed.len(), 2);
        let last = s.last_committed().unwrap();
        assert_eq!(last.round, 1);
        assert_eq!(last.report, PathBuf::from("reports/round-1.json"));
        assert_eq!(last.accepted_updates, vec![h("u1")]);
        // Round 1 starts at batch 1 of epoch 0 and spans 2 slots × 4 steps.
        assert_eq!(last.next_batch(100), 1 + 8);
        assert_eq!(s.model_hash, h("m2"));
        assert_eq!(s.checkpoint, PathBuf::from("checkpoints/round-2"));
        assert_eq!(s.next_round, 2);
        let open = s.open_round.as_ref().unwrap();
        assert_eq!((open.round, open.openings, open.updates.len()), (2, 1, 1));
        assert!(open.scored.is_none());

        // The rerun opens round 2 again: a fresh opening, earlier updates superseded.
        let mut more = entries.clone();
        more.push(entries[entries.len() - 2].clone());
        more.push(Entry::TrainerLeft {
            wallet: "Wa11et2".into(),
            reason: "deadline".into(),
        });
        let s = RecoveredState::from_entries(&more).unwrap().unwrap();
        let open = s.open_round.as_ref().unwrap();
        assert_eq!((open.round, open.openings, open.updates.len()), (2, 2, 0));
        assert_eq!(s.trainers.len(), 1);
    }

    #[test]
    fn a_journal_without_rounds_resumes_at_round_zero() {
        let s = RecoveredState::from_entries(&sample_entries()[..3])
            .unwrap()
            .unwrap();
        assert_eq!(s.next_round, 0);
        assert_eq!(s.model_hash, h("m0"));
        assert_eq!(s.checkpoint, PathBuf::from("checkpoints/round-0"));
        assert!(s.open_round.is_none() && s.committed.is_empty());
    }

    #[test]
    fn broken_invariants_name_the_entry() {
        let e = sample_entries();
        let err = |entries: &[Entry]| {
            RecoveredState::from_entries(entries)
                .unwrap_err()
                .to_string()
        };
        // First entry is not run_started.
        assert!(err(&e[1..]).contains("entry 1"));
        // run_started twice.
        let mut twice = e[..3].to_vec();
        twice.push(e[0].clone());
        assert!(err(&twice).contains("entry 4"));
        // A committed round cannot be committed (or opened) again: none recorded twice.
        let mut again = e[..7].to_vec(); // through round 0's commit
        again.push(e[5].clone()); // round_scored for round 0
        let msg = err(&again);
        assert!(
            msg.contains("entry 8") && msg.contains("no round is open"),
            "{msg}"
        );
        let mut reopen = e[..7].to_vec();
        reopen.push(e[3].clone()); // round_opened for round 0
        assert!(err(&reopen).contains("next round is 1"));
        // Commit before score.
        let mut early = e[..5].to_vec();
        early.push(e[6].clone());
        assert!(err(&early).contains("before it was scored"));
        // An update for another round.
        let mut wrong = e[..4].to_vec();
        wrong.push(Entry::UpdateReceived {
            round: 5,
            trainer: "x".into(),
            update_hash: h("u"),
            bytes: 1,
            tokens: 1,
        });
        assert!(err(&wrong).contains("round 0 is the open round"));
        // Opening from a model that is not the current one.
        let mut fork = e[..3].to_vec();
        fork.push(Entry::RoundOpened {
            round: 0,
            model_hash: h("elsewhere"),
            participants: vec![],
            assignment: DataAssignment {
                data_seed: 0,
                epoch: 0,
                round_in_epoch: 0,
                slots: 1,
                steps_per_round: 1,
                batch_size: 1,
            },
        });
        assert!(err(&fork).contains("current model"));
    }
}
