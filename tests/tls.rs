//! HTTPS and wss:// served directly (`--tls-cert`, `--tls-key`), with a certificate
//! the test makes (rcgen): the real server on port 0, in process and as the binary,
//! and the clients' https:// with `--ca-cert`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use benchboard::server::tls::TlsFiles;
use benchboard::server::{Config, Server, ShutdownHandle};
use common::{PATIENCE, Running, fixture};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tungstenite::{Message, WebSocket};

const SERVE: &str = env!("CARGO_BIN_EXE_benchboard-serve");
const CLIENT: &str = env!("CARGO_BIN_EXE_benchboard-client");
const HISTORY: &str = env!("CARGO_BIN_EXE_benchboard-history");
const DEMO: &str = env!("CARGO_BIN_EXE_benchboard-demo");

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    files: TlsFiles,
    der: CertificateDer<'static>,
}

fn pki() -> Pki {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("a certificate");
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
    fn cert(&self) -> &str {
        self.files.cert.to_str().expect("a UTF-8 path")
    }

    fn key(&self) -> &str {
        self.files.key.to_str().expect("a UTF-8 path")
    }

    /// An HTTP agent that trusts only this certificate.
    fn agent(&self) -> ureq::Agent {
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

    fn client_config(&self) -> Arc<rustls::ClientConfig> {
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
struct Https {
    addr: String,
    pki: Pki,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl Https {
    fn start(request_timeout: Duration) -> Https {
        let pki = pki();
        let config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: pki.dir.path().join("data"),
            threads: 4,
            request_timeout,
            tls: Some(pki.files.clone()),
            ..Config::default()
        };
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

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn post_report(&self, team: &str) -> u16 {
        let body = std::fs::read(fixture("valid/full-13-buckets.json")).expect("fixture");
        self.pki
            .agent()
            .post(&self.url("/api/stats/report"))
            .header("X-Team-ID", team)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .expect("the report reaches the server")
            .status()
            .as_u16()
    }

    fn get_json(&self, path: &str) -> (u16, Value) {
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

    fn tls_stream(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let tcp = TcpStream::connect(&self.addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let name = ServerName::try_from("localhost").expect("a name");
        let conn = rustls::ClientConnection::new(self.pki.client_config(), name).expect("TLS");
        rustls::StreamOwned::new(conn, tcp)
    }

    fn viewer(&self) -> Viewer {
        let url = format!(
            "wss://localhost:{}/ws",
            self.addr.rsplit(':').next().unwrap()
        );
        let (socket, _) =
            tungstenite::client(url.as_str(), self.tls_stream()).expect("the wss:// handshake");
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

type Viewer = WebSocket<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

/// The next text message as JSON, or `Err(reason)` of a close; skips pings.
fn next(viewer: &mut Viewer) -> Result<Value, String> {
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

#[test]
fn reports_teams_and_a_wss_viewer_over_https() {
    let server = Https::start(Duration::from_secs(10));
    let mut viewer = server.viewer();
    assert_eq!(next(&mut viewer).expect("a snapshot")["type"], "snapshot");
    assert_eq!(server.post_report("tls1"), 200);
    let update = next(&mut viewer).expect("an update");
    assert_eq!(update["type"], "team_update", "{update}");
    assert_eq!(update["team"]["team_id"], "tls1", "{update}");
    let (status, teams) = server.get_json("/api/teams");
    assert_eq!(status, 200);
    assert_eq!(teams[0]["team_id"], "tls1", "{teams}");
    server.handle.shutdown();
    let reason = next(&mut viewer).expect_err("a close frame at shutdown");
    assert!(reason.contains("shutting down"), "{reason}");
}

#[test]
fn plain_http_garbage_and_stalled_handshakes_harm_no_one() {
    let timeout = Duration::from_secs(1);
    let server = Https::start(timeout);
    let connect = || {
        let tcp = TcpStream::connect(&server.addr).expect("connect");
        tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
        tcp
    };
    // a stalled handshake: the first bytes of a ClientHello, then nothing
    let mut stalled = connect();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .expect("write");
    let stalled_since = Instant::now();
    // plain HTTP to the TLS port: a JSON 400 saying to use https
    let mut plain = connect();
    plain
        .write_all(b"GET /api/teams HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    plain
        .read_to_string(&mut answer)
        .expect("the 400 and the end");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("https://"), "{answer}");
    // a garbage handshake: closed at once, with an alert at most
    let mut garbage = connect();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x10])
        .expect("write");
    garbage.write_all(&[0xee; 16]).expect("write");
    let mut rest = Vec::new();
    let _ = garbage.read_to_end(&mut rest);
    assert!(rest.len() < 64, "{rest:?}");
    // meanwhile HTTPS is served
    assert_eq!(server.post_report("calm"), 200);
    assert_eq!(server.get_json("/api/teams/calm").0, 200);
    // and the stalled handshake is dropped after the request timeout
    let mut nothing = Vec::new();
    let _ = stalled.read_to_end(&mut nothing);
    let waited = stalled_since.elapsed();
    assert!(nothing.is_empty(), "{nothing:?}");
    assert!(waited >= timeout, "dropped after {waited:?}");
    assert!(waited < PATIENCE, "dropped after {waited:?}");
}

#[test]
fn the_binaries_speak_https_with_ca_cert() {
    let pki = pki();
    let data = pki.dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let mut serve = Running::start(
        SERVE,
        &[
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--data-dir",
            data,
            "--tls-cert",
            pki.cert(),
            "--tls-key",
            pki.key(),
        ],
    );
    let first = serve.stdout.next(PATIENCE);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://127.0.0.1:"))
        .unwrap_or_else(|| panic!("the banner shows no https:// URL: {first:?}"))
        .trim_end_matches('/')
        .to_string();
    let run = |program: &str, args: &[&str]| {
        let mut running = Running::start(program, args);
        let status = running.finish(PATIENCE);
        (status.code(), running.stdout.text(), running.stderr.text())
    };
    let report = fixture("valid/full-13-buckets.json");
    let report = report.to_str().expect("a UTF-8 path");
    let sent = run(
        CLIENT,
        &[
            "--server",
            &url,
            "--ca-cert",
            pki.cert(),
            "--team-id",
            "bin1",
            "--file",
            report,
        ],
    );
    assert_eq!(sent.0, Some(0), "{sent:?}");
    // without the CA the server is not trusted
    let refused = run(
        CLIENT,
        &[
            "--server",
            &url,
            "--team-id",
            "bin2",
            "--file",
            report,
            "--max-attempts",
            "1",
        ],
    );
    assert_ne!(refused.0, Some(0), "{refused:?}");
    let teams = run(
        HISTORY,
        &["--server", &url, "--ca-cert", pki.cert(), "teams"],
    );
    assert_eq!(teams.0, Some(0), "{teams:?}");
    assert!(
        teams.1.contains("bin1") && !teams.1.contains("bin2"),
        "{teams:?}"
    );
    let check = run(
        DEMO,
        &["--check", "--server", &url, "--ca-cert", pki.cert()],
    );
    assert_eq!(check.0, Some(0), "{check:?}");
    assert!(check.1.contains("PASS  GET /ws"), "{check:?}");
    serve.signal("TERM");
    assert!(serve.finish(PATIENCE).success());
}

#[test]
fn unusable_tls_files_are_refused_at_start_naming_the_flag() {
    let (pki, other) = (pki(), pki());
    let missing = pki.dir.path().join("missing.pem");
    let missing = missing.to_str().expect("a UTF-8 path");
    let not_pem: PathBuf = pki.dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let not_pem = not_pem.to_str().expect("a UTF-8 path");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--tls-cert", pki.cert(), "--tls-key", missing],
            "--tls-key",
        ),
        (
            &["--tls-cert", missing, "--tls-key", pki.key()],
            "--tls-cert",
        ),
        (
            &["--tls-cert", pki.cert(), "--tls-key", other.key()],
            "does not fit --tls-cert",
        ),
        (
            &["--tls-cert", not_pem, "--tls-key", pki.key()],
            "--tls-cert",
        ),
        (&["--tls-cert", pki.cert()], "--tls-key"),
    ];
    let data = pki.dir.path().join("data");
    for (flags, needle) in cases {
        let mut args = vec!["--port", "0", "--data-dir", data.to_str().unwrap()];
        args.extend_from_slice(flags);
        let mut running = Running::start(SERVE, &args);
        let status = running.finish(PATIENCE);
        let stderr = running.stderr.text();
        assert_eq!(status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(needle), "{flags:?}: {stderr}");
        assert!(running.stdout.text().is_empty(), "{flags:?} started");
    }
}
