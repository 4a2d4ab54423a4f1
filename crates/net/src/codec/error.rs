//! The one error type of the update codec.
//!
//! Frames arrive from untrusted peers, so every way a frame can be wrong has its own variant that
//! says what was wrong and where; the decoder never panics on input. The coordinator logs the
//! message and drops the update (and, by policy, the peer).

use super::frame::{FORMAT_VERSION, MAGIC, MAX_BLOCK_SIZE};
use super::sparse::{MAX_BITS, MAX_SPARSE_BLOCK, MIN_BITS, SPARSE_VERSION};

/// Why an update could not be encoded, or why a frame was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    /// The frame ends before its header or its declared payload does.
    #[error("frame truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the header says the frame has (or the header length, if even that is missing).
        needed: u64,
        /// Bytes actually present.
        got: u64,
    },

    /// The frame does not start with [`MAGIC`].
    #[error("bad magic {found:02x?}: not a coalition update frame (expected {MAGIC:02x?})")]
    BadMagic {
        /// The first four bytes of the frame.
        found: [u8; 4],
    },

    /// The frame was written by a format version this build does not read.
    #[error(
        "unsupported frame version {found} (this build reads version {FORMAT_VERSION}, int8, \
         and version {SPARSE_VERSION}, sparse)"
    )]
    UnsupportedVersion {
        /// The version in the header.
        found: u16,
    },

    /// Reserved header flags are set; version 1 defines none.
    #[error("reserved flags {found:#06x} are set; format version {FORMAT_VERSION} defines none")]
    ReservedFlags {
        /// The flags field of the header.
        found: u16,
    },

    /// The block size is zero or larger than [`MAX_BLOCK_SIZE`].
    #[error("block size {found} is outside 1..={MAX_BLOCK_SIZE}")]
    BadBlockSize {
        /// The offending block size (from the header, or from the caller when encoding).
        found: u32,
    },

    /// The frame declares more elements than the caller allows; nothing was allocated.
    #[error("frame declares {count} elements, above the cap of {cap}")]
    TooManyElements {
        /// Element count from the header.
        count: u64,
        /// The caller's cap.
        cap: u64,
    },

    /// Bytes follow the declared payload.
    #[error("{extra} trailing bytes after the {payload_len}-byte payload")]
    TrailingBytes {
        /// Number of unexpected bytes at the end of the frame.
        extra: u64,
        /// Payload length declared by the header.
        payload_len: u64,
    },

    /// The zstd stream is corrupt, fails its checksum, or holds more than the header implies.
    #[error("zstd payload rejected: {reason}")]
    Zstd {
        /// zstd's own description of the failure.
        reason: String,
    },

    /// The payload decompresses to a size other than the header implies.
    #[error("payload decompresses to {got} bytes, header implies {expected}")]
    PayloadSize {
        /// Bytes implied by the header: 4 per block (scales) plus 1 per element.
        expected: u64,
        /// Bytes the zstd stream produced or declares.
        got: u64,
    },

    /// A block scale is NaN, infinite, negative, or so large that `127 * scale` overflows f32.
    #[error(
        "scale of block {block} is {value}: scales must be finite, >= 0 and at most f32::MAX / 127"
    )]
    BadScale {
        /// Index of the block.
        block: u64,
        /// The scale as read.
        value: f32,
    },

    /// A quantized value is -128, which the encoder never produces (values are in -127..=127).
    #[error("quantized value at element {index} is -128, outside -127..=127")]
    BadValue {
        /// Index of the element.
        index: u64,
    },

    /// A sparse frame's value width, or a sparse codec's `bits`, is outside
    /// `MIN_BITS..=MAX_BITS`.
    #[error("value width {found} bits is outside {MIN_BITS}..={MAX_BITS}")]
    BadBits {
        /// The offending width.
        found: u8,
    },

    /// A sparse codec's block size is zero or above [`MAX_SPARSE_BLOCK`].
    #[error("sparse block size {found} is outside 1..={MAX_SPARSE_BLOCK}")]
    BadSparseBlockSize {
        /// The offending block size (from the header, or from the caller when encoding).
        found: u32,
    },

    /// A sparse codec's share of kept entries is outside `1..=1_000_000` parts per million.
    #[error("top-k share {found} ppm is outside 1..=1000000")]
    BadTopK {
        /// The offending share, in parts per million.
        found: u32,
    },

    /// A sparse frame keeps zero entries per block, or more than a block holds.
    #[error("sparse frame keeps {kept} entries per block of {block_size}")]
    BadKept {
        /// Entries kept per block, from the header.
        kept: u32,
        /// Block size, from the header.
        block_size: u32,
    },

    /// The payload does not hash to the checksum in a sparse frame's header.
    #[error("payload checksum {found:02x?} does not match the header's {expected:02x?}")]
    Checksum {
        /// The checksum in the header.
        expected: [u8; 8],
        /// The first 8 bytes of the payload's sha256.
        found: [u8; 8],
    },

    /// A sparse block's value range is not `0 <= lo <= hi` with both finite.
    #[error("block {block} has value range [{lo}, {hi}]: needs finite 0 <= lo <= hi")]
    BadRange {
        /// Index of the block.
        block: u64,
        /// Smallest kept magnitude, as read.
        lo: f32,
        /// Largest kept magnitude, as read.
        hi: f32,
    },

    /// A sparse block's Rice parameter is larger than any gap in a block can need.
    #[error("block {block} has Rice parameter {found}, above 16")]
    BadRiceParameter {
        /// Index of the block.
        block: u64,
        /// The parameter as read.
        found: u8,
    },

    /// A sparse frame's group of blocks is malformed: its declared length, a position code
    /// that runs past its block or past the data, or bytes left after the last code.
    #[error("group {group} of the sparse payload is malformed: {reason}")]
    Bitstream {
        /// Index of the group.
        group: u64,
        /// What was wrong.
        reason: &'static str,
    },

    /// The encoder was given NaN or an infinity (after adding the carried residual, if any).
    #[error("update value at index {index} is {value}: updates must be finite")]
    NonFinite {
        /// Index of the first non-finite value.
        index: usize,
        /// That value.
        value: f32,
    },

    /// An update's length differs from the length the error-feedback state (or the vector a
    /// frame is added into) was made for.
    #[error("update has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Length of the carried residual (or of the vector added into).
        expected: usize,
        /// Length of the update passed in (or declared by the frame).
        got: usize,
    },
}

impl CodecError {
    /// Wraps a zstd failure.
    pub(crate) fn zstd(err: impl std::fmt::Display) -> Self {
        Self::Zstd {
            reason: err.to_string(),
        }
    }
}
