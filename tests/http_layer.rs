//! Regression tests for the patched tiny_http in `vendor/tiny_http` (see its `PATCHES.md`).
//!
//! Every test starts its own server on `127.0.0.1:0`, runs a few application worker threads
//! calling `Server::recv()`, and talks to it through raw `TcpStream`s. Nothing sleeps to
//! synchronise: waiting is always done with socket timeouts or a polled deadline.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tiny_http::{ConnectionOptions, Request, Response, Server};

/// How long a client waits for something that is expected to happen "soon".
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A tiny_http server with `n` application workers that hand every request to `handler`.
struct TestServer {
    server: Arc<Server>,
    addr: SocketAddr,
    workers: Vec<JoinHandle<()>>,
}

impl TestServer {
    fn start<F>(options: ConnectionOptions, n_workers: usize, handler: F) -> TestServer
    where
        F: Fn(Request) + Send + Sync + 'static,
    {
        let server = Server::http_with_options("127.0.0.1:0", options).expect("start server");
        let server = Arc::new(server);
        let addr = server.server_addr().to_ip().expect("TCP listener");
        let handler = Arc::new(handler);
        let workers = (0..n_workers)
            .map(|_| {
                let server = Arc::clone(&server);
                let handler = Arc::clone(&handler);
                thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        handler(request);
                    }
                })
            })
            .collect();
        TestServer {
            server,
            addr,
            workers,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        stream
    }

    /// Unblocks every worker and waits (bounded) for all of them to finish.
    fn shutdown(&mut self) {
        for _ in &self.workers {
            self.server.unblock();
        }
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        while !self.workers.iter().all(JoinHandle::is_finished) {
            assert!(
                Instant::now() < deadline,
                "application workers did not stop after unblock()"
            );
            thread::yield_now();
        }
        for worker in self.workers.drain(..) {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if !thread::panicking() {
            self.shutdown();
        }
    }
}

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads exactly one HTTP/1.1 response (framed by `Content-Length`) from `stream`.
fn read_response(stream: &mut TcpStream) -> io::Result<HttpResponse> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "connection closed after {} bytes of response head",
                    head.len()
                ),
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("response head is UTF-8");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .map(|(_, v)| v.parse().expect("Content-Length"))
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Asserts that the server closes `stream` (EOF or reset) before the client timeout.
fn assert_closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue, // leftovers (e.g. a 408 written by tiny_http) are fine
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return;
            }
            Err(e) => panic!("connection was not closed by the server: {e}"),
        }
    }
}

/// Returns true while the server has neither written to nor closed `stream`.
fn still_open_and_silent(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1];
    let result = stream.peek(&mut buf);
    stream.set_nonblocking(false).unwrap();
    matches!(result, Err(ref e) if e.kind() == ErrorKind::WouldBlock)
}

fn get(stream: &mut TcpStream, path: &str) -> HttpResponse {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    read_response(stream).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn echo_url(request: Request) {
    let url = request.url().to_owned();
    let _ = request.respond(Response::from_string(url));
}

#[test]
fn huge_content_length_answered_early_keeps_process_alive() {
    let server = TestServer::start(ConnectionOptions::default(), 2, |request| {
        if request.body_length().unwrap_or(0) > 1 << 20 {
            // Answer without touching the body.
            let _ = request.respond(Response::from_string("too large").with_status_code(413));
        } else {
            echo_url(request);
        }
    });

    let mut client = server.connect();
    client
        .write_all(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100000000000\r\n\r\n")
        .unwrap();
    client.write_all(&[b'x'; 4096]).unwrap();

    let response = read_response(&mut client).expect("413 response");
    assert_eq!(response.status, 413);
    assert_eq!(
        response
            .header("Connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("close")
    );
    assert_closed_by_server(&mut client);

    // The process (and the server) is still alive and serving.
    let mut other = server.connect();
    let response = get(&mut other, "/after");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "/after");
}

#[test]
fn small_unread_body_is_skipped_and_keep_alive_is_kept() {
    let server = TestServer::start(ConnectionOptions::default(), 2, echo_url);

    let mut client = server.connect();
    client
        .write_all(b"POST /ignored-body HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n")
        .unwrap();
    client.write_all(&[b'{'; 5000]).unwrap();
    let response = read_response(&mut client).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Connection"), None);

    // Same connection: the unread body was skipped, not parsed as the next request.
    let response = get(&mut client, "/next");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "/next");
}

#[test]
fn stalled_client_does_not_block_others() {
    let timeout = Duration::from_millis(400);
    let options = ConnectionOptions {
        read_timeout: Some(timeout),
        write_timeout: Some(timeout),
    };
    let server = TestServer::start(options, 2, |mut request| {
        let mut body = Vec::new();
        match request.as_reader().read_to_end(&mut body) {
            Ok(_) => echo_url(request),
            Err(_) => {
                let _ = request.respond(Response::empty(408));
            }
        }
    });

    // Stalls in the middle of its headers.
    let mut mid_headers = server.connect();
    mid_headers
        .write_all(b"GET /stalled HTTP/1.1\r\nHost: te")
        .unwrap();
    // Stalls in the middle of a streamed body: an application worker is reading it.
    let mut mid_body = server.connect();
    mid_body
        .write_all(b"POST /stalled HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n")
        .unwrap();
    mid_body.write_all(&[b'x'; 100]).unwrap();

    // A well-behaved client is answered while both stalled clients are still pending.
    let mut good = server.connect();
    let response = get(&mut good, "/good");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "/good");
    assert!(
        still_open_and_silent(&mid_headers) && still_open_and_silent(&mid_body),
        "the good client was only answered after the stalled ones timed out"
    );

    // Both stalled connections are closed once the read timeout fires.
    let started = Instant::now();
    assert_closed_by_server(&mut mid_headers);
    assert_closed_by_server(&mut mid_body);
    assert!(started.elapsed() < CLIENT_TIMEOUT);

    // The idle keep-alive connection of the good client was closed by the timeout, too.
    assert_closed_by_server(&mut good);
    // And the server keeps working afterwards.
    let mut late = server.connect();
    assert_eq!(get(&mut late, "/again").body_text(), "/again");
}

#[test]
fn client_that_stops_reading_is_cut_off_by_write_timeout() {
    let timeout = Duration::from_millis(300);
    let options = ConnectionOptions {
        read_timeout: Some(timeout),
        write_timeout: Some(timeout),
    };
    let (results_tx, results_rx) = std::sync::mpsc::channel();
    let results_tx = std::sync::Mutex::new(results_tx);
    let server = TestServer::start(options, 2, move |request| {
        if request.url() == "/huge" {
            let size = 256 << 20;
            let body = io::repeat(b'x').take(size as u64);
            let response = Response::new(200.into(), Vec::new(), body, Some(size), None);
            let result = request.respond(response);
            results_tx.lock().unwrap().send(result.is_err()).unwrap();
        } else {
            echo_url(request);
        }
    });

    let mut reader_on_strike = server.connect();
    write!(reader_on_strike, "GET /huge HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();

    // The worker's respond() fails with the write timeout instead of blocking forever.
    let failed = results_rx
        .recv_timeout(CLIENT_TIMEOUT)
        .expect("respond() to a client that never reads did not return");
    assert!(failed, "respond() should report the write timeout");

    let mut other = server.connect();
    assert_eq!(get(&mut other, "/fine").body_text(), "/fine");
}

#[test]
fn burst_of_256_keepalive_connections_all_answered() {
    const CONNECTIONS: usize = 256;
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let server = TestServer::start(ConnectionOptions::default(), 4, move |request| {
        counter.fetch_add(1, Ordering::Relaxed);
        echo_url(request);
    });

    let mut clients: Vec<TcpStream> = (0..CONNECTIONS).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        // HTTP/1.1 without `Connection: close`: every connection stays alive.
        write!(client, "GET /{i} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    }

    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut unanswered = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        client
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match read_response(client) {
            Ok(r) if r.status == 200 && r.body_text() == format!("/{i}") => {}
            _ => unanswered.push(i),
        }
    }
    assert!(
        unanswered.is_empty(),
        "{} of {CONNECTIONS} keep-alive connections were not answered (handled: {}); first: {:?}",
        unanswered.len(),
        handled.load(Ordering::Relaxed),
        &unanswered[..unanswered.len().min(10)]
    );

    // The connections are still usable for a second round.
    for (i, client) in clients.iter_mut().enumerate().step_by(32) {
        client.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        assert_eq!(get(client, &format!("/again/{i}")).status, 200);
    }
}

#[test]
fn raw_non_ascii_header_reaches_application() {
    let server = TestServer::start(ConnectionOptions::default(), 2, |request| {
        let offending: Vec<String> = request
            .non_ascii_headers()
            .iter()
            .map(ToString::to_string)
            .collect();
        if offending.is_empty() {
            echo_url(request);
            return;
        }
        let listed_in_headers = request.headers().iter().any(|h| {
            offending
                .iter()
                .any(|name| h.field.as_str() == name.as_str())
        });
        let body = format!(
            "{{\"error\":\"header {} contains raw non-ASCII bytes; percent-encode the name\",\
             \"listed_in_headers\":{listed_in_headers},\"host\":{:?}}}",
            offending.join(","),
            request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Host"))
                .map(|h| h.value.as_str())
                .unwrap_or("")
        );
        let _ = request.respond(Response::from_string(body).with_status_code(400));
    });

    // Raw UTF-8 in a header value (what curl sends): the application answers.
    let mut client = server.connect();
    client
        .write_all("GET /teams HTTP/1.1\r\nHost: test\r\nX-Team-Name: 团队A\r\n\r\n".as_bytes())
        .unwrap();
    let response = read_response(&mut client).expect("an answer from the application");
    assert_eq!(response.status, 400);
    let body = response.body_text();
    assert!(
        body.contains("header X-Team-Name contains raw non-ASCII bytes"),
        "{body}"
    );
    assert!(body.contains("percent-encode the name"), "{body}");
    assert!(body.contains("\"listed_in_headers\":false"), "{body}");
    assert!(body.contains("\"host\":\"test\""), "{body}");
    // The connection stays usable.
    assert_eq!(get(&mut client, "/next").body_text(), "/next");

    // Raw UTF-8 in the request line: tiny_http itself answers 400 and closes.
    let mut client = server.connect();
    client
        .write_all("GET /团队 HTTP/1.1\r\nHost: test\r\n\r\n".as_bytes())
        .unwrap();
    let response = read_response(&mut client).expect("a 400 from tiny_http");
    assert_eq!(response.status, 400);
    assert!(
        response
            .body_text()
            .contains("\"error\":\"malformed HTTP request line\"")
    );
    assert_closed_by_server(&mut client);

    // Raw UTF-8 in a header that frames the message: rejected by tiny_http, never guessed at.
    let mut client = server.connect();
    client
        .write_all("POST / HTTP/1.1\r\nHost: test\r\nContent-Length: ５\r\n\r\nhello".as_bytes())
        .unwrap();
    let response = read_response(&mut client).expect("a 400 from tiny_http");
    assert_eq!(response.status, 400);
    assert!(
        response.body_text().contains("\"error\":"),
        "{}",
        response.body_text()
    );
    assert_closed_by_server(&mut client);
}

#[test]
fn upgrade_tcp_hands_over_the_socket_and_tiny_http_lets_go_of_it() {
    let (sockets, handed_over) = std::sync::mpsc::channel();
    let sockets = std::sync::Mutex::new(sockets);
    let mut server = TestServer::start(ConnectionOptions::default(), 2, move |request| {
        let response = Response::empty(101);
        match request.upgrade_tcp("echo", response) {
            Ok(socket) => sockets.lock().unwrap().send(socket).unwrap(),
            Err(tiny_http::UpgradeTcpError::NotPlainTcp(request, _)) => {
                // no `Connection: upgrade`: nothing was written, the request still answers
                let _ = request.respond(Response::from_string("not upgraded"));
            }
            Err(tiny_http::UpgradeTcpError::Io(e)) => panic!("writing the 101 failed: {e}"),
        }
    });
    let mut plain = server.connect();
    let answer = get(&mut plain, "/plain");
    assert_eq!(
        (answer.status, answer.body_text().as_str()),
        (200, "not upgraded")
    );

    let mut client = server.connect();
    write!(
        client,
        "GET /echo HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
    )
    .unwrap();
    let switching = read_response(&mut client).expect("101 response");
    assert_eq!(switching.status, 101);
    assert_eq!(switching.header("Upgrade"), Some("echo"));
    let mut socket = handed_over
        .recv_timeout(CLIENT_TIMEOUT)
        .expect("socket handed over");
    socket.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    // The whole server goes away: the handed-over socket must not be shut down with it.
    server.shutdown();
    drop(server);
    for round in 0..3 {
        socket
            .write_all(format!("server {round}").as_bytes())
            .unwrap();
        let mut got = [0u8; 8];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, format!("server {round}").as_bytes());
        client
            .write_all(format!("client {round}").as_bytes())
            .unwrap();
        socket.read_exact(&mut got).unwrap();
        assert_eq!(&got, format!("client {round}").as_bytes());
    }
    drop(socket);
    assert_closed_by_server(&mut client);
}
