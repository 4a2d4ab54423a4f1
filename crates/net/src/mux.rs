//! The yamux stream multiplexer, with the data-frame size libp2p-yamux does not expose.
//!
//! libp2p-yamux 0.48 wraps `yamux::Config` privately and exposes only the stream limit, so its
//! data frames are always yamux's default 16 KiB. yamux's connection task flushes after every
//! frame, so each 16 KiB frame is sealed by noise as its own message, written with its own
//! syscall, and on the other side allocated, decrypted, copied and handed to the reading task
//! with its own wake-up. Measured with `cargo bench -p coalition-net --bench blob`, 256 KiB
//! frames cut the CPU time of a 64 MiB blob transfer over TCP by about 15-20% (put more than
//! get); what remains is mostly the bytes' own cost: ChaCha20-Poly1305 both ways, sha256 and
//! memory copies (docs/PERFORMANCE.md).
//!
//! This module is the same adapter as libp2p-yamux's `Muxer` (yamux's `Connection` behind
//! libp2p's `StreamMuxer`) built from a `yamux::Config` we choose: data frames of up to
//! [`SPLIT_SEND_SIZE`], which noise then cuts into full-size messages. It speaks the same
//! `/yamux/1.0.0`; frame size is a sender's local choice the spec leaves open, so peers running
//! stock libp2p-yamux interoperate.

use std::{
    collections::VecDeque,
    io, iter,
    pin::Pin,
    task::{Context, Poll, Waker},
};

use futures::{future, ready, AsyncRead, AsyncWrite};
use libp2p::core::{
    muxing::{StreamMuxer, StreamMuxerEvent},
    upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo},
};

/// Largest yamux data frame we send: 256 KiB, the whole initial stream window. Control
/// messages wait behind at most one such frame (2 ms at 1 Gbit/s).
pub const SPLIT_SEND_SIZE: usize = 256 * 1024;

/// Inbound streams buffered while the swarm is busy; as libp2p-yamux, yamux's ack backlog.
const MAX_BUFFERED_INBOUND_STREAMS: usize = 256;

/// The multiplexer upgrade: yamux with our frame size.
#[derive(Debug, Clone)]
pub struct YamuxUpgrade(yamux::Config);

impl Default for YamuxUpgrade {
    fn default() -> Self {
        let mut config = yamux::Config::default();
        config.set_split_send_size(SPLIT_SEND_SIZE);
        Self(config)
    }
}

impl UpgradeInfo for YamuxUpgrade {
    type Info = &'static str;
    type InfoIter = iter::Once<Self::Info>;

    fn protocol_info(&self) -> Self::InfoIter {
        iter::once("/yamux/1.0.0")
    }
}

impl<C> InboundConnectionUpgrade<C> for YamuxUpgrade
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = Muxer<C>;
    type Error = io::Error;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, io: C, _: Self::Info) -> Self::Future {
        future::ready(Ok(Muxer::new(yamux::Connection::new(
            io,
            self.0,
            yamux::Mode::Server,
        ))))
    }
}

impl<C> OutboundConnectionUpgrade<C> for YamuxUpgrade
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = Muxer<C>;
    type Error = io::Error;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_outbound(self, io: C, _: Self::Info) -> Self::Future {
        future::ready(Ok(Muxer::new(yamux::Connection::new(
            io,
            self.0,
            yamux::Mode::Client,
        ))))
    }
}

/// A yamux connection as a libp2p `StreamMuxer`.
pub struct Muxer<C> {
    connection: yamux::Connection<C>,
    /// Inbound streams that arrived while the swarm polled for something else.
    inbound: VecDeque<yamux::Stream>,
    inbound_waker: Option<Waker>,
}

impl<C> Muxer<C> {
    fn new(connection: yamux::Connection<C>) -> Self {
        Self {
            connection,
            inbound: VecDeque::new(),
            inbound_waker: None,
        }
    }
}

/// A yamux failure, as the muxer's error type.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct MuxError(#[from] yamux::ConnectionError);

impl From<MuxError> for io::Error {
    fn from(err: MuxError) -> Self {
        match err.0 {
            yamux::ConnectionError::Io(e) => e,
            e => io::Error::other(e),
        }
    }
}

impl<C> Muxer<C>
where
    C: AsyncRead + AsyncWrite + Unpin + 'static,
{
    fn poll_next_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Result<yamux::Stream, MuxError>> {
        match ready!(self.connection.poll_next_inbound(cx)) {
            Some(result) => Poll::Ready(result.map_err(MuxError)),
            None => Poll::Ready(Err(MuxError(yamux::ConnectionError::Closed))),
        }
    }
}

impl<C> StreamMuxer for Muxer<C>
where
    C: AsyncRead + AsyncWrite + Unpin + 'static,
{
    type Substream = yamux::Stream;
    type Error = MuxError;

    fn poll_inbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        if let Some(stream) = self.inbound.pop_front() {
            return Poll::Ready(Ok(stream));
        }
        if let Poll::Ready(result) = self.poll_next_inbound(cx) {
            return Poll::Ready(result);
        }
        self.inbound_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_outbound(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        self.connection.poll_new_outbound(cx).map_err(MuxError)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.connection.poll_close(cx).map_err(MuxError)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        let this = self.get_mut();
        let stream = ready!(this.poll_next_inbound(cx))?;
        if this.inbound.len() >= MAX_BUFFERED_INBOUND_STREAMS {
            tracing::warn!(stream = %stream.id(), "dropping an inbound stream: buffer full");
            drop(stream);
        } else {
            this.inbound.push_back(stream);
            if let Some(waker) = this.inbound_waker.take() {
                waker.wake();
            }
        }
        // Come back at once: driving the connection is what moves every stream's data.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
