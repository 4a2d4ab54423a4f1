//! The coordinator's event loop.

use candle_core::Device;
use coalition_attribution::Hash32;
use coalition_config::RunConfig;
use coalition_model::checkpoint::params_to_le_bytes;
use coalition_net::{
    verify_join, Client, Event, Keypair, Multiaddr, NetConfig, PeerId, Request, Response,
    StatusInfo, Work,
};
use coalition_trainer::build::HubOptions;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

use super::blobs::CoordinatorBlobs;
use super::engine::{Engine, RoundSummary, Submission};
use super::startup;
use crate::journal::{DataAssignment, Entry, Participant};
use crate::rundir::Launch;

/// Errors that stop the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Core(#[from] crate::CoordinatorError),
    #[error(transparent)]
    Trainer(#[from] coalition_trainer::TrainerError),
    #[error(transparent)]
    Model(#[from] coalition_model::ModelError),
    #[error(transparent)]
    Dataset(#[from] coalition_datasets::DatasetError),
    #[error("network: {0}")]
    Net(Box<coalition_net::NetError>),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<coalition_net::NetError> for ServiceError {
    fn from(e: coalition_net::NetError) -> Self {
        ServiceError::Net(Box::new(e))
    }
}

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

struct Trainer {
    wallet: String,
    id: u32,
    peer: Option<PeerId>,
}

struct OpenRound {
    round: u64,
    opened: Instant,
    /// (trainer index, first batch)
    slots: Vec<(usize, u64)>,
    deadline: Instant,
    deadline_unix_ms: u64,
    submitted: HashMap<usize, Submission>,
}

enum Phase {
    Gathering { since: Instant },
    Open(OpenRound),
    Scoring,
    Finished { since: Instant },
}

struct Service {
    cfg: RunConfig,
    config_toml: String,
    config_hash: [u8; 32],
    client: Client,
    blobs: Arc<CoordinatorBlobs>,
    trainers: Vec<Trainer>,
    engine: Option<Engine>,
    journal: Arc<std::sync::Mutex<crate::journal::Journal>>,
    theta_hash: Hash32,
    model_bytes: u64,
    round: u64,
    rounds: u64,
    cursor: u64,
    batches_per_epoch: u64,
    phase: Phase,
    /// Participants of the round last opened (each takes `inner_steps` batches).
    open_slots: u64,
    summary: RunSummary,
}

fn unix_ms(at: Instant) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let ahead = at.saturating_duration_since(Instant::now()).as_millis() as u64;
    now + ahead
}

/// Run the coordinator until the configured rounds are committed.
pub async fn run(
    cfg: RunConfig,
    config_bytes: Vec<u8>,
    opts: ServiceOptions,
    observer: &mut dyn ServiceObserver,
) -> Result<RunSummary, ServiceError> {
    let device = opts.device.clone();
    let hub = opts.hub.clone();
    let (cfg2, bytes2, root) = (cfg.clone(), config_bytes.clone(), opts.runs_root.clone());
    let start_over = opts.start_over;
    let started = tokio::task::spawn_blocking(move || {
        startup::open(&cfg2, &bytes2, &root, start_over, &hub, &device)
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("startup task: {e}")))??;
    if let Launch::StartedOver { moved_to } = &started.launch {
        info!(
            "the previous run directory was moved to {}",
            moved_to.display()
        );
    }
    let net = &cfg.network;
    let blobs = Arc::new(CoordinatorBlobs::new(net.max_blob_bytes));
    let model_bytes = params_to_le_bytes(&started.engine.theta);
    let theta_hash = started.engine.theta_hash;
    let model_len = model_bytes.len() as u64;
    blobs.set_model(theta_hash.0, model_bytes);
    let listen = match opts.listen.clone() {
        Some(l) => l,
        None => net
            .listen
            .iter()
            .map(|a| {
                a.parse::<Multiaddr>().map_err(|e| {
                    ServiceError::Internal(format!("network.listen {a:?} is not a multiaddr: {e}"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let run_dir = started.engine.dir.root().to_path_buf();
    let keypair = node_identity(&run_dir)?;
    let mut ncfg = NetConfig::new(keypair);
    ncfg.listen = listen;
    ncfg.request_timeout = Duration::from_secs(net.request_timeout_secs);
    ncfg.idle_timeout = Duration::from_secs(net.idle_timeout_secs);
    ncfg.max_message_bytes = net.max_message_bytes;
    ncfg.max_blob_bytes = net.max_blob_bytes.max(model_len);
    let (client, mut events) = coalition_net::start(ncfg, blobs.clone()).await?;
    let addrs = client.listen_addrs().await;
    if let Some(path) = &opts.ready_file {
        let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|source| ServiceError::Io {
                path: path.clone(),
                source,
            })?;
    }
    observer.listening(&addrs, started.next_round);
    let mut svc = Service {
        config_toml: String::from_utf8_lossy(&config_bytes).into_owned(),
        config_hash: started.config_hash,
        rounds: cfg.training.rounds as u64,
        cfg,
        client: client.clone(),
        blobs,
        trainers: started
            .trainers
            .iter()
            .map(|(wallet, id)| Trainer {
                wallet: wallet.clone(),
                id: *id,
                peer: None,
            })
            .collect(),
        journal: started.engine.journal.clone(),
        engine: Some(started.engine),
        theta_hash,
        model_bytes: model_len,
        round: started.next_round,
        cursor: started.cursor,
        batches_per_epoch: started.batches_per_epoch,
        phase: Phase::Gathering {
            since: Instant::now(),
        },
        open_slots: 0,
        summary: RunSummary {
            run_dir,
            rounds_committed: started.next_round,
            final_model_hash: theta_hash,
            eval_losses: Vec::new(),
        },
    };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut scoring: Option<
        tokio::task::JoinHandle<(Engine, Result<RoundSummary, crate::CoordinatorError>)>,
    > = None;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => svc.on_event(ev, observer).await?,
                None => return Err(ServiceError::Internal("the network task stopped".into())),
            },
            _ = tick.tick() => {
                if let Some(job) = svc.on_tick() {
                    scoring = Some(job);
                }
                if let Phase::Finished { since } = svc.phase {
                    if since.elapsed() >= opts.linger || svc.all_told() {
                        client.shutdown().await;
                        return Ok(svc.summary);
                    }
                }
            },
            done = async { match scoring.as_mut() { Some(j) => j.await, None => std::future::pending().await } } => {
                scoring = None;
                let (engine, result) = done.map_err(|e| ServiceError::Internal(format!("scoring task: {e}")))?;
                svc.on_scored(engine, result?, observer);
            },
        }
    }
}

/// The coordinator's libp2p identity, kept in the run directory (`coordinator.key`) so a
/// restarted coordinator has the same peer id and trainers find it at the same address.
fn node_identity(run_dir: &std::path::Path) -> Result<Keypair, ServiceError> {
    let path = run_dir.join("coordinator.key");
    let io = |source| ServiceError::Io {
        path: path.clone(),
        source,
    };
    if path.exists() {
        let bytes = std::fs::read(&path).map_err(io)?;
        return Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
            ServiceError::Internal(format!("{} is not a libp2p key: {e}", path.display()))
        });
    }
    let key = Keypair::generate_ed25519();
    let bytes = key
        .to_protobuf_encoding()
        .map_err(|e| ServiceError::Internal(format!("cannot encode the node key: {e}")))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(io)?;
    Ok(key)
}

impl Service {
    fn trainer_of(&self, peer: &PeerId) -> Option<usize> {
        self.trainers
            .iter()
            .position(|t| t.peer.as_ref() == Some(peer))
    }

    fn connected(&self) -> Vec<usize> {
        (0..self.trainers.len())
            .filter(|&i| self.trainers[i].peer.is_some())
            .collect()
    }

    fn all_told(&self) -> bool {
        self.trainers.iter().all(|t| t.peer.is_none())
    }

    /// Append to the journal (shared with the engine, so this works while a round is being
    /// scored on its blocking thread).
    fn journal(&self, entry: &Entry) -> Result<(), ServiceError> {
        let mut j = self
            .journal
            .lock()
            .map_err(|_| ServiceError::Internal("journal lock poisoned".into()))?;
        j.append(entry)?;
        Ok(())
    }

    async fn on_event(
        &mut self,
        ev: Event,
        observer: &mut dyn ServiceObserver,
    ) -> Result<(), ServiceError> {
        match ev {
            Event::InboundRequest {
                peer,
                request,
                responder,
            } => {
                let response = self.handle(peer, request, observer)?;
                if let Err(e) = self.client.respond(responder, response).await {
                    warn!(%peer, "could not answer: {e}");
                }
            }
            Event::PeerDisconnected { peer } => {
                if let Some(i) = self.trainer_of(&peer) {
                    info!(wallet = %self.trainers[i].wallet, "trainer disconnected");
                    self.trainers[i].peer = None;
                }
            }
            Event::PeerDropped { peer, reason } => {
                warn!(%peer, "peer dropped: {reason}");
                if let Some(i) = self.trainer_of(&peer) {
                    self.trainers[i].peer = None;
                }
            }
            Event::PeerConnected { .. } | Event::BlobStored { .. } => {}
        }
        Ok(())
    }

    fn handle(
        &mut self,
        peer: PeerId,
        request: Request,
        observer: &mut dyn ServiceObserver,
    ) -> Result<Response, ServiceError> {
        Ok(match request {
            Request::Status => Response::Status(StatusInfo {
                run_id: self.cfg.run.name.clone(),
                round: self.round,
                trainers: self.connected().len() as u32,
                model_hash: self.theta_hash.0,
                finished: matches!(self.phase, Phase::Finished { .. }),
            }),
            Request::Join {
                run_id,
                wallet,
                signature,
                ..
            } => self.join(peer, &run_id, wallet, &signature, observer)?,
            Request::GetWork => self.get_work(peer),
            Request::Submit {
                round,
                update_hash,
                bytes,
                ..
            } => self.submit(peer, round, update_hash, bytes)?,
            Request::Heartbeat { .. } => Response::Ack,
            Request::Leave => {
                if let Some(i) = self.trainer_of(&peer) {
                    let wallet = self.trainers[i].wallet.clone();
                    self.trainers[i].peer = None;
                    self.journal(&Entry::TrainerLeft {
                        wallet,
                        reason: "left".into(),
                    })?;
                }
                Response::Ack
            }
        })
    }

    fn join(
        &mut self,
        peer: PeerId,
        run_id: &str,
        wallet: [u8; 32],
        signature: &[u8],
        observer: &mut dyn ServiceObserver,
    ) -> Result<Response, ServiceError> {
        let reject = |reason: String| Ok(Response::Rejected { reason });
        if run_id != self.cfg.run.name {
            return reject(format!(
                "this coordinator runs {:?}, not {run_id:?}",
                self.cfg.run.name
            ));
        }
        if !verify_join(&wallet, run_id, &peer, signature) {
            return reject("the join signature does not verify for this wallet and peer".into());
        }
        let wallet58 = bs58::encode(wallet).into_string();
        let allow = &self.cfg.network.allowlist;
        if !allow.is_empty() && !allow.contains(&wallet58) {
            return reject(format!("wallet {wallet58} is not on this run's allowlist"));
        }
        let index = match self.trainers.iter().position(|t| t.wallet == wallet58) {
            Some(i) => i,
            None => {
                if self.trainers.len() >= self.cfg.network.max_trainers {
                    return reject(format!(
                        "the run is full ({} trainers)",
                        self.cfg.network.max_trainers
                    ));
                }
                let id = self.trainers.len() as u32;
                self.trainers.push(Trainer {
                    wallet: wallet58.clone(),
                    id,
                    peer: None,
                });
                self.trainers.len() - 1
            }
        };
        // A wallet has one live peer: a reconnecting trainer replaces its old connection.
        for t in &mut self.trainers {
            if t.peer == Some(peer) {
                t.peer = None;
            }
        }
        self.trainers[index].peer = Some(peer);
        let id = self.trainers[index].id;
        self.journal(&Entry::TrainerAdmitted {
            wallet: wallet58.clone(),
            peer_id: peer.to_string(),
            slot: id,
        })?;
        info!(wallet = %wallet58, id, "trainer admitted");
        observer.trainer_joined(&wallet58, id);
        Ok(Response::Joined {
            trainer: id,
            run_id: self.cfg.run.name.clone(),
            config_hash: self.config_hash,
            config_toml: self.config_toml.clone(),
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
        match &self.phase {
            Phase::Finished { .. } => {
                self.trainers[i].peer = None;
                Response::Finished
            }
            Phase::Gathering { .. } => wait("waiting for trainers to join"),
            Phase::Scoring => wait("scoring the round"),
            Phase::Open(open) => {
                let Some(slot) = open.slots.iter().position(|(t, _)| *t == i) else {
                    return wait("the round started before you joined; you are in the next one");
                };
                if open.submitted.contains_key(&i) {
                    return wait("waiting for the other trainers");
                }
                let first = open.slots[slot].1;
                let t = &self.cfg.training;
                Response::Work(Work {
                    round: open.round,
                    model_hash: self.theta_hash.0,
                    model_bytes: self.model_bytes,
                    first_batch: first,
                    epoch: first / self.batches_per_epoch,
                    round_in_epoch: first % self.batches_per_epoch,
                    slot: slot as u32,
                    slots: open.slots.len() as u32,
                    inner_steps: t.inner_steps as u32,
                    batch_size: t.batch_size as u32,
                    deadline_unix_ms: open.deadline_unix_ms,
                })
            }
        }
    }

    fn submit(
        &mut self,
        peer: PeerId,
        round: u64,
        update_hash: [u8; 32],
        bytes: u64,
    ) -> Result<Response, ServiceError> {
        let reject = |reason: String| Ok(Response::Rejected { reason });
        let Some(i) = self.trainer_of(&peer) else {
            return reject("join the run first".into());
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
            return reject("upload the update blob before submitting it".into());
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
            open.submitted.insert(
                i,
                Submission {
                    trainer: wallet,
                    update_hash: stored,
                    frame,
                    tokens,
                },
            );
        }
        Ok(Response::Accepted)
    }

    /// Phase transitions driven by time and membership. Returns a scoring job when a round
    /// closes.
    fn on_tick(
        &mut self,
    ) -> Option<tokio::task::JoinHandle<(Engine, Result<RoundSummary, crate::CoordinatorError>)>>
    {
        match &self.phase {
            Phase::Gathering { since } => {
                if self.round >= self.rounds {
                    self.phase = Phase::Finished {
                        since: Instant::now(),
                    };
                    return None;
                }
                let connected = self.connected();
                let net = &self.cfg.network;
                let window = Duration::from_secs(net.join_window_secs);
                let enough = connected.len() >= net.min_trainers;
                let waited = since.elapsed() >= window && !connected.is_empty();
                if enough || waited {
                    if let Err(e) = self.open_round(connected) {
                        warn!("cannot open round {}: {e}", self.round);
                    }
                }
                None
            }
            Phase::Open(open) => {
                let missing: Vec<usize> = open
                    .slots
                    .iter()
                    .map(|(t, _)| *t)
                    .filter(|t| !open.submitted.contains_key(t))
                    .collect();
                let all_in = missing.is_empty();
                let all_gone = missing.iter().all(|&t| self.trainers[t].peer.is_none());
                if all_in || all_gone || Instant::now() >= open.deadline {
                    return self.close_round();
                }
                None
            }
            Phase::Scoring | Phase::Finished { .. } => None,
        }
    }

    fn open_round(&mut self, connected: Vec<usize>) -> Result<(), ServiceError> {
        let net = &self.cfg.network;
        let h = self.cfg.training.inner_steps as u64;
        let chosen: Vec<usize> = connected.into_iter().take(net.max_trainers).collect();
        let slots: Vec<(usize, u64)> = chosen
            .iter()
            .enumerate()
            .map(|(s, &t)| (t, self.cursor + s as u64 * h))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(net.round_deadline_secs);
        let participants = slots
            .iter()
            .enumerate()
            .map(|(s, (t, _))| Participant {
                trainer: self.trainers[*t].wallet.clone(),
                slot: s as u32,
            })
            .collect();
        self.journal(&Entry::RoundOpened {
            round: self.round,
            model_hash: self.theta_hash,
            participants,
            assignment: DataAssignment {
                data_seed: self.cfg.run.seed,
                epoch: self.cursor / self.batches_per_epoch,
                round_in_epoch: self.cursor % self.batches_per_epoch,
                slots: slots.len() as u32,
                steps_per_round: h as u32,
                batch_size: self.cfg.training.batch_size,
            },
        })?;
        self.blobs
            .set_uploaders(chosen.iter().filter_map(|&t| self.trainers[t].peer));
        info!(
            round = self.round,
            participants = slots.len(),
            "round opened"
        );
        self.open_slots = slots.len() as u64;
        self.phase = Phase::Open(OpenRound {
            round: self.round,
            opened: Instant::now(),
            slots,
            deadline,
            deadline_unix_ms: unix_ms(deadline),
            submitted: HashMap::new(),
        });
        Ok(())
    }

    fn close_round(
        &mut self,
    ) -> Option<tokio::task::JoinHandle<(Engine, Result<RoundSummary, crate::CoordinatorError>)>>
    {
        let Phase::Open(open) = std::mem::replace(&mut self.phase, Phase::Scoring) else {
            return None;
        };
        let mut engine = self.engine.take()?;
        let missed: Vec<String> = open
            .slots
            .iter()
            .filter(|(t, _)| !open.submitted.contains_key(t))
            .map(|(t, _)| self.trainers[*t].wallet.clone())
            .collect();
        // Submission order: by slot, so scoring is independent of arrival order.
        let mut subs: Vec<(usize, Submission)> = open.submitted.into_iter().collect();
        subs.sort_by_key(|(t, _)| open.slots.iter().position(|(s, _)| s == t));
        let subs: Vec<Submission> = subs.into_iter().map(|(_, s)| s).collect();
        let (round, opened) = (open.round, open.opened);
        self.blobs.set_uploaders(std::iter::empty());
        Some(tokio::task::spawn_blocking(move || {
            let result = engine.close_round(round, subs, missed, opened);
            (engine, result)
        }))
    }

    fn on_scored(
        &mut self,
        engine: Engine,
        summary: RoundSummary,
        observer: &mut dyn ServiceObserver,
    ) {
        if summary.committed {
            self.theta_hash = engine.theta_hash;
            let bytes = params_to_le_bytes(&engine.theta);
            self.model_bytes = bytes.len() as u64;
            self.blobs.set_model(engine.theta_hash.0, bytes);
            self.cursor += self.cfg.training.inner_steps as u64 * self.open_slots;
            self.summary.rounds_committed = summary.round + 1;
            self.summary.final_model_hash = engine.theta_hash;
            self.summary
                .eval_losses
                .push((summary.round, summary.loss_before, summary.loss_after));
            self.round += 1;
        } else {
            warn!(
                round = summary.round,
                "no update was accepted; running the round again"
            );
        }
        self.engine = Some(engine);
        observer.round_closed(&summary);
        self.phase = Phase::Gathering {
            since: Instant::now(),
        };
    }
}
