//! Publishing a round before it is committed: the reveal of its eval samples and the manifest
//! of every artifact a reviewer needs ([`crate::manifest`]). Both are written atomically; the
//! manifest's sha256 goes into `RoundCommitted` and on chain.

use coalition_attribution::Hash32;

use super::close::{Scored, Screened};
use super::engine::Engine;
use crate::error::Result;
use crate::fsutil;
use crate::journal::PoolCommitment;
use crate::manifest::{
    CheckpointRef, EvalRef, FileRef, Manifest, UpdateRef, UpdateStatus, MANIFEST_FORMAT,
};
use crate::pool::PoolOrigin;

impl Engine {
    /// Write `reveals/round-N.json` and `manifests/round-N.json` for a round whose next model
    /// (hash `next_hash`, reached by `broadcast` when compressed) is checkpointed; returns the
    /// manifest's sha256.
    pub fn publish(
        &self,
        round: u64,
        screened: &Screened,
        scored: &Scored,
        next_hash: Hash32,
        broadcast: Option<&FileRef>,
    ) -> Result<Hash32> {
        let dir = &self.dir;
        let reveal = self.pool.reveal(round, &scored.round.eval_samples)?;
        let reveal_path = dir.reveal_path(round);
        fsutil::create_dir_all(reveal_path.parent().unwrap_or(dir.root()))?;
        let reveal_json = serde_json::to_vec_pretty(&reveal).unwrap_or_default();
        fsutil::write_atomic(&reveal_path, &reveal_json)?;
        let checkpoint = |r: u64, model_hash: Hash32| -> Result<CheckpointRef> {
            let files = dir
                .checkpoint_files(r)
                .iter()
                .map(|p| FileRef::of(dir, p))
                .collect::<Result<Vec<_>>>()?;
            Ok(CheckpointRef { model_hash, files })
        };
        let last = round + 1 >= self.cfg.training.rounds as u64;
        let secret = match (&self.pool.origin, last) {
            (PoolOrigin::Generated(s), true) => Some(s.secret),
            _ => None,
        };
        let manifest = Manifest {
            format: MANIFEST_FORMAT.to_string(),
            run_id: self.run_id.clone(),
            round,
            config: FileRef::of(dir, &dir.config_path())?,
            before: checkpoint(round, self.theta_hash)?,
            after: checkpoint(round + 1, next_hash)?,
            updates: self.update_refs(round, screened, scored)?,
            prev_median: self.last_median,
            next_median: screened.outcome.median_norm.or(self.last_median),
            eval: EvalRef {
                pool: PoolCommitment {
                    root: self.pool.root(),
                    count: self.pool.len(),
                },
                revealed_before: self.revealed.len() as u64,
                reveal: FileRef::of(dir, &reveal_path)?,
            },
            report: FileRef::of(dir, &dir.report_path(round))?,
            secret,
            broadcast: broadcast.cloned(),
        };
        let path = dir.manifest_path(round);
        fsutil::create_dir_all(path.parent().unwrap_or(dir.root()))?;
        let bytes = manifest.to_bytes();
        fsutil::write_atomic(&path, &bytes)?;
        Ok(coalition_attribution::sha256(&bytes))
    }

    /// Every frame of the round with what the pre-filter did to it.
    fn update_refs(
        &self,
        round: u64,
        screened: &Screened,
        scored: &Scored,
    ) -> Result<Vec<UpdateRef>> {
        let outcome = &screened.outcome;
        screened
            .frames
            .iter()
            .map(|f| {
                let player = outcome.accepted.iter().position(|c| c.trainer == f.trainer);
                let status = if let Some(i) = player {
                    let clip = outcome
                        .clipped
                        .iter()
                        .find(|(t, _)| *t == f.trainer)
                        .map_or(1.0, |(_, c)| *c);
                    let projected_off = outcome
                        .projected
                        .iter()
                        .filter(|(t, _)| *t == f.trainer)
                        .map(|(_, of)| of.clone())
                        .collect();
                    UpdateStatus::Accepted {
                        player: i as u32,
                        weight: scored.weights[i],
                        clip,
                        projected_off,
                    }
                } else if let Some((_, of)) =
                    outcome.duplicates.iter().find(|(t, _)| *t == f.trainer)
                {
                    UpdateStatus::Duplicate { of: of.clone() }
                } else {
                    let reason = outcome
                        .rejected
                        .iter()
                        .find(|(t, _)| *t == f.trainer)
                        .map(|(_, r)| r.to_string())
                        .or_else(|| {
                            screened
                                .undecodable
                                .iter()
                                .find(|r| r.trainer == f.trainer)
                                .map(|r| r.reason.clone())
                        })
                        .unwrap_or_else(|| "not scored".into());
                    UpdateStatus::Rejected { reason }
                };
                Ok(UpdateRef {
                    trainer: f.trainer.clone(),
                    tokens: f.tokens,
                    slot: f.slot,
                    frame: FileRef::of(&self.dir, &self.dir.update_path(round, &f.update_hash))?,
                    status,
                })
            })
            .collect()
    }
}
