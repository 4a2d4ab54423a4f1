//! Building and starting a node: [`NetConfig`], the combined libp2p behaviour, and [`start`].
//!
//! One swarm per process: TCP (noise + yamux) and QUIC transports, both counted
//! ([`crate::traffic`]); the control protocol
//! (request-response, CBOR, capped); the blob protocol (libp2p-stream, served by a tokio task);
//! identify; ping. libp2p's 10 s defaults are replaced by the configured request timeout and
//! idle-connection timeout (large blobs take longer than 10 s on slow links).

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures::StreamExt;
use libp2p::{
    core::upgrade, identify, identity::Keypair, noise, ping, quic, request_response,
    swarm::NetworkBehaviour, swarm::SwarmEvent, tcp, Multiaddr, StreamProtocol, SwarmBuilder,
    Transport,
};
use tokio::sync::mpsc;

use crate::{
    blob::{self, Server},
    client::Client,
    control::ControlCodec,
    event_loop::EventLoop,
    traffic::{Counted, CountedMuxer, TrafficMeter},
    BlobStore, Event, NetError, CONTROL_PROTOCOL,
};

/// How long [`start`] waits for each listener to report its bound address.
const LISTEN_WAIT: Duration = Duration::from_secs(10);

/// A node's configuration.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/tcp/4001` and `/ip4/0.0.0.0/udp/4001/quic-v1`
    /// (port 0 picks a free port). Empty: dial-only (a trainer behind NAT).
    pub listen: Vec<Multiaddr>,
    /// Control request timeout (both directions: an inbound request must be answered within
    /// it), and the no-progress timeout of each blob stream read or write.
    pub request_timeout: Duration,
    /// How long a connection with no open stream stays up.
    pub idle_timeout: Duration,
    /// Cap on one control request or response, in bytes (design: 1 MiB).
    pub max_message_bytes: usize,
    /// Cap on one blob, received or fetched, in bytes.
    pub max_blob_bytes: u64,
    /// The node's libp2p identity (its peer id).
    pub keypair: Keypair,
}

impl NetConfig {
    /// Defaults: no listen address, 60 s request timeout, 300 s idle timeout, 1 MiB control
    /// messages, 1 GiB blobs.
    pub fn new(keypair: Keypair) -> Self {
        Self {
            listen: Vec::new(),
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_message_bytes: 1 << 20,
            max_blob_bytes: 1 << 30,
            keypair,
        }
    }
}

/// The combined behaviour the swarm runs.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) control: request_response::Behaviour<ControlCodec>,
    pub(crate) stream: libp2p_stream::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

/// Builds the swarm, starts listening on `cfg.listen` (waiting until each listener has bound),
/// and spawns the event loop and the blob server on the current tokio runtime.
pub async fn start(
    cfg: NetConfig,
    store: Arc<dyn BlobStore>,
) -> Result<(Client, mpsc::Receiver<Event>), NetError> {
    let transport = |e: &dyn std::fmt::Display| NetError::Transport(e.to_string());
    let codec = ControlCodec::new(cfg.max_message_bytes);
    let rr_config = request_response::Config::default().with_request_timeout(cfg.request_timeout);
    let meter = TrafficMeter::default();
    let (tcp_meter, quic_meter) = (meter.clone(), meter.clone());
    let mut swarm = SwarmBuilder::with_existing_identity(cfg.keypair.clone())
        .with_tokio()
        // TCP, built as `with_tcp` would build it but with the socket counted (crate::traffic).
        .with_other_transport(
            |key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                Ok(
                    tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                        .map(move |socket, _| Counted::new(socket, tcp_meter))
                        .upgrade(upgrade::Version::V1Lazy)
                        .authenticate(noise::Config::new(key)?)
                        .multiplex(crate::mux::YamuxUpgrade::default()),
                )
            },
        )
        .map_err(|e| transport(&e))?
        .with_other_transport(|key| {
            let mut quic = quic::Config::new(key);
            // Keep-alives every 5 s hold a QUIC connection open; this only bounds how long a
            // silent peer (crashed, partitioned) is waited for.
            quic.max_idle_timeout = 30_000;
            quic::tokio::Transport::new(quic)
                .map(move |(peer, connection), _| (peer, CountedMuxer::new(connection, quic_meter)))
        })
        .map_err(|e| transport(&e))?
        .with_behaviour(|key| Behaviour {
            control: request_response::Behaviour::with_codec(
                codec,
                [(
                    StreamProtocol::new(CONTROL_PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                rr_config,
            ),
            stream: libp2p_stream::Behaviour::new(),
            identify: identify::Behaviour::new(
                identify::Config::new("/coalition/1".into(), key.public())
                    .with_agent_version(format!("coalition-net/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::default(),
        })
        .map_err(|e| transport(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(cfg.idle_timeout))
        .build();

    let mut listeners = HashMap::new();
    for addr in &cfg.listen {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        listeners.insert(id, addr.clone());
    }
    let mut listen_addrs = Vec::new();
    let deadline = tokio::time::Instant::now() + LISTEN_WAIT;
    while !listeners.is_empty() {
        let event = match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
            Ok(event) => event,
            Err(_) => {
                let addr = listeners
                    .values()
                    .next()
                    .cloned()
                    .unwrap_or_else(Multiaddr::empty);
                return Err(NetError::Listen {
                    addr,
                    reason: format!("no bound address reported within {LISTEN_WAIT:?}"),
                });
            }
        };
        match event {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                listeners.remove(&listener_id);
                listen_addrs.push(address);
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some(addr) = listeners.remove(&listener_id) {
                    return Err(NetError::Listen {
                        addr,
                        reason: error.to_string(),
                    });
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some(addr) = listeners.remove(&listener_id) {
                    let reason = match reason {
                        Ok(()) => "listener closed".to_string(),
                        Err(e) => e.to_string(),
                    };
                    return Err(NetError::Listen { addr, reason });
                }
            }
            other => tracing::debug!(?other, "swarm event while binding"),
        }
    }

    let mut control = swarm.behaviour().stream.new_control();
    let incoming = control
        .accept(blob::protocol())
        .map_err(|e| transport(&e))?;
    let (command_tx, command_rx) = mpsc::channel(256);
    let (internal_tx, internal_rx) = mpsc::channel(256);
    let (event_tx, event_rx) = mpsc::channel(1024);

    let server = Arc::new(Server::new(
        store,
        cfg.max_blob_bytes,
        cfg.request_timeout,
        internal_tx,
    ));
    tokio::spawn(server.run(incoming));
    let peer_id = *swarm.local_peer_id();
    tokio::spawn(EventLoop::new(swarm, command_rx, internal_rx, event_tx, listen_addrs).run());

    let client = Client {
        peer_id,
        commands: command_tx,
        control,
        max_blob_bytes: cfg.max_blob_bytes,
        io_timeout: cfg.request_timeout,
        meter,
    };
    Ok((client, event_rx))
}
