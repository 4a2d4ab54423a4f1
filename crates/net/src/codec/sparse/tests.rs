//! Sparse codec tests: the round-trip bound, error feedback's books, bit-identical application,
//! and every way a frame from a peer can be wrong.

use proptest::prelude::*;

use super::bits::BitWriter;
use super::*;
use crate::codec::{decode, decode_into_add, CodecSpec, ErrorFeedback};

fn spec(block_size: u32, topk_ppm: u32, bits: u8) -> SparseSpec {
    SparseSpec {
        block_size,
        topk_ppm,
        bits,
    }
}

/// Deterministic values of many magnitudes with a heavy tail, some exact zeros and ties.
fn values(len: usize, seed: u64, exp: i32) -> Vec<f32> {
    let mut s = seed | 1;
    let magnitude = 10f32.powi(exp);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let v = match s % 13 {
                0 => 0.0,
                1 => magnitude * 300.0 * u,
                2 => magnitude * 0.25,
                _ => magnitude * u,
            };
            if v.is_finite() {
                v
            } else {
                0.0
            }
        })
        .collect()
}

/// The kept positions of a block by the reference rule (magnitude desc, index asc).
fn reference_kept(x: &[f32], kept: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ka, kb) = (x[a].to_bits() & 0x7FFF_FFFF, x[b].to_bits() & 0x7FFF_FFFF);
        kb.cmp(&ka).then(a.cmp(&b))
    });
    idx.truncate(kept);
    idx.sort_unstable();
    idx
}

/// Encodes, decodes and checks every element against the bound of its block.
fn check_round_trip(x: &[f32], s: &SparseSpec) -> Result<(), TestCaseError> {
    let frame = encode(x, s).unwrap();
    let decoded = decode(&frame, x.len() as u64).unwrap();
    prop_assert_eq!(decoded.len(), x.len());
    let levels = (1u32 << (s.bits - 1)) as f32;
    let block = s.block_size as usize;
    for (b, (xb, db)) in x.chunks(block).zip(decoded.chunks(block)).enumerate() {
        let kept = reference_kept(xb, (s.kept_per_block() as usize).min(xb.len()));
        let lo = kept
            .iter()
            .map(|&i| xb[i].abs())
            .fold(f32::INFINITY, f32::min);
        let hi = xb.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        let half_bin = (hi - lo) / levels / 2.0;
        let tol = half_bin * (1.0 + 1e-5) + hi * 1e-6 + 1e-40;
        let mut next = 0;
        for (i, (&a, &d)) in xb.iter().zip(db).enumerate() {
            if kept.get(next) == Some(&i) {
                next += 1;
                prop_assert!(
                    (a - d).abs() <= tol,
                    "block {} element {}: {} decoded as {}, bin half-width {}",
                    b,
                    i,
                    a,
                    d,
                    half_bin
                );
                prop_assert!(d == 0.0 || a.is_sign_negative() == d.is_sign_negative());
            } else {
                prop_assert_eq!(d.to_bits(), 0, "block {} dropped element {}", b, i);
                prop_assert!(a.abs() <= lo, "dropped {} above the kept minimum {}", a, lo);
            }
        }
    }
    Ok(())
}

fn sparse_strategy() -> impl Strategy<Value = (Vec<f32>, SparseSpec)> {
    let block = prop_oneof![Just(1u32), Just(64), Just(4096), 2u32..700];
    let ppm = prop_oneof![Just(15_625u32), 10_000u32..30_000, 1u32..=1_000_000];
    let len = prop_oneof![Just(0usize), Just(1), 0usize..5000, Just(70_000)];
    (len, block, ppm, 2u8..=4, -30i32..30, any::<u64>()).prop_map(
        |(len, block, ppm, bits, exp, seed)| (values(len, seed, exp), spec(block, ppm, bits)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn round_trip_within_the_bin_bound((x, s) in sparse_strategy()) {
        check_round_trip(&x, &s)?;
    }

    /// Σ sent + final residual = Σ updates, up to the f32 rounding of each round's two
    /// operations (adding the residual, and subtracting what was sent).
    #[test]
    fn error_feedback_keeps_the_books(
        len in 1usize..3000,
        block in prop_oneof![Just(64u32), 1u32..300],
        ppm in prop_oneof![Just(15_625u32), 1u32..200_000],
        bits in 2u8..=4,
        seed in any::<u64>(),
        rounds in 1usize..12,
    ) {
        let codec = CodecSpec::Sparse(spec(block, ppm, bits));
        let mut fb = ErrorFeedback::with_codec(len, codec).unwrap();
        let (mut updates, mut sent, mut slack) =
            (vec![0f64; len], vec![0f64; len], vec![0f64; len]);
        for round in 0..rounds {
            let u = values(len, seed.wrapping_add(round as u64), -3);
            let corrected: Vec<f32> = u.iter().zip(fb.residual()).map(|(a, b)| a + b).collect();
            let frame = fb.encode_with_feedback(&u).unwrap();
            let s = decode(&frame, len as u64).unwrap();
            for i in 0..len {
                updates[i] += f64::from(u[i]);
                sent[i] += f64::from(s[i]);
                slack[i] += f64::from(corrected[i].abs()) + f64::from(fb.residual()[i].abs());
            }
        }
        for i in 0..len {
            let gap = (updates[i] - sent[i] - f64::from(fb.residual()[i])).abs();
            prop_assert!(
                gap <= slack[i] * f64::from(f32::EPSILON) + 1e-37,
                "element {}: books off by {} (slack {})", i, gap, slack[i]
            );
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut frame = MAGIC.to_vec();
        frame.extend_from_slice(&SPARSE_VERSION.to_le_bytes());
        frame.extend_from_slice(&bytes);
        let _ = decode(&frame, 1 << 20);
        let mut theta = vec![1.0f32; 100];
        if decode_into_add(&frame, &mut theta).is_err() {
            prop_assert!(theta.iter().all(|&t| t == 1.0));
        }
    }

    /// Valid frames with payload bytes overwritten or cut, and the checksum recomputed so the
    /// damage reaches the structural checks: an error or finite values, never a panic.
    #[test]
    fn mutated_frames_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut f = sample_frame();
        let payload_len = f.len() - SPARSE_HEADER_LEN;
        for (at, byte) in edits {
            f[SPARSE_HEADER_LEN + at.index(payload_len)] = byte;
        }
        if truncate {
            f.truncate(SPARSE_HEADER_LEN + cut.index(payload_len));
        }
        let f = reseal(f);
        if let Ok(x) = decode(&f, 5000) {
            prop_assert_eq!(x.len(), 5000);
            prop_assert!(x.iter().all(|v| v.is_finite()));
        }
    }
}

/// 5000 values, blocks of 256 keeping 8, 3-bit values: 20 blocks in one group.
fn sample_frame() -> Vec<u8> {
    encode(&values(5000, 9, 0), &spec(256, 31_250, 3)).unwrap()
}

/// Rewrites the payload length and checksum of a (possibly edited) frame.
fn reseal(mut f: Vec<u8>) -> Vec<u8> {
    let payload_len = (f.len() - SPARSE_HEADER_LEN) as u64;
    f[24..32].copy_from_slice(&payload_len.to_le_bytes());
    let sum = payload_checksum(&f[SPARSE_HEADER_LEN..]);
    f[32..40].copy_from_slice(&sum);
    f
}

/// A one-group frame of `n` values in blocks of `block` keeping `kept`, with 2-bit values and
/// the given group bitstream.
fn forged(n: u64, block: u32, kept: u32, group: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    let header = SparseHeader {
        bits: 2,
        element_count: n,
        block_size: block,
        kept,
        payload_len: 0,
        checksum: [0; 8],
    };
    header.write(&mut f);
    f.extend_from_slice(&(group.len() as u32).to_le_bytes());
    f.extend_from_slice(group);
    reseal(f)
}

/// One block's bits: lo, hi, Rice parameter, then (gap, code) pairs.
fn block_bits(w: &mut BitWriter, lo: f32, hi: f32, r: u32, entries: &[(u32, u32)]) {
    w.put(lo.to_bits(), 32);
    w.put(hi.to_bits(), 32);
    w.put(r, 5);
    for &(gap, code) in entries {
        w.rice(gap, r.min(16));
        w.put(code, 2);
    }
}

fn one_block(lo: f32, hi: f32, r: u32, entries: &[(u32, u32)]) -> Vec<u8> {
    let mut w = BitWriter::new(Vec::new());
    block_bits(&mut w, lo, hi, r, entries);
    w.finish()
}

#[test]
fn forged_frame_decodes_as_documented() {
    // Block of 8 keeping 2: positions 1 and 6; bins of [1, 3] are 1.5 and 2.5.
    let group = one_block(1.0, 3.0, 1, &[(1, 0b00), (4, 0b11)]);
    let x = decode(&forged(8, 8, 2, &group), 8).unwrap();
    assert_eq!(x, [0.0, 1.5, 0.0, 0.0, 0.0, 0.0, -2.5, 0.0]);
}

#[test]
fn header_is_as_documented() {
    let f = encode(&[1.0; 300], &spec(256, 15_625, 3)).unwrap();
    assert_eq!(&f[0..4], b"CLUP");
    assert_eq!(&f[4..6], &2u16.to_le_bytes());
    assert_eq!(f[6], 3);
    assert_eq!(f[7], 0);
    assert_eq!(&f[8..16], &300u64.to_le_bytes());
    assert_eq!(&f[16..20], &256u32.to_le_bytes());
    assert_eq!(&f[20..24], &4u32.to_le_bytes()); // ceil(256 * 1.5625%)
    assert_eq!(&f[24..32], &((f.len() - 40) as u64).to_le_bytes());
    assert_eq!(&f[32..40], &payload_checksum(&f[40..]));
    // One group (2 blocks), so one table entry.
    assert_eq!(&f[40..44], &((f.len() - 44) as u32).to_le_bytes());
}

#[test]
fn empty_and_tiny_updates_round_trip() {
    for s in [spec(1, 1, 2), spec(4096, 15_625, 4), spec(7, 1_000_000, 2)] {
        for x in [vec![], vec![-0.5], vec![0.0; 3], vec![1e-38, -3e38, 2.0]] {
            check_round_trip(&x, &s).unwrap();
        }
    }
}

#[test]
fn keeping_everything_is_a_plain_quantizer() {
    let x: Vec<f32> = values(1000, 3, 0)
        .into_iter()
        .map(|v| if v == 0.0 { 1e-3 } else { v })
        .collect();
    let s = spec(100, 1_000_000, 4);
    check_round_trip(&x, &s).unwrap();
    let d = decode(&encode(&x, &s).unwrap(), 1000).unwrap();
    assert!(d.iter().all(|v| *v != 0.0), "every entry is sent");
}

#[test]
fn encoder_refuses_bad_parameters_and_values() {
    let x = vec![1.0f32; 10];
    assert_eq!(
        encode(&x, &spec(0, 100, 2)),
        Err(CodecError::BadSparseBlockSize { found: 0 })
    );
    assert_eq!(
        encode(&x, &spec(MAX_SPARSE_BLOCK + 1, 100, 2)),
        Err(CodecError::BadSparseBlockSize {
            found: MAX_SPARSE_BLOCK + 1
        })
    );
    assert_eq!(
        encode(&x, &spec(64, 0, 2)),
        Err(CodecError::BadTopK { found: 0 })
    );
    assert_eq!(
        encode(&x, &spec(64, 1_000_001, 2)),
        Err(CodecError::BadTopK { found: 1_000_001 })
    );
    assert_eq!(
        encode(&x, &spec(64, 100, 5)),
        Err(CodecError::BadBits { found: 5 })
    );
    let mut y = vec![0.5f32; 200_000];
    y[150_001] = f32::NAN;
    y[70_000] = f32::NEG_INFINITY;
    match encode(&y, &SparseSpec::default()) {
        Err(CodecError::NonFinite { index, value }) => {
            assert_eq!(index, 70_000);
            assert_eq!(value, f32::NEG_INFINITY);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn header_refusals() {
    let f = sample_frame();
    let with = |at: usize, bytes: &[u8]| {
        let mut g = f.clone();
        g[at..at + bytes.len()].copy_from_slice(bytes);
        decode(&g, 5000)
    };
    assert_eq!(with(6, &[1]), Err(CodecError::BadBits { found: 1 }));
    assert_eq!(with(6, &[5]), Err(CodecError::BadBits { found: 5 }));
    assert_eq!(with(7, &[1]), Err(CodecError::ReservedFlags { found: 1 }));
    assert_eq!(
        with(16, &0u32.to_le_bytes()),
        Err(CodecError::BadSparseBlockSize { found: 0 })
    );
    assert_eq!(
        with(20, &0u32.to_le_bytes()),
        Err(CodecError::BadKept {
            kept: 0,
            block_size: 256
        })
    );
    assert_eq!(
        with(20, &257u32.to_le_bytes()),
        Err(CodecError::BadKept {
            kept: 257,
            block_size: 256
        })
    );
    assert_eq!(
        decode(&f, 4999),
        Err(CodecError::TooManyElements {
            count: 5000,
            cap: 4999
        })
    );
    assert_eq!(
        decode(&f[..39], 5000),
        Err(CodecError::Truncated {
            needed: 40,
            got: 39
        })
    );
    let cut = f.len() - 3;
    assert_eq!(
        decode(&f[..cut], 5000),
        Err(CodecError::Truncated {
            needed: f.len() as u64,
            got: cut as u64
        })
    );
    let mut long = f.clone();
    long.push(0);
    assert!(matches!(
        decode(&long, 5000),
        Err(CodecError::TrailingBytes { extra: 1, .. })
    ));
    let mut g = f.clone();
    g[3] = b'Q';
    assert!(matches!(decode(&g, 5000), Err(CodecError::BadMagic { .. })));
    assert_eq!(
        with(4, &3u16.to_le_bytes()),
        Err(CodecError::UnsupportedVersion { found: 3 })
    );
}

#[test]
fn any_flipped_payload_byte_fails_the_checksum() {
    let f = sample_frame();
    for at in SPARSE_HEADER_LEN..f.len() {
        let mut g = f.clone();
        g[at] ^= 0x10;
        assert!(
            matches!(decode(&g, 5000), Err(CodecError::Checksum { .. })),
            "byte {at}"
        );
    }
}

#[test]
fn group_table_refusals() {
    let f = sample_frame();
    // The group claims one byte more than the payload holds.
    let mut g = f.clone();
    let len = u32::from_le_bytes([g[40], g[41], g[42], g[43]]);
    g[40..44].copy_from_slice(&(len + 1).to_le_bytes());
    assert!(matches!(
        decode(&reseal(g), 5000),
        Err(CodecError::Bitstream { group: 0, .. })
    ));
    // ... or one byte less: that byte is left over.
    let mut g = f.clone();
    g[40..44].copy_from_slice(&(len - 1).to_le_bytes());
    assert!(matches!(
        decode(&reseal(g), 5000),
        Err(CodecError::TrailingBytes { extra: 1, .. })
    ));
    // A count whose table does not fit in the payload.
    let mut g = f.clone();
    g[8..16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(
        decode(&g, u64::MAX),
        Err(CodecError::PayloadSize { .. })
    ));
}

#[test]
fn block_refusals() {
    let frame = |group: Vec<u8>| forged(8, 8, 2, &group);
    let err = |group: Vec<u8>| decode(&frame(group), 8).unwrap_err();
    for (lo, hi) in [
        (f32::NAN, 1.0),
        (2.0, 1.0),
        (-1.0, 1.0),
        (0.0, f32::INFINITY),
    ] {
        match err(one_block(lo, hi, 1, &[(0, 0), (0, 0)])) {
            CodecError::BadRange { block: 0, .. } => {}
            other => panic!("[{lo}, {hi}]: {other:?}"),
        }
    }
    assert_eq!(
        err(one_block(0.0, 1.0, 17, &[(0, 0), (0, 0)])),
        CodecError::BadRiceParameter {
            block: 0,
            found: 17
        }
    );
    // Positions 5 and 5 + 1 + 2 = 8: past a block of 8.
    assert!(matches!(
        err(one_block(0.0, 1.0, 1, &[(5, 0), (2, 0)])),
        CodecError::Bitstream { group: 0, .. }
    ));
    // Only one of the two entries.
    assert!(matches!(
        err(one_block(0.0, 1.0, 1, &[(5, 0)])),
        CodecError::Bitstream { group: 0, .. }
    ));
    // A whole extra byte after the block.
    let mut g = one_block(0.0, 1.0, 1, &[(0, 0), (0, 0)]);
    g.push(0);
    assert!(matches!(err(g), CodecError::Bitstream { group: 0, .. }));
    // Set bits in the padding.
    let mut g = one_block(0.0, 1.0, 1, &[(0, 0), (0, 0)]);
    *g.last_mut().unwrap() |= 0x80;
    assert!(matches!(err(g), CodecError::Bitstream { group: 0, .. }));
    // The same block, well-formed, decodes.
    assert_eq!(
        decode(&frame(one_block(0.0, 1.0, 1, &[(0, 0), (0, 1)])), 8).unwrap(),
        [0.25, -0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn decode_into_add_is_the_dense_sum_and_checks_first() {
    let x = values(70_000, 5, -2);
    let frame = encode(&x, &SparseSpec::default()).unwrap();
    let theta0 = values(70_000, 6, 0);
    let mut theta = theta0.clone();
    decode_into_add(&frame, &mut theta).unwrap();
    let d = decode(&frame, 70_000).unwrap();
    for i in 0..theta.len() {
        if d[i] != 0.0 || theta0[i].to_bits() != (-0.0f32).to_bits() {
            assert_eq!(theta[i].to_bits(), (theta0[i] + d[i]).to_bits(), "{i}");
        }
    }
    // Wrong length, and a corrupt last group: theta is left alone.
    let mut short = theta0[..69_999].to_vec();
    assert!(matches!(
        decode_into_add(&frame, &mut short),
        Err(CodecError::TooManyElements { .. })
    ));
    let mut long = theta0.clone();
    long.push(0.0);
    assert_eq!(
        decode_into_add(&frame, &mut long),
        Err(CodecError::LengthMismatch {
            expected: 70_001,
            got: 70_000
        })
    );
    // Two groups; give the second one's first block Rice parameter 31.
    let mut bad = frame.clone();
    let first_len = u32::from_le_bytes([bad[40], bad[41], bad[42], bad[43]]) as usize;
    bad[SPARSE_HEADER_LEN + 8 + first_len + 8] |= 0x1F;
    let bad = reseal(bad);
    assert_eq!(
        decode(&bad, 70_000),
        Err(CodecError::BadRiceParameter {
            block: 16,
            found: 31
        })
    );
    let mut theta = theta0.clone();
    assert!(decode_into_add(&bad, &mut theta).is_err());
    assert!(theta
        .iter()
        .zip(&theta0)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

/// Encoding and applying give the same bits on 1 and on 3 threads.
#[test]
fn bits_do_not_depend_on_the_thread_count() {
    let x = values(300_000, 11, -3);
    let theta0 = values(300_000, 12, 0);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let codec = CodecSpec::Sparse(SparseSpec::default());
            let mut fb = ErrorFeedback::with_codec(x.len(), codec).unwrap();
            let frame = fb.encode_with_feedback(&x).unwrap();
            let mut theta = theta0.clone();
            decode_into_add(&frame, &mut theta).unwrap();
            let bits: Vec<u32> = theta
                .iter()
                .chain(fb.residual())
                .map(|v| v.to_bits())
                .collect();
            (frame, bits)
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn residual_is_corrected_minus_sent() {
    let x = values(10_000, 13, -1);
    let mut fb =
        ErrorFeedback::with_codec(x.len(), CodecSpec::Sparse(spec(512, 20_000, 2))).unwrap();
    let frame = fb.encode_with_feedback(&x).unwrap();
    let sent = decode(&frame, x.len() as u64).unwrap();
    let kept = sent.iter().filter(|v| **v != 0.0).count();
    assert!(kept <= 20 * 11, "{kept}");
    for i in 0..x.len() {
        if sent[i] == 0.0 {
            assert_eq!(fb.residual()[i].to_bits(), x[i].to_bits(), "dropped {i}");
        } else {
            assert_eq!(fb.residual()[i], x[i] - sent[i], "kept {i}");
        }
    }
}

#[test]
fn errors_say_what_was_wrong() {
    assert_eq!(
        CodecError::BadKept {
            kept: 0,
            block_size: 256
        }
        .to_string(),
        "sparse frame keeps 0 entries per block of 256"
    );
    assert_eq!(
        CodecError::Bitstream {
            group: 3,
            reason: "the data ends inside a block"
        }
        .to_string(),
        "group 3 of the sparse payload is malformed: the data ends inside a block"
    );
}
