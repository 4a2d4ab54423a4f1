//! Blob throughput on loopback, printed as one JSON line per figure.
//!
//! `cargo bench -p coalition-net --bench blob`. Two nodes in one process (a tokio runtime with
//! two worker threads), a 64 MiB blob of pseudo-random bytes, put and then got over
//! `/coalition/blob/1` on TCP (noise + yamux) and on QUIC; against a raw tokio TCP copy of the
//! same bytes on loopback (256 KiB writes, read into a preallocated buffer, no encryption, no
//! hashing). Blob figures are end to end: they include sha256 on both sides (the sender names
//! the blob, the receiver verifies it) and the in-memory store's copies; `sha256` is printed
//! for scale. MB/s is 10^6 bytes per second, the median of `RUNS` runs.
//!
//! Printed figures only; nothing is asserted.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use coalition_net::{blob_hash, start, Keypair, MemoryBlobStore, Multiaddr, NetConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LEN: usize = 64 << 20;
const RUNS: usize = 5;
const CHUNK: usize = 256 << 10;

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

fn mbs(secs: f64) -> f64 {
    LEN as f64 / 1e6 / secs
}

fn line(transport: &str, op: &str, mb_per_s: f64, raw: Option<f64>) {
    let vs_raw = raw.map_or("null".to_string(), |r| format!("{:.3}", mb_per_s / r));
    println!(
        "{{\"bench\":\"blob\",\"transport\":\"{transport}\",\"op\":\"{op}\",\"bytes\":{LEN},\"runs\":{RUNS},\"mb_per_s\":{mb_per_s:.1},\"vs_raw_tcp\":{vs_raw}}}"
    );
}

/// Seconds to copy `data` over a fresh loopback TCP connection, until the reader has it all.
async fn raw_tcp_copy(data: Arc<Vec<u8>>) -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
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
    let t0 = Instant::now();
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.set_nodelay(true).unwrap();
    for chunk in data.chunks(CHUNK) {
        sock.write_all(chunk).await.unwrap();
    }
    sock.flush().await.unwrap();
    let got = reader.await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(got.len(), LEN);
    secs
}

fn config(listen: &[&str]) -> NetConfig {
    let mut cfg = NetConfig::new(Keypair::generate_ed25519());
    cfg.listen = listen.iter().map(|a| a.parse().unwrap()).collect();
    cfg.request_timeout = Duration::from_secs(60);
    cfg
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let data = Arc::new(bytes(LEN));

        let sha: Vec<f64> = (0..RUNS)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(blob_hash(&data));
                mbs(t0.elapsed().as_secs_f64())
            })
            .collect();
        println!(
            "{{\"bench\":\"sha256\",\"bytes\":{LEN},\"runs\":{RUNS},\"mb_per_s\":{:.1}}}",
            median(sha)
        );

        let mut raw = Vec::new();
        for _ in 0..RUNS {
            raw.push(mbs(raw_tcp_copy(data.clone()).await));
        }
        let raw = median(raw);
        line("raw_tcp", "copy", raw, None);

        let store = MemoryBlobStore::new();
        let (server, _server_events) = start(
            config(&["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]),
            Arc::new(store.clone()),
        )
        .await
        .unwrap();
        let addrs = server.listen_addrs().await;
        for transport in ["tcp", "quic-v1"] {
            let addr: Multiaddr = addrs
                .iter()
                .find(|a| a.iter().any(|p| p.tag() == transport))
                .cloned()
                .unwrap();
            // A fresh client per transport, so the connection is the one wanted.
            let (client, _events) = start(config(&[]), Arc::new(MemoryBlobStore::new()))
                .await
                .unwrap();
            let peer = client.dial(addr).await.unwrap();
            let mut put = Vec::new();
            let mut get = Vec::new();
            let mut hash = [0u8; 32];
            for _ in 0..RUNS {
                store.remove(&blob_hash(&data));
                let owned = data.to_vec();
                let t0 = Instant::now();
                hash = client.put_blob(peer, owned).await.unwrap();
                put.push(mbs(t0.elapsed().as_secs_f64()));
            }
            for _ in 0..RUNS {
                let t0 = Instant::now();
                let back = client.get_blob(peer, hash, LEN as u64).await.unwrap();
                get.push(mbs(t0.elapsed().as_secs_f64()));
                assert_eq!(back.len(), LEN);
            }
            let name = if transport == "tcp" { "tcp" } else { "quic" };
            line(name, "put", median(put), Some(raw));
            line(name, "get", median(get), Some(raw));
            client.shutdown().await;
        }
        server.shutdown().await;
    });
}
