//! The run's append-only journal: one JSON object per line, fsynced per entry.
//!
//! The journal is the coordinator's source of truth for recovery ([`crate::recovery`]): a step
//! has happened if and only if its entry is in the journal. [`Journal::append`] returns only
//! after the line (with its trailing newline) is on disk (`sync_data`), so an entry the caller
//! saw succeed survives a crash.
//!
//! **Torn tails.** A crash in the middle of an append leaves a last line without its newline.
//! [`Journal::open`] detects it, logs a warning and truncates it away: that entry was never
//! acknowledged, so dropping it loses nothing. Any *complete* line that does not parse is a real
//! corruption and an error naming the file and line.

use coalition_attribution::Hash32;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{io, CoordinatorError, Result};
use crate::fsutil;
use crate::prefilter::FilterOutcome;

/// A trainer taking part in a round, with its data slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Wallet public key (base58): the trainer's stable id.
    pub trainer: String,
    pub slot: u32,
}

/// The inputs of the deterministic data assignment of a round (see
/// `coalition_datasets::Sharder`): anyone can recompute who trained on what from these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataAssignment {
    pub data_seed: u64,
    pub epoch: u64,
    pub round_in_epoch: u64,
    pub slots: u32,
    pub steps_per_round: u32,
    pub batch_size: usize,
}

/// The eval pool's commitment: Merkle root over its samples, and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCommitment {
    pub root: Hash32,
    pub count: u64,
}

/// A trainer whose update was refused by the pre-filter, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub trainer: String,
    pub reason: String,
}

/// A trainer whose update norm was scaled down by `factor` before scoring and aggregation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clipped {
    pub trainer: String,
    pub factor: f32,
}

/// A trainer whose update duplicated the earlier submission of `of`; it earns nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    pub trainer: String,
    pub of: String,
}

/// One journal entry. Serialised with an `"event"` tag in snake case, e.g.
/// `{"event":"round_opened","round":3,...}`. Paths are relative to the run directory;
/// hashes are 64 hex digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// The run was created: always the first entry.
    RunStarted {
        run_id: String,
        config_hash: Hash32,
        initial_model_hash: Hash32,
        seed: u64,
        /// Checkpoint of θ_0 (`checkpoints/round-0`).
        checkpoint: PathBuf,
        /// The eval pool's commitment (Merkle root over its samples) and size; recorded in
        /// the Run account. Absent in journals written before the pool existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eval_pool: Option<PoolCommitment>,
    },
    /// A trainer was admitted (or re-admitted with a new peer id).
    TrainerAdmitted {
        /// Wallet public key, base58.
        wallet: String,
        peer_id: String,
        slot: u32,
    },
    /// A trainer left or was dropped; it may be admitted again later.
    TrainerLeft { wallet: String, reason: String },
    /// Round `round` started from the model with hash `model_hash`.
    RoundOpened {
        round: u64,
        model_hash: Hash32,
        participants: Vec<Participant>,
        assignment: DataAssignment,
    },
    /// An update frame arrived, stored as `updates/round-N/<update_hash>.bin`.
    UpdateReceived {
        round: u64,
        trainer: String,
        update_hash: Hash32,
        bytes: u64,
        tokens: u64,
    },
    /// The round was scored; its report was written to `report` with sha256 `report_sha256`.
    RoundScored {
        round: u64,
        report: PathBuf,
        report_sha256: Hash32,
        accepted: Vec<String>,
        rejected: Vec<Rejected>,
        #[serde(default)]
        clipped: Vec<Clipped>,
        #[serde(default)]
        duplicates: Vec<Duplicate>,
        /// Pool indices of the round's eval batch, in draw order (revealed with the round).
        #[serde(default)]
        eval_samples: Vec<u64>,
    },
    /// The round's new model θ_{r+1} is checkpointed: the round is done.
    RoundCommitted {
        round: u64,
        model_hash: Hash32,
        /// Checkpoint of θ_{r+1} (`checkpoints/round-{r+1}`).
        checkpoint: PathBuf,
        eval_loss_before: f64,
        eval_loss_after: f64,
        /// Seconds from opening the round to committing it (0 in journals written before
        /// this field existed).
        #[serde(default)]
        round_seconds: f64,
        /// Seconds of those spent decoding, pre-filtering and scoring.
        #[serde(default)]
        scoring_seconds: f64,
        /// sha256 of the round's artifact manifest (`manifests/round-N.json`), recorded on
        /// chain. Absent in journals written before manifests existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manifest_sha256: Option<Hash32>,
        /// Bytes the coordinator received during the round, on the wire (all trainers).
        /// Absent in journals written before it was counted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes_up: Option<u64>,
        /// Bytes the coordinator sent during the round, on the wire (all trainers).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes_down: Option<u64>,
        /// Seconds per phase of the round, by name (`gather`, `train`, `transfer`, `score`,
        /// `commit`, `record`); readers draw the phases they find.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phases: Option<BTreeMap<String, f64>>,
    },
}

impl Entry {
    /// The `RoundScored` entry for a pre-filter outcome and the report written for it
    /// (`report` relative to the run directory).
    pub fn round_scored(
        round: u64,
        report: PathBuf,
        report_sha256: Hash32,
        outcome: &FilterOutcome,
        eval_samples: &[u64],
    ) -> Entry {
        Entry::RoundScored {
            round,
            report,
            report_sha256,
            accepted: outcome.accepted.iter().map(|c| c.trainer.clone()).collect(),
            rejected: outcome
                .rejected
                .iter()
                .map(|(trainer, reason)| Rejected {
                    trainer: trainer.clone(),
                    reason: reason.to_string(),
                })
                .collect(),
            clipped: outcome
                .clipped
                .iter()
                .map(|(trainer, factor)| Clipped {
                    trainer: trainer.clone(),
                    factor: *factor,
                })
                .collect(),
            duplicates: outcome
                .duplicates
                .iter()
                .map(|(trainer, of)| Duplicate {
                    trainer: trainer.clone(),
                    of: of.clone(),
                })
                .collect(),
            eval_samples: eval_samples.to_vec(),
        }
    }
}

/// An open journal file, positioned for appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    entries: usize,
}

impl Journal {
    /// Open (creating if missing) the journal at `path` and replay its entries. A torn last
    /// line is logged and truncated away; any other malformed line is an error.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Entry>)> {
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io("open journal", path))?;
        if created {
            fsutil::sync_parent(path)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io("read journal", path))?;
        let complete = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => 0,
        };
        if complete < bytes.len() {
            tracing::warn!(
                journal = %path.display(),
                torn_bytes = bytes.len() - complete,
                "journal ends in a torn entry (crash mid-write); truncating it away"
            );
            file.set_len(complete as u64)
                .map_err(io("truncate torn tail of journal", path))?;
            file.sync_data().map_err(io("fsync journal", path))?;
        }
        let entries = parse_lines(path, &bytes[..complete])?;
        let journal = Journal {
            path: path.to_path_buf(),
            file,
            entries: entries.len(),
        };
        Ok((journal, entries))
    }

    /// Append one entry and fsync it. Refuses entries that would not replay (e.g. a NaN loss,
    /// which JSON cannot represent).
    pub fn append(&mut self, entry: &Entry) -> Result<()> {
        self.append_all(std::slice::from_ref(entry))
    }

    /// Append several entries with one fsync at the end (admissions and leaves are batched
    /// this way). Each is checked to replay before any is written.
    pub fn append_all(&mut self, entries: &[Entry]) -> Result<()> {
        let mut text = String::new();
        for entry in entries {
            text.push_str(&replayable_line(entry)?);
        }
        let before = self
            .file
            .metadata()
            .map_err(io("stat journal", &self.path))?
            .len();
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.sync_data());
        if let Err(e) = written {
            // A partial line (a full disk) must not stay in front of the next append: cut the
            // file back to where it was, so the journal stays a list of whole entries.
            let _ = self.file.set_len(before);
            return Err(io("append to journal", &self.path)(e));
        }
        self.entries += entries.len();
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries in the journal (replayed plus appended).
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// `entry` as a journal line (with its newline), refusing one that would not read back (JSON
/// has no NaN or infinity: serde_json writes `null`, which would not replay).
fn replayable_line(entry: &Entry) -> Result<String> {
    let mut line =
        serde_json::to_string(entry).map_err(|e| CoordinatorError::EntryNotReplayable {
            message: e.to_string(),
        })?;
    if let Err(e) = serde_json::from_str::<Entry>(&line) {
        return Err(CoordinatorError::EntryNotReplayable {
            message: format!("{line}: {e}"),
        });
    }
    line.push('\n');
    Ok(line)
}

/// Read a journal without modifying it (for inspection). A torn last line is skipped.
pub fn read_entries(path: &Path) -> Result<Vec<Entry>> {
    let bytes = std::fs::read(path).map_err(io("read journal", path))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    parse_lines(path, &bytes[..complete])
}

fn parse_lines(path: &Path, bytes: &[u8]) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    if bytes.is_empty() {
        return Ok(entries);
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let malformed = |message: String| CoordinatorError::JournalMalformed {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        let text = std::str::from_utf8(raw).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
        let entry = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
pub(crate) mod tests;
