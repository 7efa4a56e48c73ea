//! HTTPS test support: a self-signed certificate made by the test (rcgen), an
//! in-process HTTPS server on 127.0.0.1:0, clients that trust only that certificate
//! (ureq, raw rustls streams, wss:// viewers) and a reader of one HTTP answer.

use std::io::{BufRead, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use benchboard::server::tls::TlsFiles;
use benchboard::server::{Config, Server, ShutdownHandle};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tungstenite::{Message, WebSocket};

use super::{PATIENCE, fixture};

/// A rustls client stream over TCP.
pub type TlsClient = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;
/// A wss:// viewer.
pub type Viewer = WebSocket<TlsClient>;

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub files: TlsFiles,
    der: CertificateDer<'static>,
}

/// A fresh certificate in a fresh temporary directory.
pub fn pki() -> Pki {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let made = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let dir = tempfile::Builder::new()
        .prefix("benchboard-tls-")
        .tempdir()
        .expect("temp dir");
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, made.cert.pem()).expect("writing the certificate");
    std::fs::write(&files.key, made.signing_key.serialize_pem()).expect("writing the key");
    Pki {
        dir,
        files,
        der: made.cert.der().clone(),
    }
}

impl Pki {
    pub fn cert(&self) -> &str {
        self.files.cert.to_str().expect("a UTF-8 path")
    }

    pub fn key(&self) -> &str {
        self.files.key.to_str().expect("a UTF-8 path")
    }

    /// An HTTP agent that trusts only this certificate.
    pub fn agent(&self) -> ureq::Agent {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let roots =
            RootCerts::new_with_certs(&[Certificate::from_der(self.der.as_ref()).to_owned()]);
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PATIENCE))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .into()
    }

    /// A rustls client configuration that trusts only this certificate.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// An HTTPS server in this process, on 127.0.0.1:0.
pub struct Https {
    pub addr: String,
    pub pki: Pki,
    pub handle: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl Https {
    /// A server with `request_timeout` and 4 threads.
    pub fn start(request_timeout: Duration) -> Https {
        Https::start_with(|c| c.request_timeout = request_timeout)
    }

    /// A server with 4 threads, `adjust` changing the rest of its config.
    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> Https {
        let pki = pki();
        let mut config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: pki.dir.path().join("data"),
            threads: 4,
            tls: Some(pki.files.clone()),
            ..Config::default()
        };
        adjust(&mut config);
        let server = Server::bind(config).expect("the HTTPS server starts");
        assert!(
            server.url().starts_with("https://127.0.0.1:"),
            "{}",
            server.url()
        );
        let addr = server.local_addr().to_string();
        let handle = server.shutdown_handle();
        let thread = Some(std::thread::spawn(move || server.run()));
        Https {
            addr,
            pki,
            handle,
            thread,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.pki.dir.path().join("data")
    }

    /// POSTs the full fixture report as `team` over HTTPS; the status.
    pub fn post_report(&self, team: &str) -> u16 {
        let body = std::fs::read(fixture("valid/full-13-buckets.json")).expect("fixture");
        self.post_body(team, &body)
    }

    /// POSTs `body` as `team`'s report over HTTPS; the status.
    pub fn post_body(&self, team: &str, body: &[u8]) -> u16 {
        self.pki
            .agent()
            .post(&self.url("/api/stats/report"))
            .header("X-Team-ID", team)
            .header("Content-Type", "application/json")
            .send(body)
            .expect("the report reaches the server")
            .status()
            .as_u16()
    }

    pub fn get_json(&self, path: &str) -> (u16, Value) {
        let mut response = self
            .pki
            .agent()
            .get(&self.url(path))
            .call()
            .expect("GET reaches the server");
        let text = response.body_mut().read_to_string().expect("a body");
        (
            response.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// A plain TCP connection (nothing sent), reads waiting up to `PATIENCE`.
    pub fn tcp(&self) -> TcpStream {
        let tcp = TcpStream::connect(&self.addr).expect("connect");
        tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
        tcp
    }

    /// A TLS client stream (the handshake happens at its first read or write) whose
    /// reads give up after `read_timeout`.
    pub fn tls_stream(&self, read_timeout: Duration) -> TlsClient {
        let tcp = TcpStream::connect(&self.addr).expect("connect");
        tcp.set_read_timeout(Some(read_timeout)).expect("timeout");
        let name = ServerName::try_from("localhost").expect("a name");
        let conn = rustls::ClientConnection::new(self.pki.client_config(), name).expect("TLS");
        rustls::StreamOwned::new(conn, tcp)
    }

    /// A wss:// viewer of `/ws` (reads time out often so that `next` can skip them).
    pub fn viewer(&self) -> Viewer {
        let port = self.addr.rsplit(':').next().expect("a port");
        let url = format!("wss://localhost:{port}/ws");
        let stream = self.tls_stream(Duration::from_millis(200));
        let (socket, _) = tungstenite::client(url.as_str(), stream).expect("the wss:// handshake");
        socket
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP answer: the status code, the lower-cased headers and the body (by
/// Content-Length; none without it).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one answer from `reader`.
pub fn read_answer(reader: &mut impl BufRead) -> std::io::Result<Answer> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not a status line: {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut answer = Answer {
        status,
        headers,
        body: Vec::new(),
    };
    let length = answer.header("content-length").and_then(|v| v.parse().ok());
    answer.body.resize(length.unwrap_or(0), 0);
    reader.read_exact(&mut answer.body)?;
    Ok(answer)
}

/// Reads until the peer closes (or resets) the connection; what it sent.
pub fn read_until_closed(stream: &mut impl Read) -> Vec<u8> {
    let mut seen = Vec::new();
    let _ = stream.read_to_end(&mut seen);
    seen
}

/// The next text message as JSON, or `Err(reason)` of a close; skips pings.
pub fn next(viewer: &mut Viewer) -> Result<Value, String> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        match viewer.read() {
            Ok(Message::Text(text)) => return Ok(serde_json::from_str(&text).expect("JSON")),
            Ok(Message::Close(frame)) => {
                return Err(frame.map(|f| f.reason.to_string()).unwrap_or_default());
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("connection ended: {e}")),
        }
    }
    panic!("no message within {PATIENCE:?}");
}
