//! [`RunView`]: everything the report, the dashboard and `/api/run` show about a run, as plain
//! serde data. Built by [`RunReader`](crate::RunReader) from the run directory; drawn by
//! [`page`](crate::page); served as JSON unchanged.
//!
//! Fields the journal of an older (or newer) coordinator does not have are `Option`s or empty,
//! and are drawn only when present.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A run as read from its directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// The run directory, as given.
    pub run_dir: String,
    pub run: RunInfo,
    pub status: RunStatus,
    /// Rounds committed so far.
    pub rounds_committed: u64,
    /// The round open now (opened and not committed), if any.
    pub current_round: Option<u64>,
    /// Trainers in order of first admission.
    pub trainers: Vec<TrainerView>,
    /// Rounds in order, the open one last.
    pub rounds: Vec<RoundView>,
    /// `onchain.json`: where the run is recorded.
    pub onchain: Option<OnchainView>,
    /// Single-process baseline (`train-local --json` output), on the rounds' x axis.
    pub baseline: Vec<BaselinePoint>,
    /// Journal lines read (complete lines only).
    pub journal_entries: u64,
    /// Entries of kinds this reader does not know (skipped).
    pub unknown_entries: u64,
    /// Problems met while reading (an unreadable report, a malformed line): shown on the page.
    pub warnings: Vec<String>,
}

/// Facts about the run from the journal's first entry and `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub name: Option<String>,
    pub run_id: Option<String>,
    pub config_hash: Option<String>,
    pub seed: Option<u64>,
    /// `training.rounds`.
    pub rounds_planned: Option<u64>,
    /// `training.inner_steps` (H).
    pub inner_steps: Option<u64>,
    /// `rewards.per_round`.
    pub reward_per_round: Option<u64>,
    /// `attribution.aggregate_nonnegative_only`: negative-score updates are scored but left
    /// out of the model.
    pub nonnegative_only: bool,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// No journal entry yet.
    #[default]
    Starting,
    /// Started; fewer rounds committed than planned.
    Running,
    /// Every planned round committed.
    Finished,
}

/// One trainer over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerView {
    /// Wallet public key (base58): the trainer's id.
    pub wallet: String,
    /// Display name from `labels.json`, if any.
    pub label: Option<String>,
    pub slot: Option<u32>,
    /// Admitted and not left (per the journal).
    pub joined: bool,
    /// Why it last left, if it did.
    pub left_reason: Option<String>,
    /// Rounds in which its update was scored.
    pub rounds_scored: u64,
    /// Rounds in which its update was refused, duplicated or missed.
    pub rounds_not_scored: u64,
    /// Sum of its Shapley scores (nats of eval loss).
    pub score_total: f64,
    /// Tokens earned (sum of report payouts).
    pub earned_total: u64,
    /// Bytes of the update frames it sent.
    pub update_bytes: u64,
}

impl TrainerView {
    /// The label, or the wallet.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.wallet)
    }
}

/// Where a round is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundState {
    #[default]
    Open,
    Scored,
    Committed,
}

/// One round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundView {
    pub round: u64,
    pub state: RoundState,
    /// Times the round was opened (a round with no accepted update is run again).
    pub attempts: u32,
    /// Trainers assigned to the round (last attempt).
    pub participants: u32,
    /// Hash of the model the round started from.
    pub model_hash_before: Option<String>,
    /// Hash of the committed model.
    pub model_hash_after: Option<String>,
    pub eval_loss_before: Option<f64>,
    pub eval_loss_after: Option<f64>,
    /// Seconds from opening to commit.
    pub round_seconds: Option<f64>,
    /// Seconds of those spent decoding, filtering and scoring.
    pub scoring_seconds: Option<f64>,
    /// The round's phases in order; see [`RoundView::timeline_measured`].
    pub timeline: Vec<Phase>,
    /// `true` when the phases come from the journal (`phases`), `false` when they are derived
    /// from `round_seconds` and `scoring_seconds`.
    pub timeline_measured: bool,
    /// Bytes into the coordinator on the wire (journal `bytes_up`), when counted.
    pub bytes_up: Option<u64>,
    /// Bytes out of the coordinator on the wire (journal `bytes_down`), when counted.
    pub bytes_down: Option<u64>,
    /// Sum of the update frame lengths received (every attempt of the round).
    pub update_bytes: u64,
    /// Every trainer's update and what became of it.
    pub updates: Vec<UpdateView>,
    /// The report's payout facts, once scored.
    pub payout: Option<PayoutView>,
    /// Verification status, where known.
    pub verification: Option<Verification>,
}

/// A named span of a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub seconds: f64,
}

/// What became of one trainer's update in one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Assigned; no update yet (the round is open).
    Training,
    /// Received; the round is not scored yet.
    Pending,
    /// Scored and aggregated into the model.
    Merged,
    /// Scored, but left out of the model (negative score with `aggregate_nonnegative_only`).
    LeftOut,
    /// Refused by the pre-filter (see the reason).
    Refused,
    /// A copy of another trainer's update; earns nothing.
    Duplicate,
    /// Assigned, but no update arrived.
    Missed,
}

impl Outcome {
    /// Words for tables.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Training => "training",
            Outcome::Pending => "received",
            Outcome::Merged => "merged",
            Outcome::LeftOut => "scored, left out",
            Outcome::Refused => "refused",
            Outcome::Duplicate => "duplicate",
            Outcome::Missed => "missed",
        }
    }
}

/// One trainer's update in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateView {
    pub trainer: String,
    pub outcome: Outcome,
    /// Why it was refused, whom it duplicated, why it was left out.
    pub reason: Option<String>,
    /// Shapley score (nats), when scored.
    pub score: Option<f64>,
    /// Tokens paid, when scored.
    pub payout: Option<u64>,
    /// Frame length in bytes, when received.
    pub bytes: Option<u64>,
    /// Norm clip factor applied before scoring, if clipped.
    pub clip_factor: Option<f32>,
}

/// A round's payout facts from its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayoutView {
    /// `paid`, `no_players`, `below_noise_threshold`, `no_positive_scores`.
    pub status: String,
    pub reward: u64,
    pub paid: u64,
    pub dust: u64,
    /// Estimator kind (`exact`, `permutation`, ...).
    pub estimator: String,
    /// Coalition utilities evaluated.
    pub evaluations: u64,
}

/// Whether a round was verified, by whom it is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// E.g. `verified`, `failed`, `pending`.
    pub status: String,
    pub detail: Option<String>,
}

/// `onchain.json` with explorer links on public clusters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OnchainView {
    pub cluster: String,
    /// (what, address, explorer link on a public cluster).
    pub addresses: Vec<Address>,
}

/// One on-chain address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub what: String,
    pub address: String,
    pub explorer: Option<String>,
}

/// One point of the single-process baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaselinePoint {
    /// Optimizer steps divided by the run's inner steps: comparable with "rounds done".
    pub rounds: f64,
    pub eval_loss: f64,
}

impl RunView {
    /// The trainer with this wallet.
    pub fn trainer(&self, wallet: &str) -> Option<&TrainerView> {
        self.trainers.iter().find(|t| t.wallet == wallet)
    }

    /// The display name of a wallet (its label when known).
    pub fn name_of<'a>(&'a self, wallet: &'a str) -> &'a str {
        self.trainer(wallet).map_or(wallet, TrainerView::name)
    }

    /// Committed rounds only.
    pub fn committed(&self) -> impl Iterator<Item = &RoundView> {
        self.rounds
            .iter()
            .filter(|r| r.state == RoundState::Committed)
    }

    /// Per trainer (in `trainers` order): cumulative earnings after each committed round.
    pub fn cumulative_earnings(&self) -> BTreeMap<String, Vec<u64>> {
        let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for r in self.committed() {
            for u in &r.updates {
                *totals.entry(u.trainer.as_str()).or_default() += u.payout.unwrap_or(0);
            }
            for t in &self.trainers {
                let v = totals.get(t.wallet.as_str()).copied().unwrap_or(0);
                out.entry(t.wallet.clone()).or_default().push(v);
            }
        }
        out
    }

    /// Total tokens paid over committed rounds.
    pub fn total_paid(&self) -> u64 {
        self.committed()
            .filter_map(|r| r.payout.as_ref())
            .map(|p| p.paid)
            .sum()
    }
}
