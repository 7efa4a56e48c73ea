//! HTTPS and `wss://` with a certificate the test makes (`--tls-cert`/`--tls-key`).

mod common;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use benchboard::config::ContestFile;
use benchboard::server::{Config, Server, TlsFiles};
use serde_json::Value;

const TEAM1: &str = "team1-secret-token-0123456789";

struct Tls {
    _dir: tempfile::TempDir,
    files: TlsFiles,
    cert_der: Vec<u8>,
    cert_pem: String,
}

fn make_certificate() -> Tls {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, certified.cert.pem()).unwrap();
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).unwrap();
    Tls {
        _dir: dir,
        files,
        cert_der: certified.cert.der().to_vec(),
        cert_pem: certified.cert.pem(),
    }
}

fn https_agent(tls: &Tls) -> ureq::Agent {
    let cert = ureq::tls::Certificate::from_pem(tls.cert_pem.as_bytes()).unwrap();
    let config = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
        .build();
    ureq::Agent::config_builder()
        .tls_config(config)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn registered_contest(dir: &std::path::Path) -> ContestFile {
    let path = dir.join("contest.toml");
    std::fs::write(
        &path,
        format!("[[team]]\nid = \"team1\"\ntoken = \"{TEAM1}\"\n"),
    )
    .unwrap();
    ContestFile::load(&path).unwrap()
}

fn start(tls: &Tls, data: &std::path::Path) -> (Server, u16) {
    let server = Server::bind(Config {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: data.join("data"),
        threads: 4,
        tls: Some(tls.files.clone()),
        contest: Some(registered_contest(data)),
        ..Config::default()
    })
    .unwrap();
    let port = server.local_addr().port();
    (server, port)
}

#[test]
fn serves_https_and_wss_with_the_tokens_inside_tls() {
    let tls = make_certificate();
    let data = tempfile::tempdir().unwrap();
    let (server, port) = start(&tls, data.path());
    assert_eq!(server.url(), format!("https://127.0.0.1:{port}/"));
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    let agent = https_agent(&tls);
    let base = format!("https://localhost:{port}");

    // A viewer over wss:// first, so that it sees the report arrive.
    let mut socket = wss_connect(&tls, port);
    let snapshot = read_json(&mut socket);
    assert_eq!(snapshot["type"], "snapshot");

    let body = std::fs::read(common::fixture("valid/full-13-buckets.json")).unwrap();
    let refused = agent
        .post(format!("{base}/api/stats/report"))
        .header("X-Team-ID", "team1")
        .send(&body[..])
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let mut stored = agent
        .post(format!("{base}/api/stats/report"))
        .header("X-Team-ID", "team1")
        .header("Authorization", format!("Bearer {TEAM1}"))
        .send(&body[..])
        .unwrap();
    assert_eq!(
        stored.status().as_u16(),
        200,
        "{}",
        stored.body_mut().read_to_string().unwrap()
    );
    let update = read_json(&mut socket);
    assert_eq!(update["type"], "team_update");
    assert_eq!(update["team"]["team_id"], "team1");
    let mut teams = agent.get(format!("{base}/api/teams")).call().unwrap();
    let teams: Value = serde_json::from_str(&teams.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(teams[0]["team_id"], "team1");

    // Plain HTTP on the TLS port gets no answer in clear.
    let plain = common::agent()
        .get(format!("http://127.0.0.1:{port}/api/teams"))
        .call();
    assert!(plain.is_err() || plain.unwrap().status().as_u16() != 200);

    handle.shutdown();
    // The viewer is closed by the shutdown, and the server stops.
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    thread.join().unwrap();
}

#[test]
fn a_key_that_cannot_be_read_is_refused_at_start() {
    let tls = make_certificate();
    std::fs::write(&tls.files.key, "not a key").unwrap();
    let data = tempfile::tempdir().unwrap();
    let error = Server::bind(Config {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: data.path().join("data"),
        tls: Some(tls.files.clone()),
        ..Config::default()
    })
    .err()
    .expect("refused");
    let message = error.to_string();
    assert!(
        message.contains("HTTPS") && message.contains("--tls-key"),
        "{message}"
    );
}

type Wss = tungstenite::WebSocket<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

fn wss_connect(tls: &Tls, port: u16) -> Wss {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            tls.cert_der.clone(),
        ))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let stream = rustls::StreamOwned::new(connection, tcp);
    let (socket, response) =
        tungstenite::client::client(format!("wss://localhost:{port}/ws"), stream).unwrap();
    assert_eq!(response.status().as_u16(), 101);
    socket
}

fn read_json(socket: &mut Wss) -> Value {
    loop {
        match socket.read().expect("a message") {
            tungstenite::Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
