//! The trainer node: join a coordinator over libp2p, then loop — get work, fetch the model by
//! hash, train the round, upload the encoded update, submit — until the run finishes.
//! A lost coordinator is redialled with exponential back-off; rejoining with the same wallet
//! resumes where the coordinator is.

use candle_core::Device;
use coalition_config::RunConfig;
use coalition_datasets::{SampleSet, Sharder};
use coalition_model::AdamWParams;
use coalition_net::{Client, Multiaddr, NetConfig, PeerId, Request, Response, Wallet, Work};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

use crate::build::{self, HubOptions};
use crate::inner::InnerTrainer;
use crate::leak::LeakBoard;
use crate::round::{Assignment, Behavior, RoundTrainer};
use crate::schedule::LrSchedule;
use crate::TrainerError;

/// How to run a trainer node.
pub struct NodeOptions {
    pub join: Multiaddr,
    pub wallet: Wallet,
    pub device: Device,
    /// Local copy of the dataset file (overrides the run config's path).
    pub data: Option<PathBuf>,
    /// Local copy of the run's tokenizer file, as `gguf:PATH` (overrides `data.tokenizer`,
    /// whose relative path means nothing on this machine).
    pub tokenizer: Option<String>,
    pub hub: HubOptions,
    pub behavior: Behavior,
    /// Give up after this many consecutive failed reconnection attempts.
    pub max_retries: u32,
    pub request_timeout: Duration,
    /// Simulations only: where this node posts its updates (`leaks`) or, as a
    /// [`Behavior::Copier`], takes the update it copies. `None` in deployments.
    pub leak: Option<Arc<LeakBoard>>,
    pub leaks: bool,
}

/// Progress callbacks (the CLI draws bars from them).
pub trait NodeObserver: Send {
    fn joined(&mut self, _trainer: u32, _run_id: &str) {}
    fn round_started(&mut self, _round: u64, _steps: u32) {}
    fn step(&mut self, _step: u32, _loss: f32) {}
    /// The model for `round` arrived (`bytes` long).
    fn received(&mut self, _round: u64, _bytes: u64) {}
    fn submitted(&mut self, _round: u64, _bytes: u64, _accepted: bool) {}
    fn waiting(&mut self, _reason: &str) {}
}

impl NodeObserver for () {}

/// What a node did before the run finished.
#[derive(Debug, Clone, Default)]
pub struct NodeSummary {
    pub rounds: u64,
    /// Bytes the node's connections sent and received, on the wire (every protocol: control
    /// messages, model downloads, update uploads; `coalition_net::traffic`).
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// State built once the node has joined and knows the run config.
struct Session {
    coordinator: PeerId,
    connected: bool,
    /// Out of its slot only while a round trains on a blocking thread.
    trainer: Option<RoundTrainer>,
    theta: Vec<f32>,
    theta_hash: [u8; 32],
}

/// Run a trainer node until the coordinator says the run is finished.
pub async fn run_node(
    opts: NodeOptions,
    observer: &mut dyn NodeObserver,
) -> Result<NodeSummary, TrainerError> {
    let keypair = coalition_net::Keypair::generate_ed25519();
    let cfg = NetConfig {
        listen: Vec::new(),
        request_timeout: opts.request_timeout,
        idle_timeout: opts.request_timeout * 10,
        max_message_bytes: 1 << 20,
        max_blob_bytes: 1 << 34,
        keypair,
    };
    let store = Arc::new(coalition_net::MemoryBlobStore::default());
    let (client, _events) = coalition_net::start(cfg, store).await?;
    let mut summary = NodeSummary::default();
    let mut session: Option<Session> = None;
    let mut failures = 0u32;
    loop {
        match step(&client, &opts, &mut session, &mut summary, observer).await {
            Ok(Flow::Finished) => {
                client.shutdown().await;
                return Ok(summary);
            }
            Ok(Flow::Continue) => failures = 0,
            Err(e) if e.is_connection() && failures < opts.max_retries => {
                failures += 1;
                let wait = Duration::from_millis(250 * 2u64.pow(failures.min(6)));
                warn!(
                    "lost the coordinator ({e}); retry {failures}/{} in {wait:?}",
                    opts.max_retries
                );
                observer.waiting(&format!("reconnecting: {e}"));
                if let Some(s) = session.as_mut() {
                    client.disconnect(s.coordinator).await;
                    s.connected = false;
                }
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                client.shutdown().await;
                return Err(e);
            }
        }
    }
}

enum Flow {
    Continue,
    Finished,
}

/// One iteration: (re)join if needed, then ask for work and do it.
async fn step(
    client: &Client,
    opts: &NodeOptions,
    session: &mut Option<Session>,
    summary: &mut NodeSummary,
    observer: &mut dyn NodeObserver,
) -> Result<Flow, TrainerError> {
    if !session.as_ref().is_some_and(|s| s.connected) {
        let peer = client.dial(opts.join.clone()).await?;
        join(client, peer, opts, session, observer).await?;
    }
    let Some(s) = session.as_mut() else {
        return Err(TrainerError::Protocol("not joined".into()));
    };
    match client.request(s.coordinator, Request::GetWork).await? {
        Response::Work(work) => {
            do_work(client, opts, s, &work, summary, observer).await?;
            Ok(Flow::Continue)
        }
        Response::Wait {
            retry_after_ms,
            reason,
        } => {
            observer.waiting(&reason);
            tokio::time::sleep(Duration::from_millis(retry_after_ms.clamp(50, 30_000))).await;
            Ok(Flow::Continue)
        }
        Response::Finished => Ok(Flow::Finished),
        // A restarted coordinator keeps its peer id, so libp2p may reach it without this node
        // noticing the restart; it then no longer knows us: join again.
        Response::Rejected { reason } => {
            s.connected = false;
            Err(TrainerError::NotJoined(reason))
        }
        other => Err(TrainerError::Protocol(format!(
            "unexpected answer to GetWork: {other:?}"
        ))),
    }
}

async fn join(
    client: &Client,
    peer: PeerId,
    opts: &NodeOptions,
    session: &mut Option<Session>,
    observer: &mut dyn NodeObserver,
) -> Result<(), TrainerError> {
    let run_id = match client.request(peer, Request::Status).await? {
        Response::Status(s) => s.run_id,
        other => {
            return Err(TrainerError::Protocol(format!(
                "unexpected answer to Status: {other:?}"
            )))
        }
    };
    let msg = coalition_net::join_message(&run_id, &client.peer_id());
    let request = Request::Join {
        run_id: run_id.clone(),
        wallet: opts.wallet.pubkey(),
        signature: opts.wallet.sign(&msg).to_vec(),
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        device: format!("{:?}", opts.device),
    };
    let (trainer_id, config_hash, config_toml, data_hash) =
        match client.request(peer, request).await? {
            Response::Joined {
                trainer,
                config_hash,
                config_toml,
                data_hash,
                ..
            } => (trainer, config_hash, config_toml, data_hash),
            Response::Rejected { reason } => return Err(TrainerError::Rejected(reason)),
            other => {
                return Err(TrainerError::Protocol(format!(
                    "unexpected answer to Join: {other:?}"
                )))
            }
        };
    let got: [u8; 32] = Sha256::digest(config_toml.as_bytes()).into();
    if got != config_hash {
        return Err(TrainerError::Protocol(
            "the run config's sha256 does not match the hash the coordinator announced".into(),
        ));
    }
    info!(trainer = trainer_id, run = %run_id, "joined");
    observer.joined(trainer_id, &run_id);
    if let Some(s) = session.as_mut() {
        s.coordinator = peer;
        s.connected = true;
        return Ok(());
    }
    let trainer = build_trainer(&config_toml, data_hash, opts)?;
    *session = Some(Session {
        coordinator: peer,
        connected: true,
        trainer: Some(trainer),
        theta: Vec::new(),
        theta_hash: [0; 32],
    });
    Ok(())
}

/// The simulation behaviours that act around the network (see [`Behavior`]): a leaking node
/// posts its update; a copier swaps in the leaked update plus noise; a late node waits past
/// the deadline; a dropout leaves in its second round.
async fn simulate(
    opts: &NodeOptions,
    work: &Work,
    summary: &NodeSummary,
    out: &mut crate::round::RoundOutput,
) -> Result<(), TrainerError> {
    let n = coalition_net::FrameHeader::parse(&out.frame, u64::MAX)
        .map(|h| h.element_count)
        .unwrap_or(0);
    match (opts.behavior, &opts.leak) {
        (Behavior::Honest, Some(board)) if opts.leaks => {
            board.post(work.round, coalition_net::decode(&out.frame, n)?);
        }
        (Behavior::Copier, Some(board)) => {
            let now = unix_ms_now();
            let patience = Duration::from_millis(work.deadline_unix_ms.saturating_sub(now) / 2);
            if let Some(delta) = board.take(work.round, patience).await {
                let copy = crate::leak::disguise(&delta, work.round + 1);
                out.frame = coalition_net::codec::encode(&copy, 32)?;
            }
        }
        (Behavior::Late, _) => {
            let wait = work.deadline_unix_ms.saturating_sub(unix_ms_now()) + 1_000;
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        (Behavior::Dropout, _) if summary.rounds >= 1 => {
            return Err(TrainerError::DroppedOut { round: work.round });
        }
        _ => {}
    }
    Ok(())
}

fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Build the model, data and optimiser from the run config the coordinator sent.
fn build_trainer(
    config_toml: &str,
    data_hash: Option<[u8; 32]>,
    opts: &NodeOptions,
) -> Result<RoundTrainer, TrainerError> {
    let origin = PathBuf::from("coordinator:config.toml");
    let mut cfg = RunConfig::from_toml_str(config_toml, &origin)
        .map_err(|e| TrainerError::Protocol(format!("the coordinator's run config: {e}")))?;
    // Relative paths in a received config mean nothing here; a local file must be given.
    cfg.source_path = std::env::current_dir()
        .unwrap_or_default()
        .join("config.toml");
    cfg.data.path = opts.data.clone();
    if let Some(t) = &opts.tokenizer {
        cfg.data.tokenizer = Some(t.clone());
    }
    let corpus = build::corpus(&cfg)?;
    if let Some(want) = data_hash.filter(|h| *h != corpus.split_hash) {
        return Err(TrainerError::Config {
            path: cfg.source_path.clone(),
            message: format!(
                "this machine's copy of the run's data gives other tokens than the \
                 coordinator's (split hash {} here, {} there): check --data and --tokenizer \
                 (dataset `{}`, tokenizer {})",
                corpus.split_hash_hex(),
                hex::encode(want),
                cfg.data.dataset,
                corpus.tokenizer_desc
            ),
        });
    }
    // The weights come from the coordinator each round; the initial values here are unused.
    let lc = build::llama_config(&cfg, corpus.vocab_size)?;
    let model = coalition_model::Llama::new_random(&lc, cfg.model.init_std, 0, &opts.device)?;
    let t = &cfg.training;
    let schedule = LrSchedule {
        peak: t.lr,
        floor: t.min_lr,
        warmup: t.warmup_steps,
        total: cfg.total_steps(),
    };
    let hp = AdamWParams {
        lr: t.lr,
        beta1: t.beta1,
        beta2: t.beta2,
        eps: t.eps,
        weight_decay: t.weight_decay,
    };
    let inner = InnerTrainer::new(model, hp, schedule, t.grad_clip);
    let samples = SampleSet::new(corpus.train.clone(), cfg.data.seq_len)?;
    let sharder = Sharder::new(cfg.run.seed, samples.len(), t.batch_size, 1, 1)?;
    let mut trainer =
        RoundTrainer::new(inner, samples, sharder, opts.behavior, build::codec(&cfg))?;
    if opts.behavior == Behavior::EvalThief {
        trainer.steal(crate::thief::public_split(&corpus.eval, cfg.data.seq_len));
    }
    Ok(trainer)
}

/// Moves `s.theta` from the broadcast's base model to `work.model_hash` by applying the
/// compressed broadcast (a few percent of the model's bytes). False, with `s.theta` left
/// for a full download to replace, when the frame cannot be fetched or applied or the result
/// hashes to anything but the announced model.
async fn apply_broadcast(
    client: &Client,
    s: &mut Session,
    b: &coalition_net::Broadcast,
    work: &Work,
    observer: &mut dyn NodeObserver,
) -> bool {
    let frame = match client
        .get_blob(s.coordinator, b.frame_hash, b.frame_bytes)
        .await
    {
        Ok(frame) => frame,
        Err(e) => {
            warn!(
                round = work.round,
                "cannot fetch the model broadcast: {e}; fetching the model"
            );
            return false;
        }
    };
    observer.received(work.round, frame.len() as u64);
    if let Err(e) = coalition_net::decode_into_add(&frame, &mut s.theta) {
        warn!(
            round = work.round,
            "cannot apply the model broadcast: {e}; fetching the model"
        );
        return false;
    }
    s.theta_hash = coalition_model::checkpoint::params_hash(&s.theta);
    if s.theta_hash != work.model_hash {
        warn!(
            round = work.round,
            "the model broadcast gave another model than announced; fetching the model"
        );
        return false;
    }
    true
}

async fn do_work(
    client: &Client,
    opts: &NodeOptions,
    s: &mut Session,
    work: &Work,
    summary: &mut NodeSummary,
    observer: &mut dyn NodeObserver,
) -> Result<(), TrainerError> {
    if s.theta_hash != work.model_hash || s.theta.is_empty() {
        let applied = match &work.broadcast {
            Some(b) if !s.theta.is_empty() && s.theta_hash == b.base_hash => {
                apply_broadcast(client, s, b, work, observer).await
            }
            _ => false,
        };
        if !applied {
            let bytes = client
                .get_blob(s.coordinator, work.model_hash, work.model_bytes)
                .await?;
            observer.received(work.round, bytes.len() as u64);
            s.theta = coalition_model::checkpoint::params_from_le_bytes(&bytes)
                .map_err(|e| TrainerError::Protocol(format!("model blob: {e}")))?;
            s.theta_hash = work.model_hash;
        }
    }
    observer.round_started(work.round, work.inner_steps);
    if let (Some(t), Some(dir)) = (
        s.trainer.as_mut(),
        std::env::var_os(crate::thief::STEAL_FROM),
    ) {
        t.steal(crate::thief::revealed(std::path::Path::new(&dir)));
    }
    let assignment = Assignment {
        round: work.round,
        first_batch: work.first_batch,
        inner_steps: work.inner_steps,
    };
    // Training is CPU-bound: run it off the async threads so the connection stays serviced.
    let mut trainer = s
        .trainer
        .take()
        .ok_or_else(|| TrainerError::Protocol("trainer state lost in a failed round".into()))?;
    let theta = std::mem::take(&mut s.theta);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let job = tokio::task::spawn_blocking(move || {
        let out = trainer.run(&theta, &assignment, &mut |step, loss| {
            let _ = tx.send((step, loss));
        });
        (trainer, theta, out)
    });
    while let Some((step, loss)) = rx.recv().await {
        observer.step(step, loss);
    }
    let (trainer, theta, out) = job
        .await
        .map_err(|e| TrainerError::Protocol(format!("training task failed: {e}")))?;
    s.trainer = Some(trainer);
    s.theta = theta;
    let mut out = out?;
    simulate(opts, work, summary, &mut out).await?;
    let bytes = out.frame.len() as u64;
    let update_hash = client.put_blob(s.coordinator, out.frame).await?;
    let wire = client.traffic().counts();
    (summary.bytes_sent, summary.bytes_received) = (wire.sent, wire.received);
    let answer = client
        .request(
            s.coordinator,
            Request::Submit {
                round: work.round,
                update_hash,
                bytes,
                tokens: out.tokens,
                steps: out.steps,
                train_loss: out.mean_train_loss,
            },
        )
        .await?;
    let accepted = matches!(answer, Response::Accepted);
    if let Response::Rejected { reason } = &answer {
        warn!(round = work.round, "update refused: {reason}");
    }
    summary.rounds += 1;
    observer.submitted(work.round, bytes, accepted);
    Ok(())
}
