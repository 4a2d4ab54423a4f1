//! The blob protocol `/coalition/blob/1`: content-addressed (sha256) get and put of
//! checkpoints and encoded updates over `libp2p-stream`, one stream per operation.
//!
//! # Wire format
//!
//! All integers are little-endian. The opener of the stream sends a 49-byte header:
//!
//! | bytes | field  | get                                        | put                      |
//! |-------|--------|--------------------------------------------|--------------------------|
//! | 1     | op     | `1`                                        | `2`                      |
//! | 32    | hash   | sha256 of the wanted blob                  | sha256 of the blob sent  |
//! | 8     | offset | first byte wanted (resuming a broken get)  | reserved, `0`            |
//! | 8     | length | the most bytes the asker accepts (its cap) | the blob's total length  |
//!
//! **Get.** The server answers `status (1) ‖ total (8)`. On [`OK`] the bytes `offset..total`
//! follow and the server closes the stream. [`NOT_FOUND`]: the blob is not held.
//! [`TOO_LARGE`]: `total` is above the asker's cap (nothing follows). [`BAD_REQUEST`]: `offset`
//! is past `total`. The asker checks `total` against its own cap *before* allocating and the
//! sha256 of the complete blob after the last byte. A stream that breaks part-way is reopened
//! with `offset` = bytes already received (at most [`RETRIES`] times).
//!
//! **Put.** The receiver checks `length` against its cap and its store's policy *before
//! reading any byte*, and answers `status (1) ‖ value (8)`: on [`OK`] `value` is the offset to
//! send from (non-zero when an earlier put of the same blob by the same peer broke part-way:
//! the receiver keeps that prefix in memory, one per peer, for [`PARTIAL_TTL`]); on
//! [`TOO_LARGE`] `value` is the receiver's cap; [`REFUSED`]: the store's policy said no. After
//! the sender's last byte the receiver checks the sha256 of the complete blob, hands it to the
//! store, and answers one final status byte: [`OK`], [`HASH_MISMATCH`] or [`STORE_FAILED`].
//!
//! A peer that sends an unknown op, announces a put above the cap, or sends bytes that do not
//! hash to their name is dropped (disconnected, with a `tracing::warn` and an
//! [`Event::PeerDropped`](crate::Event::PeerDropped)); so is a server whose get bytes do not.
//!
//! Data moves in [`CHUNK`]-byte reads and writes; each read or write that makes no progress
//! within the node's request timeout fails the attempt (a stalled peer cannot pin a stream).

use std::{future::Future, io, time::Duration};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use sha2::{Digest, Sha256};

use crate::Hash32;

mod server;
mod transfer;

pub(crate) use server::Server;
pub(crate) use transfer::{get, put, AttemptError, Transfer};

/// Op byte: get a blob.
pub const OP_GET: u8 = 1;
/// Op byte: put a blob.
pub const OP_PUT: u8 = 2;
/// Length of the request header.
pub const HEADER_LEN: usize = 49;

/// Status: success (get: bytes follow; put: send from `value` / stored).
pub const OK: u8 = 0;
/// Status: the blob is not held.
pub const NOT_FOUND: u8 = 1;
/// Status: the blob is above the applicable cap.
pub const TOO_LARGE: u8 = 2;
/// Status: the receiver's store policy refused the put.
pub const REFUSED: u8 = 3;
/// Status: the received bytes do not hash to the announced name.
pub const HASH_MISMATCH: u8 = 4;
/// Status: the request is inconsistent (e.g. offset past the end).
pub const BAD_REQUEST: u8 = 5;
/// Status: the receiver's store failed to keep the blob.
pub const STORE_FAILED: u8 = 6;

/// Bytes per read or write.
pub const CHUNK: usize = 256 * 1024;
/// Extra streams tried after a get or put broke part-way.
pub const RETRIES: u32 = 3;
/// How long a receiver keeps the prefix of a broken put.
pub const PARTIAL_TTL: Duration = Duration::from_secs(600);
/// Streams served at once; further streams wait for a slot.
const MAX_CONCURRENT_STREAMS: usize = 64;

/// The protocol id as a `StreamProtocol`.
pub(crate) fn protocol() -> StreamProtocol {
    StreamProtocol::new(crate::BLOB_PROTOCOL)
}

/// The fixed request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub op: u8,
    pub hash: Hash32,
    pub offset: u64,
    pub length: u64,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.op;
        b[1..33].copy_from_slice(&self.hash);
        b[33..41].copy_from_slice(&self.offset.to_le_bytes());
        b[41..49].copy_from_slice(&self.length.to_le_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8; HEADER_LEN]) -> Self {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&b[1..33]);
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&b[33..41]);
        let mut length = [0u8; 8];
        length.copy_from_slice(&b[41..49]);
        Self {
            op: b[0],
            hash,
            offset: u64::from_le_bytes(offset),
            length: u64::from_le_bytes(length),
        }
    }
}

// I/O helpers with a no-progress timeout.

async fn timed<T>(
    limit: Duration,
    what: &str,
    f: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no progress for {limit:?} while {what}"),
        )),
    }
}

async fn read_status<S: AsyncRead + Unpin>(s: &mut S, limit: Duration) -> io::Result<(u8, u64)> {
    let mut b = [0u8; 9];
    timed(limit, "waiting for a status", s.read_exact(&mut b)).await?;
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[1..]);
    Ok((b[0], u64::from_le_bytes(v)))
}

async fn write_status<S: AsyncWrite + Unpin>(
    s: &mut S,
    limit: Duration,
    status: u8,
    value: u64,
) -> io::Result<()> {
    let mut b = [0u8; 9];
    b[0] = status;
    b[1..].copy_from_slice(&value.to_le_bytes());
    timed(limit, "writing a status", async {
        s.write_all(&b).await?;
        s.flush().await
    })
    .await
}

/// Writes `bytes` in [`CHUNK`]s, then flushes.
async fn write_chunked<S: AsyncWrite + Unpin>(
    s: &mut S,
    limit: Duration,
    bytes: &[u8],
) -> io::Result<()> {
    for chunk in bytes.chunks(CHUNK) {
        timed(limit, "sending blob bytes", s.write_all(chunk)).await?;
    }
    timed(limit, "flushing blob bytes", s.flush()).await
}

/// A blob being received: its buffer, how much of it has arrived, and the sha256 state of that
/// prefix. Hashing each chunk as it arrives overlaps the hash with the transfer (the bytes are
/// still in cache), instead of a second pass over the whole blob after the last byte.
pub(crate) struct Incoming {
    buf: Vec<u8>,
    filled: usize,
    hasher: Sha256,
}

impl Incoming {
    /// An empty receive buffer of `len` bytes; the caller has checked `len` against its cap.
    pub(crate) fn new(len: usize) -> Self {
        Self {
            buf: vec![0u8; len],
            filled: 0,
            hasher: Sha256::new(),
        }
    }

    /// Bytes received so far.
    pub(crate) fn filled(&self) -> usize {
        self.filled
    }

    /// The blob's total length.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Reads from `s` in [`CHUNK`]s until the buffer is full, hashing each chunk; progress is
    /// kept even when this fails part-way.
    pub(crate) async fn read_from<S: AsyncRead + Unpin>(
        &mut self,
        s: &mut S,
        limit: Duration,
    ) -> io::Result<()> {
        while self.filled < self.buf.len() {
            let end = (self.filled + CHUNK).min(self.buf.len());
            let n = timed(
                limit,
                "receiving blob bytes",
                s.read(&mut self.buf[self.filled..end]),
            )
            .await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "stream closed after {} of {} bytes",
                        self.filled,
                        self.buf.len()
                    ),
                ));
            }
            self.hasher.update(&self.buf[self.filled..self.filled + n]);
            self.filled += n;
        }
        Ok(())
    }

    /// The received bytes and their sha256 (of what arrived so far, if called early).
    pub(crate) fn finish(self) -> (Vec<u8>, Hash32) {
        (self.buf, self.hasher.finalize().into())
    }
}

/// Closes our side politely; errors do not matter any more.
async fn close_quietly<S: AsyncWrite + Unpin>(s: &mut S, limit: Duration) {
    let _ = tokio::time::timeout(limit, s.close()).await;
}

async fn write_status_byte<S: AsyncWrite + Unpin>(
    s: &mut S,
    limit: Duration,
    status: u8,
) -> io::Result<()> {
    timed(limit, "writing a verdict", async {
        s.write_all(&[status]).await?;
        s.flush().await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header {
            op: OP_PUT,
            hash: [7; 32],
            offset: 0x0102_0304_0506_0708,
            length: u64::MAX,
        };
        let b = h.encode();
        assert_eq!(b[0], 2);
        assert_eq!(&b[33..41], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(Header::decode(&b), h);
    }
}
