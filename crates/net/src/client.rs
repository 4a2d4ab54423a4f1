//! The [`Client`]: a cheap, cloneable handle that sends commands to the event loop (which owns
//! the swarm) and runs blob transfers on its own streams.

use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use crate::{
    blob::{self, AttemptError, Transfer},
    store::blob_hash,
    Hash32, NetError, Request, Responder, Response,
};

/// What the client asks of the event loop.
pub(crate) enum Command {
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, NetError>>,
    },
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, NetError>>,
    },
    Respond {
        responder: Responder,
        response: Response,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    Disconnect {
        peer: PeerId,
        reply: oneshot::Sender<()>,
    },
    DropPeer {
        peer: PeerId,
        reason: String,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A handle on a running node. Clone it freely; the node stops when every clone is dropped or
/// [`Client::shutdown`] is called.
#[derive(Clone)]
pub struct Client {
    pub(crate) peer_id: PeerId,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) control: libp2p_stream::Control,
    pub(crate) max_blob_bytes: u64,
    pub(crate) io_timeout: Duration,
    pub(crate) meter: crate::traffic::TrafficMeter,
}

impl Client {
    /// The node's byte counters: everything its connections sent and received, on the wire
    /// ([`crate::traffic`]).
    pub fn traffic(&self) -> crate::traffic::TrafficMeter {
        self.meter.clone()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| NetError::Shutdown)?;
        rx.await.map_err(|_| NetError::Shutdown)
    }

    /// The addresses this node listens on, as bound (a `/tcp/0` resolved to its port), each
    /// ending in `/p2p/<peer id>` so it can be given to [`Client::dial`] as is. Empty after
    /// shutdown.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.call(|reply| Command::ListenAddrs { reply })
            .await
            .unwrap_or_default()
    }

    /// Connects to `addr` (which may end in `/p2p/<peer id>`, then checked) and returns the
    /// peer's id once the connection is up (at most the request timeout). Returns at once if
    /// already connected to that peer.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, NetError> {
        let limit = self.io_timeout;
        let dial = self.call(|reply| Command::Dial {
            addr: addr.clone(),
            reply,
        });
        match tokio::time::timeout(limit, dial).await {
            Ok(result) => result?,
            Err(_) => Err(NetError::Dial {
                addr,
                reason: format!("no connection within {limit:?}"),
            }),
        }
    }

    /// Sends a control request and waits for its response (at most the request timeout).
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, NetError> {
        self.call(|reply| Command::Request {
            peer,
            request,
            reply,
        })
        .await?
    }

    /// Answers an inbound request.
    pub async fn respond(&self, responder: Responder, response: Response) -> Result<(), NetError> {
        self.call(|reply| Command::Respond {
            responder,
            response,
            reply,
        })
        .await?
    }

    /// Closes every connection to `peer` (it may reconnect).
    pub async fn disconnect(&self, peer: PeerId) {
        let _ = self.call(|reply| Command::Disconnect { peer, reply }).await;
    }

    /// Stops the node: the event loop ends, connections close, every clone of this client
    /// then fails with [`NetError::Shutdown`].
    pub async fn shutdown(&self) {
        let _ = self.call(|reply| Command::Shutdown { reply }).await;
    }

    /// Has the event loop stopped?
    pub fn is_shut_down(&self) -> bool {
        self.commands.is_closed()
    }

    fn transfer(&self, peer: PeerId) -> Transfer {
        Transfer {
            peer,
            io_timeout: self.io_timeout,
            retries: blob::RETRIES,
        }
    }

    /// Opens blob streams to `peer`, classifying failures for the retry loop.
    fn opener(
        &self,
        peer: PeerId,
    ) -> impl FnMut() -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<libp2p::Stream, AttemptError>> + Send>,
    > {
        let control = self.control.clone();
        let limit = self.io_timeout;
        move || {
            let mut control = control.clone();
            Box::pin(async move {
                match tokio::time::timeout(limit, control.open_stream(peer, blob::protocol())).await
                {
                    Err(_) => Err(AttemptError::Retry(format!(
                        "opening a blob stream took over {limit:?}"
                    ))),
                    Ok(Ok(stream)) => Ok(stream),
                    Ok(Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(p))) => {
                        Err(AttemptError::Fatal(NetError::Protocol {
                            peer,
                            reason: format!("the peer does not speak {p}"),
                        }))
                    }
                    Ok(Err(e)) => Err(AttemptError::Retry(e.to_string())),
                }
            })
        }
    }

    /// Sends `bytes` to `peer` as a blob and returns its sha256 (its name). Resumes from the
    /// receiver's offset when a stream breaks part-way (at most [`blob::RETRIES`] times).
    pub async fn put_blob(&self, peer: PeerId, bytes: Vec<u8>) -> Result<Hash32, NetError> {
        let (bytes, hash) = tokio::task::spawn_blocking(move || {
            let h = blob_hash(&bytes);
            (bytes, h)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        self.put_blob_as(peer, hash, &bytes).await?;
        Ok(hash)
    }

    /// Puts `bytes` under a name of the caller's choosing (tests use it to send a wrong hash).
    pub(crate) async fn put_blob_as(
        &self,
        peer: PeerId,
        hash: Hash32,
        bytes: &[u8],
    ) -> Result<(), NetError> {
        if self.is_shut_down() {
            return Err(NetError::Shutdown);
        }
        blob::put(self.transfer(peer), hash, bytes, self.opener(peer)).await
    }

    /// Fetches blob `hash` from `peer`, at most `max_len` bytes (and at most this node's
    /// `max_blob_bytes`), checked against its hash. A broken stream is resumed from the bytes
    /// already received (at most [`blob::RETRIES`] times). A peer that serves bytes that do
    /// not match the hash, or breaks the protocol, is dropped.
    pub async fn get_blob(
        &self,
        peer: PeerId,
        hash: Hash32,
        max_len: u64,
    ) -> Result<Vec<u8>, NetError> {
        if self.is_shut_down() {
            return Err(NetError::Shutdown);
        }
        let max_len = max_len.min(self.max_blob_bytes);
        let result = blob::get(self.transfer(peer), hash, max_len, self.opener(peer)).await;
        if let Err(e @ (NetError::HashMismatch { .. } | NetError::Protocol { .. })) = &result {
            let _ = self
                .commands
                .send(Command::DropPeer {
                    peer,
                    reason: e.to_string(),
                })
                .await;
        }
        result
    }
}
