//! Whole-codec tests: round-trip error bounds, and every way a frame from a peer can be wrong.

use proptest::prelude::*;

use super::frame::seal;
use super::payload::decompress_exact;
use super::*;

/// Per-block scales of a frame, read back from its payload.
fn scales_of(frame: &[u8]) -> Vec<f32> {
    let header = FrameHeader::parse(frame, u64::MAX).unwrap();
    let raw = decompress_exact(&frame[HEADER_LEN..], header.raw_len() as usize).unwrap();
    raw[..header.block_count() as usize * 4]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Encodes, decodes, and checks |x − x̂| <= scale/2 (+ float rounding) for every element.
fn check_round_trip(x: &[f32], block: u32) -> Result<(), TestCaseError> {
    let frame = encode(x, block).unwrap();
    let header = FrameHeader::parse(&frame, x.len() as u64).unwrap();
    prop_assert_eq!(header.element_count, x.len() as u64);
    prop_assert_eq!(header.block_size, block);
    let decoded = decode(&frame, x.len() as u64).unwrap();
    prop_assert_eq!(decoded.len(), x.len());
    let scales = scales_of(&frame);
    prop_assert_eq!(scales.len(), x.len().div_ceil(block as usize));
    for (i, (&a, &b)) in x.iter().zip(&decoded).enumerate() {
        let scale = scales[i / block as usize];
        let bound = scale * 0.5 * (1.0 + 1e-4) + 1e-42;
        prop_assert!(
            (a - b).abs() <= bound,
            "element {} of {}: {} decoded as {}, scale {}",
            i,
            x.len(),
            a,
            b,
            scale
        );
    }
    Ok(())
}

/// A small valid frame to corrupt.
fn sample_frame() -> Vec<u8> {
    let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
    encode(&x, 64).unwrap()
}

#[test]
fn round_trip_known_vector() {
    let x: Vec<f32> = (0..10_000)
        .map(|i| (i as f32 * 0.01).sin() * (1.0 + (i % 97) as f32))
        .collect();
    for block in [1, 100, DEFAULT_BLOCK_SIZE, 10_000, MAX_BLOCK_SIZE] {
        check_round_trip(&x, block).unwrap();
    }
}

#[test]
fn round_trip_across_many_rayon_tasks() {
    let x: Vec<f32> = (0..300_001)
        .map(|i| ((i * 31) % 1001) as f32 - 500.0)
        .collect();
    check_round_trip(&x, DEFAULT_BLOCK_SIZE).unwrap();
}

#[test]
fn empty_update_round_trips() {
    let frame = encode(&[], DEFAULT_BLOCK_SIZE).unwrap();
    assert_eq!(decode(&frame, 0).unwrap(), Vec::<f32>::new());
}

#[test]
fn encoding_is_deterministic() {
    let x: Vec<f32> = (0..200_000).map(|i| (i as f32).sqrt().cos()).collect();
    assert_eq!(encode(&x, 256).unwrap(), encode(&x, 256).unwrap());
}

#[test]
fn header_is_as_documented() {
    let frame = encode(&[1.0; 300], 256).unwrap();
    assert_eq!(&frame[0..4], b"CLUP");
    assert_eq!(&frame[4..6], &1u16.to_le_bytes());
    assert_eq!(&frame[6..8], &[0, 0]);
    assert_eq!(&frame[8..16], &300u64.to_le_bytes());
    assert_eq!(&frame[16..20], &256u32.to_le_bytes());
    let payload_len = (frame.len() - HEADER_LEN) as u64;
    assert_eq!(&frame[20..28], &payload_len.to_le_bytes());
}

#[test]
fn encoder_names_the_first_non_finite_value() {
    let mut x = vec![0.5f32; 1000];
    x[700] = f32::NEG_INFINITY;
    x[321] = f32::NAN;
    match encode(&x, 64) {
        Err(CodecError::NonFinite { index: 321, value }) => assert!(value.is_nan()),
        other => panic!("{other:?}"),
    }
    assert_eq!(encode(&x, 0), Err(CodecError::BadBlockSize { found: 0 }));
    assert_eq!(
        encode(&x, MAX_BLOCK_SIZE + 1),
        Err(CodecError::BadBlockSize {
            found: MAX_BLOCK_SIZE + 1
        })
    );
}

#[test]
fn bad_magic() {
    let mut f = sample_frame();
    f[0] = b'X';
    assert_eq!(
        decode(&f, 1000),
        Err(CodecError::BadMagic { found: *b"XLUP" })
    );
}

#[test]
fn wrong_version() {
    let mut f = sample_frame();
    f[4..6].copy_from_slice(&3u16.to_le_bytes());
    assert_eq!(
        decode(&f, 1000),
        Err(CodecError::UnsupportedVersion { found: 3 })
    );
    assert_eq!(
        FrameHeader::parse(&f, 1000),
        Err(CodecError::UnsupportedVersion { found: 3 })
    );
}

#[test]
fn reserved_flags() {
    let mut f = sample_frame();
    f[6] = 1;
    assert_eq!(
        decode(&f, 1000),
        Err(CodecError::ReservedFlags { found: 1 })
    );
}

#[test]
fn bad_block_size_in_header() {
    let mut f = sample_frame();
    f[16..20].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(decode(&f, 1000), Err(CodecError::BadBlockSize { found: 0 }));
}

#[test]
fn truncated_header_and_payload() {
    let f = sample_frame();
    assert_eq!(
        decode(&f[..10], 1000),
        Err(CodecError::Truncated {
            needed: HEADER_LEN as u64,
            got: 10
        })
    );
    assert_eq!(
        decode(&[], 1000),
        Err(CodecError::Truncated {
            needed: HEADER_LEN as u64,
            got: 0
        })
    );
    let cut = f.len() - 5;
    assert_eq!(
        decode(&f[..cut], 1000),
        Err(CodecError::Truncated {
            needed: f.len() as u64,
            got: cut as u64
        })
    );
}

#[test]
fn trailing_bytes() {
    let mut f = sample_frame();
    let payload_len = (f.len() - HEADER_LEN) as u64;
    f.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        decode(&f, 1000),
        Err(CodecError::TrailingBytes {
            extra: 3,
            payload_len
        })
    );
}

#[test]
fn count_above_cap_is_refused_before_allocating() {
    let f = sample_frame();
    assert_eq!(
        decode(&f, 999),
        Err(CodecError::TooManyElements {
            count: 1000,
            cap: 999
        })
    );
    // A header claiming 2^63 values is refused from the header alone, whatever the cap.
    let mut huge = f.clone();
    huge[8..16].copy_from_slice(&(1u64 << 63).to_le_bytes());
    assert!(matches!(
        decode(&huge, u64::MAX),
        Err(CodecError::TooManyElements {
            count: 0x8000_0000_0000_0000,
            ..
        })
    ));
}

#[test]
fn count_not_matching_payload() {
    let mut f = sample_frame();
    f[8..16].copy_from_slice(&999u64.to_le_bytes());
    // 16 scales × 4 + 999 values implied; the zstd frame declares 16 × 4 + 1000.
    assert_eq!(
        decode(&f, 1000),
        Err(CodecError::PayloadSize {
            expected: 16 * 4 + 999,
            got: 16 * 4 + 1000
        })
    );
}

#[test]
fn corrupted_zstd() {
    let f = sample_frame();
    // Any single corrupted byte of the payload: a zstd error, never a wrong update.
    for at in HEADER_LEN..f.len() {
        let mut g = f.clone();
        g[at] ^= 0x5A;
        match decode(&g, 1000) {
            Err(CodecError::Zstd { .. } | CodecError::PayloadSize { .. }) => {}
            other => panic!("byte {at} flipped: {other:?}"),
        }
    }
    let mut g = f.clone();
    g[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(b"JUNK");
    assert!(matches!(decode(&g, 1000), Err(CodecError::Zstd { .. })));
}

/// Frames that are well-formed zstd but carry what the encoder never writes.
#[test]
fn nan_scale_and_minus_128() {
    // 3 values, block 2: two scales (8 bytes), then 3 values.
    let mut raw = Vec::new();
    raw.extend_from_slice(&(1.0f32 / 127.0).to_le_bytes());
    raw.extend_from_slice(&f32::NAN.to_le_bytes());
    raw.extend_from_slice(&[127, 0, 1]);
    match decode(&seal(3, 2, &raw).unwrap(), 3) {
        Err(CodecError::BadScale { block: 1, value }) => assert!(value.is_nan()),
        other => panic!("{other:?}"),
    }
    raw[4..8].copy_from_slice(&(-0.5f32).to_le_bytes());
    assert_eq!(
        decode(&seal(3, 2, &raw).unwrap(), 3),
        Err(CodecError::BadScale {
            block: 1,
            value: -0.5
        })
    );
    raw[4..8].copy_from_slice(&f32::INFINITY.to_le_bytes());
    assert!(matches!(
        decode(&seal(3, 2, &raw).unwrap(), 3),
        Err(CodecError::BadScale { block: 1, .. })
    ));
    raw[4..8].copy_from_slice(&1.0f32.to_le_bytes());
    raw[9] = 0x80;
    assert_eq!(
        decode(&seal(3, 2, &raw).unwrap(), 3),
        Err(CodecError::BadValue { index: 1 })
    );
    raw[9] = 0x81; // -127 in block 0, whose scale is 1/127
    assert_eq!(
        decode(&seal(3, 2, &raw).unwrap(), 3).unwrap(),
        [1.0, -1.0, 1.0]
    );
}

#[test]
fn errors_say_what_was_wrong() {
    let f = sample_frame();
    let msg = decode(&f, 10).unwrap_err().to_string();
    assert_eq!(msg, "frame declares 1000 elements, above the cap of 10");
    let msg = encode(&[0.0, f32::INFINITY], 8).unwrap_err().to_string();
    assert_eq!(
        msg,
        "update value at index 1 is inf: updates must be finite"
    );
}

/// Values of many magnitudes, with some exact zeros (zero blocks) mixed in.
fn update_strategy() -> impl Strategy<Value = (Vec<f32>, u32)> {
    let block = prop_oneof![Just(1u32), Just(3), Just(64), Just(256), 1u32..600];
    let len = prop_oneof![
        Just(0usize),
        Just(1),
        Just(255),
        Just(256),
        Just(257),
        0usize..3000
    ];
    (len, block, -35i32..35, any::<u64>()).prop_map(|(len, block, exp, seed)| {
        let mut state = seed;
        let magnitude = 10f32.powi(exp);
        let x = (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = (state >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
                match state % 11 {
                    0 => 0.0,
                    1 => magnitude * 1000.0 * (u - 0.5),
                    _ => magnitude * (u - 0.5),
                }
            })
            .map(|v| if v.is_finite() { v } else { 0.0 })
            .collect();
        (x, block)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_within_half_a_step((x, block) in update_strategy()) {
        check_round_trip(&x, block)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes, 1 << 20);
    }

    /// Random bytes behind a valid-looking header reach the zstd and validation stages.
    #[test]
    fn arbitrary_payloads_never_panic(
        count in 0u64..5000,
        block in 0u32..300,
        payload in proptest::collection::vec(any::<u8>(), 0..512),
        zstd_magic in any::<bool>(),
    ) {
        let mut frame = Vec::new();
        frame.extend_from_slice(&MAGIC);
        frame.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&count.to_le_bytes());
        frame.extend_from_slice(&block.to_le_bytes());
        let magic: &[u8] = if zstd_magic { &[0x28, 0xB5, 0x2F, 0xFD] } else { &[] };
        frame.extend_from_slice(&((magic.len() + payload.len()) as u64).to_le_bytes());
        frame.extend_from_slice(magic);
        frame.extend_from_slice(&payload);
        let _ = decode(&frame, 4000);
    }

    /// Valid frames with bytes overwritten or cut: an error or a same-length update, never a panic.
    #[test]
    fn mutated_frames_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut f = sample_frame();
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        if truncate {
            f.truncate(cut.index(f.len()));
        }
        if let Ok(x) = decode(&f, 1000) {
            prop_assert!(x.len() <= 1000);
            prop_assert!(x.iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn int8_decode_into_add_is_the_dense_sum_and_checks_first() {
    let x: Vec<f32> = (0..70_000)
        .map(|i| (i as f32 * 0.013).sin() * 1e-2)
        .collect();
    let theta0: Vec<f32> = (0..70_000).map(|i| (i as f32 * 0.7).cos()).collect();
    let frame = encode(&x, DEFAULT_BLOCK_SIZE).unwrap();
    let d = decode(&frame, 70_000).unwrap();
    let mut theta = theta0.clone();
    decode_into_add(&frame, &mut theta).unwrap();
    for i in 0..theta.len() {
        assert_eq!(theta[i].to_bits(), (theta0[i] + d[i]).to_bits(), "{i}");
    }
    let mut long = theta0.clone();
    long.push(1.0);
    assert_eq!(
        decode_into_add(&frame, &mut long),
        Err(CodecError::LengthMismatch {
            expected: 70_001,
            got: 70_000
        })
    );
    let mut bad = frame.clone();
    let last = bad.len() - 2;
    bad[last] ^= 0x5A;
    let mut theta = theta0.clone();
    assert!(decode_into_add(&bad, &mut theta).is_err());
    assert!(theta
        .iter()
        .zip(&theta0)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn int8_bits_do_not_depend_on_the_thread_count() {
    let x: Vec<f32> = (0..300_000)
        .map(|i| ((i * 7) % 1000) as f32 * 1e-4)
        .collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut fb = ErrorFeedback::new(x.len(), DEFAULT_BLOCK_SIZE).unwrap();
            let frame = fb.encode_with_feedback(&x).unwrap();
            let mut theta = vec![0.5f32; x.len()];
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
fn frame_info_names_the_codec() {
    let x = vec![0.25f32; 1000];
    let info = frame_info(&encode(&x, 64).unwrap(), 1000).unwrap();
    assert_eq!(
        info,
        FrameInfo {
            kind: CodecKind::Int8,
            element_count: 1000,
            block_size: 64
        }
    );
    let sparse = CodecSpec::Sparse(SparseSpec::default());
    let info = frame_info(&sparse.encode(&x).unwrap(), 1000).unwrap();
    assert_eq!(info.kind, CodecKind::Sparse);
    assert_eq!(info.element_count, 1000);
    assert_eq!(sparse.kind(), CodecKind::Sparse);
    assert_eq!(CodecSpec::default().kind(), CodecKind::Int8);
}
