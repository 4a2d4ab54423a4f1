//! Blockwise symmetric int8 quantization: the lossy half of the update codec.
//!
//! An update of `n` values is cut into blocks of `block` values (the last one may be shorter).
//! Each block gets one f32 `scale = max|x| / 127` and each value becomes
//! `q = round(x / scale)` in `-127..=127`; it decodes as `q * scale`, so the error per element is
//! at most `scale / 2` (plus float rounding). A block of zeros has scale 0.
//!
//! Both directions work on the *raw payload*, the bytes that zstd then compresses:
//! `blocks × f32 LE scales ‖ n × i8 values`. Work is split into tasks of whole blocks
//! ([`TASK_ELEMS`] values each) run on rayon; each task is one pass over its blocks, and the
//! result does not depend on the number of threads.

use rayon::prelude::*;

use super::error::CodecError;

/// Largest quantized magnitude. -128 is never produced, and refused on decode.
const QMAX: f32 = 127.0;

/// Values per rayon task (rounded down to whole blocks, at least one block).
const TASK_ELEMS: usize = 1 << 16;

/// `1.5 * 2^23`: adding it to `|v| < 2^22` rounds `v` to the nearest integer (ties to even), which
/// then sits in the low mantissa bits. This avoids `f32::round`, a libm call that blocks SIMD.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// Bit pattern of [`ROUND_MAGIC`].
const ROUND_MAGIC_BITS: i32 = 0x4B40_0000;

/// Block maxima in `[FAST_MIN, FAST_MAX]` use the single-precision fast path; outside it (values
/// near f32's range limits) `127 / max` or `127 * scale` could overflow, so f64 is used.
const FAST_MIN: f32 = 1.0e-30;
const FAST_MAX: f32 = 1.0e30;

/// Bit pattern at and above which an absolute value is infinite or NaN.
const NON_FINITE_BITS: u32 = 0x7F80_0000;

/// Number of blocks covering `n` values.
pub(crate) fn block_count(n: usize, block: usize) -> usize {
    n.div_ceil(block)
}

/// Whole blocks per rayon task.
fn blocks_per_task(block: usize) -> usize {
    (TASK_ELEMS / block).max(1)
}

/// Quantizes `input` into a fresh raw payload (`scales ‖ values`).
///
/// Fails with [`CodecError::NonFinite`] naming the first NaN or infinity. `block` must be at
/// least 1 (the frame layer checks block sizes).
pub(crate) fn quantize(input: &[f32], block: usize) -> Result<Vec<u8>, CodecError> {
    let blocks = block_count(input.len(), block);
    let mut raw = vec![0u8; blocks * 4 + input.len()];
    let (scales, values) = raw.split_at_mut(blocks * 4);
    let per_task = blocks_per_task(block);
    let first_bad = input
        .par_chunks(per_task * block)
        .zip(values.par_chunks_mut(per_task * block))
        .zip(scales.par_chunks_mut(per_task * 4))
        .enumerate()
        .filter_map(|(task, ((x, q), s))| {
            quantize_task(x, q, s, block).map(|offset| task * per_task * block + offset)
        })
        .min();
    match first_bad {
        Some(index) => Err(CodecError::NonFinite {
            index,
            value: input[index],
        }),
        None => Ok(raw),
    }
}

/// Quantizes the blocks of one task; returns the offset of the first non-finite value, if any.
fn quantize_task(x: &[f32], q: &mut [u8], scales: &mut [u8], block: usize) -> Option<usize> {
    for (b, ((xb, qb), sb)) in x
        .chunks(block)
        .zip(q.chunks_mut(block))
        .zip(scales.chunks_exact_mut(4))
        .enumerate()
    {
        match quantize_block(xb, qb) {
            Ok(scale) => sb.copy_from_slice(&scale.to_le_bytes()),
            Err(offset) => return Some(b * block + offset),
        }
    }
    None
}

/// Quantizes one block into `q` and returns its scale, or the offset of its first non-finite value.
fn quantize_block(x: &[f32], q: &mut [u8]) -> Result<f32, usize> {
    // For finite floats, the order of |x| equals the order of its bit pattern, and every NaN or
    // infinity has bits >= NON_FINITE_BITS: one integer max (which vectorizes) finds both.
    let max_bits = x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7FFF_FFFF));
    if max_bits >= NON_FINITE_BITS {
        return Err(x.iter().position(|v| !v.is_finite()).unwrap_or(0));
    }
    let max = f32::from_bits(max_bits);
    if max == 0.0 {
        q.fill(0);
        return Ok(0.0);
    }
    if (FAST_MIN..=FAST_MAX).contains(&max) {
        // |x * inv| <= 127 * (1 + 2^-24)^2 < 127.5, so the rounded value is within -127..=127.
        let inv = QMAX / max;
        for (qi, &xi) in q.iter_mut().zip(x) {
            *qi = round_to_i8(xi * inv) as u8;
        }
        return Ok(max / QMAX);
    }
    Ok(quantize_block_wide(x, q, max))
}

/// Rounds `v` (|v| < 2^22) to the nearest integer, ties to even, truncated to i8.
#[inline(always)]
fn round_to_i8(v: f32) -> i8 {
    ((v + ROUND_MAGIC).to_bits() as i32 - ROUND_MAGIC_BITS) as i8
}

/// The f64 path for blocks whose maximum is extreme (below 1e-30 or above 1e30).
///
/// The scale is nudged down if `127 * scale` would overflow f32, so decoding never yields an
/// infinity. A block whose maximum is so small that `max / 127` underflows to 0 is all zeros
/// (its values are below `127 * 2^-149`, about 1.8e-43).
fn quantize_block_wide(x: &[f32], q: &mut [u8], max: f32) -> f32 {
    let mut scale = (f64::from(max) / f64::from(QMAX)) as f32;
    if f64::from(scale) * f64::from(QMAX) > f64::from(f32::MAX) {
        scale = f32::from_bits(scale.to_bits() - 1);
    }
    if scale == 0.0 {
        q.fill(0);
        return 0.0;
    }
    let s = f64::from(scale);
    for (qi, &xi) in q.iter_mut().zip(x) {
        let v = (f64::from(xi) / s).round().clamp(-127.0, 127.0);
        *qi = (v as i8) as u8;
    }
    scale
}

/// Checks a raw payload of `n` values decoded from an untrusted frame: every scale finite,
/// non-negative and at most `f32::MAX / 127`, and no value equal to -128.
///
/// `raw` must be exactly `4 * block_count(n, block) + n` bytes (the frame layer guarantees it).
pub(crate) fn validate(raw: &[u8], n: usize) -> Result<(), CodecError> {
    let (scales, values) = raw.split_at(raw.len() - n);
    for (b, bytes) in scales.chunks_exact(4).enumerate() {
        let value = read_scale(bytes);
        if !scale_is_valid(value) {
            return Err(CodecError::BadScale {
                block: b as u64,
                value,
            });
        }
    }
    if let Some(index) = values.iter().position(|&v| v == 0x80) {
        return Err(CodecError::BadValue {
            index: index as u64,
        });
    }
    Ok(())
}

/// Whether a scale can have been produced by the encoder's rules (NaN fails the first test).
fn scale_is_valid(scale: f32) -> bool {
    scale >= 0.0 && f64::from(scale) * f64::from(QMAX) <= f64::from(f32::MAX)
}

/// Reads one little-endian f32 from a 4-byte chunk.
#[inline]
fn read_scale(bytes: &[u8]) -> f32 {
    let mut le = [0u8; 4];
    le.copy_from_slice(bytes);
    f32::from_le_bytes(le)
}

/// Writes `q * scale` for every value of a raw payload into `out` (`out.len()` values).
///
/// Call [`validate`] first on untrusted payloads. The encoder's error feedback uses this same
/// function, so the residual it keeps is exactly what the receiver decodes.
pub(crate) fn dequantize(raw: &[u8], block: usize, out: &mut [f32]) {
    dequantize_with(raw, block, out, |o, v| *o = v);
}

/// Adds `q * scale` for every value of a raw payload to `out` (`out.len()` values): the same
/// values as [`dequantize`], each added with one f32 addition.
pub(crate) fn dequantize_add(raw: &[u8], block: usize, out: &mut [f32]) {
    dequantize_with(raw, block, out, |o, v| *o += v);
}

/// Computes `q * scale` for every value and hands it to `op` with its output slot. Each value
/// depends only on its own byte and its block's scale, so the result is the same on any number
/// of threads.
fn dequantize_with(raw: &[u8], block: usize, out: &mut [f32], op: impl Fn(&mut f32, f32) + Sync) {
    let (scales, values) = raw.split_at(raw.len() - out.len());
    let per_task = blocks_per_task(block);
    out.par_chunks_mut(per_task * block)
        .zip(values.par_chunks(per_task * block))
        .zip(scales.par_chunks(per_task * 4))
        .for_each(|((o, q), s)| {
            for ((ob, qb), sb) in o
                .chunks_mut(block)
                .zip(q.chunks(block))
                .zip(s.chunks_exact(4))
            {
                let scale = read_scale(sb);
                for (oi, &qi) in ob.iter_mut().zip(qb) {
                    op(oi, f32::from(qi as i8) * scale);
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scales of a raw payload, decoded.
    fn scales(raw: &[u8], n: usize) -> Vec<f32> {
        raw[..raw.len() - n]
            .chunks_exact(4)
            .map(read_scale)
            .collect()
    }

    /// Asserts the per-element bound |x - x̂| <= scale/2 (+ float rounding) of every block.
    fn assert_bound(x: &[f32], block: usize) {
        let raw = quantize(x, block).unwrap();
        validate(&raw, x.len()).unwrap();
        let mut out = vec![0.0; x.len()];
        dequantize(&raw, block, &mut out);
        let s = scales(&raw, x.len());
        for (i, (&a, &b)) in x.iter().zip(&out).enumerate() {
            let scale = s[i / block];
            let tol = scale * 0.5 * (1.0 + 1e-4) + 1e-42;
            assert!(
                (a - b).abs() <= tol,
                "element {i}: {a} decoded as {b}, scale {scale}"
            );
        }
    }

    #[test]
    fn scale_is_max_over_127_and_extremes_map_to_127() {
        let x = [0.5f32, -2.54, 1.0, 0.0];
        let raw = quantize(&x, 4).unwrap();
        let s = scales(&raw, 4)[0];
        assert_eq!(s, 2.54 / 127.0);
        let q: Vec<i8> = raw[4..].iter().map(|&b| b as i8).collect();
        assert_eq!(q, [25, -127, 50, 0]);
    }

    #[test]
    fn zero_block_has_zero_scale() {
        let raw = quantize(&[0.0, -0.0, 0.0, 1.0], 3).unwrap();
        assert_eq!(scales(&raw, 4), [0.0, 1.0 / 127.0]);
        assert_eq!(&raw[8..], &[0, 0, 0, 127]);
    }

    #[test]
    fn round_to_i8_rounds_to_nearest() {
        for (v, want) in [
            (0.49f32, 0i8),
            (0.51, 1),
            (-0.51, -1),
            (1.5, 2),
            (2.5, 2),
            (126.6, 127),
            (-127.0, -127),
        ] {
            assert_eq!(round_to_i8(v), want, "{v}");
        }
    }

    #[test]
    fn bound_holds_per_block() {
        let x: Vec<f32> = (0..1000)
            .map(|i| ((i * 7919) % 1013) as f32 / 100.0 - 5.0)
            .collect();
        for block in [1, 7, 64, 256, 1000, 4096] {
            assert_bound(&x, block);
        }
    }

    #[test]
    fn bound_holds_at_the_edges_of_f32() {
        assert_bound(&[f32::MAX, -f32::MAX, 1.0e38, 3.0], 4);
        assert_bound(&[1.0e-40, -3.0e-42, 1.0e-45, 0.0], 4);
        assert_bound(&[1.0e-35, 2.5e-36, -1.0e-35, 1.0e-37], 4);
        assert_bound(&[1.0e30, 1.0e29, -1.0e31, 1.0], 2);
        let raw = quantize(&[f32::MAX, -f32::MAX], 2).unwrap();
        let mut out = [0.0; 2];
        dequantize(&raw, 2, &mut out);
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
    }

    #[test]
    fn first_non_finite_index_is_named() {
        let mut x = vec![1.0f32; 300_000];
        x[200_001] = f32::INFINITY;
        x[150_000] = f32::NAN;
        x[299_999] = f32::NEG_INFINITY;
        match quantize(&x, 256) {
            Err(CodecError::NonFinite { index, value }) => {
                assert_eq!(index, 150_000);
                assert!(value.is_nan());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validate_refuses_bad_scales_and_minus_128() {
        let raw = quantize(&[1.0, 2.0, 3.0], 2).unwrap();
        for bad in [f32::NAN, f32::INFINITY, -1.0, f32::MAX, f32::MAX / 100.0] {
            let mut r = raw.clone();
            r[4..8].copy_from_slice(&bad.to_le_bytes());
            match validate(&r, 3) {
                Err(CodecError::BadScale { block: 1, value }) => {
                    assert_eq!(value.to_bits(), bad.to_bits())
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let mut r = raw.clone();
        r[8 + 2] = 0x80;
        assert_eq!(validate(&r, 3), Err(CodecError::BadValue { index: 2 }));
    }
}
