//! The int8 update frame (format version 1): a fixed header, then the zstd payload.
//!
//! The byte layout and what guards its integrity are documented once, in the
//! [`codec`](super) module docs.

use serde::{Deserialize, Serialize};

use super::error::CodecError;
use super::{payload, quant};

/// First four bytes of every update frame.
pub const MAGIC: [u8; 4] = *b"CLUP";
/// The frame format version of int8 frames.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 28;
/// Values per quantization block unless the caller chooses otherwise.
pub const DEFAULT_BLOCK_SIZE: u32 = 256;
/// Largest block size accepted when encoding or decoding.
pub const MAX_BLOCK_SIZE: u32 = 1 << 20;

/// Element counts above this are refused whatever the caller's cap: their f32 output could not be
/// addressed (`isize::MAX / 8`, so sizes computed from it never overflow).
const ADDRESSABLE_ELEMENTS: u64 = (isize::MAX as u64) / 8;

/// The parsed, validated header of an int8 update frame.
///
/// [`FrameHeader::parse`] lets a receiver check the shape of an update (element count, block
/// size, sizes) before spending time on decompression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameHeader {
    /// Frame format version (always [`FORMAT_VERSION`] once parsed).
    pub version: u16,
    /// Number of f32 values in the update.
    pub element_count: u64,
    /// Values per quantization block.
    pub block_size: u32,
    /// Bytes of zstd payload after the header.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses and checks the header of `frame`: magic, version, flags, block size, the element
    /// count against `max_elements` (and against what memory can address), and that the frame is exactly header + payload long.
    ///
    /// Reads only the first [`HEADER_LEN`] bytes and allocates nothing.
    pub fn parse(frame: &[u8], max_elements: u64) -> Result<Self, CodecError> {
        let Some((head, payload)) = frame.split_first_chunk::<HEADER_LEN>() else {
            return Err(CodecError::Truncated {
                needed: HEADER_LEN as u64,
                got: frame.len() as u64,
            });
        };
        let mut fields = Fields(head);
        let magic: [u8; 4] = fields.take();
        if magic != MAGIC {
            return Err(CodecError::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes(fields.take());
        if version != FORMAT_VERSION {
            return Err(CodecError::UnsupportedVersion { found: version });
        }
        let flags = u16::from_le_bytes(fields.take());
        if flags != 0 {
            return Err(CodecError::ReservedFlags { found: flags });
        }
        let element_count = u64::from_le_bytes(fields.take());
        let block_size = u32::from_le_bytes(fields.take());
        let payload_len = u64::from_le_bytes(fields.take());
        check_block_size(block_size)?;
        let cap = max_elements.min(ADDRESSABLE_ELEMENTS);
        if element_count > cap {
            return Err(CodecError::TooManyElements {
                count: element_count,
                cap,
            });
        }
        let present = payload.len() as u64;
        if present < payload_len {
            return Err(CodecError::Truncated {
                needed: payload_len.saturating_add(HEADER_LEN as u64),
                got: frame.len() as u64,
            });
        }
        if present > payload_len {
            return Err(CodecError::TrailingBytes {
                extra: present - payload_len,
                payload_len,
            });
        }
        Ok(Self {
            version,
            element_count,
            block_size,
            payload_len,
        })
    }

    /// Number of quantization blocks (and of scales).
    pub fn block_count(&self) -> u64 {
        self.element_count
            .div_ceil(u64::from(self.block_size.max(1)))
    }

    /// Size of the decompressed payload: 4 bytes per scale plus 1 per value.
    pub fn raw_len(&self) -> u64 {
        // Exact for parsed headers (`parse` caps element_count at isize::MAX / 8); saturates for
        // hand-built ones.
        self.block_count()
            .saturating_mul(4)
            .saturating_add(self.element_count)
    }

    /// Writes the header (with `payload_len` as given) to the start of an empty buffer.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.element_count.to_le_bytes());
        out.extend_from_slice(&self.block_size.to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
    }
}

/// Reads fixed-size fields off the front of the header, in order.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    /// Takes the next `N` bytes. The header is a fixed-size array and the fields add up to
    /// exactly [`HEADER_LEN`], so running short is a bug in this file, not bad input.
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (field, rest) = self
            .0
            .split_first_chunk::<N>()
            .expect("header fields exceed HEADER_LEN");
        self.0 = rest;
        *field
    }
}

/// Checks a block size against `1..=MAX_BLOCK_SIZE` and returns it as usize.
pub(crate) fn check_block_size(block_size: u32) -> Result<usize, CodecError> {
    if (1..=MAX_BLOCK_SIZE).contains(&block_size) {
        Ok(block_size as usize)
    } else {
        Err(CodecError::BadBlockSize { found: block_size })
    }
}

/// Encodes an update as a frame: blockwise int8 with one f32 scale per `block_size` values, then
/// zstd level 1.
///
/// Fails on a block size outside `1..=MAX_BLOCK_SIZE`, or with [`CodecError::NonFinite`] naming the
/// first NaN or infinity in `update`. Each decoded value is within `scale / 2` of the input, where
/// `scale = max|x| / 127` over its block.
pub fn encode(update: &[f32], block_size: u32) -> Result<Vec<u8>, CodecError> {
    let block = check_block_size(block_size)?;
    let raw = quant::quantize(update, block)?;
    seal(update.len(), block_size, &raw)
}

/// Wraps a raw payload of `n` values in a frame.
pub(crate) fn seal(n: usize, block_size: u32, raw: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut frame = Vec::with_capacity(HEADER_LEN);
    FrameHeader {
        version: FORMAT_VERSION,
        element_count: n as u64,
        block_size,
        payload_len: 0,
    }
    .write(&mut frame);
    let payload_len = payload::compress_after(&mut frame, raw)? as u64;
    frame[HEADER_LEN - 8..HEADER_LEN].copy_from_slice(&payload_len.to_le_bytes());
    Ok(frame)
}

/// Decodes an int8 frame from an untrusted peer into its f32 values.
///
/// Refuses frames declaring more than `max_elements` values before allocating anything, and
/// bounds decompression by the size the header implies. Every malformation is a typed
/// [`CodecError`]: bad magic, other version, reserved flags, bad block size, truncation, trailing
/// bytes, corrupt or mis-sized zstd, invalid scales, or the unused quantized value -128.
pub(crate) fn decode_int8(frame: &[u8], max_elements: u64) -> Result<Vec<f32>, CodecError> {
    let (header, raw) = open(frame, max_elements)?;
    let mut out = vec![0.0f32; header.element_count as usize];
    quant::dequantize(&raw, header.block_size as usize, &mut out);
    Ok(out)
}

/// Adds the values of an int8 frame to `theta`, which must have exactly as many values as the
/// frame. Checks the whole frame before touching `theta`.
pub(crate) fn add_int8(frame: &[u8], theta: &mut [f32]) -> Result<(), CodecError> {
    let (header, raw) = open(frame, theta.len() as u64)?;
    if header.element_count != theta.len() as u64 {
        return Err(CodecError::LengthMismatch {
            expected: theta.len(),
            got: header.element_count as usize,
        });
    }
    quant::dequantize_add(&raw, header.block_size as usize, theta);
    Ok(())
}

/// Parses, decompresses and validates an int8 frame; returns its header and raw payload.
fn open(frame: &[u8], max_elements: u64) -> Result<(FrameHeader, Vec<u8>), CodecError> {
    let header = FrameHeader::parse(frame, max_elements)?;
    // Both fit in usize: `parse` caps element_count at isize::MAX / 8.
    let n = header.element_count as usize;
    let raw_len = header.raw_len() as usize;
    let raw = payload::decompress_exact(&frame[HEADER_LEN..], raw_len)?;
    quant::validate(&raw, n)?;
    Ok((header, raw))
}
