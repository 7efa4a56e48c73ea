//! HTTPS inside the reactor (BenchBoard patch 12), with a certificate made by the test.

use std::convert::TryFrom;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tiny_http::{ConnectionOptions, Limits, Response, Server, UpgradedStream};

struct Tls {
    server: Arc<Server>,
    port: u16,
    client: Arc<ClientConfig>,
}

fn https_server(timeout: Duration) -> Tls {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let config = tiny_http::tls_config_from_pem(
        made.cert.pem().as_bytes(),
        made.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ConnectionOptions {
        read_timeout: Some(timeout),
        write_timeout: Some(timeout),
    };
    let server = Server::from_listener_with_tls(listener, options, Limits::default(), config)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Tls {
        server: Arc::new(server),
        port,
        client: Arc::new(client),
    }
}

type Client = StreamOwned<ClientConnection, TcpStream>;

impl Tls {
    fn connect(&self) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(Arc::clone(&self.client), name).unwrap();
        StreamOwned::new(conn, tcp)
    }

    /// Answers every request with `body` (its path appended), detached or not.
    fn serve(&self, body: Vec<u8>, detached: bool) {
        let server = Arc::clone(&self.server);
        thread::spawn(move || {
            for request in server.incoming_requests() {
                let mut answer = body.clone();
                answer.extend_from_slice(request.url().as_bytes());
                assert!(request.secure());
                let response = Response::from_data(answer);
                let _ = match detached {
                    true => request.respond_detached(response),
                    false => request.respond(response),
                };
            }
        });
    }
}

/// Reads one answer: status line and body (by Content-Length, or chunked).
fn read_answer(reader: &mut impl BufRead) -> (String, Vec<u8>) {
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let (mut length, mut chunked) = (0, false);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let line = line.to_ascii_lowercase();
        if let Some(value) = line.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
        chunked |= line.starts_with("transfer-encoding:") && line.contains("chunked");
    }
    let mut body = Vec::new();
    if !chunked {
        body.resize(length, 0);
        reader.read_exact(&mut body).unwrap();
    }
    while chunked {
        let mut size = String::new();
        reader.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        let start = body.len();
        body.resize(start + size + 2, 0);
        reader.read_exact(&mut body[start..]).unwrap();
        body.truncate(start + size);
        chunked = size > 0;
    }
    (status.trim_end().to_string(), body)
}

#[test]
fn keep_alive_requests_and_large_answers_over_tls() {
    for detached in [false, true] {
        let tls = https_server(Duration::from_secs(30));
        let large = vec![b'x'; 3 * 1024 * 1024];
        tls.serve(large.clone(), detached);
        let mut reader = BufReader::new(tls.connect());
        for path in ["/one", "/two"] {
            write!(reader.get_mut(), "GET {} HTTP/1.1\r\nHost: x\r\n\r\n", path).unwrap();
            let (status, body) = read_answer(&mut reader);
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body.len(), large.len() + path.len());
            assert!(body.ends_with(path.as_bytes()));
        }
    }
}

#[test]
fn plain_http_to_the_tls_port_gets_a_400_saying_https() {
    let tls = https_server(Duration::from_secs(30));
    tls.serve(b"ok".to_vec(), true);
    let mut plain = TcpStream::connect(("127.0.0.1", tls.port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{}", answer);
    assert!(answer.contains("https://"), "{}", answer);
    // others are served as ever
    let mut reader = BufReader::new(tls.connect());
    write!(reader.get_mut(), "GET /after HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_answer(&mut reader).1, b"ok/after");
}

#[test]
fn garbage_handshake_is_closed_and_others_are_served() {
    let tls = https_server(Duration::from_secs(30));
    tls.serve(b"ok".to_vec(), true);
    let mut garbage = TcpStream::connect(("127.0.0.1", tls.port)).unwrap();
    garbage.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // a handshake record header, then nonsense
    garbage.write_all(&[0x16, 0x03, 0x01, 0x00, 0x20]).unwrap();
    garbage.write_all(&[0xff; 32]).unwrap();
    let mut rest = Vec::new();
    let _ = garbage.read_to_end(&mut rest); // an alert, then the end (or a reset)
    assert!(rest.len() < 64, "{:?}", rest);
    let mut reader = BufReader::new(tls.connect());
    write!(reader.get_mut(), "GET /after HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_answer(&mut reader).1, b"ok/after");
}

#[test]
fn stalled_handshake_is_dropped_after_the_request_timeout() {
    let timeout = Duration::from_millis(500);
    let tls = https_server(timeout);
    tls.serve(b"ok".to_vec(), true);
    // the first bytes of a ClientHello, and no more
    let mut stalled = TcpStream::connect(("127.0.0.1", tls.port)).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(rest.is_empty(), "{:?}", rest);
    assert!(waited >= timeout, "closed after {:?}", waited);
    assert!(waited < Duration::from_secs(30), "closed after {:?}", waited);
}

#[test]
fn slow_head_inside_tls_gets_408() {
    let timeout = Duration::from_millis(500);
    let tls = https_server(timeout);
    tls.serve(b"ok".to_vec(), true);
    let mut reader = BufReader::new(tls.connect());
    write!(reader.get_mut(), "GET /slow HTTP/1.1\r\n").unwrap();
    reader.get_mut().flush().unwrap();
    let (status, body) = read_answer(&mut reader);
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    assert!(String::from_utf8_lossy(&body).contains("error"));
}

#[test]
fn upgrade_stream_keeps_the_tls_session() {
    let tls = https_server(Duration::from_secs(30));
    let server = Arc::clone(&tls.server);
    let echo = thread::spawn(move || {
        let request = server.recv().unwrap();
        let response = Response::empty(101);
        let mut stream = request.upgrade_stream("echo", response).unwrap();
        assert!(matches!(stream, UpgradedStream::Tls(_)));
        // blocking reads within the read timeout (the WebSocket writer's non-blocking
        // use is tested by BenchBoard's tests/tls.rs)
        let mut got = Vec::new();
        while !got.ends_with(b"\n") {
            let mut piece = [0u8; 64];
            match stream.read(&mut piece).unwrap() {
                0 => break,
                n => got.extend_from_slice(&piece[..n]),
            }
        }
        stream.write_all(&got).unwrap();
        stream.flush().unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
    });
    let mut reader = BufReader::new(tls.connect());
    write!(
        reader.get_mut(),
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
    )
    .unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{}", status);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    reader.get_mut().write_all(b"hello over tls\n").unwrap();
    let mut echoed = String::new();
    reader.read_line(&mut echoed).unwrap();
    assert_eq!(echoed, "hello over tls\n");
    echo.join().unwrap();
}

#[test]
fn mismatched_key_is_refused() {
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let refused = tiny_http::tls_config_from_pem(
        one.cert.pem().as_bytes(),
        other.signing_key.serialize_pem().as_bytes(),
    );
    assert!(matches!(refused, Err(tiny_http::TlsConfigError::Refused(_))));
    let no_cert = tiny_http::tls_config_from_pem(b"", one.signing_key.serialize_pem().as_bytes());
    assert!(matches!(no_cert, Err(tiny_http::TlsConfigError::NoCertificate)));
    let no_key = tiny_http::tls_config_from_pem(one.cert.pem().as_bytes(), b"nothing");
    assert!(matches!(no_key, Err(tiny_http::TlsConfigError::BadKey(_))));
}

#[test]
fn a_tls_client_that_stops_reading_is_cut_off_at_the_minimum_rate() {
    let timeout = Duration::from_millis(500);
    let tls = https_server(timeout);
    tls.serve(vec![b'x'; 16 * 1024 * 1024], true);
    let mut client = tls.connect();
    write!(client, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    client.flush().unwrap();
    // the client reads nothing more: the server must let go of it by itself
    let deadline = Instant::now() + Duration::from_secs(60);
    while tls.server.num_connections() > 0 {
        assert!(Instant::now() < deadline, "the slow TLS reader is still connected");
        thread::sleep(Duration::from_millis(20));
    }
    drop(client);
}
