//! The one error type of the update codec.
//!
//! Frames arrive from untrusted peers, so every way a frame can be wrong has its own variant that
//! says what was wrong and where; the decoder never panics on input. The coordinator logs the
//! message and drops the update (and, by policy, the peer).

use super::frame::{FORMAT_VERSION, MAGIC, MAX_BLOCK_SIZE};

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
    #[error("unsupported frame version {found} (this build reads version {FORMAT_VERSION})")]
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

    /// The encoder was given NaN or an infinity (after adding the carried residual, if any).
    #[error("update value at index {index} is {value}: updates must be finite")]
    NonFinite {
        /// Index of the first non-finite value.
        index: usize,
        /// That value.
        value: f32,
    },

    /// An update's length differs from the length the error-feedback state was made for.
    #[error("update has {got} elements, the error-feedback state holds {expected}")]
    LengthMismatch {
        /// Length of the carried residual.
        expected: usize,
        /// Length of the update passed in.
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
