//! Two real nodes in one tokio runtime, talking over loopback (TCP, and QUIC where noted).

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use libp2p::{identity::Keypair, multiaddr::Protocol, Multiaddr, PeerId, StreamProtocol};
use tokio::sync::mpsc;

use crate::{
    blob::{self, AttemptError, Transfer},
    blob_hash, start, verify_join, BlobStore, Client, DirBlobStore, Event, MemoryBlobStore,
    NetConfig, NetError, Request, Response, StatusInfo, Wallet, Work, CONTROL_PROTOCOL,
};

const RUN: &str = "test-run";

fn config(listen: &[&str]) -> NetConfig {
    let mut cfg = NetConfig::new(Keypair::generate_ed25519());
    cfg.listen = listen.iter().map(|a| a.parse().unwrap()).collect();
    cfg.request_timeout = Duration::from_secs(10);
    cfg.idle_timeout = Duration::from_secs(60);
    cfg
}

fn work() -> Work {
    Work {
        first_batch: 7,
        round: 3,
        model_hash: [9; 32],
        model_bytes: 1234,
        epoch: 1,
        round_in_epoch: 2,
        slot: 1,
        slots: 4,
        inner_steps: 8,
        batch_size: 16,
        deadline_unix_ms: 1_700_000_000_000,
        broadcast: Some(crate::Broadcast {
            base_hash: [8; 32],
            frame_hash: [7; 32],
            frame_bytes: 4321,
        }),
    }
}

fn status() -> StatusInfo {
    StatusInfo {
        run_id: RUN.into(),
        round: 3,
        trainers: 2,
        model_hash: [9; 32],
        finished: false,
    }
}

/// The test coordinator's answers: one per request kind, covering every response variant.
fn answer(peer: &PeerId, request: Request) -> Response {
    match request {
        Request::Join {
            run_id,
            wallet,
            signature,
            ..
        } => {
            if run_id == RUN && verify_join(&wallet, &run_id, peer, &signature) {
                Response::Joined {
                    trainer: 7,
                    run_id,
                    config_hash: blob_hash(b"cfg"),
                    config_toml: "[run]\n".into(),
                    data_hash: Some(blob_hash(b"data")),
                }
            } else {
                Response::Rejected {
                    reason: "bad join signature".into(),
                }
            }
        }
        Request::GetWork => Response::Work(work()),
        Request::Submit { .. } => Response::Accepted,
        Request::Heartbeat { round: Some(_) } => Response::Ack,
        Request::Heartbeat { round: None } => Response::Wait {
            retry_after_ms: 250,
            reason: "join window".into(),
        },
        Request::Leave => Response::Finished,
        Request::Status => Response::Status(status()),
    }
}

/// A node that answers control requests with [`answer`] and forwards every other event.
struct Server {
    client: Client,
    /// The TCP listen address (the first one if there is no TCP listener).
    tcp: Multiaddr,
    quic: Option<Multiaddr>,
    events: mpsc::UnboundedReceiver<Event>,
}

async fn server(cfg: NetConfig, store: Arc<dyn BlobStore>) -> Server {
    let (client, mut rx) = start(cfg, store).await.unwrap();
    let addrs = client.listen_addrs().await;
    let pick = |proto: &str| {
        addrs
            .iter()
            .find(|a| a.iter().any(|p| p.tag() == proto))
            .cloned()
    };
    let tcp = pick("tcp")
        .or_else(|| addrs.first().cloned())
        .expect("a listen address");
    let quic = pick("quic-v1");
    let (tx, events) = mpsc::unbounded_channel();
    let answering = client.clone();
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                Event::InboundRequest {
                    peer,
                    request,
                    responder,
                } => {
                    let resp = answer(&peer, request);
                    answering.respond(responder, resp).await.unwrap();
                }
                other => {
                    let _ = tx.send(other);
                }
            }
        }
    });
    Server {
        client,
        tcp,
        quic,
        events,
    }
}

async fn trainer() -> Client {
    let (client, rx) = start(config(&[]), Arc::new(MemoryBlobStore::new()))
        .await
        .unwrap();
    drop(rx);
    client
}

/// Waits (at most 10 s) for an event matching `pred`, skipping others.
async fn wait_for(
    events: &mut mpsc::UnboundedReceiver<Event>,
    pred: impl Fn(&Event) -> bool,
) -> Event {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = events.recv().await.expect("event channel open");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("expected event within 10 s")
}

fn mb(n: usize) -> Vec<u8> {
    // Incompressible-ish deterministic bytes.
    let mut x = 0x1234_5678_9abc_def0u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_and_response_round_trips_over_tcp() {
    let mut srv = server(
        config(&["/ip4/127.0.0.1/tcp/0"]),
        Arc::new(MemoryBlobStore::new()),
    )
    .await;
    // Bound addresses: the port is resolved, and the peer id appended.
    assert!(srv.tcp.to_string().contains("/p2p/"), "{}", srv.tcp);
    assert!(
        srv.tcp
            .iter()
            .any(|p| matches!(p, Protocol::Tcp(port) if port != 0)),
        "{}",
        srv.tcp
    );
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    assert_eq!(peer, srv.client.peer_id());
    let connected = wait_for(&mut srv.events, |e| {
        matches!(e, Event::PeerConnected { .. })
    })
    .await;
    assert!(matches!(connected, Event::PeerConnected { peer } if peer == t.peer_id()));
    // Dialling again while connected answers at once.
    assert_eq!(t.dial(srv.tcp.clone()).await.unwrap(), peer);

    let wallet = Wallet::generate();
    let join = Request::Join {
        run_id: RUN.into(),
        wallet: wallet.pubkey(),
        signature: wallet.sign_join(RUN, &t.peer_id()).to_vec(),
        client_version: "0.1.0".into(),
        device: "cpu".into(),
    };
    let joined = t.request(peer, join).await.unwrap();
    assert_eq!(
        joined,
        Response::Joined {
            trainer: 7,
            run_id: RUN.into(),
            config_hash: blob_hash(b"cfg"),
            config_toml: "[run]\n".into(),
            data_hash: Some(blob_hash(b"data")),
        }
    );
    let cases = [
        (Request::GetWork, Response::Work(work())),
        (
            Request::Submit {
                round: 3,
                update_hash: [1; 32],
                bytes: 10,
                tokens: 4096,
                steps: 8,
                train_loss: 2.5,
            },
            Response::Accepted,
        ),
        (Request::Heartbeat { round: Some(3) }, Response::Ack),
        (
            Request::Heartbeat { round: None },
            Response::Wait {
                retry_after_ms: 250,
                reason: "join window".into(),
            },
        ),
        (Request::Status, Response::Status(status())),
        (Request::Leave, Response::Finished),
    ];
    for (req, want) in cases {
        assert_eq!(t.request(peer, req.clone()).await.unwrap(), want, "{req:?}");
    }

    t.shutdown().await;
    wait_for(&mut srv.events, |e| {
        matches!(e, Event::PeerDisconnected { .. })
    })
    .await;
    assert!(matches!(
        t.request(peer, Request::Status).await,
        Err(NetError::Shutdown)
    ));
    assert!(t.is_shut_down());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_signature_must_match_wallet_run_and_peer() {
    let srv = server(
        config(&["/ip4/127.0.0.1/tcp/0"]),
        Arc::new(MemoryBlobStore::new()),
    )
    .await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let wallet = Wallet::generate();
    let join = |signature: Vec<u8>, run: &str| Request::Join {
        run_id: run.into(),
        wallet: wallet.pubkey(),
        signature,
        client_version: "0.1.0".into(),
        device: "cpu".into(),
    };
    let good = wallet.sign_join(RUN, &t.peer_id()).to_vec();
    assert!(matches!(
        t.request(peer, join(good.clone(), RUN)).await.unwrap(),
        Response::Joined { trainer: 7, .. }
    ));
    // Signed for another peer id: a replay by a different libp2p identity.
    let other_peer = wallet.sign_join(RUN, &PeerId::random()).to_vec();
    // Signed by another wallet.
    let other_wallet = Wallet::generate().sign_join(RUN, &t.peer_id()).to_vec();
    let mut flipped = good.clone();
    flipped[0] ^= 0x80;
    for bad in [
        other_peer,
        other_wallet,
        flipped,
        vec![],
        good[..32].to_vec(),
    ] {
        assert!(matches!(
            t.request(peer, join(bad, RUN)).await.unwrap(),
            Response::Rejected { .. }
        ));
    }
    // Signed for this run but presented for another.
    assert!(matches!(
        t.request(peer, join(good, "other-run")).await.unwrap(),
        Response::Rejected { .. }
    ));
}

async fn blob_round_trip(srv: &mut Server, t: &Client, peer: PeerId, transport: &str) {
    let bytes = mb(20 << 20);
    let want = blob_hash(&bytes);
    let (t_before, srv_before) = (t.traffic().counts(), srv.client.traffic().counts());
    let t0 = Instant::now();
    let hash = t.put_blob(peer, bytes.clone()).await.unwrap();
    let put_s = t0.elapsed().as_secs_f64();
    assert_eq!(hash, want);
    match wait_for(&mut srv.events, |e| matches!(e, Event::BlobStored { .. })).await {
        Event::BlobStored {
            peer: from,
            hash: h,
            len,
        } => {
            assert_eq!((from, h, len), (t.peer_id(), want, bytes.len() as u64));
        }
        _ => unreachable!(),
    }
    let t0 = Instant::now();
    let back = t.get_blob(peer, hash, u64::MAX).await.unwrap();
    let get_s = t0.elapsed().as_secs_f64();
    assert!(back == bytes);
    traffic_was_counted(
        srv,
        t,
        (t_before, srv_before),
        bytes.len() as u64,
        transport,
    );
    let mbs = |s: f64| bytes.len() as f64 / 1e6 / s;
    println!(
        "blob 20 MB over {transport} (debug build): put {:.0} MB/s, get {:.0} MB/s",
        mbs(put_s),
        mbs(get_s)
    );
}

/// A 20 MB put then get: each side counted the blob once each way, plus overhead (noise tags,
/// yamux headers, the blob protocol's framing) of well under 1%, and what one side sent the
/// other received.
fn traffic_was_counted(
    srv: &Server,
    t: &Client,
    before: (crate::TrafficCounts, crate::TrafficCounts),
    n: u64,
    transport: &str,
) {
    let t_d = t.traffic().counts().since(&before.0);
    let s_d = srv.client.traffic().counts().since(&before.1);
    for (what, got) in [
        ("trainer sent", t_d.sent),
        ("trainer received", t_d.received),
        ("server sent", s_d.sent),
        ("server received", s_d.received),
    ] {
        assert!(
            got >= n && got < n + n / 100,
            "{transport}: {what} {got} bytes for a {n}-byte blob each way"
        );
    }
    let gap = |a: u64, b: u64| a.abs_diff(b) as f64 / n as f64;
    assert!(
        gap(t_d.sent, s_d.received) < 1e-3,
        "{transport}: {t_d:?} vs {s_d:?}"
    );
    assert!(
        gap(s_d.sent, t_d.received) < 1e-3,
        "{transport}: {t_d:?} vs {s_d:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_20mb_put_and_get_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DirBlobStore::new(dir.path()).unwrap());
    let mut srv = server(config(&["/ip4/127.0.0.1/tcp/0"]), store.clone()).await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    blob_round_trip(&mut srv, &t, peer, "tcp").await;
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "one blob file, no temporaries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_and_blob_over_quic() {
    let mut srv = server(
        config(&["/ip4/127.0.0.1/udp/0/quic-v1"]),
        Arc::new(MemoryBlobStore::new()),
    )
    .await;
    // With only a QUIC listener, `tcp` is absent: use the QUIC address.
    let addr = srv.quic.clone().expect("a quic listen address");
    let t = trainer().await;
    let peer = t.dial(addr).await.unwrap();
    assert_eq!(
        t.request(peer, Request::GetWork).await.unwrap(),
        Response::Work(work())
    );
    blob_round_trip(&mut srv, &t, peer, "quic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_blob_is_a_clean_error_and_get_cap_applies() {
    let store = MemoryBlobStore::new();
    let held = store.insert(mb(100_000));
    let mut srv = server(config(&["/ip4/127.0.0.1/tcp/0"]), Arc::new(store)).await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let missing = blob_hash(b"nobody has this");
    match t.get_blob(peer, missing, u64::MAX).await {
        Err(NetError::BlobNotFound { peer: p, hash }) => assert_eq!((p, hash), (peer, missing)),
        other => panic!("expected BlobNotFound, got {other:?}"),
    }
    match t.get_blob(peer, held, 1000).await {
        Err(NetError::BlobTooLarge { len, cap, .. }) => assert_eq!((len, cap), (100_000, 1000)),
        other => panic!("expected BlobTooLarge, got {other:?}"),
    }
    // Neither is a violation: the connection is still up and usable.
    assert_eq!(
        t.get_blob(peer, held, 100_000).await.unwrap().len(),
        100_000
    );
    assert_eq!(
        t.request(peer, Request::Status).await.unwrap(),
        Response::Status(status())
    );
    while let Ok(e) = srv.events.try_recv() {
        assert!(!matches!(e, Event::PeerDropped { .. }), "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_above_cap_is_refused_before_it_is_read() {
    let mut cfg = config(&["/ip4/127.0.0.1/tcp/0"]);
    cfg.max_blob_bytes = 1 << 20;
    let store = MemoryBlobStore::new();
    let mut srv = server(cfg, Arc::new(store.clone())).await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let bytes = mb((1 << 20) + 1);
    let hash = blob_hash(&bytes);
    match t.put_blob(peer, bytes).await {
        Err(NetError::BlobTooLarge { len, cap, .. }) => {
            assert_eq!((len, cap), ((1 << 20) + 1, 1 << 20))
        }
        other => panic!("expected BlobTooLarge, got {other:?}"),
    }
    match wait_for(&mut srv.events, |e| matches!(e, Event::PeerDropped { .. })).await {
        Event::PeerDropped { peer: p, reason } => {
            assert_eq!(p, t.peer_id());
            assert!(reason.contains("oversized blob put"), "{reason}");
        }
        _ => unreachable!(),
    }
    assert!(!store.contains(&hash));
    // At exactly the cap it goes through (after reconnecting).
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    t.put_blob(peer, mb(1 << 20)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_hash_put_is_refused_and_the_peer_dropped() {
    let store = MemoryBlobStore::new();
    let mut srv = server(config(&["/ip4/127.0.0.1/tcp/0"]), Arc::new(store.clone())).await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let bytes = mb(300_000);
    let claimed = blob_hash(b"something else");
    match t.put_blob_as(peer, claimed, &bytes).await {
        Err(NetError::HashMismatch { expected, .. }) => assert_eq!(expected, claimed),
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    match wait_for(&mut srv.events, |e| matches!(e, Event::PeerDropped { .. })).await {
        Event::PeerDropped { peer: p, reason } => {
            assert_eq!(p, t.peer_id());
            assert!(reason.contains("wrong-hash"), "{reason}");
            assert!(reason.contains(&hex::encode(claimed)), "{reason}");
        }
        _ => unreachable!(),
    }
    wait_for(&mut srv.events, |e| {
        matches!(e, Event::PeerDisconnected { .. })
    })
    .await;
    assert!(!store.contains(&claimed));
    assert!(store.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_control_request_drops_the_peer() {
    let mut cfg = config(&["/ip4/127.0.0.1/tcp/0"]);
    cfg.max_message_bytes = 1024;
    let mut srv = server(cfg, Arc::new(MemoryBlobStore::new())).await;
    // The sender's own cap is larger, so the request leaves it.
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let big = Request::Join {
        run_id: "x".repeat(4096),
        wallet: [0; 32],
        signature: vec![0; 64],
        client_version: String::new(),
        device: String::new(),
    };
    assert!(t.request(peer, big).await.is_err());
    match wait_for(&mut srv.events, |e| matches!(e, Event::PeerDropped { .. })).await {
        Event::PeerDropped { peer: p, reason } => {
            assert_eq!(p, t.peer_id());
            assert!(reason.contains("oversized control request"), "{reason}");
        }
        _ => unreachable!(),
    }
    wait_for(&mut srv.events, |e| {
        matches!(e, Event::PeerDisconnected { .. })
    })
    .await;
    // The server is fine: a well-behaved request after reconnecting is answered.
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    assert_eq!(
        t.request(peer, Request::GetWork).await.unwrap(),
        Response::Work(work())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_request_over_own_cap_fails_locally() {
    let srv = server(
        config(&["/ip4/127.0.0.1/tcp/0"]),
        Arc::new(MemoryBlobStore::new()),
    )
    .await;
    let mut cfg = config(&[]);
    cfg.max_message_bytes = 512;
    let (t, _rx) = start(cfg, Arc::new(MemoryBlobStore::new())).await.unwrap();
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let big = Request::Join {
        run_id: "x".repeat(1000),
        wallet: [0; 32],
        signature: vec![],
        client_version: String::new(),
        device: String::new(),
    };
    let e = t.request(peer, big).await.unwrap_err().to_string();
    assert!(e.contains("exceeds the 512-byte cap"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_control_bytes_drop_the_peer() {
    let mut srv = server(
        config(&["/ip4/127.0.0.1/tcp/0"]),
        Arc::new(MemoryBlobStore::new()),
    )
    .await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    // Speak the control protocol with garbage instead of CBOR.
    let mut control = t.control.clone();
    let mut stream = control
        .open_stream(peer, StreamProtocol::new(CONTROL_PROTOCOL))
        .await
        .unwrap();
    stream.write_all(&[0xff; 100]).await.unwrap();
    stream.close().await.unwrap();
    match wait_for(&mut srv.events, |e| matches!(e, Event::PeerDropped { .. })).await {
        Event::PeerDropped { peer: p, reason } => {
            assert_eq!(p, t.peer_id());
            assert!(reason.contains("malformed control request"), "{reason}");
        }
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_blob_op_drops_the_peer() {
    let mut srv = server(
        config(&["/ip4/127.0.0.1/tcp/0"]),
        Arc::new(MemoryBlobStore::new()),
    )
    .await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let mut control = t.control.clone();
    let mut stream = control.open_stream(peer, blob::protocol()).await.unwrap();
    let mut header = [0u8; blob::HEADER_LEN];
    header[0] = 9;
    stream.write_all(&header).await.unwrap();
    stream.flush().await.unwrap();
    match wait_for(&mut srv.events, |e| matches!(e, Event::PeerDropped { .. })).await {
        Event::PeerDropped { reason, .. } => assert!(reason.contains("unknown op 9"), "{reason}"),
        _ => unreachable!(),
    }
}

/// A stream that fails after a budget of bytes read or written, counting what passed.
struct Faulty {
    inner: libp2p::Stream,
    read_budget: Option<usize>,
    write_budget: Option<usize>,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

fn spent(budget: &mut Option<usize>, want: usize) -> io::Result<usize> {
    match budget {
        Some(0) => Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "injected fault",
        )),
        Some(left) => Ok(want.min(*left)),
        None => Ok(want),
    }
}

impl AsyncRead for Faulty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = match spent(&mut this.read_budget, buf.len()) {
            Ok(n) => n,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let r = Pin::new(&mut this.inner).poll_read(cx, &mut buf[..n]);
        if let Poll::Ready(Ok(got)) = &r {
            this.read.fetch_add(*got, Ordering::Relaxed);
            if let Some(left) = &mut this.read_budget {
                *left -= got;
            }
        }
        r
    }
}

impl AsyncWrite for Faulty {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = match spent(&mut this.write_budget, buf.len()) {
            Ok(n) => n,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let r = Pin::new(&mut this.inner).poll_write(cx, &buf[..n]);
        if let Poll::Ready(Ok(put)) = &r {
            this.written.fetch_add(*put, Ordering::Relaxed);
            if let Some(left) = &mut this.write_budget {
                *left -= put;
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// Opens blob streams whose first one fails after `budget` bytes (read or written).
fn faulty_opener(
    client: &Client,
    peer: PeerId,
    fail_reads: bool,
    budget: usize,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
) -> impl FnMut() -> Pin<Box<dyn std::future::Future<Output = Result<Faulty, AttemptError>> + Send>>
{
    let control = client.control.clone();
    let attempts = Arc::new(AtomicUsize::new(0));
    move || {
        let mut control = control.clone();
        let first = attempts.fetch_add(1, Ordering::Relaxed) == 0;
        let (read, written) = (read.clone(), written.clone());
        Box::pin(async move {
            if !first {
                // Let the server see the first stream end before the retry arrives, so the
                // assertions below do not depend on scheduling (the client's own back-off
                // is 200 ms).
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let inner = control
                .open_stream(peer, blob::protocol())
                .await
                .map_err(|e| AttemptError::Retry(e.to_string()))?;
            let budget = first.then_some(budget);
            Ok(Faulty {
                inner,
                read_budget: if fail_reads { budget } else { None },
                write_budget: if fail_reads { None } else { budget },
                read,
                written,
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_get_resumes_from_the_received_offset() {
    let store = MemoryBlobStore::new();
    let bytes = mb(4 << 20);
    let hash = store.insert(bytes.clone());
    let srv = server(config(&["/ip4/127.0.0.1/tcp/0"]), Arc::new(store)).await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let (read, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let transfer = Transfer {
        peer,
        io_timeout: Duration::from_secs(10),
        retries: 3,
    };
    let half = 2 << 20;
    let open = faulty_opener(&t, peer, true, half, read.clone(), written);
    let back = blob::get(transfer, hash, u64::MAX, open).await.unwrap();
    assert!(back == bytes);
    // Two status headers, and every blob byte once: nothing was fetched twice.
    assert_eq!(read.load(Ordering::Relaxed), bytes.len() + 2 * 9);

    // With no retries allowed, the same fault is a stream error naming the attempts.
    let (read, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let open = faulty_opener(&t, peer, true, half, read, written);
    let once = Transfer {
        retries: 0,
        ..transfer
    };
    match blob::get(once, hash, u64::MAX, open).await {
        Err(NetError::BlobStream { attempts: 1, .. }) => {}
        other => panic!("expected BlobStream, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_put_resumes_from_the_receivers_offset() {
    let store = MemoryBlobStore::new();
    let mut srv = server(config(&["/ip4/127.0.0.1/tcp/0"]), Arc::new(store.clone())).await;
    let t = trainer().await;
    let peer = t.dial(srv.tcp.clone()).await.unwrap();
    let bytes = mb(4 << 20);
    let hash = blob_hash(&bytes);
    let (read, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let transfer = Transfer {
        peer,
        io_timeout: Duration::from_secs(10),
        retries: 3,
    };
    // The first stream dies after the header and half the blob.
    let budget = blob::HEADER_LEN + (2 << 20);
    let open = faulty_opener(&t, peer, false, budget, read, written.clone());
    blob::put(transfer, hash, &bytes, open).await.unwrap();
    wait_for(&mut srv.events, |e| matches!(e, Event::BlobStored { .. })).await;
    assert_eq!(store.get(&hash).unwrap(), bytes);
    let sent = written.load(Ordering::Relaxed);
    assert!(
        sent < bytes.len() + bytes.len() / 4,
        "the second stream resumed: {sent} bytes sent for a {}-byte blob",
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_failures_name_the_address() {
    let t = trainer().await;
    let addr: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
    match t.dial(addr.clone()).await {
        Err(NetError::Dial { addr: a, .. }) => assert_eq!(a, addr),
        other => panic!("expected Dial error, got {other:?}"),
    }
    // A wrong /p2p/ suffix is refused too.
    let srv = server(
        config(&["/ip4/127.0.0.1/tcp/0"]),
        Arc::new(MemoryBlobStore::new()),
    )
    .await;
    let mut wrong = srv.tcp.clone();
    wrong.pop();
    wrong.push(Protocol::P2p(PeerId::random()));
    assert!(matches!(t.dial(wrong).await, Err(NetError::Dial { .. })));
    // A request to a peer we have no connection or address for fails cleanly.
    let e = t
        .request(PeerId::random(), Request::Status)
        .await
        .unwrap_err();
    assert!(matches!(e, NetError::Request { .. }), "{e}");
}
