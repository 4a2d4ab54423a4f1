//! The update codec: how a trainer's pseudo-gradient travels to the coordinator.
//!
//! One implementation, used by both sides:
//!
//! * [`encode`] quantizes an `&[f32]` blockwise to int8 with one f32 scale per block
//!   (`scale = max|x| / 127`, round to nearest; [`DEFAULT_BLOCK_SIZE`] values per block), then
//!   compresses `scales ‖ values` with zstd level 1 into a self-describing frame
//!   (layout below).
//! * [`decode`] checks everything about a frame from an untrusted peer (magic, version, flags,
//!   sizes against a caller-given element cap before allocating, zstd output bounded by the size
//!   the header implies, scales, truncation, trailing bytes) and returns a typed [`CodecError`]
//!   for each way it can be wrong. [`FrameHeader::parse`] checks the header alone.
//! * [`ErrorFeedback`] is the trainer's state across rounds: it adds the quantization error it
//!   carried to the next update, so the sum of what the coordinator decodes tracks the sum of
//!   true updates.
//!
//! Each decoded value is within half a quantization step (`scale / 2`) of what was encoded.
//!
//! # Frame layout (format version 1)
//!
//! ```text
//! offset  size  field
//!      0     4  magic             b"CLUP"
//!      4     2  format version    u16 LE, = 1
//!      6     2  flags             u16 LE, reserved, = 0
//!      8     8  element count n   u64 LE
//!     16     4  block size        u32 LE, 1..=MAX_BLOCK_SIZE
//!     20     8  payload length    u64 LE, bytes of zstd that follow; the frame ends there
//!     28     …  payload           zstd level 1 (content size + XXH64 checksum set) of
//!                                 ceil(n / block) × f32 LE scales ‖ n × i8 values
//! ```
//!
//! The header's payload length catches truncation and trailing bytes; zstd's XXH64 content
//! checksum catches corruption inside the payload. Content addressing (sha256) and authenticity
//! belong to the blob transport, which carries frames as opaque bytes.

mod error;
mod feedback;
mod frame;
mod payload;
mod quant;

pub use error::CodecError;
pub use feedback::ErrorFeedback;
pub use frame::{
    decode, encode, FrameHeader, DEFAULT_BLOCK_SIZE, FORMAT_VERSION, HEADER_LEN, MAGIC,
    MAX_BLOCK_SIZE,
};
pub use payload::ZSTD_LEVEL;

#[cfg(test)]
mod tests;
