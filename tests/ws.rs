//! The WebSocket push (`GET /ws`) through a real server on port 0 and real
//! tungstenite clients.

mod common;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benchboard::server::{App, Config, Server, ShutdownHandle};
use common::{agent, fixture, report_files};
use serde_json::Value;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Client = WebSocket<MaybeTlsStream<TcpStream>>;

/// A server whose shared state the test can inspect (e.g. how many viewers the hub holds).
struct Running {
    addr: String,
    app: Arc<App>,
    handle: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _temp: tempfile::TempDir,
}

impl Running {
    fn start(adjust: impl FnOnce(&mut Config)) -> Running {
        let temp = tempfile::Builder::new()
            .prefix("benchboard-ws-")
            .tempdir()
            .expect("temp dir");
        let mut config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: temp.path().join("data"),
            threads: 4,
            ..Config::default()
        };
        adjust(&mut config);
        let server = Server::bind(config).expect("server starts");
        let addr = server.local_addr().to_string();
        let app = Arc::clone(server.app());
        let handle = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.run());
        Running {
            addr,
            app,
            handle,
            thread: Some(thread),
            _temp: temp,
        }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.app.config.data_dir.clone()
    }

    fn connect(&self) -> Client {
        let (socket, _) =
            tungstenite::connect(format!("ws://{}/ws", self.addr)).expect("WebSocket handshake");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .expect("read timeout");
        }
        socket
    }

    fn post(&self, team: &str, name: Option<&str>, body: &[u8]) -> u16 {
        let mut request = agent()
            .post(&format!("http://{}/api/stats/report", self.addr))
            .header("Content-Type", "application/json")
            .header("X-Team-ID", team);
        if let Some(name) = name {
            request = request.header("X-Team-Name", benchboard::team::encode_team_name(name));
        }
        request
            .send(body)
            .expect("POST reaches the server")
            .status()
            .as_u16()
    }

    fn viewers(&self) -> usize {
        self.app.board.hub().len()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread ends cleanly");
        }
    }
}

/// What a client read next.
#[derive(Debug)]
enum Got {
    Json(Value),
    Closed(String),
}

/// The next text (as JSON) or close frame, skipping pings; panics after `within`.
fn next(socket: &mut Client, within: Duration) -> Got {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match socket.read() {
            Ok(Message::Text(text)) => {
                return Got::Json(serde_json::from_str(&text).expect("messages are JSON"));
            }
            Ok(Message::Close(frame)) => {
                return Got::Closed(frame.map(|f| f.reason.to_string()).unwrap_or_default());
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Got::Closed(format!("connection ended: {e}")),
        }
    }
    panic!("no message within {within:?}");
}

fn next_json(socket: &mut Client) -> Value {
    match next(socket, Duration::from_secs(10)) {
        Got::Json(value) => value,
        Got::Closed(reason) => panic!("expected a message, the server closed: {reason}"),
    }
}

/// `GET path` -> (status, body as JSON or `Value::Null`).
fn get_json(addr: &str, path: &str) -> (u16, Value) {
    let mut response = agent()
        .get(&format!("http://{addr}{path}"))
        .call()
        .expect("GET reaches the server");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn report() -> Vec<u8> {
    std::fs::read(fixture("valid/full-13-buckets.json")).expect("fixture")
}

/// A valid report made about `bytes` long by an extra field (kept verbatim, and so
/// carried in every `team_update`).
fn padded_report(bytes: usize) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&report()).expect("fixture is JSON");
    value["padding"] = Value::String("x".repeat(bytes));
    serde_json::to_vec(&value).expect("serializes")
}

#[test]
fn snapshot_on_connect_lists_every_team_and_the_card_limit() {
    let server = Running::start(|c| c.max_teams = 4);
    assert_eq!(server.post("team1", Some("第一小组"), &report()), 200);
    assert_eq!(server.post("team2", None, &report()), 200);
    let mut viewer = server.connect();
    let snapshot = next_json(&mut viewer);
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["max_teams"], 4);
    let teams = snapshot["teams"].as_array().expect("teams array");
    let ids: Vec<&str> = teams.iter().filter_map(|t| t["team_id"].as_str()).collect();
    assert_eq!(ids, ["team1", "team2"]);
    assert_eq!(teams[0]["team_name"], "第一小组");
    assert_eq!(teams[0]["on_board"], true);
    assert_eq!(teams[0]["is_active"], true);
    assert_eq!(teams[0]["qps"], 40.2);
    let (_, listed) = get_json(&server.addr, "/api/teams");
    assert_eq!(
        teams,
        listed.as_array().expect("array"),
        "snapshot carries the same fields as /api/teams"
    );
}

#[test]
fn posted_report_reaches_two_viewers_as_team_update_after_it_is_on_disk() {
    let server = Running::start(|_| {});
    let mut viewers = [server.connect(), server.connect()];
    for viewer in &mut viewers {
        assert_eq!(next_json(viewer)["type"], "snapshot");
    }
    let hostile = "<img src=x onerror=alert(1)>";
    std::thread::scope(|scope| {
        // The POST runs while the viewers read: the moment an update arrives, its
        // report must already be a complete file on disk.
        let post = scope.spawn(|| server.post("team7", Some(hostile), &report()));
        for viewer in &mut viewers {
            let update = next_json(viewer);
            let files = report_files(&server.data_dir(), "team7");
            assert_eq!(
                files.len(),
                1,
                "the report is on disk when its update arrives"
            );
            let text = std::fs::read_to_string(server.data_dir().join("team7").join(&files[0]))
                .expect("the report file is readable");
            let stored: Value = serde_json::from_str(&text).expect("the report file is complete");
            assert_eq!(stored["team_name"], hostile);
            assert_eq!(update["type"], "team_update");
            assert_eq!(update["team"]["team_id"], "team7");
            assert_eq!(update["team"]["team_name"], hostile);
            assert_eq!(update["team"]["qps"], 40.2);
            assert_eq!(update["team"]["best_qps"], 40.2);
            assert_eq!(update["team"]["report_count"], 1);
        }
        assert_eq!(post.join().expect("POST thread"), 200);
    });
}

#[test]
fn viewer_that_stops_reading_is_dropped_while_ingest_and_another_viewer_carry_on() {
    let server = Running::start(|c| {
        c.max_body_bytes = 1024 * 1024;
        c.viewer_queue = 2;
        // Long enough that the stuck write is not cut short before the test reads again.
        c.request_timeout = Duration::from_secs(120);
    });
    let mut slow = server.connect();
    assert_eq!(next_json(&mut slow)["type"], "snapshot");
    let mut fast = server.connect();
    assert_eq!(next_json(&mut fast)["type"], "snapshot");
    let reports: u64 = 60;
    // The reading viewer says what it has seen, and each report waits for the one
    // before it to reach that viewer: however slowly the machine runs this test, the
    // reading viewer is never more than one update behind (the hub keeps 2), while
    // the viewer that does not read falls further behind with every report. The
    // thread hands the viewer back, so that it stays connected to the end.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        let mut seen = 0;
        while seen < reports {
            match next(&mut fast, Duration::from_secs(60)) {
                Got::Json(m) if m["type"] == "team_update" => {
                    let count = m["team"]["report_count"].as_u64().expect("report_count");
                    assert!(count > seen, "updates arrive in order");
                    seen = count;
                    let _ = seen_tx.send(seen);
                }
                Got::Json(_) => {}
                Got::Closed(reason) => panic!("the reading viewer was closed: {reason}"),
            }
        }
        (seen, fast)
    });
    // 60 updates of ~400 KB: more than the socket buffers of the viewer that does not read.
    let body = padded_report(400 * 1024);
    for sent in 1..=reports {
        assert_eq!(server.post("team1", None, &body), 200);
        loop {
            match seen_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(seen) if seen >= sent => break,
                Ok(_) => {}
                Err(e) => panic!("the reading viewer did not see report {sent}: {e}"),
            }
        }
    }
    let (seen, _fast) = reader.join().expect("reader thread");
    assert_eq!(seen, reports);
    // Reading again, the stuck viewer gets what was already on its way, then a close
    // frame: it fell out of the hub's ring while its writes were blocked.
    let deadline = Instant::now() + Duration::from_secs(30);
    let reason = loop {
        assert!(Instant::now() < deadline, "no close frame");
        if let Got::Closed(reason) = next(&mut slow, Duration::from_secs(30)) {
            break reason;
        }
    };
    assert!(reason.contains("fell behind"), "close reason: {reason}");
    wait_until(
        "the hub to drop the stuck viewer",
        Duration::from_secs(10),
        || server.viewers() == 1,
    );
}

#[test]
fn no_websocket_answers_404_json_and_the_page_polls() {
    let server = Running::start(|c| c.websocket = false);
    let (status, body) = get_json(&server.addr, "/ws");
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("--no-websocket")),
        "{body}"
    );
    match tungstenite::connect(format!("ws://{}/ws", server.addr)) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 404),
        other => panic!("expected a 404 refusal, got {:?}", other.map(|_| ())),
    }
    let page = agent()
        .get(&format!("http://{}/", server.addr))
        .call()
        .expect("GET /")
        .body_mut()
        .read_to_string()
        .expect("page text");
    assert!(page.contains("data-websocket=\"off\""));
}

#[test]
fn max_viewers_refuses_the_next_with_a_close_reason() {
    let server = Running::start(|c| c.max_viewers = 2);
    let mut first = server.connect();
    let mut second = server.connect();
    assert_eq!(next_json(&mut first)["type"], "snapshot");
    assert_eq!(next_json(&mut second)["type"], "snapshot");
    let mut third = server.connect();
    match next(&mut third, Duration::from_secs(10)) {
        Got::Closed(reason) => assert!(reason.contains("too many viewers"), "{reason}"),
        Got::Json(m) => panic!("third viewer was served: {m}"),
    }
    // The two admitted viewers still get updates.
    assert_eq!(server.post("team1", None, &report()), 200);
    assert_eq!(next_json(&mut first)["type"], "team_update");
    assert_eq!(next_json(&mut second)["type"], "team_update");
    // A viewer that closes properly frees its slot: the server reads its close frame.
    first.close(None).expect("close");
    drop(first);
    wait_until("the slot to be freed", Duration::from_secs(30), || {
        server.viewers() == 1
    });
    let mut fourth = server.connect();
    assert_eq!(next_json(&mut fourth)["type"], "snapshot");
}

#[test]
fn team_status_tells_when_a_team_turns_inactive_and_leaves_the_board() {
    // The two changes come several ticks (every 0.5 s) apart even on a loaded
    // machine, so each gets a message of its own.
    let server = Running::start(|c| {
        c.timing.inactive_after = Duration::from_secs(1);
        c.timing.evict_after = Duration::from_secs(4);
    });
    let mut viewer = server.connect();
    assert_eq!(next_json(&mut viewer)["type"], "snapshot");
    assert_eq!(server.post("team1", None, &report()), 200);
    assert_eq!(next_json(&mut viewer)["type"], "team_update");
    let inactive = next_json(&mut viewer);
    assert_eq!(inactive["type"], "team_status");
    assert_eq!(inactive["team_id"], "team1");
    assert_eq!(
        (&inactive["is_active"], &inactive["on_board"]),
        (&Value::Bool(false), &Value::Bool(true))
    );
    let evicted = next_json(&mut viewer);
    assert_eq!(evicted["type"], "team_status");
    assert_eq!(evicted["on_board"], false);
    // Its next report brings it back.
    assert_eq!(server.post("team1", None, &report()), 200);
    let back = next_json(&mut viewer);
    assert_eq!(back["type"], "team_update");
    assert_eq!(back["team"]["on_board"], true);
    assert_eq!(back["team"]["report_count"], 2);
}

#[test]
fn server_shutdown_closes_every_viewer_with_a_reason() {
    let server = Running::start(|_| {});
    let mut viewers = [server.connect(), server.connect()];
    for viewer in &mut viewers {
        assert_eq!(next_json(viewer)["type"], "snapshot");
    }
    server.handle.shutdown();
    for viewer in &mut viewers {
        match next(viewer, Duration::from_secs(10)) {
            Got::Closed(reason) => assert!(reason.contains("shutting down"), "{reason}"),
            Got::Json(m) => panic!("expected a close frame, got {m}"),
        }
    }
}

/// The answer (head and JSON body) to `GET /ws` with these extra header lines, read
/// on a raw socket: a client library may stop at the head of a refusal.
fn refused_upgrade(addr: &str, headers: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"}") {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_malformed_upgrade_gets_a_json_error_naming_the_header() {
    let server = Running::start(|_| {});
    let cases = [
        (
            "Connection: keep-alive\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
            400,
            "Connection: Upgrade",
        ),
        (
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
            400,
            "Sec-WebSocket-Key",
        ),
        (
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n",
            426,
            "Sec-WebSocket-Version",
        ),
    ];
    for (headers, status, mentions) in cases {
        let text = refused_upgrade(&server.addr, headers);
        assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "{text}");
        assert!(text.contains(mentions), "{text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("access-control-allow-origin: *"),
            "{text}"
        );
    }
}

#[test]
fn a_viewer_that_accepts_nothing_for_the_request_timeout_is_dropped() {
    let server = Running::start(|c| {
        c.request_timeout = Duration::from_secs(1);
        c.max_body_bytes = 1024 * 1024;
    });
    let mut stuck = server.connect();
    assert_eq!(next_json(&mut stuck)["type"], "snapshot");
    // Never read again: a few large updates fill the socket buffers, then the writer
    // can hand it nothing more.
    let body = padded_report(900 * 1024);
    for _ in 0..30 {
        assert_eq!(server.post("team1", None, &body), 200);
    }
    wait_until("the stuck viewer's slot", Duration::from_secs(20), || {
        server.viewers() == 0
    });
    drop(stuck);
}

/// A viewer on a raw socket with a small receive buffer: the handshake is done by
/// hand, so that the test can read the frames as slowly as it likes.
fn raw_viewer(
    addr: &str,
    headers: &str,
    receive_buffer: Option<usize>,
) -> (std::net::TcpStream, Vec<u8>) {
    use std::io::{Read, Write};
    let address: std::net::SocketAddr = addr.parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    socket.connect(&address.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "handshake answer");
        head.push(byte[0]);
    }
    (stream, head)
}

/// The messages of a viewer's whole byte stream: texts as JSON, then the close reason.
fn messages_of(bytes: Vec<u8>) -> (Vec<Value>, Option<String>) {
    let mut socket = WebSocket::from_raw_socket(
        std::io::Cursor::new(bytes),
        tungstenite::protocol::Role::Client,
        None,
    );
    let mut texts = Vec::new();
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => texts.push(serde_json::from_str(&text).unwrap()),
            Ok(Message::Close(frame)) => {
                return (texts, frame.map(|f| f.reason.to_string()));
            }
            Ok(_) => {}
            Err(_) => return (texts, None),
        }
    }
}

/// Thirty teams with ~100 KiB reports: a snapshot of ~3 MiB, far more than the
/// socket buffers hold.
fn fill_the_board(server: &Running) {
    let body = padded_report(100 * 1024);
    for team in 0..30 {
        assert_eq!(server.post(&format!("team{team}"), None, &body), 200);
    }
}

#[test]
fn a_viewer_below_the_minimum_read_rate_is_closed_with_a_reason_and_frees_its_slot() {
    use std::io::Read;
    // The mechanism at 1,024 times the default rate: at a few KiB/s loopback TCP
    // (64 KiB segments) acknowledges in bursts seconds apart, which the stall rule
    // and the kernel (TCP_USER_TIMEOUT) cut without a reason.
    let server = Running::start(|c| {
        c.request_timeout = Duration::from_secs(3);
        c.max_body_bytes = 1024 * 1024;
        c.viewer_min_read_rate = 1024 * 1024;
        c.max_viewers = 2;
    });
    fill_the_board(&server);
    let mut legit = server.connect();
    assert_eq!(next_json(&mut legit)["type"], "snapshot");
    let (mut slow, head) = raw_viewer(&server.addr, "", None);
    assert!(head.starts_with(b"HTTP/1.1 101"));
    // 64 KiB every quarter second: steady progress, a quarter of the minimum rate.
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let dropped = |server: &Running| {
        let (_, text) = get_text(&server.addr, "/metrics");
        text.contains("benchboard_viewers_dropped_total{reason=\"too_slow\"} 1")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dropped(&server) {
        assert!(
            Instant::now() < deadline,
            "the slow viewer was never closed"
        );
        let n = slow.read(&mut buffer).unwrap_or_else(|e| {
            panic!(
                "cut after {} bytes, without a close frame: {e}",
                received.len()
            )
        });
        received.extend_from_slice(&buffer[..n]);
        std::thread::sleep(Duration::from_millis(250));
    }
    // Reading at full speed now, it gets the rest of the frame it was in, then the
    // close frame with the reason.
    slow.read_to_end(&mut received).unwrap();
    let (texts, reason) = messages_of(received);
    assert_eq!(texts[0]["type"], "snapshot");
    let reason = reason.expect("a close frame");
    assert!(reason.contains("too slowly"), "{reason}");
    wait_until("the slot to be freed", Duration::from_secs(30), || {
        server.viewers() == 1
    });
    // The other viewer was served all along, and the freed slot takes a new one.
    assert_eq!(server.post("team0", None, &report()), 200);
    let update = loop {
        let message = next_json(&mut legit);
        if message["type"] == "team_update" && message["team"]["report_count"] == 2 {
            break message;
        }
    };
    assert_eq!(update["team"]["team_id"], "team0");
    let mut next_viewer = server.connect();
    assert_eq!(next_json(&mut next_viewer)["type"], "snapshot");
    assert_eq!(report_files(&server.data_dir(), "team0").len(), 2);
}

#[test]
fn a_viewer_that_reads_a_byte_now_and_then_loses_its_slot() {
    use std::io::Read;
    let server = Running::start(|c| {
        c.request_timeout = Duration::from_secs(2);
        c.max_body_bytes = 1024 * 1024;
        c.max_viewers = 1;
    });
    fill_the_board(&server);
    let (mut slow, _) = raw_viewer(&server.addr, "", Some(4096));
    wait_until("the viewer to be admitted", Duration::from_secs(10), || {
        server.viewers() == 1
    });
    // One byte every 1.8 s (the "a byte every 9 s" against a 10 s timeout).
    let mut byte = [0u8; 1];
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.viewers() == 1 {
        assert!(Instant::now() < deadline, "the viewer kept its slot");
        if slow.read(&mut byte).unwrap_or(0) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1800));
    }
    wait_until("the slot to be freed", Duration::from_secs(30), || {
        server.viewers() == 0
    });
    let mut next_viewer = server.connect();
    assert_eq!(next_json(&mut next_viewer)["type"], "snapshot");
    assert_eq!(
        get_json(&server.addr, "/api/teams")
            .1
            .as_array()
            .unwrap()
            .len(),
        30
    );
}

/// `GET path` -> (status, body text).
fn get_text(addr: &str, path: &str) -> (u16, String) {
    let mut response = agent()
        .get(&format!("http://{addr}{path}"))
        .call()
        .expect("GET reaches the server");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// A tungstenite viewer that sends these extra headers.
fn connect_with(addr: &str, headers: &[(&str, &str)]) -> Result<Client, tungstenite::Error> {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (socket, _) = tungstenite::connect(request)?;
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
    }
    Ok(socket)
}

#[test]
fn max_viewers_per_ip_counts_the_forwarded_client_behind_a_trusted_proxy() {
    let server = Running::start(|c| {
        c.max_viewers_per_ip = Some(2);
        c.trusted_proxies = benchboard::server::client_addr::TrustedProxies::new(vec![
            "127.0.0.1/32".parse().unwrap(),
        ]);
    });
    let from = |client: &'static str| connect_with(&server.addr, &[("X-Forwarded-For", client)]);
    let mut first = from("198.51.100.1").unwrap();
    let mut second = from("198.51.100.1").unwrap();
    assert_eq!(next_json(&mut first)["type"], "snapshot");
    assert_eq!(next_json(&mut second)["type"], "snapshot");
    let mut third = from("198.51.100.1").unwrap();
    match next(&mut third, Duration::from_secs(10)) {
        Got::Closed(reason) => assert!(reason.contains("from this address"), "{reason}"),
        Got::Json(m) => panic!("a third viewer of one address was served: {m}"),
    }
    // Another client behind the same proxy has slots of its own.
    let mut other = from("198.51.100.2").unwrap();
    assert_eq!(next_json(&mut other)["type"], "snapshot");
    assert_eq!(server.post("team1", None, &report()), 200);
    for viewer in [&mut first, &mut second, &mut other] {
        assert_eq!(next_json(viewer)["type"], "team_update");
    }
    first.close(None).unwrap();
    drop(first);
    wait_until(
        "the address's slot to be freed",
        Duration::from_secs(30),
        || server.viewers() == 2,
    );
    let mut again = from("198.51.100.1").unwrap();
    assert_eq!(next_json(&mut again)["type"], "snapshot");
}

#[test]
fn allowed_origin_refuses_other_pages_with_403_json() {
    let server = Running::start(|c| c.allowed_origins = vec!["http://board.example".into()]);
    let upgrade = "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    for origin in ["Origin: http://evil.example\r\n", ""] {
        let text = refused_upgrade(&server.addr, &format!("{upgrade}{origin}"));
        assert!(text.starts_with("HTTP/1.1 403"), "{text}");
        let body: Value =
            serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).expect("a JSON body");
        assert!(
            body["error"].as_str().unwrap().contains("--allowed-origin"),
            "{body}"
        );
    }
    let mut allowed = connect_with(&server.addr, &[("Origin", "http://board.example")]).unwrap();
    assert_eq!(next_json(&mut allowed)["type"], "snapshot");
    assert_eq!(server.post("team1", None, &report()), 200);
    assert_eq!(next_json(&mut allowed)["type"], "team_update");
}
