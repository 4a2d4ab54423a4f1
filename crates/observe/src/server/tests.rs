use super::*;
use crate::prom_text;
use crate::reader::tests::{append, round_lines, sample_run, write_report};
use std::io::{Read, Write};
use std::time::Instant;

/// A plain HTTP/1.0 request: (status, body).
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(addr, "GET", path)
}

fn options(dir: &std::path::Path) -> ServeOptions {
    ServeOptions {
        refresh: Duration::from_millis(50),
        ..ServeOptions::run("127.0.0.1:0".parse().unwrap(), dir)
    }
}

#[test]
fn serves_the_page_the_json_and_metrics_and_follows_the_run() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 1);
    let d = start(options(dir.path())).unwrap();
    let addr = d.addr();
    assert!(d.url().starts_with("http://127.0.0.1:"));

    let (code, html) = get(addr, "/");
    assert_eq!(code, 200);
    assert!(html.contains("data-mode=\"live\"") && html.contains("<script>"));
    let (_, run) = get(addr, "/api/run");
    let view: RunView = serde_json::from_str(&run).unwrap();
    assert_eq!(view.rounds_committed, 1, "{run}");
    let (_, page) = get(addr, "/api/page");
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    let version = page["version"].as_u64().unwrap();
    assert!(page["sections"].as_array().unwrap().len() > 5);
    let (_, same) = get(addr, &format!("/api/page?since={version}"));
    assert!(!same.contains("sections"), "{same}");

    // The run goes on: the server notices without being asked to.
    write_report(dir.path(), 1, &[("WalletA", 0.5, 1000)]);
    append(dir.path(), &round_lines(1, true));
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, p) = get(addr, &format!("/api/page?since={version}"));
        let p: serde_json::Value = serde_json::from_str(&p).unwrap();
        if p["rounds_committed"] == 2 {
            assert!(p["sections"].is_array());
            break;
        }
        assert!(Instant::now() < end, "the server did not pick up round 1");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, rounds) = get(addr, "/api/rounds?since=1");
    let rounds: Vec<crate::view::RoundView> = serde_json::from_str(&rounds).unwrap();
    assert_eq!(rounds.len(), 1);
    assert_eq!(rounds[0].round, 1);

    let (code, text) = get(addr, "/metrics");
    assert_eq!(code, 200);
    let samples = prom_text::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let earned = prom_text::value(
        &samples,
        metrics::names::TRAINER_EARNED,
        &[("trainer", "WalletA")],
    );
    assert!(earned.is_some(), "{text}");

    assert_eq!(get(addr, "/nope").0, 404);
    assert_eq!(request(addr, "POST", "/api/run").0, 405);
    d.stop().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err() || get_fails(addr));
}

/// After a stop, a connection may still be accepted by the OS backlog but gets no answer.
fn get_fails(addr: SocketAddr) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return true;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut buf = [0u8; 16];
    !matches!(s.read(&mut buf), Ok(n) if n > 0)
}

#[test]
fn a_metrics_only_server_and_a_busy_port() {
    let d = start(ServeOptions::metrics_only("127.0.0.1:0".parse().unwrap())).unwrap();
    crate::metrics::record_node_step(2, 5, 1.25);
    let (code, text) = get(d.addr(), "/metrics");
    assert_eq!(code, 200);
    let s = prom_text::parse(&text).unwrap();
    assert_eq!(
        prom_text::value(&s, metrics::names::NODE_INNER_STEP, &[]),
        Some(5.0)
    );
    assert_eq!(get(d.addr(), "/api/run").0, 404);
    let busy = start(ServeOptions::metrics_only(d.addr())).unwrap_err();
    assert!(busy.to_string().contains(&d.addr().to_string()), "{busy}");
}
