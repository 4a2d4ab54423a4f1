//! Prometheus metrics: every metric name in one place ([`names`]), a small `record_*` API over
//! the `metrics` facade, and the exporter ([`install`], whose handle renders `/metrics`).
//!
//! Two kinds of metric:
//! * **From the journal** ([`record_view`]): rounds committed, updates by outcome, update and
//!   wire bytes, phase seconds, eval loss, each trainer's score and earnings. The dashboard's
//!   follower calls it after every refresh, so any process serving a run directory exports
//!   them; values are set absolutely (idempotent), histograms get each committed round once.
//! * **Live**, only the running process knows them: [`record_trainers_connected`],
//!   [`record_network_bytes`], [`record_error`] (the coordinator), and the `record_node_*`
//!   family (a trainer node's `--metrics`).

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::error::{ObserveError, Result};
use crate::view::{Outcome, RunView};

/// Metric names. Labels are given in each doc line.
pub mod names {
    /// Counter: rounds committed.
    pub const ROUNDS_COMMITTED: &str = "coalition_rounds_committed_total";
    /// Gauge: the round open now (or the next one).
    pub const ROUND: &str = "coalition_round";
    /// Gauge: trainers admitted and not left, per the journal.
    pub const TRAINERS_JOINED: &str = "coalition_trainers_joined";
    /// Gauge: trainers with a live connection (the coordinator sets it).
    pub const TRAINERS_CONNECTED: &str = "coalition_trainers_connected";
    /// Counter `{outcome}`: updates in committed rounds by outcome (`merged`, `left_out`,
    /// `refused`, `duplicate`, `missed`).
    pub const UPDATES: &str = "coalition_updates_total";
    /// Counter: bytes of update frames received.
    pub const UPDATE_BYTES: &str = "coalition_update_bytes_received_total";
    /// Counter `{direction="up"|"down"}`: wire bytes per the journal's committed rounds.
    pub const ROUND_BYTES: &str = "coalition_round_bytes_total";
    /// Counter `{direction="in"|"out"}`: wire bytes as the process counts them live.
    pub const NETWORK_BYTES: &str = "coalition_network_bytes_total";
    /// Histogram `{phase}`: seconds per round phase.
    pub const PHASE_SECONDS: &str = "coalition_round_phase_seconds";
    /// Gauge `{when="before"|"after"}`: eval loss of the last committed round.
    pub const EVAL_LOSS: &str = "coalition_eval_loss";
    /// Gauge `{trainer}`: Shapley score in the last committed round that scored the trainer.
    pub const TRAINER_SCORE: &str = "coalition_trainer_last_score";
    /// Gauge `{trainer}`: sum of the trainer's Shapley scores.
    pub const TRAINER_SCORE_SUM: &str = "coalition_trainer_score_sum";
    /// Counter `{trainer}`: tokens earned.
    pub const TRAINER_EARNED: &str = "coalition_trainer_earned_tokens_total";
    /// Gauge: journal lines the serving process has read (compare with the journal's length
    /// to see how far behind `/metrics` is).
    pub const JOURNAL_ENTRIES: &str = "coalition_journal_entries_read";
    /// Counter `{kind}`: errors by kind.
    pub const ERRORS: &str = "coalition_errors_total";

    /// Trainer node, gauge: the round being trained.
    pub const NODE_ROUND: &str = "coalition_node_round";
    /// Trainer node, gauge: inner step within the round.
    pub const NODE_INNER_STEP: &str = "coalition_node_inner_step";
    /// Trainer node, gauge: last training loss.
    pub const NODE_LOSS: &str = "coalition_node_train_loss";
    /// Trainer node, counter `{direction="sent"|"received"}`: bytes.
    pub const NODE_BYTES: &str = "coalition_node_bytes_total";
    /// Trainer node, counter `{verdict="accepted"|"refused"}`: updates submitted.
    pub const NODE_UPDATES: &str = "coalition_node_updates_total";
    /// Trainer node, gauge: tokens earned so far, when known.
    pub const NODE_EARNED: &str = "coalition_node_earned_tokens";
}

use names::*;

/// Phase-second histogram buckets.
const PHASE_BUCKETS: [f64; 13] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

fn describe() {
    describe_counter!(ROUNDS_COMMITTED, "Rounds committed");
    describe_gauge!(ROUND, "The round open now, or the next to open");
    describe_gauge!(TRAINERS_JOINED, "Trainers admitted and not left (journal)");
    describe_gauge!(TRAINERS_CONNECTED, "Trainers with a live connection");
    describe_counter!(UPDATES, "Updates in committed rounds, by outcome");
    describe_counter!(UPDATE_BYTES, "Bytes of update frames received");
    describe_counter!(ROUND_BYTES, "Wire bytes of committed rounds (journal)");
    describe_counter!(NETWORK_BYTES, "Wire bytes counted by this process");
    describe_histogram!(PHASE_SECONDS, "Seconds per round phase");
    describe_gauge!(EVAL_LOSS, "Eval loss of the last committed round");
    describe_gauge!(
        TRAINER_SCORE,
        "Shapley score in the trainer's last scored round"
    );
    describe_gauge!(TRAINER_SCORE_SUM, "Sum of the trainer's Shapley scores");
    describe_counter!(TRAINER_EARNED, "Tokens earned by the trainer");
    describe_gauge!(JOURNAL_ENTRIES, "Journal lines read by this process");
    describe_counter!(ERRORS, "Errors by kind");
    describe_gauge!(NODE_ROUND, "Round this node is training");
    describe_gauge!(NODE_INNER_STEP, "Inner step within the round");
    describe_gauge!(NODE_LOSS, "Last training loss");
    describe_counter!(NODE_BYTES, "Bytes sent and received by this node");
    describe_counter!(NODE_UPDATES, "Updates submitted, by verdict");
    describe_gauge!(NODE_EARNED, "Tokens earned so far");
}

fn builder() -> Result<PrometheusBuilder> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(PHASE_SECONDS.to_string()), &PHASE_BUCKETS)
        .map_err(|e| ObserveError::Metrics(e.to_string()))
}

/// Installs the Prometheus recorder as the process's global `metrics` recorder (once; later
/// calls return the same handle). Its `render()` is the `/metrics` text.
pub fn install() -> Result<PrometheusHandle> {
    static HANDLE: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = builder()
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
        .map_err(ObserveError::Metrics)
}

/// A recorder that is not installed globally (tests; use with `metrics::with_local_recorder`).
pub fn local_recorder() -> Result<metrics_exporter_prometheus::PrometheusRecorder> {
    Ok(builder()?.build_recorder())
}

/// Which rounds' phases went into the histogram already.
#[derive(Debug, Default)]
pub struct Recorded {
    rounds: BTreeSet<u64>,
}

fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Training => "training",
        Outcome::Pending => "pending",
        Outcome::Merged => "merged",
        Outcome::LeftOut => "left_out",
        Outcome::Refused => "refused",
        Outcome::Duplicate => "duplicate",
        Outcome::Missed => "missed",
    }
}

/// Sets the journal-derived metrics from `view` (see the module docs).
pub fn record_view(view: &RunView, recorded: &mut Recorded) {
    gauge!(JOURNAL_ENTRIES).set(view.journal_entries as f64);
    counter!(ROUNDS_COMMITTED).absolute(view.rounds_committed);
    let next = view.committed().last().map_or(0, |r| r.round + 1);
    gauge!(ROUND).set(view.current_round.unwrap_or(next) as f64);
    gauge!(TRAINERS_JOINED).set(view.trainers.iter().filter(|t| t.joined).count() as f64);
    let mut by_outcome = std::collections::BTreeMap::new();
    let (mut up, mut down, mut any_wire) = (0u64, 0u64, false);
    for r in view.committed() {
        for u in &r.updates {
            *by_outcome.entry(outcome_label(u.outcome)).or_insert(0u64) += 1;
        }
        up += r.bytes_up.unwrap_or(0);
        down += r.bytes_down.unwrap_or(0);
        any_wire |= r.bytes_up.is_some() || r.bytes_down.is_some();
        if recorded.rounds.insert(r.round) {
            for p in &r.timeline {
                histogram!(PHASE_SECONDS, "phase" => p.name.clone()).record(p.seconds);
            }
        }
    }
    for (outcome, n) in by_outcome {
        counter!(UPDATES, "outcome" => outcome).absolute(n);
    }
    counter!(UPDATE_BYTES).absolute(view.rounds.iter().map(|r| r.update_bytes).sum());
    if any_wire {
        counter!(ROUND_BYTES, "direction" => "up").absolute(up);
        counter!(ROUND_BYTES, "direction" => "down").absolute(down);
    }
    if let Some(r) = view.committed().last() {
        if let (Some(b), Some(a)) = (r.eval_loss_before, r.eval_loss_after) {
            gauge!(EVAL_LOSS, "when" => "before").set(b);
            gauge!(EVAL_LOSS, "when" => "after").set(a);
        }
    }
    record_trainers(view);
}

fn record_trainers(view: &RunView) {
    for t in &view.trainers {
        let last = view
            .committed()
            .filter_map(|r| r.updates.iter().find(|u| u.trainer == t.wallet)?.score)
            .last();
        if let Some(s) = last {
            gauge!(TRAINER_SCORE, "trainer" => t.wallet.clone()).set(s);
        }
        gauge!(TRAINER_SCORE_SUM, "trainer" => t.wallet.clone()).set(t.score_total);
        counter!(TRAINER_EARNED, "trainer" => t.wallet.clone()).absolute(t.earned_total);
    }
}

/// Wire direction, from the recording process's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

/// The coordinator: trainers with a live connection now.
pub fn record_trainers_connected(n: usize) {
    gauge!(TRAINERS_CONNECTED).set(n as f64);
}

/// Bytes that crossed this process's connections.
pub fn record_network_bytes(direction: Direction, n: u64) {
    let d = match direction {
        Direction::In => "in",
        Direction::Out => "out",
    };
    counter!(NETWORK_BYTES, "direction" => d).increment(n);
}

/// One error of `kind` (a short stable word: `decode`, `deadline`, `rejected_join`, ...).
pub fn record_error(kind: &str) {
    counter!(ERRORS, "kind" => kind.to_string()).increment(1);
}

/// A trainer node's inner step.
pub fn record_node_step(round: u64, step: u32, loss: f32) {
    gauge!(NODE_ROUND).set(round as f64);
    gauge!(NODE_INNER_STEP).set(f64::from(step));
    if loss.is_finite() {
        gauge!(NODE_LOSS).set(f64::from(loss));
    }
}

/// Bytes a trainer node sent (`Direction::Out`) or received (`Direction::In`).
pub fn record_node_bytes(direction: Direction, n: u64) {
    let d = match direction {
        Direction::In => "received",
        Direction::Out => "sent",
    };
    counter!(NODE_BYTES, "direction" => d).increment(n);
}

/// A trainer node's submitted update and its verdict.
pub fn record_node_submitted(accepted: bool) {
    let v = if accepted { "accepted" } else { "refused" };
    counter!(NODE_UPDATES, "verdict" => v).increment(1);
}

/// Tokens a trainer node has earned so far, when it knows.
pub fn record_node_earned(tokens: u64) {
    gauge!(NODE_EARNED).set(tokens as f64);
}

#[cfg(test)]
mod tests;
