//! What the coordinator's journal and reports say a reviewer's records are: the values the
//! recorder puts on chain (config hash, model hashes, roots, payouts) and those the registry
//! does not record yet (the eval pool's commitment, each round's manifest hash). `coalition
//! verify` checks a run directory against these when it has no cluster, and fills in the
//! missing on-chain values from them when it has one.

use coalition_attribution::Hash32;

use super::{ChainRound, ChainRun};
use crate::error::{CoordinatorError, Result};
use crate::journal::{read_entries, Entry};
use crate::rundir::RunDir;

/// The run as journaled, and its committed rounds in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct Journaled {
    pub run: ChainRun,
    /// θ_0's hash.
    pub initial_model: Hash32,
    pub committed: Vec<Committed>,
}

/// One `RoundCommitted` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub round: u64,
    /// θ_{r+1}'s hash.
    pub next_model_hash: Hash32,
    /// Absent in rounds committed before manifests existed.
    pub manifest_hash: Option<Hash32>,
}

impl Committed {
    /// The manifest hash, or an error naming the round that has none.
    pub fn manifest(&self, journal: &std::path::Path) -> Result<Hash32> {
        self.manifest_hash.ok_or_else(|| CoordinatorError::BadFile {
            path: journal.to_path_buf(),
            message: format!(
                "round {} has no manifest (committed before manifests existed)",
                self.round
            ),
        })
    }
}

/// Reads `dir`'s journal: it must start with `RunStarted` carrying an eval pool commitment.
pub fn read_journal(dir: &RunDir) -> Result<Journaled> {
    let path = dir.journal_path();
    let entries = read_entries(&path)?;
    let bad = |message: &str| CoordinatorError::BadFile {
        path: path.clone(),
        message: message.to_string(),
    };
    let Some(Entry::RunStarted {
        config_hash,
        initial_model_hash,
        eval_pool,
        ..
    }) = entries.first()
    else {
        return Err(bad("does not start with run_started"));
    };
    let pool = eval_pool.as_ref().ok_or_else(|| {
        bad("the run has no eval pool commitment (written before pools existed): its eval draws cannot be checked")
    })?;
    let committed = entries
        .iter()
        .filter_map(|e| match e {
            Entry::RoundCommitted {
                round,
                model_hash,
                manifest_sha256,
                ..
            } => Some(Committed {
                round: *round,
                next_model_hash: *model_hash,
                manifest_hash: *manifest_sha256,
            }),
            _ => None,
        })
        .collect();
    Ok(Journaled {
        run: ChainRun {
            config_hash: *config_hash,
            eval_pool_root: pool.root,
            eval_pool_count: pool.count,
        },
        initial_model: *initial_model_hash,
        committed,
    })
}

/// The records as the recorder would put them on chain, from the journal and the reports
/// alone: checking against them establishes the run directory's own consistency only.
pub fn journal_records(dir: &RunDir) -> Result<(ChainRun, Vec<ChainRound>)> {
    let journal = read_journal(dir)?;
    let mut model = journal.initial_model;
    let mut rounds = Vec::new();
    for c in &journal.committed {
        let report = crate::read_report(&dir.report_path(c.round))?;
        rounds.push(ChainRound {
            round: c.round,
            model_hash: model,
            next_model_hash: c.next_model_hash,
            manifest_hash: c.manifest(&dir.journal_path())?,
            updates_root: report.roots.updates,
            scores_root: report.roots.scores,
            transcript_root: report.roots.transcript,
            total_payout: report.paid,
            credited_payout: report.paid,
            trainer_count: report.players.len() as u32,
            contributions_recorded: report.players.len() as u32,
            closed: true,
        });
        model = c.next_model_hash;
    }
    Ok((journal.run, rounds))
}
