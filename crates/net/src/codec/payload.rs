//! The lossless half of the update codec: zstd level 1 over the raw payload.
//!
//! Compression writes straight after the frame header (no copy). Decompression is single-shot
//! into a buffer of exactly the size the header implies, so a hostile stream (a "zip bomb") can
//! never make the decoder produce or allocate more than that.

use std::io::Cursor;

use zstd::bulk::{Compressor, Decompressor};
use zstd::zstd_safe::{self, CParameter};

use super::error::CodecError;

/// zstd level for updates: level 1 is the fast one, and int8 data gains little from higher levels.
pub const ZSTD_LEVEL: i32 = 1;

/// Appends the zstd compression of `raw` to `frame` (one zstd frame, with its content size and
/// an XXH64 checksum of the content) and returns the number of bytes appended.
pub(crate) fn compress_after(frame: &mut Vec<u8>, raw: &[u8]) -> Result<usize, CodecError> {
    let start = frame.len();
    frame.reserve_exact(zstd_safe::compress_bound(raw.len()));
    let mut compressor = Compressor::new(ZSTD_LEVEL).map_err(CodecError::zstd)?;
    compressor
        .set_parameter(CParameter::ChecksumFlag(true))
        .map_err(CodecError::zstd)?;
    let mut cursor = Cursor::new(std::mem::take(frame));
    cursor.set_position(start as u64);
    let written = compressor.compress_to_buffer(raw, &mut cursor);
    *frame = cursor.into_inner();
    written.map_err(CodecError::zstd)
}

/// Decompresses `payload`, which must hold exactly `expected` bytes of content.
///
/// A declared content size other than `expected` is refused before decompressing; otherwise the
/// output buffer has capacity `expected` and zstd fails rather than write past it. Corruption and
/// checksum mismatches are [`CodecError::Zstd`].
pub(crate) fn decompress_exact(payload: &[u8], expected: usize) -> Result<Vec<u8>, CodecError> {
    match zstd_safe::get_frame_content_size(payload) {
        Ok(Some(declared)) if declared != expected as u64 => {
            return Err(CodecError::PayloadSize {
                expected: expected as u64,
                got: declared,
            })
        }
        Ok(_) => {}
        Err(_) => {
            return Err(CodecError::Zstd {
                reason: "not a zstd frame header".into(),
            })
        }
    }
    let mut raw = Vec::with_capacity(expected);
    let mut decompressor = Decompressor::new().map_err(CodecError::zstd)?;
    let got = decompressor
        .decompress_to_buffer(payload, &mut raw)
        .map_err(CodecError::zstd)?;
    if got != expected {
        return Err(CodecError::PayloadSize {
            expected: expected as u64,
            got: got as u64,
        });
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_after_a_prefix() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 13) as u8).collect();
        let mut frame = b"HEAD".to_vec();
        let n = compress_after(&mut frame, &raw).unwrap();
        assert_eq!(&frame[..4], b"HEAD");
        assert_eq!(frame.len(), 4 + n);
        assert_eq!(decompress_exact(&frame[4..], raw.len()).unwrap(), raw);
    }

    #[test]
    fn empty_content_round_trips() {
        let mut frame = Vec::new();
        compress_after(&mut frame, &[]).unwrap();
        assert_eq!(decompress_exact(&frame, 0).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn bomb_is_refused_by_declared_size() {
        // 64 MiB of zeros compresses to a few KiB; asking for 1 KiB must not inflate it.
        let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], 19).unwrap();
        assert!(bomb.len() < 64 << 10);
        assert_eq!(
            decompress_exact(&bomb, 1024),
            Err(CodecError::PayloadSize {
                expected: 1024,
                got: 64 << 20
            })
        );
    }

    #[test]
    fn bomb_without_declared_size_is_bounded() {
        // A streamed frame carries no content size: the bounded buffer is what stops it.
        let mut bomb = Vec::new();
        {
            let mut enc = zstd::stream::Encoder::new(&mut bomb, 3).unwrap();
            enc.include_contentsize(false).unwrap();
            let mut zeros = std::io::Read::take(std::io::repeat(0), 16 << 20);
            std::io::copy(&mut zeros, &mut enc).unwrap();
            enc.finish().unwrap();
        }
        assert!(matches!(zstd_safe::get_frame_content_size(&bomb), Ok(None)));
        assert!(matches!(
            decompress_exact(&bomb, 1024),
            Err(CodecError::Zstd { .. })
        ));
    }
}
