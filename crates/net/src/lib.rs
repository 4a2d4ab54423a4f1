//! Networking for coalition: everything that crosses the wire between the coordinator and its
//! trainers.
//!
//! The coordinator sits at the centre of a star; trainers dial out to it, train a few local
//! steps per round, and send back a pseudo-gradient. This crate will hold, one module each:
//!
//! * [`codec`] (here now): the update codec. Blockwise int8 with f32 scales, then zstd level 1,
//!   in a self-describing frame that the receiver validates completely; plus the trainer-side
//!   error feedback that carries quantization error into the next round.
//! * the libp2p transport (TCP + noise + yamux, and QUIC; identify; ping) — to come;
//! * the versioned control protocol `/coalition/control/1` (Join, GetWork, Submit, Heartbeat,
//!   Leave, Status) — to come;
//! * content-addressed blob streams `/coalition/blob/1` for checkpoints and encoded updates —
//!   to come.
//!
//! This crate knows nothing of candle or Solana. Errors are typed ([`codec::CodecError`]);
//! nothing here panics on input from a peer.

pub mod codec;

pub use codec::{decode, encode, CodecError, ErrorFeedback, FrameHeader};
