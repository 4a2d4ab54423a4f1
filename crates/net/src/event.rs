//! What the node tells its owner: [`Event`]s, and the [`Responder`] that answers an inbound
//! request.

use libp2p::{request_response::ResponseChannel, PeerId};

use crate::{control::Wire, Hash32, Request, Response};

/// Something that happened on the network.
///
/// Drain the receiver returned by [`start`](crate::start) (or drop it if nothing is of
/// interest). The event loop never blocks on it: events wait in an internal queue (up to
/// 65 536, then the newest are dropped with a warning), so a consumer that calls back into the
/// [`Client`](crate::Client) while handling an event cannot deadlock the node.
#[derive(Debug)]
pub enum Event {
    /// A peer sent a control request; answer it with
    /// [`Client::respond`](crate::Client::respond) within the request timeout.
    InboundRequest {
        /// The sender (authenticated by the transport).
        peer: PeerId,
        /// The request.
        request: Request,
        /// Where the answer goes.
        responder: Responder,
    },
    /// The first connection to a peer was established.
    PeerConnected {
        /// The peer.
        peer: PeerId,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer put a blob, its hash matched and the store kept it.
    BlobStored {
        /// The sender.
        peer: PeerId,
        /// The blob's sha256.
        hash: Hash32,
        /// Its length in bytes.
        len: u64,
    },
    /// A peer broke a protocol (malformed, oversized or wrong-hash message) and was
    /// disconnected; `reason` was also logged with `tracing::warn`.
    PeerDropped {
        /// The peer.
        peer: PeerId,
        /// What it did.
        reason: String,
    },
}

/// The way back to the sender of an inbound request (opaque; pass it to
/// [`Client::respond`](crate::Client::respond)). Dropping it unanswered makes the sender's
/// request fail.
#[derive(Debug)]
pub struct Responder {
    pub(crate) peer: PeerId,
    pub(crate) channel: ResponseChannel<Wire<Response>>,
}

impl Responder {
    /// The peer waiting for the answer.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// Whether the sender is still waiting (the request has not timed out and its connection
    /// is open).
    pub fn is_open(&self) -> bool {
        self.channel.is_open()
    }
}
