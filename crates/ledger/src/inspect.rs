//! What a reviewer sees of a run: the Run account, every recorded round, every trainer's
//! cumulative score, earned and claimed, and — given the coordinator's reports — whether each
//! round's on-chain roots equal the ones in the local report.

use coalition_coordinator::read_report;
use coalition_registry::{
    client,
    state::{Contribution, Layout, Round, Run, SCORE_SCALE},
};
use serde::Serialize;
use solana_pubkey::Pubkey;
use std::collections::BTreeMap;
use std::path::Path;

use crate::chain::Chain;
use crate::error::{LedgerError, Result};
use crate::record::{compare, RoundRecord};
use crate::setup::read_run;

/// A run as recorded on chain.
#[derive(Debug, Clone)]
pub struct RunView {
    pub address: Pubkey,
    pub run: Run,
    /// Recorded rounds in order (index, account).
    pub rounds: Vec<(u64, Round)>,
    /// Trainers by wallet.
    pub trainers: BTreeMap<Pubkey, Contribution>,
    /// Tokens in the vault.
    pub vault_balance: u64,
}

/// Reads the run at `address` with its rounds and trainers.
pub fn read_view(chain: &Chain, address: &Pubkey) -> Result<RunView> {
    let run = read_run(chain, address)?.ok_or_else(|| LedgerError::Account {
        address: address.to_string(),
        message: format!("no run here on {}", chain.cluster()),
    })?;
    let program = chain.program_id();
    let indices: Vec<u64> = (0..run.rounds_recorded()).collect();
    let addrs: Vec<Pubkey> = indices
        .iter()
        .map(|&i| client::round_address(&program, address, i))
        .collect::<Result<_, _>>()
        .map_err(|e| LedgerError::Invalid(format!("round address: {}", e.message())))?;
    let mut rounds = Vec::with_capacity(addrs.len());
    for ((i, a), data) in indices.iter().zip(&addrs).zip(chain.accounts(&addrs)?) {
        let bad = |message: String| LedgerError::Account {
            address: a.to_string(),
            message,
        };
        let data = data.ok_or_else(|| bad(format!("round {i} is missing")))?;
        let round =
            client::decode_round(&data).map_err(|e| bad(format!("round {i}: {}", e.message())))?;
        rounds.push((*i, round));
    }
    // Contribution layout: the run's address sits at offset 8.
    let mut trainers = BTreeMap::new();
    for (a, data) in chain.program_accounts(&program, Contribution::LEN, 8, address.as_ref())? {
        let c = client::decode_contribution(&data).map_err(|e| LedgerError::Account {
            address: a.to_string(),
            message: e.message().to_string(),
        })?;
        trainers.insert(Pubkey::new_from_array(c.trainer), c);
    }
    let vault_balance = chain
        .token_amount(&Pubkey::new_from_array(run.vault))?
        .unwrap_or(0);
    Ok(RunView {
        address: *address,
        run,
        rounds,
        trainers,
        vault_balance,
    })
}

/// The outcome of checking one on-chain round against the local report.
#[derive(Debug, Clone, PartialEq)]
pub enum RootCheck {
    /// Model hash, the three roots, total payout and trainer count all equal.
    Match,
    /// The first field that differs.
    Differs(String),
    /// No `round-N.json` in the reports directory.
    NoReport,
    /// The report could not be read.
    Unreadable(String),
}

/// Checks every recorded round against `<reports>/round-N.json`.
pub fn check_reports(view: &RunView, reports: &Path) -> Vec<(u64, RootCheck)> {
    view.rounds
        .iter()
        .map(|(i, round)| {
            let path = reports.join(format!("round-{i}.json"));
            if !path.exists() {
                return (*i, RootCheck::NoReport);
            }
            let check = match read_report(&path).map_err(LedgerError::from).and_then(|r| {
                // Eval losses are in the journal, not the report: compare the rest.
                let mut rec = RoundRecord::from_report(&r, 0.0, 0.0)?;
                rec.header.eval_loss_before = round.eval_loss_before();
                rec.header.eval_loss_after = round.eval_loss_after();
                Ok(rec)
            }) {
                Err(e) => RootCheck::Unreadable(e.to_string()),
                Ok(rec) => match compare(*i, round, &rec.header) {
                    Ok(()) => RootCheck::Match,
                    Err(e) => RootCheck::Differs(e.to_string()),
                },
            };
            (*i, check)
        })
        .collect()
}

/// What a reviewer sees of a run, as plain data (`coalition inspect --json` prints it; the CLI
/// draws it as tables).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub run: String,
    pub authority: String,
    pub run_id: u64,
    pub config_hash: String,
    pub dataset_hash: String,
    pub reward_mint: String,
    pub vault: String,
    pub vault_balance: u64,
    pub reward_per_round: u64,
    pub rounds_recorded: u64,
    pub rounds_closed: u64,
    pub total_credited: u64,
    pub total_claimed: u64,
    /// The coordinator's peer id and listen addresses, when published.
    pub coordinator: Option<CoordinatorInfo>,
    pub rounds: Vec<RoundSummary>,
    pub trainers: Vec<TrainerSummary>,
    /// (rounds whose roots match the local reports, rounds checked), when reports were given.
    pub reports_matched: Option<(usize, usize)>,
}

/// Where trainers join.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoordinatorInfo {
    pub peer_id: String,
    pub addresses: Vec<String>,
}

/// One recorded round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundSummary {
    pub round: u64,
    pub closed: bool,
    pub trainers: u64,
    pub total_payout: u64,
    pub eval_loss_before: f64,
    pub eval_loss_after: f64,
    pub model_hash: String,
    /// The comparison with the local report, when reports were given.
    pub check: Option<CheckSummary>,
}

/// [`RootCheck`] as data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckSummary {
    /// `match`, `differs`, `no_report` or `unreadable`.
    pub status: String,
    pub detail: Option<String>,
}

/// One trainer's account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainerSummary {
    pub wallet: String,
    pub rounds_credited: u64,
    /// Cumulative Shapley score (nats).
    pub cumulative_score: f64,
    pub earned: u64,
    pub claimed: u64,
}

impl CheckSummary {
    fn of(c: &RootCheck) -> CheckSummary {
        let (status, detail) = match c {
            RootCheck::Match => ("match", None),
            RootCheck::Differs(why) => ("differs", Some(why.clone())),
            RootCheck::NoReport => ("no_report", None),
            RootCheck::Unreadable(why) => ("unreadable", Some(why.clone())),
        };
        CheckSummary {
            status: status.into(),
            detail,
        }
    }
}

/// The view as data for display.
pub fn summarize(view: &RunView, checks: Option<&[(u64, RootCheck)]>) -> Summary {
    let r = &view.run;
    let (peer, addresses) = client::coordinator_of(r);
    let rounds = view
        .rounds
        .iter()
        .map(|(i, round)| RoundSummary {
            round: *i,
            closed: round.is_closed(),
            trainers: u64::from(round.trainer_count()),
            total_payout: round.total_payout(),
            eval_loss_before: round.eval_loss_before(),
            eval_loss_after: round.eval_loss_after(),
            model_hash: hex::encode(round.model_hash),
            check: checks
                .and_then(|c| c.iter().find(|(j, _)| j == i))
                .map(|(_, c)| CheckSummary::of(c)),
        })
        .collect();
    let trainers = view
        .trainers
        .iter()
        .map(|(t, c)| TrainerSummary {
            wallet: t.to_string(),
            rounds_credited: c.rounds_credited(),
            cumulative_score: c.cumulative_score() as f64 / SCORE_SCALE as f64,
            earned: c.earned(),
            claimed: c.claimed(),
        })
        .collect();
    Summary {
        run: view.address.to_string(),
        authority: Pubkey::new_from_array(r.authority).to_string(),
        run_id: r.run_id(),
        config_hash: hex::encode(r.config_hash),
        dataset_hash: hex::encode(r.dataset_hash),
        reward_mint: Pubkey::new_from_array(r.reward_mint).to_string(),
        vault: Pubkey::new_from_array(r.vault).to_string(),
        vault_balance: view.vault_balance,
        reward_per_round: r.reward_per_round(),
        rounds_recorded: r.rounds_recorded(),
        rounds_closed: r.rounds_closed(),
        total_credited: r.total_credited(),
        total_claimed: r.total_claimed(),
        coordinator: (!peer.is_empty()).then_some(CoordinatorInfo {
            peer_id: peer,
            addresses,
        }),
        rounds,
        trainers,
        reports_matched: checks.map(|c| {
            let matched = c.iter().filter(|(_, k)| *k == RootCheck::Match).count();
            (matched, c.len())
        }),
    }
}
