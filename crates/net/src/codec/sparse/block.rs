//! One block of a sparse frame: which entries it keeps, their quantized values, and the bits
//! that carry them.
//!
//! A block of `m` values keeps `kept = min(k, m)` of them (see [`select`](super::select)).
//! With `lo` and `hi` the smallest and largest kept magnitude and `L = 2^(bits-1)` levels, the
//! range `[lo, hi]` is cut into `L` bins of width `w = (hi - lo) / L`; a kept value is sent as
//! its sign and its bin `j`, and decodes as `±level[j]` with
//! `level[j] = min(lo + (j + 0.5) * w, hi)` (f32 arithmetic, so every decoder computes the same
//! bits). A kept value is within `w / 2` of its decoded value; a dropped one has magnitude at
//! most `lo` and decodes as 0.
//!
//! Bits of a block, in order: `lo` (32, f32 bits), `hi` (32), the Rice parameter `r` (5), then
//! for each kept entry in ascending position: its gap (the position for the first entry, else
//! `position - previous - 1`) as a Rice code with parameter `r`, then its value code
//! (`bits` bits: sign in the lowest, bin above it). The encoder picks the `r` that makes the
//! block's gaps shortest.

use super::bits::{BitReader, BitWriter};
use super::select::{key, select_top_k, Scratch, NON_FINITE_BITS};
use crate::codec::CodecError;

/// Largest Rice parameter a block may use: gaps are below 2^16.
pub(crate) const MAX_RICE: u32 = 16;
/// Bits of the Rice parameter field.
const RICE_FIELD_BITS: u32 = 5;

/// The decoded magnitude of each bin (at most 8 bins, for 4-bit values).
#[inline]
fn levels(lo: f32, hi: f32, count: u32) -> [f32; 8] {
    let w = (hi - lo) / count as f32;
    let mut out = [0.0f32; 8];
    for (j, level) in out.iter_mut().enumerate().take(count as usize) {
        *level = (lo + (j as f32 + 0.5) * w).min(hi);
    }
    out
}

/// Encoder-side state reused across the blocks of one group.
pub(crate) struct BlockEncoder {
    pub(crate) kept: usize,
    pub(crate) bits: u32,
    scratch: Scratch,
    positions: Vec<u32>,
    gaps: Vec<u32>,
}

impl BlockEncoder {
    pub(crate) fn new(kept: usize, bits: u32) -> Self {
        Self {
            kept,
            bits,
            scratch: Scratch::new(),
            positions: Vec::with_capacity(kept),
            gaps: Vec::with_capacity(kept),
        }
    }

    /// Appends block `x` to `w`; fails with the offset of its first non-finite value.
    pub(crate) fn encode(&mut self, x: &[f32], w: &mut BitWriter) -> Result<(), usize> {
        let max_key = x.iter().fold(0u32, |m, &v| m.max(key(v)));
        if max_key >= NON_FINITE_BITS {
            return Err(x.iter().position(|v| !v.is_finite()).unwrap_or(0));
        }
        let kept = self.kept.min(x.len());
        select_top_k(x, kept, &mut self.scratch, &mut self.positions);
        let lo_key = self
            .positions
            .iter()
            .map(|&p| key(x[p as usize]))
            .min()
            .unwrap_or(0);
        let (lo, hi) = (f32::from_bits(lo_key), f32::from_bits(max_key));
        let r = self.rice_parameter();
        w.put(lo.to_bits(), 32);
        w.put(hi.to_bits(), 32);
        w.put(r, RICE_FIELD_BITS);
        let count = 1u32 << (self.bits - 1);
        let width = (hi - lo) / count as f32;
        for (&gap, &p) in self.gaps.iter().zip(&self.positions) {
            let v = x[p as usize];
            w.rice(gap, r);
            let bin = bin_of(v.abs(), lo, width, count);
            w.put((bin << 1) | u32::from(v.is_sign_negative()), self.bits);
        }
        Ok(())
    }

    /// Fills `gaps` from `positions` and returns the Rice parameter that codes them shortest.
    fn rice_parameter(&mut self) -> u32 {
        self.gaps.clear();
        let mut next = 0u32;
        for &p in &self.positions {
            self.gaps.push(p - next);
            next = p + 1;
        }
        let n = self.gaps.len() as u64;
        (0..=MAX_RICE)
            .min_by_key(|&r| {
                let quotients: u64 = self.gaps.iter().map(|&g| u64::from(g >> r)).sum();
                quotients + n * u64::from(r + 1)
            })
            .unwrap_or(0)
    }
}

/// The bin of a kept magnitude `a` in `[lo, hi]`.
#[inline]
fn bin_of(a: f32, lo: f32, width: f32, count: u32) -> u32 {
    if width > 0.0 {
        // Non-negative (a >= lo); `as` saturates, and the top bin takes a == hi.
        (((a - lo) / width) as u32).min(count - 1)
    } else {
        0
    }
}

/// Where a block sits, for decoding and for error messages.
pub(crate) struct BlockPlace {
    /// Global index of the block.
    pub(crate) index: u64,
    /// Its number of values.
    pub(crate) len: usize,
    /// How many it keeps.
    pub(crate) kept: usize,
}

/// Reads one block from `rd`, calling `sink(position, value)` for each kept entry.
///
/// Malformed data is an error naming the block or `group`; `sink` may have been called for
/// earlier entries by then.
pub(crate) fn decode_block(
    rd: &mut BitReader,
    place: &BlockPlace,
    bits: u32,
    group: u64,
    sink: &mut impl FnMut(usize, f32),
) -> Result<(), CodecError> {
    let ran_out = CodecError::Bitstream {
        group,
        reason: "the data ends inside a block",
    };
    let lo = f32::from_bits(rd.get(32).ok_or_else(|| ran_out.clone())?);
    let hi = f32::from_bits(rd.get(32).ok_or_else(|| ran_out.clone())?);
    // NaN fails `0.0 <= lo`; infinities fail `hi.is_finite()`.
    if !(0.0 <= lo && lo <= hi && hi.is_finite()) {
        return Err(CodecError::BadRange {
            block: place.index,
            lo,
            hi,
        });
    }
    let r = rd.get(RICE_FIELD_BITS).ok_or_else(|| ran_out.clone())?;
    if r > MAX_RICE {
        return Err(CodecError::BadRiceParameter {
            block: place.index,
            found: r as u8,
        });
    }
    let count = 1u32 << (bits - 1);
    let table = levels(lo, hi, count);
    let mut next = 0usize;
    for _ in 0..place.kept {
        // The position must stay inside the block: gap <= len - 1 - next.
        let room = place
            .len
            .checked_sub(next + 1)
            .ok_or(CodecError::Bitstream {
                group,
                reason: "a block holds more positions than fit in it",
            })?;
        let gap = rd.rice(r, room as u32).ok_or(CodecError::Bitstream {
            group,
            reason: "a position code runs past its block or past the data",
        })? as usize;
        let code = rd.get(bits).ok_or_else(|| ran_out.clone())?;
        let magnitude = table[(code >> 1) as usize];
        let value = if code & 1 == 1 { -magnitude } else { magnitude };
        sink(next + gap, value);
        next += gap + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_bin_midpoints_within_range() {
        assert_eq!(&levels(1.0, 3.0, 2)[..2], &[1.5, 2.5]);
        assert_eq!(&levels(0.0, 8.0, 4)[..4], &[1.0, 3.0, 5.0, 7.0]);
        assert_eq!(&levels(2.0, 2.0, 8)[..8], &[2.0; 8]);
        let top = levels(0.0, f32::MAX, 8);
        assert!(top.iter().all(|l| l.is_finite() && *l <= f32::MAX));
    }

    #[test]
    fn bins_cover_the_range() {
        assert_eq!(bin_of(1.0, 1.0, 0.5, 4), 0);
        assert_eq!(bin_of(1.49, 1.0, 0.5, 4), 0);
        assert_eq!(bin_of(1.5, 1.0, 0.5, 4), 1);
        assert_eq!(bin_of(3.0, 1.0, 0.5, 4), 3);
        assert_eq!(bin_of(7.0, 7.0, 0.0, 4), 0);
    }

    #[test]
    fn rice_parameter_tracks_the_gap_size() {
        let mut enc = BlockEncoder::new(64, 2);
        enc.positions = (0..64).map(|i| i * 64 + 3).collect();
        // Gaps of 63: r = 5 or 6 code them in 7-8 bits.
        let r = enc.rice_parameter();
        assert!((5..=6).contains(&r), "{r}");
        enc.positions = (0..64).collect();
        assert_eq!(enc.rice_parameter(), 0);
    }
}
