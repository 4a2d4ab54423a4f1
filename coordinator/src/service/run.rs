//! [`run`]: open (or resume) the run, start the network, and drive the service from three
//! sources — network events, a 100 ms tick, and the scoring job — until every round is
//! committed.

use coalition_config::RunConfig;
use coalition_model::checkpoint::params_to_le_bytes;
use coalition_net::{Event, Multiaddr, NetConfig, Response};
use sha2::Digest;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

use super::blobs::CoordinatorBlobs;
use super::error::ServiceError;
use super::identity::{node_identity, write_ready_file};
use super::options::{RunSummary, ServiceObserver, ServiceOptions};
use super::startup::{self, Started};
use super::state::{DataCursor, Phase, ScoringJob, ServedModel, Service, Trainer};
use crate::rundir::Launch;

/// Run the coordinator until the configured rounds are committed.
pub async fn run(
    cfg: RunConfig,
    config_bytes: Vec<u8>,
    opts: ServiceOptions,
    observer: &mut dyn ServiceObserver,
) -> Result<RunSummary, ServiceError> {
    let started = {
        let (cfg, bytes) = (cfg.clone(), config_bytes.clone());
        let place = startup::Placement {
            runs_root: opts.runs_root.clone(),
            start_over: opts.start_over,
            hub: opts.hub.clone(),
            device: opts.device.clone(),
        };
        tokio::task::spawn_blocking(move || startup::open(&cfg, &bytes, &place))
            .await
            .map_err(|e| ServiceError::Internal(format!("startup task: {e}")))??
    };
    if let Launch::StartedOver { moved_to } = &started.launch {
        info!(
            "the previous run directory was moved to {}",
            moved_to.display()
        );
    }
    let (mut svc, mut events) = connect(cfg, &config_bytes, &opts, started, observer).await?;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut scoring: Option<ScoringJob> = None;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => svc.on_event(ev, observer).await?,
                None => return Err(ServiceError::Internal("the network task stopped".into())),
            },
            _ = tick.tick() => {
                svc.flush_pending();
                if let Some(job) = svc.on_tick() {
                    scoring = Some(job);
                }
                if let Phase::Finished { since } = svc.phase {
                    if since.elapsed() >= opts.linger || svc.all_told() {
                        svc.flush_pending();
                        svc.client.shutdown().await;
                        return Ok(svc.summary);
                    }
                }
            },
            done = async { match scoring.as_mut() { Some(j) => j.await, None => std::future::pending().await } } => {
                scoring = None;
                let (engine, result) = done.map_err(|e| ServiceError::Internal(format!("scoring task: {e}")))?;
                match result {
                    Ok(summary) => svc.on_scored(engine, summary, observer),
                    Err(e) => svc.on_failed(engine, e),
                }
            },
        }
    }
}

/// Start the network on the configured addresses, serve θ_r, and build the service.
async fn connect(
    cfg: RunConfig,
    config_bytes: &[u8],
    opts: &ServiceOptions,
    mut started: Started,
    observer: &mut dyn ServiceObserver,
) -> Result<(Service, tokio::sync::mpsc::Receiver<Event>), ServiceError> {
    let net = &cfg.network;
    let blobs = Arc::new(CoordinatorBlobs::new(net.max_blob_bytes));
    let model_bytes = params_to_le_bytes(&started.engine.theta);
    let model = ServedModel {
        hash: started.engine.theta_hash,
        bytes: model_bytes.len() as u64,
        broadcast: started.engine.last_broadcast.clone(),
    };
    blobs.set_model(model.hash.0, model_bytes);
    for round in 0..started.next_round {
        let files = crate::manifest::published_files(&started.engine.dir, round)?;
        blobs.publish(files.into_iter().map(|(h, p)| (h.0, p)));
    }
    let listen = match opts.listen.clone() {
        Some(l) => l,
        None => parse_listen(&net.listen)?,
    };
    let run_dir = started.engine.dir.root().to_path_buf();
    let mut ncfg = NetConfig::new(node_identity(&run_dir)?);
    ncfg.listen = listen;
    ncfg.request_timeout = Duration::from_secs(net.request_timeout_secs);
    ncfg.idle_timeout = Duration::from_secs(net.idle_timeout_secs);
    ncfg.max_message_bytes = net.max_message_bytes;
    ncfg.max_blob_bytes = net.max_blob_bytes.max(model.bytes);
    let (client, events) = coalition_net::start(ncfg, blobs.clone()).await?;
    started.engine.traffic = Some(client.traffic());
    started.engine.traffic_mark = client.traffic().counts();
    let addrs = client.listen_addrs().await;
    if let Some(path) = &opts.ready_file {
        write_ready_file(path, &addrs)?;
    }
    observer.listening(&addrs, started.next_round);
    // Trainers get the config without `[data.eval]`: the eval pool is the coordinator's.
    let config_toml =
        coalition_config::trainer_view(&String::from_utf8_lossy(config_bytes), &cfg.source_path)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let svc = Service {
        config_hash: sha2::Sha256::digest(config_toml.as_bytes()).into(),
        config_toml,
        data_hash: started.data_hash,
        rounds: cfg.training.rounds as u64,
        cfg,
        client,
        blobs,
        trainers: started
            .trainers
            .iter()
            .map(|(wallet, id)| Trainer {
                wallet: wallet.clone(),
                id: *id,
                peer: None,
                missed: 0,
                barred_until: 0,
            })
            .collect(),
        journal: started.engine.journal.clone(),
        summary: RunSummary {
            run_dir,
            rounds_committed: started.next_round,
            final_model_hash: model.hash,
            eval_losses: Vec::new(),
        },
        model,
        engine: Some(started.engine),
        data: DataCursor {
            next_batch: started.cursor,
            batches_per_epoch: started.batches_per_epoch,
            open_slots: 0,
        },
        round: started.next_round,
        phase: Phase::Gathering {
            since: Instant::now(),
        },
        _lock: started.lock,
        pending: Vec::new(),
        join_times: Default::default(),
    };
    Ok((svc, events))
}

fn parse_listen(addrs: &[String]) -> Result<Vec<Multiaddr>, ServiceError> {
    addrs
        .iter()
        .map(|a| {
            a.parse::<Multiaddr>().map_err(|e| {
                ServiceError::Internal(format!("network.listen {a:?} is not a multiaddr: {e}"))
            })
        })
        .collect()
}

impl Service {
    /// A network event: answer requests, forget disconnected peers.
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
                // Nothing a peer sends stops the coordinator: a request that cannot be served
                // (e.g. the journal cannot be written) is refused with the reason.
                let response = match self.handle(peer, request, observer) {
                    Ok(r) => r,
                    Err(e) => {
                        warn!(%peer, "cannot serve a request: {e}");
                        Response::Rejected {
                            reason: format!("the coordinator cannot serve this now: {e}"),
                        }
                    }
                };
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
            Event::PeerConnected { .. } | Event::BlobStored { .. } => return Ok(()),
        }
        observer.trainers_connected(self.connected().len());
        Ok(())
    }
}
