//! Blob throughput on loopback, printed as one JSON line per figure.
//!
//! `cargo bench -p coalition-net --bench blob`. Two nodes in one process (a tokio runtime with
//! two worker threads), a 64 MiB blob of pseudo-random bytes, put and then got over
//! `/coalition/blob/1` on TCP (noise + yamux) and on QUIC; against a raw tokio TCP copy of the
//! same bytes on loopback (256 KiB writes, read into a preallocated buffer, no encryption, no
//! hashing), measured in the same run: each run copies raw, then puts and gets on each
//! transport, and `vs_raw_tcp` is the median over runs of each run's own ratio. Blob figures
//! are end to end: they include sha256 on both sides (a put's sender names the blob before
//! sending; receivers hash as bytes arrive and verify at the end) and the in-memory store's
//! copies. Each figure also gives the process's CPU time (user + system, all threads, from
//! `getrusage`) per byte moved, and raw TCP's CPU time over it: the work a transfer costs, which
//! load from other processes disturbs far less than wall time. For scale, `sha256` and
//! `chacha20poly1305_seal` / `_open` (ring's, on one thread, in noise-sized messages: what
//! libp2p-noise does to every byte) are printed first, and `floor` adds them to raw TCP's CPU
//! per byte: the least CPU a noise-encrypted, hash-verified transfer can cost. MB/s is 10^6
//! bytes per second; every figure is the median of `RUNS` runs.
//!
//! Printed figures only; nothing is asserted.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use coalition_net::{blob_hash, start, Keypair, MemoryBlobStore, Multiaddr, NetConfig, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LEN: usize = 64 << 20;
const RUNS: usize = 5;
const CHUNK: usize = 256 << 10;
/// Tokio worker threads: both nodes and the raw copy share them.
const WORKERS: usize = 2;
/// Plaintext bytes per noise message as libp2p-noise sends them (65535 − 1024).
const NOISE_MSG: usize = 64_511;

fn bytes(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds (user + system, all threads) this process has used so far.
fn cpu_secs() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Wall and CPU seconds of one operation.
#[derive(Clone, Copy)]
struct Cost {
    wall: f64,
    cpu: f64,
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Cost) {
    let (c0, t0) = (cpu_secs(), Instant::now());
    let out = f.await;
    let wall = t0.elapsed().as_secs_f64();
    (
        out,
        Cost {
            wall,
            cpu: cpu_secs() - c0,
        },
    )
}

fn mbs(secs: f64) -> f64 {
    LEN as f64 / 1e6 / secs
}

/// One figure from per-run costs: median MB/s and CPU ns per byte, and the medians over runs
/// of this run's figure against the same run's raw TCP copy (wall: MB/s ratio; CPU: raw TCP's
/// CPU time over this one's).
fn line(transport: &str, op: &str, runs: &[(Cost, Cost)]) {
    let ns_per_byte = |c: Cost| c.cpu * 1e9 / LEN as f64;
    let speed = median(runs.iter().map(|(c, _)| mbs(c.wall)).collect());
    let cpu = median(runs.iter().map(|(c, _)| ns_per_byte(*c)).collect());
    let wall_ratio = median(runs.iter().map(|(c, raw)| raw.wall / c.wall).collect());
    let cpu_ratio = median(runs.iter().map(|(c, raw)| raw.cpu / c.cpu).collect());
    println!(
        "{{\"bench\":\"blob\",\"transport\":\"{transport}\",\"op\":\"{op}\",\"bytes\":{LEN},\"runs\":{RUNS},\"worker_threads\":{WORKERS},\"mb_per_s\":{speed:.1},\"cpu_ns_per_byte\":{cpu:.3},\"vs_raw_tcp\":{wall_ratio:.3},\"cpu_vs_raw_tcp\":{cpu_ratio:.3}}}"
    );
}

/// Copies `data` over a fresh loopback TCP connection, until the reader has it all.
async fn raw_tcp_copy(data: Arc<Vec<u8>>) -> Cost {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (got, cost) = timed(async move {
        let reader = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; LEN];
            let mut filled = 0;
            while filled < LEN {
                let end = (filled + CHUNK).min(LEN);
                let n = sock.read(&mut buf[filled..end]).await.unwrap();
                assert!(n > 0, "raw copy ended early");
                filled += n;
            }
            buf
        });
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        sock.set_nodelay(true).unwrap();
        for chunk in data.chunks(CHUNK) {
            sock.write_all(chunk).await.unwrap();
        }
        sock.flush().await.unwrap();
        reader.await.unwrap()
    })
    .await;
    assert_eq!(got.len(), LEN);
    cost
}

fn config(listen: &[&str]) -> NetConfig {
    let mut cfg = NetConfig::new(Keypair::generate_ed25519());
    cfg.listen = listen.iter().map(|a| a.parse().unwrap()).collect();
    cfg.request_timeout = Duration::from_secs(60);
    cfg
}

/// Wall and CPU time of a synchronous call.
fn cost_of(f: impl FnOnce()) -> Cost {
    let (c0, t0) = (cpu_secs(), Instant::now());
    f();
    Cost {
        wall: t0.elapsed().as_secs_f64(),
        cpu: cpu_secs() - c0,
    }
}

/// ring's ChaCha20-Poly1305 (what snow's ring resolver, and so libp2p-noise, seals with) over
/// `data` in noise-sized messages, on one thread: (seal, open).
fn noise_cipher(data: &[u8]) -> (Cost, Cost) {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7u8; 32]).expect("key"));
    let nonce = |i: usize| {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&(i as u64).to_le_bytes());
        Nonce::assume_unique_for_key(n)
    };
    let mut buf = data.to_vec();
    let mut tags = Vec::new();
    let seal = cost_of(|| {
        for (i, msg) in buf.chunks_mut(NOISE_MSG).enumerate() {
            let tag = key
                .seal_in_place_separate_tag(nonce(i), Aad::empty(), msg)
                .expect("seal");
            tags.push(tag);
        }
    });
    // Opening needs ciphertext ‖ tag contiguous; build that outside the timed part.
    let mut sealed: Vec<Vec<u8>> = buf
        .chunks(NOISE_MSG)
        .zip(&tags)
        .map(|(msg, tag)| [msg, tag.as_ref()].concat())
        .collect();
    let open = cost_of(|| {
        for (i, msg) in sealed.iter_mut().enumerate() {
            key.open_in_place(nonce(i), Aad::empty(), msg)
                .expect("open");
        }
    });
    let plain: Vec<u8> = sealed
        .iter()
        .flat_map(|m| m[..m.len() - 16].to_vec())
        .collect();
    assert_eq!(&plain[..], data);
    (seal, open)
}

/// Median MB/s and CPU ns per byte of single-threaded runs, printed as one line.
fn print_standalone(name: &str, runs: &[Cost]) -> f64 {
    let cpu = median(runs.iter().map(|c| c.cpu * 1e9 / LEN as f64).collect());
    println!(
        "{{\"bench\":\"{name}\",\"bytes\":{LEN},\"runs\":{RUNS},\"mb_per_s\":{:.1},\"cpu_ns_per_byte\":{cpu:.3}}}",
        median(runs.iter().map(|c| mbs(c.wall)).collect())
    );
    cpu
}

/// One node per transport asking the server: (transport tag in the multiaddr, name, client).
async fn clients(addrs: &[Multiaddr]) -> Vec<(&'static str, coalition_net::Client, PeerId)> {
    let mut out = Vec::new();
    for (tag, name) in [("tcp", "tcp"), ("quic-v1", "quic")] {
        let addr = addrs
            .iter()
            .find(|a| a.iter().any(|p| p.tag() == tag))
            .cloned()
            .expect("listen address");
        // A fresh client per transport, so the connection is the one wanted.
        let (client, _events) = start(config(&[]), Arc::new(MemoryBlobStore::new()))
            .await
            .expect("client");
        let peer = client.dial(addr).await.expect("dial");
        out.push((name, client, peer));
    }
    out
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let data = Arc::new(bytes(LEN));
        let sha: Vec<Cost> = (0..RUNS)
            .map(|_| {
                cost_of(|| {
                    std::hint::black_box(blob_hash(&data));
                })
            })
            .collect();
        let sha = print_standalone("sha256", &sha);
        let (seal, open): (Vec<Cost>, Vec<Cost>) = (0..RUNS).map(|_| noise_cipher(&data)).unzip();
        let seal = print_standalone("chacha20poly1305_seal", &seal);
        let open = print_standalone("chacha20poly1305_open", &open);

        let store = MemoryBlobStore::new();
        let (server, _server_events) = start(
            config(&["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]),
            Arc::new(store.clone()),
        )
        .await
        .expect("server");
        let clients = clients(&server.listen_addrs().await).await;
        let hash = blob_hash(&data);
        // Per run: raw TCP, then each transport's put and get, so every ratio compares
        // figures measured seconds apart under the same load.
        let mut raw = Vec::new();
        let mut figures: Vec<Vec<(Cost, Cost)>> = vec![Vec::new(); clients.len() * 2];
        for _ in 0..RUNS {
            let r = raw_tcp_copy(data.clone()).await;
            raw.push((r, r));
            for (c, (_, client, peer)) in clients.iter().enumerate() {
                store.remove(&hash);
                let owned = data.to_vec();
                let (put_hash, put) = timed(client.put_blob(*peer, owned)).await;
                assert_eq!(put_hash.expect("put"), hash);
                let (back, get) = timed(client.get_blob(*peer, hash, LEN as u64)).await;
                assert_eq!(back.expect("get").len(), LEN);
                figures[2 * c].push((put, r));
                figures[2 * c + 1].push((get, r));
            }
        }
        line("raw_tcp", "copy", &raw);
        // What no tuning of the pipe removes: raw TCP's own CPU per byte, plus noise sealing and
        // opening every byte, plus sha256 once (get: the receiver) or twice (put: the sender
        // names the blob, the receiver checks it).
        let raw_cpu = median(raw.iter().map(|(c, _)| c.cpu * 1e9 / LEN as f64).collect());
        for (op, hashes) in [("get", 1.0), ("put", 2.0)] {
            let floor = raw_cpu + seal + open + hashes * sha;
            println!(
                "{{\"bench\":\"floor\",\"transport\":\"tcp\",\"op\":\"{op}\",\"cpu_ns_per_byte\":{floor:.3},\"max_cpu_vs_raw_tcp\":{:.3}}}",
                raw_cpu / floor
            );
        }
        for (c, (name, _, _)) in clients.iter().enumerate() {
            line(name, "put", &figures[2 * c]);
            line(name, "get", &figures[2 * c + 1]);
        }
        for (_, client, _) in clients {
            client.shutdown().await;
        }
        server.shutdown().await;
    });
}
