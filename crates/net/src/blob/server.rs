//! The serving side of the blob protocol: one task per inbound stream, fed by libp2p-stream's
//! `IncomingStreams`.

use std::{
    collections::HashMap,
    io,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, StreamExt};
use libp2p::PeerId;
use tokio::sync::{mpsc, Semaphore};

use super::{
    close_quietly, timed, write_chunked, write_status, write_status_byte, Header, Incoming,
    BAD_REQUEST, HASH_MISMATCH, HEADER_LEN, MAX_CONCURRENT_STREAMS, NOT_FOUND, OK, OP_GET, OP_PUT,
    PARTIAL_TTL, REFUSED, STORE_FAILED, TOO_LARGE,
};
use crate::{event_loop::Internal, BlobStore, Event, Hash32};

/// The prefix of a put that broke part-way.
struct Partial {
    hash: Hash32,
    incoming: Incoming,
    at: Instant,
}

/// What the blob server needs.
pub(crate) struct Server {
    pub store: Arc<dyn BlobStore>,
    pub max_blob_bytes: u64,
    pub io_timeout: Duration,
    /// To the event loop: drop a peer, emit an event.
    pub internal: mpsc::Sender<Internal>,
    partials: Mutex<HashMap<PeerId, Partial>>,
}

impl Server {
    pub(crate) fn new(
        store: Arc<dyn BlobStore>,
        max_blob_bytes: u64,
        io_timeout: Duration,
        internal: mpsc::Sender<Internal>,
    ) -> Self {
        Self {
            store,
            max_blob_bytes,
            io_timeout,
            internal,
            partials: Mutex::new(HashMap::new()),
        }
    }

    /// Serves streams from `incoming` until it ends or the event loop stops.
    pub(crate) async fn run(self: Arc<Self>, mut incoming: libp2p_stream::IncomingStreams) {
        let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_STREAMS));
        loop {
            let next = tokio::select! {
                next = incoming.next() => next,
                () = self.internal.closed() => None,
            };
            let Some((peer, stream)) = next else { break };
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let server = self.clone();
            tokio::spawn(async move {
                server.serve(peer, stream).await;
                drop(permit);
            });
        }
        tracing::debug!("blob server stopped");
    }

    async fn drop_peer(&self, peer: PeerId, reason: String) {
        let _ = self
            .internal
            .send(Internal::DropPeer { peer, reason })
            .await;
    }

    fn take_partial(&self, peer: &PeerId) -> Option<Partial> {
        let mut map = self.partials.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, p| p.at.elapsed() < PARTIAL_TTL);
        map.remove(peer)
    }

    fn keep_partial(&self, peer: PeerId, partial: Partial) {
        let mut map = self.partials.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(peer, partial);
    }

    /// Serves one stream (any stream implementing the futures I/O traits).
    pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, peer: PeerId, mut s: S) {
        let limit = self.io_timeout;
        let mut raw = [0u8; HEADER_LEN];
        if let Err(e) = timed(limit, "waiting for a blob header", s.read_exact(&mut raw)).await {
            tracing::debug!(%peer, error = %e, "blob stream ended before its header");
            return;
        }
        let header = Header::decode(&raw);
        let result = match header.op {
            OP_GET => self.serve_get(peer, &mut s, header).await,
            OP_PUT => self.serve_put(peer, &mut s, header).await,
            op => {
                self.drop_peer(peer, format!("blob stream with unknown op {op}"))
                    .await;
                return;
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, hash = %hex::encode(header.hash), error = %e, "blob stream failed");
        }
        close_quietly(&mut s, limit).await;
    }

    async fn serve_get<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        peer: PeerId,
        s: &mut S,
        h: Header,
    ) -> io::Result<()> {
        let limit = self.io_timeout;
        let store = self.store.clone();
        let hash = h.hash;
        let blob = tokio::task::spawn_blocking(move || store.get_shared(&hash))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let Some(blob) = blob else {
            tracing::debug!(%peer, hash = %hex::encode(hash), "blob get: not found");
            return write_status(s, limit, NOT_FOUND, 0).await;
        };
        let total = blob.len() as u64;
        if total > h.length {
            return write_status(s, limit, TOO_LARGE, total).await;
        }
        if h.offset > total {
            return write_status(s, limit, BAD_REQUEST, total).await;
        }
        write_status(s, limit, OK, total).await?;
        // `offset <= total`, a slice length: the cast cannot truncate.
        write_chunked(s, limit, &blob[h.offset as usize..]).await?;
        tracing::debug!(%peer, hash = %hex::encode(hash), total, from = h.offset, "blob served");
        Ok(())
    }

    async fn serve_put<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        peer: PeerId,
        s: &mut S,
        h: Header,
    ) -> io::Result<()> {
        let limit = self.io_timeout;
        let hash = h.hash;
        let total = h.length;
        if total > self.max_blob_bytes {
            write_status(s, limit, TOO_LARGE, self.max_blob_bytes).await?;
            close_quietly(s, limit).await;
            self.drop_peer(
                peer,
                format!(
                    "oversized blob put: {} announced as {total} bytes, above the cap of {}",
                    hex::encode(hash),
                    self.max_blob_bytes
                ),
            )
            .await;
            return Ok(());
        }
        let Ok(len) = usize::try_from(total) else {
            return write_status(s, limit, TOO_LARGE, usize::MAX as u64).await;
        };
        let store = self.store.clone();
        let accepted = tokio::task::spawn_blocking(move || store.accept(&peer, &hash, total))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        if !accepted {
            tracing::info!(%peer, hash = %hex::encode(hash), total, "blob put refused by the store's policy");
            return write_status(s, limit, REFUSED, 0).await;
        }
        let mut partial = match self.take_partial(&peer) {
            Some(p) if p.hash == hash && p.incoming.len() == len => p,
            _ => Partial {
                hash,
                // Cap checked above, before any byte is read.
                incoming: Incoming::new(len),
                at: Instant::now(),
            },
        };
        write_status(s, limit, OK, partial.incoming.filled() as u64).await?;
        if let Err(e) = partial.incoming.read_from(s, limit).await {
            if partial.incoming.filled() > 0 {
                partial.at = Instant::now();
                self.keep_partial(peer, partial);
            }
            return Err(e);
        }
        let (bytes, actual) = partial.incoming.finish();
        if actual != hash {
            write_status_byte(s, limit, HASH_MISMATCH).await?;
            close_quietly(s, limit).await;
            self.drop_peer(
                peer,
                format!(
                    "wrong-hash blob put: announced {}, bytes hash to {}",
                    hex::encode(hash),
                    hex::encode(actual)
                ),
            )
            .await;
            return Ok(());
        }
        let store = self.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.put(&peer, &hash, bytes))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match stored {
            Ok(()) => {
                write_status_byte(s, limit, OK).await?;
                tracing::debug!(%peer, hash = %hex::encode(hash), total, "blob stored");
                let _ = self
                    .internal
                    .send(Internal::Emit(Event::BlobStored {
                        peer,
                        hash,
                        len: total,
                    }))
                    .await;
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(%peer, hash = %hex::encode(hash), %reason, "blob store failed");
                write_status_byte(s, limit, STORE_FAILED).await
            }
        }
    }
}
