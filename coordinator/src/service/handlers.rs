//! Answers to the control protocol's requests: `Status`, `Join`, `GetWork`, `Submit`,
//! `Heartbeat` and `Leave`. Refusals are `Response::Rejected` with a reason for the trainer's
//! log; only a failed journal write is an error.

use coalition_net::{verify_join, PeerId, Request, Response, StatusInfo, Work};
use std::time::{Duration, Instant};
use tracing::info;

use super::engine::Submission;
use super::error::ServiceError;
use super::options::ServiceObserver;
use super::state::{Phase, Service, Trainer};
use crate::journal::Entry;

fn reject(reason: impl Into<String>) -> Result<Response, ServiceError> {
    Ok(Response::Rejected {
        reason: reason.into(),
    })
}

impl Service {
    /// Answer one request from `peer`.
    pub fn handle(
        &mut self,
        peer: PeerId,
        request: Request,
        observer: &mut dyn ServiceObserver,
    ) -> Result<Response, ServiceError> {
        match request {
            Request::Status => Ok(Response::Status(self.status())),
            Request::Join {
                run_id,
                wallet,
                signature,
                ..
            } => self.join(peer, &run_id, wallet, &signature, observer),
            Request::GetWork => Ok(self.get_work(peer)),
            Request::Submit {
                round,
                update_hash,
                bytes,
                ..
            } => self.submit(peer, round, update_hash, bytes),
            Request::Heartbeat { .. } => Ok(Response::Ack),
            Request::Leave => self.leave(peer),
        }
    }

    fn status(&self) -> StatusInfo {
        StatusInfo {
            run_id: self.cfg.run.name.clone(),
            round: self.round,
            trainers: self.connected().len() as u32,
            model_hash: self.model.hash.0,
            finished: matches!(self.phase, Phase::Finished { .. }),
        }
    }

    fn leave(&mut self, peer: PeerId) -> Result<Response, ServiceError> {
        if let Some(i) = self.trainer_of(&peer) {
            let wallet = self.trainers[i].wallet.clone();
            self.trainers[i].peer = None;
            self.pending.push(Entry::TrainerLeft {
                wallet,
                reason: "left".into(),
            });
        }
        Ok(Response::Ack)
    }

    /// Whether `peer` may join now (at most `network.joins_per_peer_per_minute`).
    fn join_allowed(&mut self, peer: PeerId) -> bool {
        let limit = self.cfg.network.joins_per_peer_per_minute as usize;
        let now = Instant::now();
        let times = self.join_times.entry(peer).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            times.pop_front();
        }
        if times.len() >= limit {
            return false;
        }
        times.push_back(now);
        true
    }

    fn join(
        &mut self,
        peer: PeerId,
        run_id: &str,
        wallet: [u8; 32],
        signature: &[u8],
        observer: &mut dyn ServiceObserver,
    ) -> Result<Response, ServiceError> {
        if run_id != self.cfg.run.name {
            return reject(format!(
                "this coordinator runs {:?}, not {run_id:?}",
                self.cfg.run.name
            ));
        }
        if !self.join_allowed(peer) {
            return reject("too many joins from this peer; wait a minute");
        }
        if !verify_join(&wallet, run_id, &peer, signature) {
            return reject("the join signature does not verify for this wallet and peer");
        }
        let wallet58 = bs58::encode(wallet).into_string();
        let allow = &self.cfg.network.allowlist;
        if !allow.is_empty() && !allow.contains(&wallet58) {
            return reject(format!("wallet {wallet58} is not on this run's allowlist"));
        }
        let known = self.trainers.iter().position(|t| t.wallet == wallet58);
        if let Some(i) = known {
            let until = self.trainers[i].barred_until;
            if self.round < until {
                return reject(format!(
                    "evicted for missing {} rounds in a row; join again from round {until}",
                    self.cfg.network.evict_after_missed
                ));
            }
        }
        let live = known.is_some_and(|i| self.trainers[i].peer.is_some());
        // Only connected trainers count against the cap: departed or crashed ones do not hold
        // a place (a flood of joins that disconnect cannot lock the run).
        let max = self.cfg.network.max_trainers;
        if !live && self.active() >= max {
            return reject(format!("the run is full ({max} trainers connected)"));
        }
        let index = known.unwrap_or_else(|| {
            let id = self.trainers.iter().map(|t| t.id + 1).max().unwrap_or(0);
            self.trainers.push(Trainer {
                wallet: wallet58.clone(),
                id,
                peer: None,
                missed: 0,
                barred_until: 0,
            });
            self.trainers.len() - 1
        });
        // A wallet has one live peer: a reconnecting trainer replaces its old connection.
        for t in &mut self.trainers {
            if t.peer == Some(peer) {
                t.peer = None;
            }
        }
        self.trainers[index].peer = Some(peer);
        let id = self.trainers[index].id;
        self.pending.push(Entry::TrainerAdmitted {
            wallet: wallet58.clone(),
            peer_id: peer.to_string(),
            slot: id,
        });
        info!(wallet = %wallet58, id, "trainer admitted");
        observer.trainer_joined(&wallet58, id);
        Ok(Response::Joined {
            trainer: id,
            run_id: self.cfg.run.name.clone(),
            config_hash: self.config_hash,
            config_toml: self.config_toml.clone(),
            data_hash: Some(self.data_hash),
        })
    }

    fn get_work(&mut self, peer: PeerId) -> Response {
        let Some(i) = self.trainer_of(&peer) else {
            return Response::Rejected {
                reason: "join the run first".into(),
            };
        };
        let wait = |reason: &str| Response::Wait {
            retry_after_ms: 300,
            reason: reason.to_string(),
        };
        let open = match &self.phase {
            Phase::Finished { .. } => {
                self.trainers[i].peer = None;
                return Response::Finished;
            }
            Phase::Gathering { .. } => return wait("waiting for trainers to join"),
            Phase::Scoring => return wait("scoring the round"),
            Phase::Open(open) => open,
        };
        let Some(slot) = open.slots.iter().position(|(t, _)| *t == i) else {
            return wait("the round started before you joined; you are in the next one");
        };
        if open.submitted.contains_key(&i) {
            return wait("waiting for the other trainers");
        }
        let first = open.slots[slot].1;
        let t = &self.cfg.training;
        let per_epoch = self.data.batches_per_epoch;
        Response::Work(Work {
            round: open.round,
            model_hash: self.model.hash.0,
            model_bytes: self.model.bytes,
            first_batch: first,
            epoch: first / per_epoch,
            round_in_epoch: first % per_epoch,
            slot: slot as u32,
            slots: open.slots.len() as u32,
            inner_steps: t.inner_steps as u32,
            batch_size: t.batch_size as u32,
            deadline_unix_ms: open.deadline_unix_ms,
            broadcast: self.model.broadcast.clone(),
        })
    }

    fn submit(
        &mut self,
        peer: PeerId,
        round: u64,
        update_hash: [u8; 32],
        bytes: u64,
    ) -> Result<Response, ServiceError> {
        let Some(i) = self.trainer_of(&peer) else {
            return reject("join the run first");
        };
        let Phase::Open(open) = &self.phase else {
            return reject(format!("round {round} is not open"));
        };
        if open.round != round {
            return reject(format!(
                "round {round} is not open (round {} is)",
                open.round
            ));
        }
        if !open.slots.iter().any(|(t, _)| *t == i) {
            return reject(format!("you are not a participant of round {round}"));
        }
        if open.submitted.contains_key(&i) {
            return reject(format!("you already submitted for round {round}"));
        }
        let Some(frame) = self.blobs.take(&peer, &update_hash) else {
            return reject("upload the update blob before submitting it");
        };
        if frame.len() as u64 != bytes {
            return reject(format!(
                "the update blob has {} bytes, the submission says {bytes}",
                frame.len()
            ));
        }
        let engine = self
            .engine
            .as_ref()
            .ok_or_else(|| ServiceError::Internal("engine busy".into()))?;
        let stored = engine.dir.store_update(round, &frame)?;
        let t = &self.cfg.training;
        let tokens = (t.inner_steps * t.batch_size * self.cfg.data.seq_len) as u64;
        let wallet = self.trainers[i].wallet.clone();
        self.journal(&Entry::UpdateReceived {
            round,
            trainer: wallet.clone(),
            update_hash: stored,
            bytes,
            tokens,
        })?;
        if let Phase::Open(open) = &mut self.phase {
            let slot = open.slots.iter().position(|(t, _)| *t == i).unwrap_or(0) as u32;
            let submission = Submission {
                trainer: wallet,
                update_hash: stored,
                frame,
                tokens,
                slot,
            };
            open.arrivals.push((i, Instant::now()));
            open.submitted.insert(i, submission);
        }
        Ok(Response::Accepted)
    }
}
