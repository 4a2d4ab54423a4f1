//! What a trainer node shows while it works: one progress line (round, inner step, loss, bytes
//! sent and received, tokens earned so far when known), the same figures as Prometheus metrics
//! (`coalition train --metrics ADDR`), and, with `--run` on a remote cluster, a thread that
//! reads the trainer's earnings from its Contribution account.

use coalition_ledger::connect::Connection;
use coalition_ledger::Pubkey;
use coalition_observe::metrics::{self as m, Direction};
use coalition_trainer::node::NodeObserver;
use indicatif::ProgressBar;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `u64::MAX`: earnings not known.
const UNKNOWN: u64 = u64::MAX;

/// Tokens earned so far, filled in by [`poll_earnings`] when the chain can be read.
#[derive(Clone)]
pub struct Earned(Arc<AtomicU64>);

impl Earned {
    pub fn unknown() -> Earned {
        Earned(Arc::new(AtomicU64::new(UNKNOWN)))
    }

    pub fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&v| v != UNKNOWN)
    }
}

/// Reads the trainer's Contribution account every `every` on a thread of its own (the RPC
/// client is blocking) and stores its `earned`. A missing account means nothing earned yet.
pub fn poll_earnings(conn: Connection, run: Pubkey, wallet: Pubkey, every: Duration) -> Earned {
    let earned = Earned::unknown();
    let out = earned.clone();
    let program = conn.chain.program_id();
    let spawned = std::thread::Builder::new()
        .name("earnings".into())
        .spawn(move || loop {
            let read = coalition_registry::client::contribution_address(&program, &run, &wallet)
                .ok()
                .and_then(|a| conn.chain.account(&a).ok());
            match read {
                Some(Some((data, _))) => {
                    if let Ok(c) = coalition_registry::client::decode_contribution(&data) {
                        out.0.store(c.earned(), Ordering::Relaxed);
                        m::record_node_earned(c.earned());
                    }
                }
                Some(None) => out.0.store(0, Ordering::Relaxed),
                None => tracing::debug!("could not read the contribution account"),
            }
            std::thread::sleep(every);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the earnings thread: {e}");
    }
    earned
}

/// Draws the progress line (a bar on a terminal, one line per round otherwise) and records
/// the node metrics.
pub struct Progress {
    pub bar: ProgressBar,
    /// Plain lines on stderr instead of a bar (not a terminal).
    pub plain: bool,
    pub earned: Earned,
    round: u64,
    steps: u32,
    step: u32,
    loss: f32,
    sent: u64,
    received: u64,
}

impl Progress {
    pub fn new(bar: ProgressBar, plain: bool, earned: Earned) -> Progress {
        Progress {
            bar,
            plain,
            earned,
            round: 0,
            steps: 0,
            step: 0,
            loss: f32::NAN,
            sent: 0,
            received: 0,
        }
    }

    /// `loss 2.1234 · sent 1.2 MB · received 4.7 MB · earned 250000`.
    pub fn message(&self) -> String {
        let earned = self
            .earned
            .get()
            .map_or("earned: not known here".to_string(), |e| {
                format!("earned {e}")
            });
        format!(
            "loss {:.4} · sent {} · received {} · {earned}",
            self.loss,
            mb(self.sent),
            mb(self.received)
        )
    }

    fn line(&self, text: String) {
        if self.plain {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }
}

fn mb(n: u64) -> String {
    format!("{:.2} MB", n as f64 / 1e6)
}

impl NodeObserver for Progress {
    fn joined(&mut self, trainer: u32, run_id: &str) {
        self.line(format!("joined run {run_id} as trainer {trainer}"));
    }
    fn round_started(&mut self, round: u64, steps: u32) {
        (self.round, self.steps, self.step) = (round, steps, 0);
        self.bar.reset();
        self.bar.set_length(u64::from(steps));
        self.bar.set_prefix(format!("round {round}"));
    }
    fn step(&mut self, step: u32, loss: f32) {
        (self.step, self.loss) = (step, loss);
        m::record_node_step(self.round, step, loss);
        self.bar.set_position(u64::from(step));
        self.bar.set_message(self.message());
    }
    fn received(&mut self, _round: u64, bytes: u64) {
        self.received += bytes;
        m::record_node_bytes(Direction::In, bytes);
    }
    fn submitted(&mut self, round: u64, bytes: u64, accepted: bool) {
        self.sent += bytes;
        m::record_node_bytes(Direction::Out, bytes);
        m::record_node_submitted(accepted);
        let verdict = if accepted { "accepted" } else { "refused" };
        self.line(format!(
            "round {round}: step {}/{} · {} · update of {bytes} bytes {verdict}",
            self.step,
            self.steps,
            self.message()
        ));
    }
    fn waiting(&mut self, reason: &str) {
        self.bar.set_message(format!("waiting: {reason}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_loss_bytes_and_earnings() {
        let mut p = Progress::new(ProgressBar::hidden(), false, Earned::unknown());
        p.round_started(3, 40);
        p.received(3, 2_500_000);
        p.step(17, 2.25);
        let text = p.message();
        assert!(text.contains("loss 2.2500"), "{text}");
        assert!(text.contains("received 2.50 MB"), "{text}");
        assert!(text.contains("earned: not known"), "{text}");
        p.earned.0.store(1234, Ordering::Relaxed);
        p.submitted(3, 100_000, true);
        assert!(p
            .message()
            .contains("sent 0.10 MB · received 2.50 MB · earned 1234"));
    }
}
