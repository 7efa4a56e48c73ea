//! The server's runtime against hostile clients, on the real `benchboard-serve`
//! binary on port 0: what reaches its log, its operations endpoints, and that
//! legitimate requests are answered during and after each attack.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{agent, fixture, report_files};

const BIN: &str = env!("CARGO_BIN_EXE_benchboard-serve");

/// A `benchboard-serve` child on a fresh data directory; killed on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
    base: String,
    data_dir: std::path::PathBuf,
    stderr: mpsc::Receiver<Vec<u8>>,
    _temp: tempfile::TempDir,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut child = Command::new(BIN)
            .args(["--host", "127.0.0.1", "--port", "0", "--threads", "4"])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("benchboard-serve starts");
        let stderr = raw_lines(child.stderr.take().expect("piped stderr"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .trim_end_matches('/')
            .to_string();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = url.trim_start_matches("http://").parse().expect("address");
        Serve {
            child,
            addr,
            base: url,
            data_dir,
            stderr,
            _temp: temp,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Posts the full fixture report for `team`; the status.
    fn post(&self, team: &str) -> u16 {
        let body = std::fs::read(fixture("valid/full-13-buckets.json")).unwrap();
        agent()
            .post(&self.url("/api/stats/report"))
            .header("X-Team-ID", team)
            .send(&body[..])
            .expect("POST answered")
            .status()
            .as_u16()
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut response = agent().get(&self.url(path)).call().expect("GET answered");
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), body)
    }

    /// Stops the server with SIGINT and returns everything it wrote on stderr.
    fn stop(mut self) -> Vec<Vec<u8>> {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("server did not stop"),
            }
        }
        let exit = self.child.wait().expect("child exits");
        assert!(exit.success(), "exit status {exit}");
        lines
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of a stream as raw bytes (a log line must be checked byte by byte).
fn raw_lines(reader: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Sends raw bytes as one request on a fresh connection; the status of the answer
/// (0 when the server closed without one).
fn raw_request(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer (and close) before reading a long request to its end.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn text(lines: &[Vec<u8>]) -> String {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

#[test]
fn control_characters_in_paths_and_headers_are_escaped_and_long_paths_cut_in_the_log() {
    let serve = Serve::start(&["--log-level", "warn"]);
    let escape_path = b"GET /api/\x1b[2J\x1b[31mred HTTP/1.1\r\nHost: x\r\n\
        User-Agent: evil\x1b]0;owned\x07\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_request(serve.addr, escape_path), 404);
    // A bare LF in the path: a forged second log line if it reached the log raw.
    let lf_path =
        b"GET /api/a\x1b[1A\nforged: 200 OK HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let status = raw_request(serve.addr, lf_path);
    assert!((400..500).contains(&status), "status {status}");
    let mut long = b"GET /api/".to_vec();
    long.extend(std::iter::repeat_n(b'a', 256 * 1024));
    long.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let status = raw_request(serve.addr, &long);
    assert!((400..500).contains(&status), "status {status}");
    // Legitimate requests are answered during and after.
    assert_eq!(serve.post("team1"), 200);
    assert_eq!(serve.get("/api/teams").0, 200);
    assert_eq!(report_files(&serve.data_dir, "team1").len(), 1);
    let lines = serve.stop();
    let log = text(&lines);
    assert!(!log.contains('\u{1b}'), "raw ESC in the log:\n{log}");
    assert!(!log.contains('\u{7}'), "raw BEL in the log:\n{log}");
    for line in &lines {
        assert!(line.len() <= 1024, "a log line of {} bytes", line.len());
        assert!(!line.starts_with(b"forged"), "forged log line: {log}");
    }
    let total: usize = lines.iter().map(Vec::len).sum();
    assert!(total < 8 * 1024, "{total} bytes of log for three requests");
    assert!(
        log.contains("GET /api/\\x1b[2J\\x1b[31mred -> 404")
            && log.contains("agent \"evil\\x1b]0;owned\\x07\""),
        "the escaped path and agent are logged:\n{log}"
    );
}

#[test]
fn refused_request_lines_are_rate_limited_per_client_address_with_one_summary() {
    let serve = Serve::start(&["--log-level", "warn", "--trusted-proxy", "127.0.0.1"]);
    let agent = agent();
    for client in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..25 {
            let response = agent
                .get(&serve.url("/api/nope"))
                .header("X-Forwarded-For", client)
                .call()
                .expect("answered");
            assert_eq!(response.status().as_u16(), 404);
        }
        assert_eq!(serve.post("team1"), 200);
    }
    assert_eq!(serve.get("/api/teams/team1").0, 200);
    assert_eq!(report_files(&serve.data_dir, "team1").len(), 2);
    let log = text(&serve.stop());
    for client in ["198.51.100.1", "198.51.100.2"] {
        let lines = log
            .lines()
            .filter(|l| l.contains("/api/nope -> 404") && l.contains(&format!("client {client}")))
            .count();
        assert_eq!(lines, 10, "lines about {client}:\n{log}");
        let summaries = log
            .lines()
            .filter(|l| l.contains(&format!("client {client}: 15 lines suppressed")))
            .count();
        assert_eq!(summaries, 1, "one summary for {client}:\n{log}");
    }
}

/// A valid report padded with an unknown field to `bytes` in all.
fn padded_report(bytes: usize) -> Vec<u8> {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/full-13-buckets.json")).unwrap())
            .unwrap();
    let base = serde_json::to_vec(&value).unwrap().len();
    value["padding"] = serde_json::Value::String("x".repeat(bytes - base - 14));
    let body = serde_json::to_vec(&value).unwrap();
    assert!(body.len() <= bytes, "{} > {bytes}", body.len());
    body
}

/// Peak resident memory of a process (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn resident_memory_stays_bounded_under_padded_reports_history_readers_and_stuck_viewers() {
    // Default flags: --max-body 64KiB, 8+ workers.
    let serve = Serve::start(&[]);
    let body = padded_report(64 * 1024);
    assert_eq!(
        agent()
            .post(&serve.url("/api/stats/report"))
            .header("X-Team-ID", "big")
            .send(&padded_report(64 * 1024 + 1024)[..])
            .unwrap()
            .status()
            .as_u16(),
        413,
        "the default --max-body is 64 KiB"
    );
    let post = |team: &str| {
        agent()
            .post(&serve.url("/api/stats/report"))
            .header("X-Team-ID", team)
            .send(&body[..])
            .expect("POST answered")
            .status()
            .as_u16()
    };
    // Twenty teams with max-size reports; one of them with a history of 1,000.
    for team in 0..20 {
        assert_eq!(post(&format!("team{team}")), 200);
    }
    for _ in 1..1000 {
        assert_eq!(post("team0"), 200);
    }
    // Stuck viewers, each joining after a new report (each with its own snapshot).
    let mut stuck = Vec::new();
    for i in 0..50 {
        let mut socket = TcpStream::connect(serve.addr).unwrap();
        socket
            .write_all(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
        stuck.push(socket);
        assert_eq!(post(&format!("team{}", i % 20)), 200);
    }
    // Readers of the whole 1,000-report page (64 MB each) while a team keeps reporting.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let url = serve.url("/api/teams/team0/history?limit=1000");
            std::thread::spawn(move || {
                // A debug build reads and writes 64 MB slowly on a shared machine.
                let patient: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(600)))
                    .build()
                    .into();
                let mut response = patient.get(&url).call().expect("history answered");
                let mut length = 0u64;
                let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let n = reader.read(&mut buffer).expect("history read");
                    if n == 0 {
                        break length;
                    }
                    length += n as u64;
                }
            })
        })
        .collect();
    for i in 0..40 {
        assert_eq!(post("legit"), 200, "report {i} during the attack");
        assert_eq!(serve.get("/api/teams").0, 200);
    }
    for reader in readers {
        let length = reader.join().expect("reader thread");
        assert!(
            length > 60_000_000,
            "a whole page of 1,000 reports: {length} bytes"
        );
    }
    let (status, page) = serve.get("/api/teams/team0/history?limit=3&offset=997");
    assert_eq!(status, 200);
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["total"], 1003);
    assert_eq!(page["history"].as_array().unwrap().len(), 3);
    let peak = peak_rss(serve.child.id());
    eprintln!("peak resident memory: {} MiB", peak / (1024 * 1024));
    assert!(
        peak <= 256 * 1024 * 1024,
        "peak resident memory {} MiB",
        peak / (1024 * 1024)
    );
    drop(stuck);
    assert_eq!(report_files(&serve.data_dir, "team0").len(), 1003);
    assert_eq!(report_files(&serve.data_dir, "legit").len(), 40);
    serve.stop();
}

/// Threads of a process now (from /proc).
fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn stuck_downloads_of_export_csv_take_no_thread_and_no_worker() {
    // 4 workers (Serve's --threads): 40 stuck downloads would hold them all ten times over.
    let serve = Serve::start(&[]);
    for _ in 0..300 {
        assert_eq!(serve.post("hist"), 200);
    }
    let before = threads(serve.child.id());
    let stuck: Vec<TcpStream> = (0..40)
        .map(|_| {
            let socket = TcpStream::connect(serve.addr).unwrap();
            // A phone on a bad link: the kernel takes little of the answer.
            socket2::SockRef::from(&socket)
                .set_recv_buffer_size(4096)
                .unwrap();
            let mut socket = socket;
            socket
                .write_all(b"GET /api/teams/hist/export.csv HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            // Its answer has started, then it reads no more.
            socket.set_read_timeout(Some(common::PATIENCE)).unwrap();
            let mut first = [0u8; 12];
            socket.read_exact(&mut first).unwrap();
            assert_eq!(&first, b"HTTP/1.1 200");
            socket
        })
        .collect();
    let during = threads(serve.child.id());
    assert!(
        during <= before + 2,
        "{before} threads before, {during} with 40 stuck downloads"
    );
    for i in 0..20 {
        assert_eq!(serve.post("legit"), 200, "report {i} during the attack");
        assert_eq!(serve.get("/api/teams").0, 200);
    }
    let (status, csv) = serve.get("/api/teams/hist/export.csv");
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 301, "a header and 300 rows");
    drop(stuck);
    assert_eq!(report_files(&serve.data_dir, "hist").len(), 300);
    serve.stop();
}
