//! The four tiny_http defects (see vendor/tiny_http/PATCHES.md), checked end to end
//! against benchboard-serve itself: the server's answers, not only the HTTP layer's.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{TestServer, fixture};

fn connect(server: &TestServer) -> TcpStream {
    let addr = server.base.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads one response (headers + Content-Length body): (status, body).
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("response head");
        assert!(
            n > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&data)
        );
        data.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&data).to_string();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

fn report_body() -> Vec<u8> {
    std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap()
}

fn post_raw(stream: &mut TcpStream, extra_headers: &str, body: &[u8]) {
    let head = format!(
        "POST /api/stats/report HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

/// Peak virtual memory of a process, in bytes (`VmPeak` in /proc): it counts what
/// was reserved even where the kernel overcommits and never backs it.
fn peak_virtual_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmPeak in /proc/PID/status");
    kib * 1024
}

#[test]
fn huge_content_length_gets_413_at_once_and_the_connection_ends_soon() {
    // The real binary, so that its memory and its life are its own.
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut serve = common::Running::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-serve"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--request-timeout",
                "3",
            ])
            .arg("--data-dir")
            .arg(&data)
            .env_remove("BENCHBOARD_MAX_BODY"),
    );
    let base = serve.url_from_first_line();
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(common::PATIENCE)).unwrap();
    let sent = Instant::now();
    stream
        .write_all(b"POST /api/stats/report HTTP/1.1\r\nHost: t\r\nX-Team-ID: team1\r\nContent-Length: 100000000000\r\n\r\n{\"a\":")
        .unwrap();
    let (status, body) = read_response(&mut stream);
    let answered = sent.elapsed();
    assert_eq!(status, 413);
    assert!(body.contains("--max-body"), "{body}");
    // At once: the body is not waited for (--request-timeout is 3 s).
    assert!(answered < Duration::from_secs(2), "413 after {answered:?}");
    // The connection ends (a lingering close may read a little first) within a
    // generous bound, and nothing was reserved for the announced body.
    let mut rest = [0u8; 4096];
    while let Ok(1..) = stream.read(&mut rest) {}
    let ended = sent.elapsed();
    assert!(
        ended < Duration::from_secs(15),
        "connection still open after {ended:?}"
    );
    assert!(
        serve.child.try_wait().unwrap().is_none(),
        "benchboard-serve died"
    );
    let peak = peak_virtual_bytes(serve.child.id());
    assert!(
        peak < 50_000_000_000,
        "benchboard-serve reserved {peak} bytes for a body it never read"
    );
    let mut second = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    second.set_read_timeout(Some(common::PATIENCE)).unwrap();
    post_raw(&mut second, "X-Team-ID: team1\r\n", &report_body());
    assert_eq!(read_response(&mut second).0, 200, "the server still serves");
    assert_eq!(common::report_files(&data, "team1").len(), 1);
    eprintln!("413 after {answered:?}, connection closed after {ended:?}, VmPeak {peak} bytes");
}

#[test]
fn stalled_clients_do_not_delay_others() {
    let server = TestServer::start_with(|c| {
        c.threads = 2;
        c.request_timeout = Duration::from_millis(500);
    });
    // More stalled clients than workers: each sends headers, half a body, then nothing.
    let mut stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(&server);
            s.write_all(b"POST /api/stats/report HTTP/1.1\r\nHost: t\r\nX-Team-ID: slow\r\nContent-Length: 500\r\n\r\n{\"totalElapsed\":")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    for _ in 0..5 {
        let (status, _) = server.post_for("fast", &report_body());
        assert_eq!(status, 200);
    }
    // The stalled ones are answered (408) or cut off once the timeout fires; none stored.
    for s in &mut stalled {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "stalled clients were not cut off by --request-timeout"
    );
    assert!(common::report_files(&server.data_dir, "slow").is_empty());
    assert_eq!(common::report_files(&server.data_dir, "fast").len(), 5);
}

/// Starts `n` uploads of a body over 1 KiB (the size up to which the old tiny_http
/// read a body before handing the request to a worker) that stop after a few bytes.
fn stalled_uploads(server: &TestServer, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = connect(server);
            s.set_read_timeout(Some(common::PATIENCE)).unwrap();
            s.write_all(b"POST /api/stats/report HTTP/1.1\r\nHost: t\r\nX-Team-ID: slow\r\nContent-Length: 5000\r\n\r\n{\"totalElapsed\":")
                .unwrap();
            s
        })
        .collect()
}

/// Each stalled upload is answered with the JSON 408 once --request-timeout passed.
fn assert_each_gets_a_json_408(stalled: &mut [TcpStream]) {
    for s in stalled {
        let (status, body) = read_response(s);
        assert_eq!(status, 408, "{body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
        assert!(
            error["error"].as_str().unwrap().contains("timed out"),
            "{body}"
        );
    }
}

#[test]
fn stalled_uploads_get_a_json_408_and_store_nothing() {
    let server = TestServer::start_with(|c| {
        c.threads = 2;
        c.request_timeout = Duration::from_secs(1);
    });
    let mut stalled = stalled_uploads(&server, 4);
    assert_each_gets_a_json_408(&mut stalled);
    assert_eq!(server.post_for("fast", &report_body()).0, 200);
    assert!(common::report_files(&server.data_dir, "slow").is_empty());
}

#[test]
fn stalled_uploads_hold_no_worker_from_fast_reports_and_get_a_json_408() {
    let timeout = Duration::from_secs(6);
    let server = TestServer::start_with(|c| {
        c.threads = 2;
        c.request_timeout = timeout;
    });
    // More stalled uploads than workers.
    let mut stalled = stalled_uploads(&server, 4);
    let started = Instant::now();
    for _ in 0..5 {
        let (status, _) = server.post_for("fast", &report_body());
        assert_eq!(status, 200);
    }
    let fast = started.elapsed();
    assert!(
        fast < timeout / 2,
        "five fast reports took {fast:?}: stalled uploads held the workers"
    );
    assert_each_gets_a_json_408(&mut stalled);
    assert!(common::report_files(&server.data_dir, "slow").is_empty());
    assert_eq!(common::report_files(&server.data_dir, "fast").len(), 5);
}

#[test]
fn burst_of_256_keepalive_connections_all_answered() {
    let server = TestServer::start_with(|c| c.threads = 4);
    let body = report_body();
    let mut streams: Vec<TcpStream> = (0..256).map(|_| connect(&server)).collect();
    for (i, s) in streams.iter_mut().enumerate() {
        post_raw(s, &format!("X-Team-ID: burst{}\r\n", i % 6), &body);
    }
    for s in &mut streams {
        assert_eq!(read_response(s).0, 200);
    }
    // Every connection stays usable (keep-alive) for a second request.
    for s in &mut streams {
        s.write_all(b"GET /api/teams HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    }
    for s in &mut streams {
        assert_eq!(read_response(s).0, 200);
    }
    let stored: usize = (0..6)
        .map(|i| common::report_files(&server.data_dir, &format!("burst{i}")).len())
        .sum();
    assert_eq!(stored, 256);
}

#[test]
fn raw_non_ascii_team_name_gets_400_asking_for_percent_encoding() {
    let server = TestServer::start();
    let mut stream = connect(&server);
    post_raw(
        &mut stream,
        "X-Team-ID: team1\r\nX-Team-Name: 团队A\r\n",
        &report_body(),
    );
    let (status, body) = read_response(&mut stream);
    assert_eq!(status, 400);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("X-Team-Name") && message.contains("percent-encode"),
        "{message}"
    );
    assert!(common::report_files(&server.data_dir, "team1").is_empty());
}

#[test]
fn unframeable_bodies_get_an_immediate_json_error_and_store_nothing() {
    let server = TestServer::start();
    let cases = [
        ("Content-Length: abc\r\n", 400, "Content-Length"),
        ("Content-Length: +2\r\n", 400, "Content-Length"),
        (
            "Content-Length: 2\r\nContent-Length: 3\r\n",
            400,
            "Content-Length",
        ),
        ("Transfer-Encoding: gzip\r\n", 501, "chunked"),
    ];
    for (header, status, mentions) in cases {
        let mut stream = connect(&server);
        let head = format!(
            "POST /api/stats/report HTTP/1.1\r\nHost: t\r\nX-Team-ID: team1\r\n{header}\r\n{{}}"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let started = Instant::now();
        let (got, body) = read_response(&mut stream);
        assert_eq!(got, status, "{header}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
        assert!(
            error["error"].as_str().unwrap().contains(mentions),
            "{body}"
        );
        // Answered at once, not after --request-timeout.
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert!(common::report_files(&server.data_dir, "team1").is_empty());
}
