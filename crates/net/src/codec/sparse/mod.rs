//! The sparse codec (frame version 2): top-k per block with low-bit values, SparseLoCo-style.
//!
//! Each block of `block_size` values keeps its `k` largest-magnitude entries (ties to the lower
//! index); each kept value becomes a sign and a `bits - 1`-bit bin of the block's kept range;
//! positions are Rice-coded gaps. The byte layout is in the [`codec`](super) module docs, the
//! per-block bits in [`block`]. Blocks are grouped (`GROUP_ELEMS` values per group) so that
//! encoding and decoding run in parallel with results that do not depend on the thread count.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::error::CodecError;
use super::frame::MAGIC;

mod bits;
mod block;
mod select;

#[cfg(test)]
mod tests;

use bits::{BitReader, BitWriter};
use block::{decode_block, BlockEncoder, BlockPlace};

/// The frame format version of sparse frames.
pub const SPARSE_VERSION: u16 = 2;
/// Bytes before a sparse frame's payload.
pub const SPARSE_HEADER_LEN: usize = 40;
/// Largest sparse block size (positions in a block fit 16 bits).
pub const MAX_SPARSE_BLOCK: u32 = 1 << 16;
/// Narrowest value code: a sign and one bin bit.
pub const MIN_BITS: u8 = 2;
/// Widest value code: a sign and three bin bits.
pub const MAX_BITS: u8 = 4;
/// Values per group of blocks (rounded down to whole blocks, at least one block). Part of the
/// format: the group table has one entry per group.
pub const GROUP_ELEMS: usize = 1 << 16;

/// Element counts above this are refused whatever the caller's cap (see the int8 frame).
const ADDRESSABLE_ELEMENTS: u64 = (isize::MAX as u64) / 8;

/// The parameters of a sparse encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseSpec {
    /// Values per block, `1..=MAX_SPARSE_BLOCK`.
    pub block_size: u32,
    /// Share of each block kept, in parts per million (`1..=1_000_000`); at least one entry per
    /// block is kept.
    pub topk_ppm: u32,
    /// Bits per kept value, sign included: `MIN_BITS..=MAX_BITS`.
    pub bits: u8,
}

impl Default for SparseSpec {
    /// SparseLoCo's setting: 64 of every 4096 values (1.5625%), 2-bit values.
    fn default() -> Self {
        Self {
            block_size: 4096,
            topk_ppm: 15_625,
            bits: 2,
        }
    }
}

impl SparseSpec {
    /// Checks every parameter's range.
    pub fn check(&self) -> Result<(), CodecError> {
        if !(1..=MAX_SPARSE_BLOCK).contains(&self.block_size) {
            return Err(CodecError::BadSparseBlockSize {
                found: self.block_size,
            });
        }
        if !(1..=1_000_000).contains(&self.topk_ppm) {
            return Err(CodecError::BadTopK {
                found: self.topk_ppm,
            });
        }
        if !(MIN_BITS..=MAX_BITS).contains(&self.bits) {
            return Err(CodecError::BadBits { found: self.bits });
        }
        Ok(())
    }

    /// Entries kept per full block: `ceil(block_size * topk_ppm / 10^6)`, at least 1.
    pub fn kept_per_block(&self) -> u32 {
        let k = (u64::from(self.block_size) * u64::from(self.topk_ppm)).div_ceil(1_000_000);
        k.clamp(1, u64::from(self.block_size.max(1))) as u32
    }
}

/// The parsed, validated header of a sparse frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SparseHeader {
    pub bits: u8,
    pub element_count: u64,
    pub block_size: u32,
    pub kept: u32,
    pub payload_len: u64,
    pub checksum: [u8; 8],
}

impl SparseHeader {
    fn blocks(&self) -> usize {
        (self.element_count as usize).div_ceil(self.block_size as usize)
    }

    fn blocks_per_group(&self) -> usize {
        (GROUP_ELEMS / self.block_size as usize).max(1)
    }

    fn groups(&self) -> usize {
        self.blocks().div_ceil(self.blocks_per_group())
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&SPARSE_VERSION.to_le_bytes());
        out.push(self.bits);
        out.push(0);
        out.extend_from_slice(&self.element_count.to_le_bytes());
        out.extend_from_slice(&self.block_size.to_le_bytes());
        out.extend_from_slice(&self.kept.to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
        out.extend_from_slice(&self.checksum);
    }

    /// Parses the header of `frame`, whose magic and version the caller has checked, and checks
    /// its fields, its length against the payload present, and the payload checksum.
    pub(crate) fn parse(frame: &[u8], max_elements: u64) -> Result<Self, CodecError> {
        let Some((head, payload)) = frame.split_first_chunk::<SPARSE_HEADER_LEN>() else {
            return Err(CodecError::Truncated {
                needed: SPARSE_HEADER_LEN as u64,
                got: frame.len() as u64,
            });
        };
        let u32_at =
            |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
        let bits = head[6];
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(CodecError::BadBits { found: bits });
        }
        if head[7] != 0 {
            return Err(CodecError::ReservedFlags {
                found: u16::from(head[7]),
            });
        }
        let (element_count, block_size, kept) = (u64_at(8), u32_at(16), u32_at(20));
        let (payload_len, checksum) = (u64_at(24), checksum_of(&head[32..40]));
        if !(1..=MAX_SPARSE_BLOCK).contains(&block_size) {
            return Err(CodecError::BadSparseBlockSize { found: block_size });
        }
        if !(1..=block_size).contains(&kept) {
            return Err(CodecError::BadKept { kept, block_size });
        }
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
                needed: payload_len.saturating_add(SPARSE_HEADER_LEN as u64),
                got: frame.len() as u64,
            });
        }
        if present > payload_len {
            return Err(CodecError::TrailingBytes {
                extra: present - payload_len,
                payload_len,
            });
        }
        let found = payload_checksum(payload);
        if found != checksum {
            return Err(CodecError::Checksum {
                expected: checksum,
                found,
            });
        }
        Ok(Self {
            bits,
            element_count,
            block_size,
            kept,
            payload_len,
            checksum,
        })
    }
}

fn checksum_of(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// The first 8 bytes of the payload's sha256.
fn payload_checksum(payload: &[u8]) -> [u8; 8] {
    checksum_of(&Sha256::digest(payload))
}

/// Encodes `update` as a sparse frame. Fails on parameters out of range, or with
/// [`CodecError::NonFinite`] naming the first NaN or infinity.
pub(crate) fn encode(update: &[f32], spec: &SparseSpec) -> Result<Vec<u8>, CodecError> {
    spec.check()?;
    let mut header = SparseHeader {
        bits: spec.bits,
        element_count: update.len() as u64,
        block_size: spec.block_size,
        kept: spec.kept_per_block(),
        payload_len: 0,
        checksum: [0; 8],
    };
    let block = spec.block_size as usize;
    let group_elems = header.blocks_per_group() * block;
    let groups: Vec<Result<Vec<u8>, usize>> = update
        .par_chunks(group_elems)
        .map(|x| encode_group(x, block, header.kept as usize, u32::from(spec.bits)))
        .collect();
    let mut table = Vec::with_capacity(groups.len() * 4);
    for (g, result) in groups.iter().enumerate() {
        match result {
            Ok(bytes) => table.extend_from_slice(&(bytes.len() as u32).to_le_bytes()),
            Err(offset) => {
                let index = g * group_elems + offset;
                return Err(CodecError::NonFinite {
                    index,
                    value: update[index],
                });
            }
        }
    }
    let body: usize = groups.iter().flatten().map(Vec::len).sum();
    let mut payload = Vec::with_capacity(table.len() + body);
    payload.extend_from_slice(&table);
    for bytes in groups.iter().flatten() {
        payload.extend_from_slice(bytes);
    }
    header.payload_len = payload.len() as u64;
    header.checksum = payload_checksum(&payload);
    let mut frame = Vec::with_capacity(SPARSE_HEADER_LEN + payload.len());
    header.write(&mut frame);
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Encodes the blocks of one group into one bitstream; fails with the offset of the first
/// non-finite value.
fn encode_group(x: &[f32], block: usize, kept: usize, bits: u32) -> Result<Vec<u8>, usize> {
    let mut enc = BlockEncoder::new(kept, bits);
    // About kept * (gap code + value) bits per block, plus the block's 69 header bits.
    let estimate = x.len().div_ceil(block) * (kept * (10 + bits as usize) + 69) / 8;
    let mut w = BitWriter::new(Vec::with_capacity(estimate));
    for (b, xb) in x.chunks(block).enumerate() {
        enc.encode(xb, &mut w)
            .map_err(|offset| b * block + offset)?;
    }
    Ok(w.finish())
}

/// What decoding does with each kept value `v` at its slot: the receiver's three uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Apply {
    /// `slot = v` (into zeros: a dense decode).
    Assign,
    /// `slot += v` (applying an update to weights).
    Add,
    /// `slot -= v` (the encoder's residual: corrected minus what was sent).
    Subtract,
}

/// A validated sparse frame, ready to be applied.
pub(crate) struct SparseFrame<'a> {
    pub(crate) header: SparseHeader,
    /// Each group's bitstream, in order.
    groups: Vec<&'a [u8]>,
}

impl<'a> SparseFrame<'a> {
    /// Parses the header and the group table. The groups' contents are checked by
    /// [`SparseFrame::check`] and [`SparseFrame::apply`].
    pub(crate) fn parse(frame: &'a [u8], max_elements: u64) -> Result<Self, CodecError> {
        let header = SparseHeader::parse(frame, max_elements)?;
        let payload = &frame[SPARSE_HEADER_LEN..];
        let count = header.groups();
        let table_len = count.checked_mul(4).filter(|&t| t <= payload.len());
        let Some(table_len) = table_len else {
            return Err(CodecError::PayloadSize {
                expected: (count as u64).saturating_mul(4),
                got: payload.len() as u64,
            });
        };
        let (table, mut rest) = payload.split_at(table_len);
        let mut groups = Vec::with_capacity(count);
        for (g, len) in table.chunks_exact(4).enumerate() {
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len > rest.len() {
                return Err(CodecError::Bitstream {
                    group: g as u64,
                    reason: "its declared length runs past the payload",
                });
            }
            let (bytes, tail) = rest.split_at(len);
            groups.push(bytes);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(CodecError::TrailingBytes {
                extra: rest.len() as u64,
                payload_len: header.payload_len,
            });
        }
        Ok(Self { header, groups })
    }

    /// Number of values the frame decodes to.
    pub(crate) fn len(&self) -> usize {
        self.header.element_count as usize
    }

    fn group_elems(&self) -> usize {
        self.header.blocks_per_group() * self.header.block_size as usize
    }

    /// Decodes every group without writing anything: the frame is valid iff this succeeds.
    pub(crate) fn check(&self) -> Result<(), CodecError> {
        let n = self.len();
        let ge = self.group_elems();
        let first_bad = self
            .groups
            .par_iter()
            .enumerate()
            .filter_map(|(g, bytes)| {
                let len = (n - g * ge).min(ge);
                self.decode_group(g, bytes, len, &mut |_, _| {}).err()
            })
            .min_by_key(|(g, _)| *g);
        first_bad.map_or(Ok(()), |(_, e)| Err(e))
    }

    /// Applies every kept value to `out` (`self.len()` values) as `how` says. Call
    /// [`SparseFrame::check`] first on untrusted frames: an error here leaves `out` partly
    /// written.
    pub(crate) fn apply(&self, out: &mut [f32], how: Apply) -> Result<(), CodecError> {
        debug_assert_eq!(out.len(), self.len());
        let ge = self.group_elems();
        let first_bad = out
            .par_chunks_mut(ge)
            .zip(self.groups.par_iter())
            .enumerate()
            .filter_map(|(g, (chunk, bytes))| {
                let len = chunk.len();
                let result = match how {
                    Apply::Assign => self.decode_group(g, bytes, len, &mut |i, v| chunk[i] = v),
                    Apply::Add => self.decode_group(g, bytes, len, &mut |i, v| chunk[i] += v),
                    Apply::Subtract => self.decode_group(g, bytes, len, &mut |i, v| chunk[i] -= v),
                };
                result.err()
            })
            .min_by_key(|(g, _)| *g);
        first_bad.map_or(Ok(()), |(_, e)| Err(e))
    }

    /// Decodes group `g` (`len` values), calling `sink(offset in group, value)`.
    fn decode_group(
        &self,
        g: usize,
        bytes: &[u8],
        len: usize,
        sink: &mut impl FnMut(usize, f32),
    ) -> Result<(), (usize, CodecError)> {
        let block = self.header.block_size as usize;
        let first_block = g * self.header.blocks_per_group();
        let mut rd = BitReader::new(bytes);
        for b in 0..len.div_ceil(block) {
            let start = b * block;
            let place = BlockPlace {
                index: (first_block + b) as u64,
                len: block.min(len - start),
                kept: (self.header.kept as usize).min(block.min(len - start)),
            };
            decode_block(
                &mut rd,
                &place,
                u32::from(self.header.bits),
                g as u64,
                &mut |i, v| sink(start + i, v),
            )
            .map_err(|e| (g, e))?;
        }
        if !rd.only_padding_left() {
            return Err((
                g,
                CodecError::Bitstream {
                    group: g as u64,
                    reason: "bytes or set bits follow the last block",
                },
            ));
        }
        Ok(())
    }
}
