//! A headless Chromium driven over the DevTools protocol (a WebSocket, tungstenite), for tests
//! that look at pages as a person would: open a URL, run a script in it, take a screenshot.
//!
//! Chromium is found through `COALITION_CHROMIUM` (empty: none) or as `chromium`, `chromium-browser`,
//! `google-chrome` on PATH (Debian: `bash scripts/install-deps.sh --browser`). Tests that need
//! it skip their browser part with a message when there is none, unless
//! `COALITION_REQUIRE_BROWSER=1` (CI), which makes a missing browser a failure.

#![allow(dead_code)]

use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// The browser executable, if any.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("COALITION_CHROMIUM") {
        // Empty: no browser, on purpose.
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// `Some(browser)`, or `None` after printing why the browser checks are skipped (panics
/// instead when `COALITION_REQUIRE_BROWSER=1`).
pub fn launch_or_skip(what: &str) -> Option<Browser> {
    let required = std::env::var("COALITION_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let Some(exe) = find() else {
        let msg = format!(
            "SKIPPED the browser checks of {what}: no Chromium found (install it with \
             `bash scripts/install-deps.sh --browser`, or set COALITION_CHROMIUM)"
        );
        assert!(!required, "{msg} (COALITION_REQUIRE_BROWSER=1)");
        eprintln!("{msg}");
        return None;
    };
    match Browser::launch(&exe) {
        Ok(b) => Some(b),
        Err(e) => panic!("{} is installed but did not start: {e}", exe.display()),
    }
}

/// A running headless browser with one page attached.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `exe` headless with a fresh profile and attaches to a new blank page.
    pub fn launch(exe: &Path) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--window-size=1280,1800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut b = Browser::connect(child, profile)?;
        let target = b.call(
            "Target.createTarget",
            json!({ "url": "about:blank" }),
            false,
        )?;
        let id = target["targetId"]
            .as_str()
            .ok_or("no targetId")?
            .to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": id, "flatten": true }),
            false,
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .ok_or("no sessionId")?
            .to_string();
        b.call("Page.enable", json!({}), true)?;
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 1800, "deviceScaleFactor": 1, "mobile": false }),
            true,
        )?;
        Ok(b)
    }

    /// Waits for `DevToolsActivePort` in the profile and opens the browser's WebSocket.
    fn connect(mut child: Child, profile: tempfile::TempDir) -> Result<Browser, String> {
        let port_file = profile.path().join("DevToolsActivePort");
        let end = Instant::now() + Duration::from_secs(30);
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(p), Some(path)) = (lines.next(), lines.next()) {
                    break (p.trim().to_string(), path.trim().to_string());
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("the browser exited at start-up ({status})"));
            }
            if Instant::now() > end {
                let _ = child.kill();
                return Err("no DevToolsActivePort within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .map_err(|e| format!("DevTools WebSocket: {e}"))?;
        Ok(Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        })
    }

    /// Sends one DevTools command (to the page when `page`) and waits for its answer.
    fn call(&mut self, method: &str, params: Value, page: bool) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if page {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .map_err(|e| format!("{method}: {e}"))?;
        loop {
            let m = self.ws.read().map_err(|e| format!("{method}: {e}"))?;
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = v.get("error") {
                return Err(format!("{method}: {err}"));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            true,
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("script failed: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Navigates to `url` and waits until the document has loaded.
    pub fn open(&mut self, url: &str) -> Result<(), String> {
        let r = self.call("Page.navigate", json!({ "url": url }), true)?;
        if let Some(e) = r.get("errorText") {
            return Err(format!("cannot open {url}: {e}"));
        }
        let end = Instant::now() + Duration::from_secs(30);
        while self.eval("document.readyState")? != json!("complete") {
            if Instant::now() > end {
                return Err(format!("{url} did not finish loading in 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Polls `expression` until it is `true`.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> Result<(), String> {
        let end = Instant::now() + timeout;
        loop {
            if self.eval(expression)? == json!(true) {
                return Ok(());
            }
            if Instant::now() > end {
                return Err(format!("timed out waiting for `{expression}`"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Writes a PNG of the whole page to `path`.
    pub fn screenshot(&mut self, path: &Path) -> Result<(), String> {
        let r = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
            true,
        )?;
        let data = r["data"].as_str().ok_or("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| e.to_string())?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
pub fn http_get(url: &str) -> Result<(u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or("not an http:// URL")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = TcpStream::connect(host).map_err(|e| format!("{url}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: no status line"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    Ok((status, body.unwrap_or_default()))
}
