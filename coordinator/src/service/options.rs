//! How the service is started, what it reports while running, and what it returns.

use candle_core::Device;
use coalition_attribution::Hash32;
use coalition_net::Multiaddr;
use coalition_trainer::build::HubOptions;
use std::path::PathBuf;
use std::time::Duration;

use super::engine::RoundSummary;

/// How to run the coordinator.
pub struct ServiceOptions {
    /// Where run directories live (`runs/`).
    pub runs_root: PathBuf,
    /// Move an existing run directory with a different config aside and start fresh.
    pub start_over: bool,
    /// Listen addresses (default: `network.listen` from the config).
    pub listen: Option<Vec<Multiaddr>>,
    /// Write the listen addresses here (one per line) once bound.
    pub ready_file: Option<PathBuf>,
    pub device: Device,
    pub hub: HubOptions,
    /// Keep answering `Finished` this long after the last round so trainers learn it.
    pub linger: Duration,
}

/// Progress reports (the CLI prints them).
pub trait ServiceObserver: Send {
    fn listening(&mut self, _addrs: &[Multiaddr], _resumed_at: u64) {}
    fn trainer_joined(&mut self, _wallet: &str, _id: u32) {}
    fn round_opened(&mut self, _round: u64, _participants: usize) {}
    fn round_closed(&mut self, _summary: &RoundSummary) {}
    /// Admitted trainers connected now (after each request and disconnection).
    fn trainers_connected(&mut self, _n: usize) {}
}

impl ServiceObserver for () {}

/// What the run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub rounds_committed: u64,
    pub final_model_hash: Hash32,
    pub eval_losses: Vec<(u64, f64, f64)>,
}
