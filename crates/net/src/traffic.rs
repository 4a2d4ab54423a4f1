//! Bytes that crossed this node's connections, both directions, every protocol.
//!
//! TCP connections are counted on the socket, under noise and yamux: what the kernel was given
//! to send and what it handed back, so encryption tags, yamux headers, multistream-select,
//! identify and ping are all in the figure (TCP/IP headers are not). QUIC connections are
//! counted on their streams (QUIC's own packet headers and encryption are below the stream
//! API and not counted: a few percent). One [`TrafficMeter`] per node; a trainer's node has
//! one connection, the coordinator's sums every trainer's.

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use futures::{AsyncRead, AsyncWrite};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};

/// Totals since the node started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficCounts {
    /// Bytes this node wrote to its connections.
    pub sent: u64,
    /// Bytes this node read from its connections.
    pub received: u64,
}

impl TrafficCounts {
    /// What was sent and received between `earlier` and `self`.
    pub fn since(&self, earlier: &TrafficCounts) -> TrafficCounts {
        TrafficCounts {
            sent: self.sent.saturating_sub(earlier.sent),
            received: self.received.saturating_sub(earlier.received),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
}

/// A node's byte counters; clones share them.
#[derive(Debug, Clone, Default)]
pub struct TrafficMeter(Arc<Counters>);

impl TrafficMeter {
    /// The totals now.
    pub fn counts(&self) -> TrafficCounts {
        TrafficCounts {
            sent: self.0.sent.load(Ordering::Relaxed),
            received: self.0.received.load(Ordering::Relaxed),
        }
    }

    fn add_sent(&self, n: usize) {
        self.0.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn add_received(&self, n: usize) {
        self.0.received.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// An I/O object whose reads and writes are counted.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    meter: TrafficMeter,
}

impl<S> Counted<S> {
    pub fn new(inner: S, meter: TrafficMeter) -> Self {
        Counted { inner, meter }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            this.meter.add_received(*n);
        }
        polled
    }

    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &polled {
            this.meter.add_received(*n);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            this.meter.add_sent(*n);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &polled {
            this.meter.add_sent(*n);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// A stream multiplexer whose streams are counted (for QUIC, whose bytes never pass through
/// a socket we can wrap).
pub struct CountedMuxer<M> {
    inner: M,
    meter: TrafficMeter,
}

impl<M> CountedMuxer<M> {
    pub fn new(inner: M, meter: TrafficMeter) -> Self {
        CountedMuxer { inner, meter }
    }
}

impl<M> StreamMuxer for CountedMuxer<M>
where
    M: StreamMuxer + Unpin,
    M::Substream: Unpin,
{
    type Substream = Counted<M::Substream>;
    type Error = M::Error;

    fn poll_inbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let meter = self.meter.clone();
        Pin::new(&mut self.inner)
            .poll_inbound(cx)
            .map_ok(|s| Counted::new(s, meter))
    }

    fn poll_outbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let meter = self.meter.clone();
        Pin::new(&mut self.inner)
            .poll_outbound(cx)
            .map_ok(|s| Counted::new(s, meter))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn reads_and_writes_are_counted_and_differences_taken() {
        futures::executor::block_on(async {
            let meter = TrafficMeter::default();
            let before = meter.counts();
            let mut w = Counted::new(futures::io::Cursor::new(Vec::new()), meter.clone());
            w.write_all(&[7; 1000]).await.unwrap();
            let mut r = Counted::new(futures::io::Cursor::new(vec![1u8; 300]), meter.clone());
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).await.unwrap();
            let d = meter.counts().since(&before);
            assert_eq!((d.sent, d.received), (1000, 300));
            assert_eq!(
                TrafficCounts::default().since(&meter.counts()),
                TrafficCounts::default()
            );
        });
    }
}
