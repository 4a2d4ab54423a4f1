//! The coordinator's on-chain recording: builds the recorder from `[rewards]` and forwards the
//! service's progress to it (listening → set up the run; round committed → record it).

use anyhow::{Context, Result};
use coalition_config::RunConfig;
use coalition_coordinator::service::{RoundSummary, ServiceObserver};
use coalition_ledger::{pubkey_from_base58, Cluster, Recorder, RecorderOptions, RunSpec};
use coalition_net::Multiaddr;
use std::path::Path;

/// The recorder for `cfg`, or `None` with `rewards.cluster = "none"`.
pub fn recorder_for(
    cfg: &RunConfig,
    config_bytes: &[u8],
    runs_root: &Path,
) -> Result<Option<Recorder>> {
    let run_dir = runs_root.join(&cfg.run.name);
    let r = &cfg.rewards;
    let cluster = Cluster::parse(&r.cluster, Some(&run_dir))
        .with_context(|| format!("rewards.cluster in {}", cfg.source_path.display()))?;
    if cluster.is_none() {
        return Ok(None);
    }
    let key = |name: &str, v: &Option<String>| -> Result<_> {
        match v {
            None => Ok(None),
            Some(s) => pubkey_from_base58(s).map(Some).with_context(|| {
                format!(
                    "{name} = {s:?} in {} is not an address",
                    cfg.source_path.display()
                )
            }),
        }
    };
    let base = cfg.source_path.parent().unwrap_or(Path::new("."));
    let spec = RunSpec::from_config(
        config_bytes,
        r.per_round,
        cfg.training.rounds as u64,
        key("rewards.mint", &r.mint)?,
    )?;
    Ok(Some(Recorder::start(RecorderOptions {
        cluster,
        run_dir,
        program_id: key("rewards.program_id", &r.program_id)?,
        authority_keypair: r.authority_keypair.as_ref().map(|p| base.join(p)),
        spec,
    })))
}

/// Passes progress to `inner` (the printer) and to the recorder.
pub struct Recording<O> {
    pub inner: O,
    pub recorder: Option<Recorder>,
}

impl<O: ServiceObserver> ServiceObserver for Recording<O> {
    fn listening(&mut self, addrs: &[Multiaddr], resumed_at: u64) {
        self.inner.listening(addrs, resumed_at);
        if let Some(r) = &self.recorder {
            r.listening(addrs.iter().map(|a| a.to_string()).collect());
        }
    }
    fn trainer_joined(&mut self, wallet: &str, id: u32) {
        self.inner.trainer_joined(wallet, id);
    }
    fn round_opened(&mut self, round: u64, participants: usize) {
        self.inner.round_opened(round, participants);
    }
    fn trainers_connected(&mut self, n: usize) {
        self.inner.trainers_connected(n);
    }
    fn round_closed(&mut self, summary: &RoundSummary) {
        self.inner.round_closed(summary);
        if let (Some(r), true) = (&self.recorder, summary.committed) {
            r.round_committed();
        }
    }
}
