//! The event loop: the one task that owns the [`Swarm`]. It executes the client's commands,
//! turns swarm events into [`Event`]s, resolves pending dials and requests, and drops peers
//! that break the protocols.

use std::collections::{HashMap, VecDeque};

use futures::StreamExt;
use libp2p::{
    multiaddr::Protocol,
    request_response::{self, InboundFailure, Message, OutboundFailure, OutboundRequestId},
    swarm::{dial_opts::DialOpts, ConnectionId, SwarmEvent},
    Multiaddr, PeerId, Swarm,
};
use tokio::sync::{mpsc, oneshot};

use crate::{
    client::Command,
    control::Wire,
    node::{Behaviour, BehaviourEvent},
    Event, NetError, Request, Responder, Response,
};

/// Most events held for a slow consumer before new ones are dropped.
const MAX_QUEUED_EVENTS: usize = 65_536;

/// Messages from the node's own tasks (the blob server) to the event loop.
#[derive(Debug)]
pub(crate) enum Internal {
    /// Disconnect a peer that broke a protocol, log and report why.
    DropPeer { peer: PeerId, reason: String },
    /// Pass an event on to the owner.
    Emit(Event),
}

type DialReply = oneshot::Sender<Result<PeerId, NetError>>;
type RequestReply = oneshot::Sender<Result<Response, NetError>>;

pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    internal: mpsc::Receiver<Internal>,
    events: mpsc::Sender<Event>,
    /// Events the consumer has not taken yet (never block the swarm on the consumer).
    queued: VecDeque<Event>,
    listen_addrs: Vec<Multiaddr>,
    pending_dials: HashMap<ConnectionId, (Multiaddr, DialReply)>,
    pending_requests: HashMap<OutboundRequestId, (PeerId, RequestReply)>,
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        internal: mpsc::Receiver<Internal>,
        events: mpsc::Sender<Event>,
        listen_addrs: Vec<Multiaddr>,
    ) -> Self {
        Self {
            swarm,
            commands,
            internal,
            events,
            queued: VecDeque::new(),
            listen_addrs,
            pending_dials: HashMap::new(),
            pending_requests: HashMap::new(),
        }
    }

    /// Runs until shutdown or until every [`Client`](crate::Client) is dropped.
    pub(crate) async fn run(mut self) {
        loop {
            // A clone, so that a reserved slot does not borrow `self` while a branch runs.
            let events = self.events.clone();
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        let _ = reply.send(());
                        break;
                    }
                    Some(command) => self.on_command(command),
                    None => break,
                },
                Some(msg) = self.internal.recv() => match msg {
                    Internal::DropPeer { peer, reason } => self.drop_peer(peer, reason),
                    Internal::Emit(event) => self.emit(event),
                },
                permit = events.reserve(), if !self.queued.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.queued.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => self.queued.clear(),
                },
            }
        }
        tracing::debug!(peer = %self.swarm.local_peer_id(), "network event loop stopped");
    }

    fn emit(&mut self, event: Event) {
        if self.events.is_closed() {
            return;
        }
        if self.queued.is_empty() {
            // Sent, or nobody listens any more (`Closed`): either way nothing to keep.
            if let Err(mpsc::error::TrySendError::Full(event)) = self.events.try_send(event) {
                self.queued.push_back(event);
            }
        } else if self.queued.len() < MAX_QUEUED_EVENTS {
            self.queued.push_back(event);
        } else {
            tracing::warn!(
                ?event,
                "event queue full ({MAX_QUEUED_EVENTS}); dropping an event"
            );
        }
    }

    fn drop_peer(&mut self, peer: PeerId, reason: String) {
        tracing::warn!(%peer, %reason, "dropping peer");
        let _ = self.swarm.disconnect_peer_id(peer);
        self.emit(Event::PeerDropped { peer, reason });
    }

    fn with_p2p(&self, addr: &Multiaddr) -> Multiaddr {
        let id = *self.swarm.local_peer_id();
        addr.clone().with_p2p(id).unwrap_or_else(|a| a)
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs { reply } => {
                let addrs = self.listen_addrs.iter().map(|a| self.with_p2p(a)).collect();
                let _ = reply.send(addrs);
            }
            Command::Dial { addr, reply } => self.dial(addr, reply),
            Command::Request {
                peer,
                request,
                reply,
            } => self.request(peer, request, reply),
            Command::Respond {
                responder: Responder { peer, channel },
                response,
                reply,
            } => {
                let sent = self
                    .swarm
                    .behaviour_mut()
                    .control
                    .send_response(channel, Wire::Msg(response))
                    .map_err(|_| NetError::ResponseChannelClosed { peer });
                let _ = reply.send(sent);
            }
            Command::Disconnect { peer, reply } => {
                let _ = self.swarm.disconnect_peer_id(peer);
                let _ = reply.send(());
            }
            Command::DropPeer { peer, reason } => self.drop_peer(peer, reason),
            Command::Shutdown { reply } => {
                // Handled in `run`; kept exhaustive.
                let _ = reply.send(());
            }
        }
    }

    fn dial(&mut self, addr: Multiaddr, reply: DialReply) {
        let peer = addr.iter().find_map(|p| match p {
            Protocol::P2p(id) => Some(id),
            _ => None,
        });
        let opts = match peer {
            Some(peer) if self.swarm.is_connected(&peer) => {
                let _ = reply.send(Ok(peer));
                return;
            }
            Some(peer) => DialOpts::peer_id(peer)
                .addresses(vec![addr.clone()])
                .build(),
            None => DialOpts::unknown_peer_id().address(addr.clone()).build(),
        };
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.pending_dials.insert(id, (addr, reply));
            }
            Err(e) => {
                let _ = reply.send(Err(NetError::Dial {
                    addr,
                    reason: e.to_string(),
                }));
            }
        }
    }

    fn request(&mut self, peer: PeerId, request: Request, reply: RequestReply) {
        let id = self
            .swarm
            .behaviour_mut()
            .control
            .send_request(&peer, Wire::Msg(request));
        self.pending_requests.insert(id, (peer, reply));
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Control(event)) => self.on_control(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => {
                tracing::trace!(?event, "identify");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => {
                tracing::trace!(?event, "ping");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Stream(())) => {}
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(addr = %self.with_p2p(&address), "listening");
                if !self.listen_addrs.contains(&address) {
                    self.listen_addrs.push(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| a != &address);
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
                self.listen_addrs.retain(|a| !addresses.contains(a));
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                tracing::debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                if let Some((_, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                if num_established.get() == 1 {
                    self.emit(Event::PeerConnected { peer: peer_id });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                tracing::debug!(peer = %peer_id, ?cause, "connection closed");
                if num_established == 0 {
                    self.emit(Event::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                if let Some((addr, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        addr,
                        reason: error.to_string(),
                    }));
                } else {
                    tracing::debug!(%error, "outgoing connection failed");
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                tracing::debug!(from = %send_back_addr, %error, "incoming connection failed");
            }
            _ => {}
        }
    }

    fn on_control(&mut self, event: request_response::Event<Wire<Request>, Wire<Response>>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => match request {
                Wire::Msg(request) => self.emit(Event::InboundRequest {
                    peer,
                    request,
                    responder: Responder { peer, channel },
                }),
                // Dropping `channel` unanswered closes the stream.
                Wire::Violation(reason) => self.drop_peer(peer, reason),
            },
            request_response::Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let result = match response {
                    Wire::Msg(response) => Ok(response),
                    Wire::Violation(reason) => {
                        self.drop_peer(peer, reason.clone());
                        Err(NetError::Request { peer, reason })
                    }
                };
                if let Some((_, reply)) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(result);
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let reason = match &error {
                    OutboundFailure::Io(e) => e.to_string(),
                    other => other.to_string(),
                };
                tracing::debug!(%peer, %reason, "control request failed");
                if let Some((peer, reply)) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Request { peer, reason }));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => match error {
                // Our response could not be written (e.g. over the cap): our fault, say so.
                InboundFailure::Io(e) => {
                    tracing::warn!(%peer, error = %e, "could not answer a control request");
                }
                other => tracing::debug!(%peer, error = %other, "inbound control request failed"),
            },
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}
