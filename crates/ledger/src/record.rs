//! Recording one committed round: its header (model hash, updates / scores / transcript roots,
//! eval losses, total payout, trainer count), its contributions in batches, then close.
//!
//! Idempotent by construction: every attempt first reads the Run, the Round and the trainers'
//! Contribution accounts, and sends only what is missing — a trainer already credited for this
//! round (its `last_round` ≥ the round) is skipped, and the program refuses a second credit
//! anyway. A failed or timed-out submission is retried from a fresh read, so a crash between
//! any two transactions, or a retry of one that did land, never credits anyone twice.

use coalition_attribution::Report;
use coalition_coordinator::{journal::read_entries, read_report_checked, RecoveredState, RunDir};
use coalition_registry::{
    client::{self, Entry, RoundHeader, MAX_ENTRIES_PER_INSTRUCTION},
    state::Round,
};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn};

use crate::chain::{Chain, Sent};
use crate::error::{LedgerError, Result};
use crate::setup::read_run;

/// Attempts per round before giving up (each starts from a fresh read of the chain).
pub const ATTEMPTS: u32 = 5;

/// What goes on chain for one round.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundRecord {
    pub header: RoundHeader,
    pub entries: Vec<Entry>,
}

impl RoundRecord {
    /// The record of a round from its report and the journal's eval losses. Player ids must be
    /// wallet pubkeys (base58), as the coordinator writes them.
    pub fn from_report(report: &Report, loss_before: f64, loss_after: f64) -> Result<RoundRecord> {
        let mut entries = Vec::with_capacity(report.players.len());
        let mut total: u64 = 0;
        for p in &report.players {
            let trainer = crate::pubkey_from_base58(&p.id).ok_or_else(|| {
                LedgerError::Invalid(format!(
                    "round {}: player {:?} is not a wallet address",
                    report.round, p.id
                ))
            })?;
            total = total.checked_add(p.payout).ok_or_else(|| {
                LedgerError::Invalid(format!("round {}: payouts overflow", report.round))
            })?;
            entries.push(Entry {
                trainer,
                score: p.score_fixed,
                payout: p.payout,
            });
        }
        let header = RoundHeader {
            index: report.round,
            model_hash: report.model_hash.0,
            updates_root: report.roots.updates.0,
            scores_root: report.roots.scores.0,
            transcript_root: report.roots.transcript.0,
            eval_loss_before: loss_before,
            eval_loss_after: loss_after,
            total_payout: total,
            trainer_count: entries.len() as u32,
        };
        Ok(RoundRecord { header, entries })
    }
}

/// Every committed round of the run in `run_dir`, in order, from its journal (a torn last line
/// is ignored, so this is safe while the coordinator writes) and its reports (hash-checked).
pub fn committed_rounds(run_dir: &Path) -> Result<Vec<RoundRecord>> {
    let dir = RunDir::at(run_dir);
    let journal = dir.journal_path();
    if !journal.exists() {
        return Ok(Vec::new());
    }
    let entries = read_entries(&journal)?;
    let Some(state) = RecoveredState::from_entries(&entries)? else {
        return Ok(Vec::new());
    };
    state
        .committed
        .iter()
        .map(|c| {
            let report = read_report_checked(&dir.resolve(&c.report), &c.report_sha256)?;
            RoundRecord::from_report(&report, c.eval_loss_before, c.eval_loss_after)
        })
        .collect()
}

/// What recording a round did.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub round: u64,
    /// Transactions sent by this call (empty if the round was already complete).
    pub sent: Vec<Sent>,
    /// Entries found already credited and skipped.
    pub already_credited: usize,
}

/// Records `rec` in `run` (idempotent; see the module docs). Rounds must be recorded in order.
pub fn record_round(
    chain: &Chain,
    authority: &Keypair,
    run: &Pubkey,
    rec: &RoundRecord,
) -> Result<Recorded> {
    let mut out = Recorded {
        round: rec.header.index,
        ..Recorded::default()
    };
    let mut attempt = 0;
    loop {
        match record_once(chain, authority, run, rec, &mut out) {
            Ok(()) => return Ok(out),
            Err(e) if attempt + 1 < ATTEMPTS && retryable(&e) => {
                attempt += 1;
                warn!(
                    round = rec.header.index,
                    attempt, "recording failed, retrying: {e}"
                );
                std::thread::sleep(Duration::from_millis(500 << attempt));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Endpoint failures, and refusals that a re-read resolves (a retried transaction that had
/// landed: already initialized / credited / closed), are retried; other refusals are final.
fn retryable(e: &LedgerError) -> bool {
    use coalition_registry::error::RegistryError as R;
    match e {
        LedgerError::Rpc { .. } => true,
        LedgerError::Refused { code: Some(c), .. } => matches!(
            R::from_code(*c),
            Some(R::AlreadyInitialized | R::AlreadyCredited | R::RoundClosed)
        ),
        LedgerError::Refused {
            code: None,
            message,
            ..
        } => message.contains("Blockhash") || message.contains("AlreadyProcessed"),
        _ => false,
    }
}

fn record_once(
    chain: &Chain,
    authority: &Keypair,
    run: &Pubkey,
    rec: &RoundRecord,
    out: &mut Recorded,
) -> Result<()> {
    let program = chain.program_id();
    let h = &rec.header;
    let idx = h.index;
    let state = read_run(chain, run)?.ok_or_else(|| LedgerError::Account {
        address: run.to_string(),
        message: "the run does not exist".into(),
    })?;
    let recorded = state.rounds_recorded();
    if recorded < idx {
        return Err(LedgerError::Invalid(format!(
            "round {idx} cannot be recorded before round {recorded}"
        )));
    }
    let invalid = |what: &str, e: coalition_registry::error::RegistryError| {
        LedgerError::Invalid(format!("{what} for round {idx}: {}", e.message()))
    };
    let round_addr = client::round_address(&program, run, idx).map_err(|e| invalid("round", e))?;
    if recorded == idx {
        let (ix, _) = client::record_round(&program, &authority.pubkey(), run, h)
            .map_err(|e| invalid("record_round", e))?;
        out.sent
            .push(chain.send(&format!("record round {idx}"), vec![ix], authority, &[])?);
    }
    let round = read_round(chain, &round_addr)?;
    compare(idx, &round, h)?;
    if round.is_closed() {
        return Ok(());
    }
    let addrs: Vec<Pubkey> = rec
        .entries
        .iter()
        .map(|e| client::contribution_address(&program, run, &e.trainer))
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("contribution", e))?;
    let existing = chain.accounts(&addrs)?;
    let mut pending = Vec::new();
    out.already_credited = 0;
    for (entry, data) in rec.entries.iter().zip(existing) {
        let credited = data
            .and_then(|d| client::decode_contribution(&d).ok())
            .is_some_and(|c| c.rounds_credited() > 0 && c.last_round() >= idx);
        if credited {
            out.already_credited += 1;
        } else {
            pending.push(*entry);
        }
    }
    for (n, batch) in pending.chunks(MAX_ENTRIES_PER_INSTRUCTION).enumerate() {
        let ix = client::record_contributions(&program, &authority.pubkey(), run, idx, batch)
            .map_err(|e| invalid("record_contributions", e))?;
        out.sent.push(chain.send(
            &format!("record round {idx} contributions (batch {})", n + 1),
            vec![ix],
            authority,
            &[],
        )?);
    }
    let ix = client::close_round(&program, &authority.pubkey(), run, idx)
        .map_err(|e| invalid("close_round", e))?;
    out.sent
        .push(chain.send(&format!("close round {idx}"), vec![ix], authority, &[])?);
    info!(
        round = idx,
        transactions = out.sent.len(),
        trainers = rec.entries.len(),
        "round recorded"
    );
    Ok(())
}

/// Reads and decodes a Round account.
pub fn read_round(chain: &Chain, address: &Pubkey) -> Result<Round> {
    let (data, _) = chain
        .account(address)?
        .ok_or_else(|| LedgerError::Account {
            address: address.to_string(),
            message: "the round is not on chain".into(),
        })?;
    client::decode_round(&data).map_err(|e| LedgerError::Account {
        address: address.to_string(),
        message: format!("not a Round account ({})", e.message()),
    })
}

/// Checks an on-chain Round against the local header, naming the first field that differs.
pub fn compare(idx: u64, round: &Round, h: &RoundHeader) -> Result<()> {
    let hex32 = hex::encode;
    let fields: [(&'static str, String, String); 8] = [
        ("model hash", hex32(round.model_hash), hex32(h.model_hash)),
        (
            "updates root",
            hex32(round.updates_root),
            hex32(h.updates_root),
        ),
        (
            "scores root",
            hex32(round.scores_root),
            hex32(h.scores_root),
        ),
        (
            "transcript root",
            hex32(round.transcript_root),
            hex32(h.transcript_root),
        ),
        (
            "eval loss before",
            round.eval_loss_before().to_string(),
            h.eval_loss_before.to_string(),
        ),
        (
            "eval loss after",
            round.eval_loss_after().to_string(),
            h.eval_loss_after.to_string(),
        ),
        (
            "total payout",
            round.total_payout().to_string(),
            h.total_payout.to_string(),
        ),
        (
            "trainer count",
            round.trainer_count().to_string(),
            h.trainer_count.to_string(),
        ),
    ];
    for (field, on_chain, local) in fields {
        if on_chain != local {
            return Err(LedgerError::Mismatch {
                round: idx,
                field,
                on_chain,
                local,
            });
        }
    }
    Ok(())
}
