//! The HTTP server (hyper, HTTP/1.1): the live page, its JSON and `/metrics`.
//!
//! | path | answer |
//! |---|---|
//! | `/` | the page ([`page::render`], live mode), refreshing itself from `/api/page` |
//! | `/api/run` | the whole [`RunView`] as JSON |
//! | `/api/rounds?since=N` | the rounds numbered ≥ N (all without `since`) |
//! | `/api/page?since=V` | [`page::PageUpdate`]: the sections when the view's version ≠ V |
//! | `/metrics` | Prometheus text (the process's global recorder, [`metrics::install`]) |
//!
//! A follower task refreshes the [`RunReader`] every `refresh` interval (on a blocking thread)
//! and publishes an immutable snapshot; requests only read the snapshot, never the disk.
//! Without a run directory (a trainer node's `--metrics`) only `/metrics` is served.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use metrics_exporter_prometheus::PrometheusHandle;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::error::{ObserveError, Result};
use crate::metrics::{self, Recorded};
use crate::page::{self, Mode};
use crate::view::RunView;
use crate::RunReader;

/// What to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Listen address, e.g. `127.0.0.1:9300` (port 0: any free port).
    pub addr: SocketAddr,
    /// The run directory to show; `None` serves only `/metrics`.
    pub run_dir: Option<PathBuf>,
    /// Single-process baseline (`train-local --json` output) instead of `<run>/baseline.json`.
    pub baseline: Option<PathBuf>,
    /// How often the follower re-reads the run directory.
    pub refresh: Duration,
}

impl ServeOptions {
    /// Serve `run_dir` on `addr`, re-reading it every second.
    pub fn run(addr: SocketAddr, run_dir: impl Into<PathBuf>) -> Self {
        ServeOptions {
            addr,
            run_dir: Some(run_dir.into()),
            baseline: None,
            refresh: Duration::from_secs(1),
        }
    }

    /// Serve only `/metrics` on `addr` (a trainer node).
    pub fn metrics_only(addr: SocketAddr) -> Self {
        ServeOptions {
            addr,
            run_dir: None,
            baseline: None,
            refresh: Duration::from_secs(1),
        }
    }
}

struct Snapshot {
    view: Arc<RunView>,
    version: u64,
}

struct State {
    reader: Mutex<Option<RunReader>>,
    snapshot: RwLock<Snapshot>,
    recorded: Mutex<Recorded>,
    metrics: PrometheusHandle,
}

impl State {
    /// Re-reads the run; publishes a new snapshot and metrics if it changed.
    fn refresh(&self) {
        let Ok(mut guard) = self.reader.lock() else {
            return;
        };
        let Some(reader) = guard.as_mut() else {
            return;
        };
        match reader.refresh() {
            Ok(false) => {}
            Ok(true) => {
                let view = Arc::new(reader.view().clone());
                if let Ok(mut r) = self.recorded.lock() {
                    metrics::record_view(&view, &mut r);
                }
                if let Ok(mut s) = self.snapshot.write() {
                    *s = Snapshot {
                        view,
                        version: reader.version(),
                    };
                }
            }
            Err(e) => {
                tracing::warn!("dashboard: {e}");
                metrics::record_error("observe_read");
            }
        }
        self.metrics.run_upkeep();
    }

    fn snapshot(&self) -> (Arc<RunView>, u64) {
        match self.snapshot.read() {
            Ok(s) => (s.view.clone(), s.version),
            Err(_) => (Arc::new(RunView::default()), 0),
        }
    }
}

/// Serves `listener` (already bound, non-blocking) until `shutdown` completes. Must run inside a
/// tokio runtime with I/O and timers enabled.
pub async fn serve(
    listener: std::net::TcpListener,
    opts: ServeOptions,
    metrics: PrometheusHandle,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let addr = listener.local_addr().ok();
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|error| ObserveError::Listen {
            addr: addr.map_or("?".into(), |a| a.to_string()),
            error,
        })?;
    let reader = opts.run_dir.as_ref().map(|dir| match &opts.baseline {
        Some(b) => RunReader::new(dir).with_baseline(b),
        None => RunReader::new(dir),
    });
    let state = Arc::new(State {
        reader: Mutex::new(reader),
        snapshot: RwLock::new(Snapshot {
            view: Arc::new(RunView::default()),
            version: 0,
        }),
        recorded: Mutex::new(Recorded::default()),
        metrics,
    });
    state.refresh();
    let follower = tokio::spawn(follow(state.clone(), opts.refresh));
    let has_run = opts.run_dir.is_some();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("dashboard: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, has_run, &req)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!("dashboard connection: {e}");
            }
        });
    }
    follower.abort();
    Ok(())
}

async fn follow(state: Arc<State>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let s = state.clone();
        if tokio::task::spawn_blocking(move || s.refresh())
            .await
            .is_err()
        {
            tracing::warn!("dashboard: the refresh task panicked");
        }
    }
}

/// `since=N` from a query string.
fn since(req: &Request<Incoming>) -> Option<u64> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
        .and_then(|v| v.parse().ok())
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = content_type.parse() {
        h.insert(hyper::header::CONTENT_TYPE, v);
    }
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

fn json(value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(b) => reply(StatusCode::OK, "application/json", b),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            e.to_string(),
        ),
    }
}

fn route(state: &State, has_run: bool, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET only\n");
    }
    let path = req.uri().path();
    if path == "/metrics" {
        return reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics.render(),
        );
    }
    if !has_run {
        return match path {
            "/" => reply(
                StatusCode::OK,
                TEXT,
                "coalition trainer node: see /metrics\n",
            ),
            _ => reply(StatusCode::NOT_FOUND, TEXT, "not found; try /metrics\n"),
        };
    }
    let (view, version) = state.snapshot();
    match path {
        "/" | "/index.html" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::render(&view, Mode::Live, version, &crate::time::utc_now()),
        ),
        "/api/run" => json(&*view),
        "/api/rounds" => {
            let from = since(req).unwrap_or(0);
            let rounds: Vec<_> = view.rounds.iter().filter(|r| r.round >= from).collect();
            json(&rounds)
        }
        "/api/page" => json(&page::update(&view, version, since(req))),
        "/favicon.ico" => reply(StatusCode::NO_CONTENT, TEXT, ""),
        _ => reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found; try /, /api/run, /api/rounds, /api/page, /metrics\n",
        ),
    }
}

/// A server running on its own thread; stopped when dropped.
#[derive(Debug)]
pub struct Dashboard {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Dashboard {
    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            None => Ok(()),
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(ObserveError::Server("the server thread panicked".into())),
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// One call: install the metrics recorder, bind `opts.addr` (errors name it) and serve on a
/// thread of its own (with its own single-threaded runtime), until the returned handle is
/// dropped or stopped. Safe to call from inside or outside a tokio runtime.
pub fn start(opts: ServeOptions) -> Result<Dashboard> {
    let handle = metrics::install()?;
    let listen_err = |error| ObserveError::Listen {
        addr: opts.addr.to_string(),
        error,
    };
    let listener = std::net::TcpListener::bind(opts.addr).map_err(listen_err)?;
    listener.set_nonblocking(true).map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("coalition-observe".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ObserveError::Server(format!("cannot start a runtime: {e}")))?;
            let result = runtime.block_on(serve(listener, opts, handle, async {
                let _ = rx.await;
            }));
            runtime.shutdown_timeout(Duration::from_secs(2));
            result
        })
        .map_err(|e| ObserveError::Server(format!("cannot start its thread: {e}")))?;
    Ok(Dashboard {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests;
