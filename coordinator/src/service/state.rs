//! The service's state between events: the trainers, the round phase, the engine (or the
//! scoring job that has it), and the few counters the next round needs.

use coalition_attribution::Hash32;
use coalition_config::RunConfig;
use coalition_net::{Client, PeerId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::blobs::CoordinatorBlobs;
use super::engine::{Engine, RoundSummary, Submission};
use super::error::ServiceError;
use super::options::RunSummary;
use crate::journal::{Entry, Journal};

/// A round being scored on a blocking thread; it hands the engine back when done.
pub type ScoringJob =
    tokio::task::JoinHandle<(Engine, Result<RoundSummary, crate::CoordinatorError>)>;

/// An admitted trainer.
pub struct Trainer {
    /// Wallet (base58): the trainer's stable identity.
    pub wallet: String,
    /// Index in admission order (stable across rejoins).
    pub id: u32,
    /// The live connection, if any.
    pub peer: Option<PeerId>,
    /// Rounds in a row this trainer was a participant and sent nothing.
    pub missed: u32,
    /// An evicted trainer may join again from this round on.
    pub barred_until: u64,
}

/// The round currently taking updates.
pub struct LiveRound {
    pub round: u64,
    pub opened: Instant,
    /// (trainer index, first batch), in slot order.
    pub slots: Vec<(usize, u64)>,
    pub deadline: Instant,
    pub deadline_unix_ms: u64,
    /// Updates in, by trainer index.
    pub submitted: HashMap<usize, Submission>,
    /// Trainer indices in the order their updates arrived (the first submission of a copied
    /// update is its author), with the time each arrived.
    pub arrivals: Vec<(usize, Instant)>,
}

/// Where the run is.
pub enum Phase {
    /// Waiting for enough trainers to open the next round.
    Gathering { since: Instant },
    /// A round is taking updates.
    Open(LiveRound),
    /// The last round is being scored and committed.
    Scoring,
    /// Every round is committed; answering `Finished` for a while.
    Finished { since: Instant },
}

/// The coordinator service.
pub struct Service {
    pub cfg: RunConfig,
    /// The config trainers receive ([`coalition_config::trainer_view`]) and its sha256.
    pub config_toml: String,
    pub config_hash: [u8; 32],
    /// `split_hash` of the tokenized training data (trainers compare theirs at join).
    pub data_hash: [u8; 32],
    pub client: Client,
    pub blobs: Arc<CoordinatorBlobs>,
    pub trainers: Vec<Trainer>,
    /// `None` while a [`ScoringJob`] holds it.
    pub engine: Option<Engine>,
    pub journal: Arc<Mutex<Journal>>,
    pub model: ServedModel,
    /// The data cursor: global index of the next round's first batch.
    pub data: DataCursor,
    /// The next round to run, and how many the run has.
    pub round: u64,
    pub rounds: u64,
    pub phase: Phase,
    pub summary: RunSummary,
    /// Admissions and leaves waiting to be journaled (one fsync per batch, off the loop).
    pub pending: Vec<Entry>,
    /// Recent joins by peer (rate limit).
    pub join_times: HashMap<PeerId, std::collections::VecDeque<Instant>>,
    /// Held for the service's life: one coordinator per run directory.
    pub _lock: crate::lock::RunLock,
}

/// The model trainers are told to fetch.
pub struct ServedModel {
    pub hash: Hash32,
    pub bytes: u64,
    /// How a trainer holding the previous model reaches this one (compressed broadcasts).
    pub broadcast: Option<coalition_net::Broadcast>,
}

/// Where the run's data order is.
pub struct DataCursor {
    pub next_batch: u64,
    pub batches_per_epoch: u64,
    /// Participants of the round last opened (each takes `inner_steps` batches).
    pub open_slots: u64,
}

/// Milliseconds since the epoch at `at` (for deadlines sent to trainers).
pub fn unix_ms(at: Instant) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let ahead = at.saturating_duration_since(Instant::now()).as_millis() as u64;
    now + ahead
}

impl Service {
    pub fn trainer_of(&self, peer: &PeerId) -> Option<usize> {
        self.trainers
            .iter()
            .position(|t| t.peer.as_ref() == Some(peer))
    }

    pub fn connected(&self) -> Vec<usize> {
        (0..self.trainers.len())
            .filter(|&i| self.trainers[i].peer.is_some())
            .collect()
    }

    pub fn all_told(&self) -> bool {
        self.trainers.iter().all(|t| t.peer.is_none())
    }

    /// Trainers with a live connection.
    pub fn active(&self) -> usize {
        self.trainers.iter().filter(|t| t.peer.is_some()).count()
    }

    /// Journal admissions and leaves in one batch on a blocking thread. A failed write is
    /// logged; the entries are not retried (an admission not on disk only means the trainer
    /// joins again after a restart).
    pub fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let journal = self.journal.clone();
        tokio::task::spawn_blocking(move || {
            let result = journal
                .lock()
                .map_err(|_| "journal lock poisoned".to_string())
                .and_then(|mut j| j.append_all(&batch).map_err(|e| e.to_string()));
            if let Err(e) = result {
                tracing::warn!(
                    "could not journal {} admissions and leaves: {e}",
                    batch.len()
                );
            }
        });
    }

    /// Append to the journal (shared with the engine, so this works while a round is being
    /// scored on its blocking thread).
    pub fn journal(&self, entry: &Entry) -> Result<(), ServiceError> {
        let mut j = self
            .journal
            .lock()
            .map_err(|_| ServiceError::Internal("journal lock poisoned".into()))?;
        j.append(entry)?;
        Ok(())
    }
}
