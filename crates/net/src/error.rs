//! The one error type of the transport, the control protocol, the blob streams and wallets.
//!
//! Every variant names what it concerns: the peer, the address, the blob hash (in hex) or the
//! file. Nothing in this crate panics on input from a peer; failures arrive here instead.

use std::path::PathBuf;

use libp2p::{Multiaddr, PeerId};

use crate::Hash32;

/// Why a network operation, or loading or writing a wallet, failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A wallet file could not be read, parsed or written.
    #[error("wallet {}: {reason}", path.display())]
    Wallet {
        /// The keypair file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// A blob store directory could not be created or used.
    #[error("blob store {}: {reason}", path.display())]
    Store {
        /// The directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },

    /// The swarm could not be built (transport or behaviour set-up).
    #[error("could not build the libp2p swarm: {0}")]
    Transport(String),

    /// Listening on a configured address failed.
    #[error("could not listen on {addr}: {reason}")]
    Listen {
        /// The address from [`crate::NetConfig::listen`].
        addr: Multiaddr,
        /// The transport's reason.
        reason: String,
    },

    /// Dialling an address failed (unreachable, handshake failed, wrong peer id, ...).
    #[error("could not dial {addr}: {reason}")]
    Dial {
        /// The address that was dialled.
        addr: Multiaddr,
        /// The transport's reason.
        reason: String,
    },

    /// A control request failed: the peer was unreachable, the connection closed, the request
    /// timed out, or the request or its response broke the protocol or the size cap.
    #[error("control request to {peer} failed: {reason}")]
    Request {
        /// The peer the request was sent to.
        peer: PeerId,
        /// Why it failed.
        reason: String,
    },

    /// A response could not be sent: the request timed out or its connection closed first.
    #[error("could not answer {peer}: the request timed out or its connection closed")]
    ResponseChannelClosed {
        /// The peer that sent the request.
        peer: PeerId,
    },

    /// The peer does not hold the requested blob.
    #[error("blob {} not found at {peer}", hex::encode(.hash))]
    BlobNotFound {
        /// The peer asked.
        peer: PeerId,
        /// The blob's sha256.
        hash: Hash32,
    },

    /// A blob is larger than the cap that applies to it; none of its bytes were read.
    #[error("blob {} with {peer} is {len} bytes, above the cap of {cap}", hex::encode(.hash))]
    BlobTooLarge {
        /// The other side of the transfer.
        peer: PeerId,
        /// The blob's sha256.
        hash: Hash32,
        /// Its announced length.
        len: u64,
        /// The cap in force.
        cap: u64,
    },

    /// The receiving peer refused a put (its cap or its store's policy, or the store failed).
    #[error("blob {} refused by {peer}: {reason}", hex::encode(.hash))]
    BlobRefused {
        /// The receiving peer.
        peer: PeerId,
        /// The blob's sha256.
        hash: Hash32,
        /// What the peer answered.
        reason: String,
    },

    /// The bytes received (or, for a put, the bytes the receiver got) do not hash to the name.
    #[error("blob {} with {peer}: bytes hash to {}", hex::encode(.expected), hex::encode(.actual))]
    HashMismatch {
        /// The other side of the transfer.
        peer: PeerId,
        /// The hash the blob was asked for or announced under.
        expected: Hash32,
        /// The sha256 of the bytes actually received (all zero when only the peer knows it).
        actual: Hash32,
    },

    /// A blob transfer kept failing at the stream level (reset, closed, stalled).
    #[error("blob {} with {peer}: stream failed after {attempts} attempt(s): {reason}", hex::encode(.hash))]
    BlobStream {
        /// The other side of the transfer.
        peer: PeerId,
        /// The blob's sha256.
        hash: Hash32,
        /// How many streams were tried.
        attempts: u32,
        /// The last failure.
        reason: String,
    },

    /// The peer broke the blob protocol (bad status byte, inconsistent lengths, ...).
    #[error("blob protocol violation by {peer}: {reason}")]
    Protocol {
        /// The offending peer.
        peer: PeerId,
        /// What it did.
        reason: String,
    },

    /// The node's event loop has stopped ([`crate::Client::shutdown`] or a dropped runtime).
    #[error("the network node has shut down")]
    Shutdown,
}
