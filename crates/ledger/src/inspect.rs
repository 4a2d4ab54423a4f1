//! What a reviewer sees of a run: the Run account, every recorded round, every trainer's
//! cumulative score, earned and claimed, and — given the coordinator's reports — whether each
//! round's on-chain roots equal the ones in the local report.

use coalition_coordinator::read_report;
use coalition_registry::{
    client,
    state::{Contribution, Layout, Round, Run, SCORE_SCALE},
};
use solana_pubkey::Pubkey;
use std::collections::BTreeMap;
use std::fmt::Write as _;
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

fn score(fixed: i64) -> String {
    format!("{:+.6}", fixed as f64 / SCORE_SCALE as f64)
}

/// The view as text (what `coalition inspect` prints).
pub fn render(view: &RunView, checks: Option<&[(u64, RootCheck)]>) -> String {
    let r = &view.run;
    let mut s = String::new();
    let (peer, addrs) = client::coordinator_of(r);
    let _ = writeln!(s, "run {}", view.address);
    let _ = writeln!(
        s,
        "  authority        {}",
        Pubkey::new_from_array(r.authority)
    );
    let _ = writeln!(s, "  run id           {}", r.run_id());
    let _ = writeln!(s, "  config hash      {}", hex::encode(r.config_hash));
    let _ = writeln!(s, "  dataset hash     {}", hex::encode(r.dataset_hash));
    let _ = writeln!(
        s,
        "  reward mint      {}",
        Pubkey::new_from_array(r.reward_mint)
    );
    let _ = writeln!(
        s,
        "  vault            {} ({} tokens)",
        Pubkey::new_from_array(r.vault),
        view.vault_balance
    );
    let _ = writeln!(s, "  reward per round {}", r.reward_per_round());
    let _ = writeln!(
        s,
        "  rounds           {} recorded, {} closed; {} credited, {} claimed",
        r.rounds_recorded(),
        r.rounds_closed(),
        r.total_credited(),
        r.total_claimed()
    );
    if !peer.is_empty() {
        let _ = writeln!(s, "  coordinator      {peer}");
        for a in &addrs {
            let _ = writeln!(
                s,
                "    join: coalition train --join {a}/p2p/{peer} --wallet <keypair.json>"
            );
        }
    }
    let _ = writeln!(
        s,
        "\nround  closed  trainers  payout      loss before -> after  model hash        report"
    );
    for (i, round) in &view.rounds {
        let check = checks
            .and_then(|c| c.iter().find(|(j, _)| j == i))
            .map(|(_, c)| match c {
                RootCheck::Match => "roots match".to_string(),
                RootCheck::Differs(why) => format!("DIFFERS: {why}"),
                RootCheck::NoReport => "no local report".to_string(),
                RootCheck::Unreadable(why) => format!("unreadable: {why}"),
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{:>5}  {:<6}  {:>8}  {:>10}  {:>8.4} -> {:<8.4}  {}  {check}",
            i,
            if round.is_closed() { "yes" } else { "no" },
            round.trainer_count(),
            round.total_payout(),
            round.eval_loss_before(),
            round.eval_loss_after(),
            &hex::encode(round.model_hash)[..16],
        );
    }
    let _ = writeln!(
        s,
        "\ntrainer                                        rounds  cumulative score      earned     claimed"
    );
    for (t, c) in &view.trainers {
        let _ = writeln!(
            s,
            "{:<45}  {:>6}  {:>16}  {:>10}  {:>10}",
            t.to_string(),
            c.rounds_credited(),
            score(c.cumulative_score()),
            c.earned(),
            c.claimed()
        );
    }
    if let Some(c) = checks {
        let matched = c.iter().filter(|(_, k)| *k == RootCheck::Match).count();
        let _ = writeln!(
            s,
            "\n{matched} of {} recorded rounds match the local reports",
            c.len()
        );
    }
    s
}
