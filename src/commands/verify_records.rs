//! What `coalition verify` checks a run's files against: the records on chain, and for the
//! values the registry does not record yet (the eval pool's commitment, the per-round manifest
//! hash, and θ_{r+1}'s hash for the last recorded round) the coordinator's journal, each
//! labelled with where it came from so the reviewer knows what rests on the coordinator's word.

use anyhow::{bail, Result};
use coalition_attribution::Hash32;
use coalition_coordinator::rederive::{journal_records, read_journal, ChainRound, ChainRun};
use coalition_coordinator::RunDir;
use coalition_ledger::inspect::RunView;
use coalition_registry::state::Round;

/// The records to check against, and where each came from.
pub struct Records {
    pub run: ChainRun,
    pub rounds: Vec<ChainRound>,
    /// One line per source, for the reviewer.
    pub provenance: Vec<String>,
}

/// Records from the run directory alone (no chain given): the journal and the reports stand
/// in for the chain, so the checks establish the coordinator's own consistency only.
pub fn from_journal(dir: &RunDir) -> Result<Records> {
    let (run, rounds) = journal_records(dir)?;
    Ok(Records {
        run,
        rounds,
        provenance: vec![
            "no --cluster: the coordinator's journal and reports stand in for the chain \
             (this checks the run's files against each other, not against a record)"
                .into(),
        ],
    })
}

/// Records from the chain (`view`), completed from the journal where the registry does not
/// record a value yet.
pub fn from_chain(view: &RunView, dir: &RunDir) -> Result<Records> {
    let journal = read_journal(dir)?;
    if view.run.config_hash != journal.run.config_hash.0 {
        bail!(
            "the run directory is not the run on chain: its config hash {} differs from the \
             Run account's {}",
            journal.run.config_hash,
            Hash32(view.run.config_hash)
        );
    }
    let mut rounds = Vec::new();
    for (i, (index, account)) in view.rounds.iter().enumerate() {
        let Some(c) = journal.committed.iter().find(|c| c.round == *index) else {
            bail!("round {index} is on chain but the run directory never committed it");
        };
        let next = match view.rounds.get(i + 1) {
            Some((_, later)) => Hash32(later.model_hash),
            None => c.next_model_hash,
        };
        let manifest = c.manifest(&dir.journal_path())?;
        rounds.push(chain_round(*index, account, next, manifest));
    }
    Ok(Records {
        run: ChainRun {
            config_hash: Hash32(view.run.config_hash),
            ..journal.run
        },
        rounds,
        provenance: vec![
            "on chain: config hash, each round's model hash, roots, payouts and credits, and \
             θ_(r+1)'s hash as the next Round account's model hash"
                .into(),
            "from the coordinator's journal (the registry does not record them yet): the eval \
             pool's root and size, each round's manifest hash, and the last round's θ_(r+1) hash"
                .into(),
        ],
    })
}

fn chain_round(index: u64, r: &Round, next: Hash32, manifest: Hash32) -> ChainRound {
    ChainRound {
        round: index,
        model_hash: Hash32(r.model_hash),
        next_model_hash: next,
        manifest_hash: manifest,
        updates_root: Hash32(r.updates_root),
        scores_root: Hash32(r.scores_root),
        transcript_root: Hash32(r.transcript_root),
        total_payout: r.total_payout(),
        credited_payout: r.credited_payout(),
        trainer_count: r.trainer_count(),
        contributions_recorded: r.contributions_recorded(),
        closed: r.is_closed(),
    }
}
