//! Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, with
//! tungstenite as the client: a fresh profile per browser, killed on drop; pages
//! evaluated, waited on with a deadline, resized and photographed into
//! `target/screenshots/` for a human to look at.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The Chromium binary: `$BENCHBOARD_CHROMIUM`, else `chromium` on the PATH.
pub fn chromium_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BENCHBOARD_CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the browser tests need Chromium and it is not installed: run \
             `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk` \
             (or set BENCHBOARD_CHROMIUM to a Chromium binary)"
        )
    })
}

/// A headless Chromium with a fresh profile, killed on drop.
pub struct Browser {
    child: Child,
    devtools_port: u16,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn launch(url: &str) -> Browser {
        Browser::launch_with(url, &[])
    }

    /// Chromium with `extra` flags too, e.g. to accept a test's self-signed certificate.
    pub fn launch_with(url: &str, extra: &[&str]) -> Browser {
        let profile = tempfile::Builder::new()
            .prefix("benchboard-chromium-")
            .tempdir()
            .expect("temp dir");
        let child = Command::new(chromium_binary())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--window-size=1920,1080",
            ])
            .args(extra)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
        let mut browser = Browser {
            child,
            devtools_port: 0,
            _profile: profile,
        };
        browser.devtools_port = browser.wait_for_devtools_port();
        browser
    }

    /// Chromium writes the port it picked to `DevToolsActivePort` in the profile.
    fn wait_for_devtools_port(&mut self) -> u16 {
        let file = self._profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(port) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|text| text.lines().next()?.trim().parse().ok())
            {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Chromium exited before opening DevTools: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "Chromium did not open DevTools within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A DevTools session on the page Chromium opened.
    pub fn page(&self) -> Page {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            let list: Value = super::agent()
                .get(&format!(
                    "http://127.0.0.1:{}/json/list",
                    self.devtools_port
                ))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null);
            let found = list.as_array().and_then(|targets| {
                targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_string))
            });
            if let Some(url) = found {
                break url;
            }
            assert!(Instant::now() < deadline, "Chromium shows no page target");
            std::thread::sleep(Duration::from_millis(50));
        };
        let (socket, _) = tungstenite::connect(url).expect("DevTools WebSocket");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .expect("read timeout");
        }
        Page {
            socket,
            next_id: 0,
            network: Vec::new(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One page, driven over the DevTools protocol.
pub struct Page {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// `Network.*` events seen so far (after `Network.enable`), oldest first.
    network: Vec<Value>,
}

impl Page {
    /// Calls a DevTools method and returns its result (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params});
        self.socket
            .send(Message::text(request.to_string()))
            .expect("DevTools send");
        loop {
            let message = self.socket.read().expect("DevTools answers");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("DevTools sends JSON");
            if value["method"]
                .as_str()
                .is_some_and(|m| m.starts_with("Network."))
            {
                self.network.push(value);
                continue;
            }
            if value["id"] == id {
                assert!(
                    value["error"].is_null(),
                    "{method} failed: {}",
                    value["error"]
                );
                return value["result"].clone();
            }
        }
    }

    /// The `Network.*` events seen since the last call, oldest first (none unless
    /// `Network.enable` was called).
    pub fn take_network_events(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.network)
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression} threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is `true`; panics with `what` after `within`.
    pub fn wait_for(&mut self, what: &str, expression: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.eval(expression) != Value::Bool(true) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; page text: {}",
                self.eval("document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(
            "the page to load",
            &format!(
                "location.href === {} && document.readyState === 'complete'",
                json!(url)
            ),
            Duration::from_secs(20),
        );
    }

    pub fn set_viewport(&mut self, width: u32, height: u32, mobile: bool, dark: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        let scheme = if dark { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// Saves a PNG of the viewport under `target/screenshots/`.
    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        // Let flashes and layout settle so the picture shows the resting state.
        std::thread::sleep(Duration::from_millis(1600));
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        // CARGO_TARGET_TMPDIR is <target dir>/tmp, wherever CARGO_TARGET_DIR points.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}
