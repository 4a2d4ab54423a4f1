//! One entry point for both codecs: [`CodecSpec`] chooses how to encode; [`decode`],
//! [`decode_into_add`] and [`frame_info`] read the frame's version to know how it was encoded.

use super::error::CodecError;
use super::frame::{self, FrameHeader, DEFAULT_BLOCK_SIZE, FORMAT_VERSION, MAGIC};
use super::sparse::{self, Apply, SparseFrame, SparseSpec, SPARSE_VERSION};

/// Which codec, with its parameters: what an encoder is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecSpec {
    /// Blockwise int8 with an f32 scale per block, then zstd (frame version 1).
    Int8 {
        /// Values per quantization block, `1..=MAX_BLOCK_SIZE`.
        block_size: u32,
    },
    /// Top-k per block with low-bit values and Rice-coded positions (frame version 2).
    Sparse(SparseSpec),
}

impl Default for CodecSpec {
    /// int8 with [`DEFAULT_BLOCK_SIZE`], the codec coalition has always used.
    fn default() -> Self {
        Self::Int8 {
            block_size: DEFAULT_BLOCK_SIZE,
        }
    }
}

impl CodecSpec {
    /// Checks the parameters' ranges.
    pub fn check(&self) -> Result<(), CodecError> {
        match self {
            Self::Int8 { block_size } => frame::check_block_size(*block_size).map(|_| ()),
            Self::Sparse(spec) => spec.check(),
        }
    }

    /// Values per block.
    pub fn block_size(&self) -> u32 {
        match self {
            Self::Int8 { block_size } => *block_size,
            Self::Sparse(spec) => spec.block_size,
        }
    }

    /// Which codec this is.
    pub fn kind(&self) -> CodecKind {
        match self {
            Self::Int8 { .. } => CodecKind::Int8,
            Self::Sparse(_) => CodecKind::Sparse,
        }
    }

    /// Encodes `update` as one frame (no error feedback: see [`ErrorFeedback`](super::ErrorFeedback)).
    pub fn encode(&self, update: &[f32]) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Int8 { block_size } => frame::encode(update, *block_size),
            Self::Sparse(spec) => sparse::encode(update, spec),
        }
    }
}

/// Which codec wrote a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecKind {
    /// Frame version 1.
    Int8,
    /// Frame version 2.
    Sparse,
}

/// What a frame's header says, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// The codec that wrote it.
    pub kind: CodecKind,
    /// Values it decodes to.
    pub element_count: u64,
    /// Values per block.
    pub block_size: u32,
}

/// The version of a frame with a valid magic, if at least that much is present.
fn version(frame: &[u8]) -> Option<u16> {
    match frame {
        [m0, m1, m2, m3, v0, v1, ..] if [*m0, *m1, *m2, *m3] == MAGIC => {
            Some(u16::from_le_bytes([*v0, *v1]))
        }
        _ => None,
    }
}

/// Checks a frame's header (and, for sparse frames, its checksum and group table) without
/// decoding values: the codec, the element count against `max_elements`, and the length.
pub fn frame_info(frame: &[u8], max_elements: u64) -> Result<FrameInfo, CodecError> {
    if version(frame) == Some(SPARSE_VERSION) {
        let h = SparseFrame::parse(frame, max_elements)?.header;
        return Ok(FrameInfo {
            kind: CodecKind::Sparse,
            element_count: h.element_count,
            block_size: h.block_size,
        });
    }
    let h = FrameHeader::parse(frame, max_elements)?;
    Ok(FrameInfo {
        kind: CodecKind::Int8,
        element_count: h.element_count,
        block_size: h.block_size,
    })
}

/// Decodes a frame of either codec from an untrusted peer into its f32 values.
///
/// Refuses frames declaring more than `max_elements` values before allocating anything. Every
/// malformation is a typed [`CodecError`]; the values returned are always finite. Dropped entries
/// of a sparse frame decode as `+0.0`.
pub fn decode(frame: &[u8], max_elements: u64) -> Result<Vec<f32>, CodecError> {
    match version(frame) {
        Some(SPARSE_VERSION) => {
            let f = SparseFrame::parse(frame, max_elements)?;
            let mut out = vec![0.0f32; f.len()];
            f.apply(&mut out, Apply::Assign)?;
            Ok(out)
        }
        // Version 1, and everything malformed: the int8 parser names what is wrong.
        Some(FORMAT_VERSION) | None => frame::decode_int8(frame, max_elements),
        Some(found) => Err(CodecError::UnsupportedVersion { found }),
    }
}

/// Adds the update a frame carries to `theta` in place: `theta[i] += v[i]` for every value the
/// frame sends, in f32, one addition per value (entries a sparse frame drops are left alone).
///
/// This is *the* definition of applying a broadcast update: every party that applies the same
/// frame to the same bits gets the same bits, on any machine and any number of threads. The
/// whole frame is checked first, so on error `theta` is untouched. A frame whose element count
/// differs from `theta.len()` is refused ([`CodecError::LengthMismatch`], or
/// [`CodecError::TooManyElements`] when larger).
pub fn decode_into_add(frame: &[u8], theta: &mut [f32]) -> Result<(), CodecError> {
    match version(frame) {
        Some(SPARSE_VERSION) => {
            let f = SparseFrame::parse(frame, theta.len() as u64)?;
            if f.len() != theta.len() {
                return Err(CodecError::LengthMismatch {
                    expected: theta.len(),
                    got: f.len(),
                });
            }
            f.check()?;
            f.apply(theta, Apply::Add)
        }
        Some(FORMAT_VERSION) | None => frame::add_int8(frame, theta),
        Some(found) => Err(CodecError::UnsupportedVersion { found }),
    }
}
