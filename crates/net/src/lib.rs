//! Networking for coalition: everything that crosses the wire between the coordinator and its
//! trainers.
//!
//! The coordinator sits at the centre of a star; trainers dial out to it (so trainers behind
//! NAT work), train a few local steps per round, and send back a pseudo-gradient. One module
//! per concern:
//!
//! * [`codec`]: the update codecs, in one self-describing frame family that the receiver
//!   validates completely: blockwise int8 with f32 scales then zstd level 1 (the default), or
//!   SparseLoCo-style top-k per block with 2–4-bit values and Rice-coded positions; the
//!   encoder-side error feedback that carries what a frame did not send into the next round;
//!   and [`decode_into_add`], the bit-exact way to apply a broadcast update to weights.
//! * [`wire`]: the control protocol's messages ([`Request`], [`Response`], [`Work`],
//!   [`StatusInfo`]) — the one definition both sides use, CBOR on
//!   [`CONTROL_PROTOCOL`] (`/coalition/control/1`), each message capped at
//!   [`NetConfig::max_message_bytes`].
//! * [`wallet`]: solana-cli JSON keypairs and the join signature that binds a trainer's wallet
//!   to its libp2p peer id ([`join_message`], [`verify_join`]).
//! * [`blob`]: content-addressed (sha256) get/put of checkpoints and encoded updates on
//!   [`BLOB_PROTOCOL`] (`/coalition/blob/1`) over libp2p-stream: chunked, size-capped before
//!   allocation, hash-verified on receipt, resumable in both directions. Its module doc is the
//!   wire specification.
//! * [`traffic`]: bytes both ways on every connection, counted on the TCP socket (under
//!   noise and yamux) and on QUIC's streams ([`Client::traffic`]).
//! * [`store`]: where received blobs go and served blobs come from ([`BlobStore`],
//!   [`MemoryBlobStore`], [`DirBlobStore`]).
//! * the node, in the style of rust-libp2p's file-sharing example: [`start`] builds the swarm
//!   (TCP + noise + yamux with 256 KiB data frames, and QUIC; identify; ping; timeouts from
//!   [`NetConfig`]) and spawns an
//!   event loop that owns it; the cloneable [`Client`] sends it commands; [`Event`]s come back
//!   on a channel. Peers that send malformed, oversized or wrong-hash messages are
//!   disconnected with a logged reason ([`Event::PeerDropped`]).
//!
//! This crate knows nothing of candle or Solana. Errors are typed ([`codec::CodecError`],
//! [`NetError`]); nothing here panics on input from a peer.

// `NetError` names the peer (a PeerId is ~80 bytes) and blob hashes, which puts it over
// clippy's 128-byte threshold; errors are off every hot path, so naming beats boxing here.
#![allow(clippy::result_large_err)]

pub mod blob;
mod client;
pub mod codec;
mod control;
mod error;
mod event;
mod event_loop;
mod mux;
mod node;
pub mod store;
pub mod traffic;
pub mod wallet;
pub mod wire;

#[cfg(test)]
mod node_tests;

pub use client::Client;
pub use codec::{
    decode, decode_into_add, encode, CodecError, CodecSpec, ErrorFeedback, FrameHeader, SparseSpec,
};
pub use error::NetError;
pub use event::{Event, Responder};
pub use libp2p::{identity::Keypair, Multiaddr, PeerId};
pub use node::{start, NetConfig};
pub use store::{blob_hash, BlobStore, DirBlobStore, MemoryBlobStore};
pub use traffic::{TrafficCounts, TrafficMeter};
pub use wallet::{join_message, verify_join, Wallet};
pub use wire::{Broadcast, Request, Response, StatusInfo, Work};

/// A sha256 digest: the name of a blob.
pub type Hash32 = [u8; 32];

/// The control protocol's id (request-response, CBOR).
pub const CONTROL_PROTOCOL: &str = "/coalition/control/1";

/// The blob protocol's id (libp2p-stream; wire format in [`blob`]).
pub const BLOB_PROTOCOL: &str = "/coalition/blob/1";
