//! The hostile-room limits hold inside TLS: head limits (414, 431), the request
//! deadline (408) and `--max-connections` (idle handshakes evicted first, then new
//! connections closed) and the WebSocket stall timeout (a wss:// viewer that reads
//! nothing), against the real HTTPS server on port 0.

mod common;

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use common::serve::wait_until;
use common::tls::{Https, next, read_answer, read_until_closed};
use common::{PATIENCE, report_files};
use serde_json::Value;

#[test]
fn oversized_heads_inside_tls_are_refused_with_json() {
    let server = Https::start(Duration::from_secs(10));
    // a request line that never ends: 414 once it passes 8 KiB
    let mut reader = BufReader::new(server.tls_stream(PATIENCE));
    reader.get_mut().write_all(b"GET /").expect("write");
    reader
        .get_mut()
        .write_all(&[b'a'; 9 * 1024])
        .expect("write");
    let answer = read_answer(&mut reader).expect("an answer");
    assert_eq!(answer.status, 414, "{answer:?}");
    assert!(answer.json()["error"].as_str().unwrap().contains("8 KiB"));
    // an endless header value: 431 after 16 KiB, whatever more is sent
    let mut reader = BufReader::new(server.tls_stream(PATIENCE));
    let stream = reader.get_mut();
    stream
        .write_all(b"GET / HTTP/1.1\r\nX-Big: ")
        .expect("write");
    let chunk = vec![b'b'; 64 * 1024];
    let mut sent = 0;
    while sent < 4 * 1024 * 1024 && stream.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    let answer = read_answer(&mut reader).expect("an answer");
    assert_eq!(answer.status, 431, "{answer:?}");
    assert!(answer.json()["error"].as_str().unwrap().contains("16 KiB"));
    // 101 header lines
    let mut reader = BufReader::new(server.tls_stream(PATIENCE));
    let mut head = String::from("GET /api/teams HTTP/1.1\r\n");
    for i in 0..101 {
        head.push_str(&format!("X-{i}: y\r\n"));
    }
    head.push_str("\r\n");
    reader.get_mut().write_all(head.as_bytes()).expect("write");
    assert_eq!(read_answer(&mut reader).expect("an answer").status, 431);
    assert_eq!(server.post_report("legit"), 200);
}

#[test]
fn slow_heads_and_bodies_inside_tls_get_408_and_hold_no_worker() {
    let server = Https::start_with(|c| {
        c.request_timeout = Duration::from_secs(1);
        c.threads = 1;
    });
    let heads = [
        // a head that never ends
        "POST /api/stats/report HTTP/1.1\r\nHost: x\r\nX-Team-ID: slow\r\n".to_string(),
        // a body that never comes
        "POST /api/stats/report HTTP/1.1\r\nHost: x\r\nX-Team-ID: slow\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n{\"avg".to_string(),
    ];
    let mut slow: Vec<_> = (0..6)
        .map(|i| {
            let mut reader = BufReader::new(server.tls_stream(PATIENCE));
            let head = &heads[i % heads.len()];
            reader.get_mut().write_all(head.as_bytes()).expect("write");
            reader
        })
        .collect();
    // the one worker still serves
    assert_eq!(server.post_report("legit"), 200);
    for reader in &mut slow {
        let answer = read_answer(reader).expect("an answer before the close");
        assert_eq!(answer.status, 408, "{answer:?}");
        let error = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(error.contains("timed out"), "{answer:?}");
    }
    assert!(report_files(&server.data_dir(), "slow").is_empty());
    assert_eq!(server.post_report("legit"), 200);
}

#[test]
fn past_max_connections_idle_handshakes_go_first_then_new_ones_are_closed() {
    const MAX: usize = 8;
    let server = Https::start_with(|c| {
        c.max_connections = MAX;
        c.threads = 16;
        c.request_timeout = Duration::from_secs(60);
    });
    // MAX stalled handshakes (idle: no byte of a request yet), then a legitimate
    // report: the oldest stalled one is closed to make room
    let mut idle: Vec<_> = (0..MAX).map(|_| server.tcp()).collect();
    for stream in &mut idle {
        stream.write_all(&[0x16, 0x03, 0x01]).expect("write");
    }
    assert_eq!(server.post_report("legit"), 200);
    assert!(
        read_until_closed(&mut idle[0]).is_empty(),
        "oldest idle closed"
    );
    // MAX connections with a request in progress (waiting for the body after a
    // 100 Continue): none is idle, so the next connection is closed unanswered
    let mut busy: Vec<_> = (0..MAX)
        .map(|_| {
            let mut stream = server.tls_stream(PATIENCE);
            stream
                .write_all(b"POST /api/stats/report HTTP/1.1\r\nHost: x\r\nX-Team-ID: busy\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n")
                .expect("write");
            let mut line = [0u8; 25];
            stream.read_exact(&mut line).expect("100 Continue");
            assert!(line.starts_with(b"HTTP/1.1 100 Continue"), "{line:?}");
            stream
        })
        .collect();
    for stream in &mut idle[1..] {
        assert!(read_until_closed(stream).is_empty(), "idle ones go first");
    }
    let mut refused = BufReader::new(server.tls_stream(PATIENCE));
    let request = b"GET /api/teams HTTP/1.1\r\nHost: x\r\n\r\n";
    let answer = refused
        .get_mut()
        .write_all(request)
        .and_then(|()| read_answer(&mut refused));
    let status = answer.as_ref().map(|a| a.status);
    assert!(status.is_err(), "answered past max-connections: {status:?}");
    busy.clear();
    // once the busy ones are gone, a connection gets in again (closing takes a moment)
    let deadline = std::time::Instant::now() + PATIENCE;
    while !try_report(&server) {
        assert!(std::time::Instant::now() < deadline, "still refused");
    }
    assert!(report_files(&server.data_dir(), "busy").is_empty());
}

/// Posts a report over a fresh connection; whether it was stored.
fn try_report(server: &Https) -> bool {
    let body = std::fs::read(common::fixture("valid/full-13-buckets.json")).expect("fixture");
    let sent = server
        .pki
        .agent()
        .post(&server.url("/api/stats/report"))
        .header("X-Team-ID", "again")
        .header("Content-Type", "application/json")
        .send(&body[..]);
    matches!(sent, Ok(response) if response.status() == 200)
}

#[test]
fn a_wss_viewer_that_stops_reading_is_dropped_and_others_carry_on() {
    // ~900 KiB updates: past the default --max-body (64 KiB).
    let server = Https::start_with(|c| {
        c.request_timeout = Duration::from_secs(1);
        c.max_body_bytes = 2 * 1024 * 1024;
    });
    let viewers = || server.get_json("/healthz").1["viewers"].as_u64();
    let (mut stuck, mut calm) = (server.viewer(), server.viewer());
    for viewer in [&mut stuck, &mut calm] {
        assert_eq!(next(viewer).expect("a snapshot")["type"], "snapshot");
    }
    wait_until("two viewers", || viewers() == Some(2));
    // `stuck` never reads again: a few large updates fill the socket buffers and the
    // TLS records queued behind them, then the writer can hand it nothing more
    let mut padded: Value = serde_json::from_slice(
        &std::fs::read(common::fixture("valid/full-13-buckets.json")).unwrap(),
    )
    .unwrap();
    padded["padding"] = Value::String("x".repeat(900 * 1024));
    let body = serde_json::to_vec(&padded).unwrap();
    for _ in 0..30 {
        assert_eq!(server.post_body("big", &body), 200);
        // `calm` takes each update
        let update = next(&mut calm).expect("the reading viewer's update");
        assert_eq!(update["type"], "team_update", "{update}");
    }
    wait_until("the stuck viewer dropped", || viewers() == Some(1));
    assert_eq!(server.post_report("after"), 200);
    drop(stuck);
}
