//! The control protocol's codec: CBOR from `libp2p::request_response::cbor`, behind a strict
//! size cap and with errors that tell a peer's fault from ours.
//!
//! libp2p's request-response behaviour only logs (at debug level) an inbound message that
//! fails to decode, and libp2p's CBOR codec truncates an oversized message at its cap and then
//! reports an opaque end-of-input error. So this codec reads at most `cap + 1` bytes itself and
//! never fails on what the peer sent: an oversized, malformed or truncated message decodes to
//! [`Wire::Violation`] with the reason, which reaches the event loop as an ordinary message
//! from that peer, and the event loop drops the peer. Our own oversized outbound messages fail
//! locally before a byte is sent.

use std::io;

use futures::{io::Cursor, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{
    request_response::{cbor, Codec},
    StreamProtocol,
};

use crate::{Request, Response};

/// A control message as read from a peer: the message, or why it was not one.
#[derive(Debug)]
pub(crate) enum Wire<T> {
    /// A well-formed message within the cap.
    Msg(T),
    /// The peer broke the protocol (the reason names how); never written by us.
    Violation(String),
}

/// CBOR control messages capped at `cap` bytes each way.
#[derive(Clone)]
pub(crate) struct ControlCodec {
    cbor: cbor::codec::Codec<Request, Response>,
    cap: u64,
}

/// Either the bytes of a message within the cap, or the violation it is.
enum Capped {
    Bytes(Vec<u8>),
    Oversized(String),
}

impl ControlCodec {
    /// A codec whose requests and responses may each be at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        let cap = cap as u64;
        Self {
            cbor: cbor::codec::Codec::default()
                .set_request_size_maximum(cap)
                .set_response_size_maximum(cap),
            cap,
        }
    }

    /// Reads the whole message (the sender closes its side after it), refusing more than `cap`.
    async fn read_capped<T>(&self, io: &mut T, what: &str) -> io::Result<Capped>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut buf = Vec::new();
        io.take(self.cap + 1).read_to_end(&mut buf).await?;
        if buf.len() as u64 > self.cap {
            return Ok(Capped::Oversized(format!(
                "oversized control {what}: more than the {}-byte cap",
                self.cap
            )));
        }
        Ok(Capped::Bytes(buf))
    }

    /// Checks an encoded outbound message against the cap, then writes it.
    async fn write_capped<T>(&self, io: &mut T, bytes: Vec<u8>, what: &str) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        if bytes.len() as u64 > self.cap {
            return Err(io::Error::other(format!(
                "control {what} of {} bytes exceeds the {}-byte cap",
                bytes.len(),
                self.cap
            )));
        }
        io.write_all(&bytes).await
    }
}

fn unwritable<T>(what: &str) -> io::Result<T> {
    Err(io::Error::other(format!(
        "a {what} violation is never sent"
    )))
}

impl Codec for ControlCodec {
    type Protocol = StreamProtocol;
    type Request = Wire<Request>;
    type Response = Wire<Response>;

    async fn read_request<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Wire<Request>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = match self.read_capped(io, "request").await? {
            Capped::Bytes(b) => b,
            Capped::Oversized(reason) => return Ok(Wire::Violation(reason)),
        };
        let len = bytes.len();
        Ok(
            match self
                .cbor
                .read_request(protocol, &mut Cursor::new(bytes))
                .await
            {
                Ok(req) => Wire::Msg(req),
                Err(e) => Wire::Violation(format!("malformed control request ({len} bytes): {e}")),
            },
        )
    }

    async fn read_response<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Wire<Response>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = match self.read_capped(io, "response").await? {
            Capped::Bytes(b) => b,
            Capped::Oversized(reason) => return Ok(Wire::Violation(reason)),
        };
        let len = bytes.len();
        Ok(
            match self
                .cbor
                .read_response(protocol, &mut Cursor::new(bytes))
                .await
            {
                Ok(resp) => Wire::Msg(resp),
                Err(e) => Wire::Violation(format!("malformed control response ({len} bytes): {e}")),
            },
        )
    }

    async fn write_request<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        req: Wire<Request>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let Wire::Msg(req) = req else {
            return unwritable("request");
        };
        let mut encoded = Cursor::new(Vec::new());
        self.cbor.write_request(protocol, &mut encoded, req).await?;
        self.write_capped(io, encoded.into_inner(), "request").await
    }

    async fn write_response<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        resp: Wire<Response>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let Wire::Msg(resp) = resp else {
            return unwritable("response");
        };
        let mut encoded = Cursor::new(Vec::new());
        self.cbor
            .write_response(protocol, &mut encoded, resp)
            .await?;
        self.write_capped(io, encoded.into_inner(), "response")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CONTROL_PROTOCOL;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    fn violation<T: std::fmt::Debug>(w: Wire<T>) -> String {
        match w {
            Wire::Violation(reason) => reason,
            Wire::Msg(m) => panic!("expected a violation, got {m:?}"),
        }
    }

    #[test]
    fn round_trip_and_caps() {
        let p = StreamProtocol::new(CONTROL_PROTOCOL);
        let mut codec = ControlCodec::new(256);
        let req = Request::Heartbeat { round: Some(7) };
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_request(&p, &mut wire, Wire::Msg(req.clone()))).unwrap();
        let bytes = wire.into_inner();
        match block_on(codec.read_request(&p, &mut Cursor::new(bytes))).unwrap() {
            Wire::Msg(back) => assert_eq!(back, req),
            Wire::Violation(v) => panic!("{v}"),
        }

        // Our own oversized request fails locally.
        let big = Request::Join {
            run_id: "x".repeat(300),
            wallet: [0; 32],
            signature: vec![],
            client_version: String::new(),
            device: String::new(),
        };
        let e = block_on(codec.write_request(&p, &mut Cursor::new(Vec::new()), Wire::Msg(big)))
            .unwrap_err();
        assert!(e.to_string().contains("exceeds the 256-byte cap"), "{e}");

        // An oversized, malformed or empty inbound message is the peer's violation.
        let r = block_on(codec.read_request(&p, &mut Cursor::new(vec![0u8; 257]))).unwrap();
        assert!(violation(r).contains("oversized control request"));
        let r = block_on(codec.read_request(&p, &mut Cursor::new(vec![0xff; 10]))).unwrap();
        assert!(violation(r).contains("malformed control request"));
        let r = block_on(codec.read_response(&p, &mut Cursor::new(vec![]))).unwrap();
        assert!(violation(r).contains("malformed control response"));
    }
}
