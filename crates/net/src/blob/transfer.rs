//! The asking side of the blob protocol: get and put with resumption, generic over how a
//! stream is opened (the client opens libp2p streams; tests inject faults).

use std::{future::Future, io, time::Duration};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::PeerId;

use super::{
    close_quietly, read_status, timed, write_chunked, Header, Incoming, BAD_REQUEST, HASH_MISMATCH,
    NOT_FOUND, OK, OP_GET, OP_PUT, REFUSED, STORE_FAILED, TOO_LARGE,
};
use crate::{Hash32, NetError};

/// How one attempt ended, when it did not succeed.
pub(crate) enum AttemptError {
    /// A definite answer or a violation: do not retry.
    Fatal(NetError),
    /// The stream failed (reset, closed, stalled, could not be opened): retry if allowed.
    Retry(String),
}

impl From<io::Error> for AttemptError {
    fn from(e: io::Error) -> Self {
        AttemptError::Retry(e.to_string())
    }
}

/// Knobs of a transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    pub peer: PeerId,
    pub io_timeout: Duration,
    pub retries: u32,
}

impl Transfer {
    async fn backoff(&self, attempt: u32) {
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
    }
}

/// State of a get across attempts: nothing until the first answer names the length.
struct GetProgress {
    incoming: Option<Incoming>,
}

impl GetProgress {
    fn filled(&self) -> usize {
        self.incoming.as_ref().map_or(0, Incoming::filled)
    }
}

/// Fetches blob `hash` (at most `max_len` bytes), resuming from the bytes already received
/// when a stream breaks. The result is hash-verified; on a mismatch the error is
/// [`NetError::HashMismatch`].
pub(crate) async fn get<O, F, S>(
    t: Transfer,
    hash: Hash32,
    max_len: u64,
    mut open: O,
) -> Result<Vec<u8>, NetError>
where
    O: FnMut() -> F,
    F: Future<Output = Result<S, AttemptError>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut progress = GetProgress { incoming: None };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = match open().await {
            Ok(mut stream) => {
                let r = get_attempt(&t, hash, max_len, &mut stream, &mut progress).await;
                close_quietly(&mut stream, t.io_timeout).await;
                r
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => break,
            Err(AttemptError::Fatal(e)) => return Err(e),
            Err(AttemptError::Retry(reason)) => {
                if attempts > t.retries {
                    return Err(NetError::BlobStream {
                        peer: t.peer,
                        hash,
                        attempts,
                        reason,
                    });
                }
                tracing::debug!(peer = %t.peer, hash = %hex::encode(hash), attempts,
                    received = progress.filled(), %reason, "blob get broke; resuming");
                t.backoff(attempts).await;
            }
        }
    }
    let (bytes, actual) = match progress.incoming {
        Some(incoming) => incoming.finish(),
        // Only reachable with a zero-length blob, whose first attempt always allocates.
        None => Incoming::new(0).finish(),
    };
    if actual != hash {
        return Err(NetError::HashMismatch {
            peer: t.peer,
            expected: hash,
            actual,
        });
    }
    Ok(bytes)
}

/// Send an operation's header and read the server's first `status ‖ value` answer.
async fn open_operation<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    header: &Header,
    limit: Duration,
    what: &'static str,
) -> io::Result<(u8, u64)> {
    timed(limit, what, async {
        s.write_all(&header.encode()).await?;
        s.flush().await
    })
    .await?;
    read_status(s, limit).await
}

async fn get_attempt<S: AsyncRead + AsyncWrite + Unpin>(
    t: &Transfer,
    hash: Hash32,
    max_len: u64,
    s: &mut S,
    p: &mut GetProgress,
) -> Result<(), AttemptError> {
    let peer = t.peer;
    let header = Header {
        op: OP_GET,
        hash,
        offset: p.filled() as u64,
        length: max_len,
    };
    let (status, total) = open_operation(s, &header, t.io_timeout, "sending a get").await?;
    let fatal = |e| Err(AttemptError::Fatal(e));
    match status {
        OK => {}
        NOT_FOUND => return fatal(NetError::BlobNotFound { peer, hash }),
        TOO_LARGE => {
            return fatal(NetError::BlobTooLarge {
                peer,
                hash,
                len: total,
                cap: max_len,
            })
        }
        BAD_REQUEST => {
            return fatal(NetError::Protocol {
                peer,
                reason: format!(
                    "refused a get of {} from offset {} as a bad request",
                    hex::encode(hash),
                    p.filled()
                ),
            })
        }
        other => {
            return fatal(NetError::Protocol {
                peer,
                reason: format!("unknown get status {other}"),
            })
        }
    }
    if total > max_len {
        return fatal(NetError::BlobTooLarge {
            peer,
            hash,
            len: total,
            cap: max_len,
        });
    }
    let incoming = match &mut p.incoming {
        Some(known) if known.len() as u64 != total => {
            return fatal(NetError::Protocol {
                peer,
                reason: format!(
                    "blob {} was {} bytes, now announced as {total}",
                    hex::encode(hash),
                    known.len()
                ),
            })
        }
        Some(known) => known,
        None => {
            let len = usize::try_from(total).map_err(|_| {
                AttemptError::Fatal(NetError::BlobTooLarge {
                    peer,
                    hash,
                    len: total,
                    cap: usize::MAX as u64,
                })
            })?;
            // Cap checked above: this allocation is bounded by the asker's own limit.
            p.incoming.insert(Incoming::new(len))
        }
    };
    incoming.read_from(s, t.io_timeout).await?;
    Ok(())
}

/// Puts `bytes` under `hash` (normally their own sha256), resuming from the offset the
/// receiver names when a stream breaks part-way.
pub(crate) async fn put<O, F, S>(
    t: Transfer,
    hash: Hash32,
    bytes: &[u8],
    mut open: O,
) -> Result<(), NetError>
where
    O: FnMut() -> F,
    F: Future<Output = Result<S, AttemptError>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = match open().await {
            Ok(mut stream) => {
                let r = put_attempt(&t, hash, bytes, &mut stream).await;
                close_quietly(&mut stream, t.io_timeout).await;
                r
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(AttemptError::Fatal(e)) => return Err(e),
            Err(AttemptError::Retry(reason)) => {
                if attempts > t.retries {
                    return Err(NetError::BlobStream {
                        peer: t.peer,
                        hash,
                        attempts,
                        reason,
                    });
                }
                tracing::debug!(peer = %t.peer, hash = %hex::encode(hash), attempts, %reason,
                    "blob put broke; resuming");
                t.backoff(attempts).await;
            }
        }
    }
}

async fn put_attempt<S: AsyncRead + AsyncWrite + Unpin>(
    t: &Transfer,
    hash: Hash32,
    bytes: &[u8],
    s: &mut S,
) -> Result<(), AttemptError> {
    let peer = t.peer;
    let len = bytes.len() as u64;
    let header = Header {
        op: OP_PUT,
        hash,
        offset: 0,
        length: len,
    };
    let (status, value) = open_operation(s, &header, t.io_timeout, "sending a put").await?;
    let fatal = |e| Err(AttemptError::Fatal(e));
    match status {
        OK => {}
        TOO_LARGE => {
            return fatal(NetError::BlobTooLarge {
                peer,
                hash,
                len,
                cap: value,
            })
        }
        REFUSED => {
            return fatal(NetError::BlobRefused {
                peer,
                hash,
                reason: "the receiver's store policy refused it".into(),
            })
        }
        other => {
            return fatal(NetError::Protocol {
                peer,
                reason: format!("unknown put status {other}"),
            })
        }
    }
    if value > len {
        return fatal(NetError::Protocol {
            peer,
            reason: format!("asked to resume a {len}-byte put at offset {value}"),
        });
    }
    // `value <= len`, and `len` is a slice length: the cast cannot truncate.
    write_chunked(s, t.io_timeout, &bytes[value as usize..]).await?;
    let mut status = [0u8; 1];
    timed(
        t.io_timeout,
        "waiting for the put's verdict",
        s.read_exact(&mut status),
    )
    .await?;
    match status[0] {
        OK => Ok(()),
        HASH_MISMATCH => fatal(NetError::HashMismatch {
            peer,
            expected: hash,
            actual: [0; 32],
        }),
        STORE_FAILED => fatal(NetError::BlobRefused {
            peer,
            hash,
            reason: "the receiver's store failed to keep it".into(),
        }),
        other => fatal(NetError::Protocol {
            peer,
            reason: format!("unknown put verdict {other}"),
        }),
    }
}
