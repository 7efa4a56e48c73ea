//! The live push under many viewers, against the real `benchboard-serve` binary
//! (release build, a child process on 127.0.0.1:0 with a temporary data directory):
//!
//! - report-to-viewer latency (POST answered -> `team_update` received) with 100 and
//!   1,000 connected viewers, p50/p99 over every viewer and report;
//! - ingest (reports/s from 16 posting threads) with 1,000 reading viewers vs none;
//! - memory per idle viewer: the server's RSS delta from 1 to 1,000 viewers / 999.
//!
//! Run: `cargo bench --bench viewers` (each scenario `BENCH_RUNS` times, default 3;
//! medians are printed at the end). Needs about 2,200 open files: `ulimit -n 4096`.

mod common;

use common::cpu_seconds;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Client = WebSocket<MaybeTlsStream<TcpStream>>;
/// (report_count, arrival) of every `team_update` one viewer got.
type Arrivals = Arc<Mutex<Vec<(usize, Instant)>>>;

const REPORT: &[u8] = include_bytes!("../tests/fixtures/valid/full-13-buckets.json");
/// Threads posting reports at once in the ingest runs: enough to keep the server's
/// two cores busy without viewers (4 leave it partly idle, waiting on round trips).
const POSTERS: usize = 16;
/// Stack of a simulated viewer thread in this process.
const CLIENT_STACK_BYTES: usize = 128 * 1024;

/// `benchboard-serve` as a child process, killed on drop.
struct ServerProcess {
    child: Child,
    addr: String,
    _data: tempfile::TempDir,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        let data = tempfile::Builder::new()
            .prefix("benchboard-bench-")
            .tempdir()
            .expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_benchboard-serve"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--max-viewers",
                "5000",
                "--log-level",
                "error",
            ])
            .arg("--data-dir")
            .arg(data.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start benchboard-serve");
        let mut first_line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout
            .read_line(&mut first_line)
            .expect("read the server's first line");
        // Keep reading, so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = first_line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first_line:?}"));
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        ServerProcess {
            child,
            addr,
            _data: data,
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    fn post(&self, agent: &ureq::Agent, team: &str) {
        let response = agent
            .post(&format!("http://{}/api/stats/report", self.addr))
            .header("Content-Type", "application/json")
            .header("X-Team-ID", team)
            .send(REPORT)
            .expect("POST");
        assert_eq!(response.status().as_u16(), 200);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Viewers connected to the server, each on its own thread, recording when each
/// `team_update` arrived.
struct Viewers {
    arrivals: Vec<Arrivals>,
    updates: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// How a viewer reads what the server pushes.
#[derive(Clone, Copy, PartialEq)]
enum Reading {
    /// Parse every frame and record when each `team_update` arrived (latency runs).
    Frames,
    /// Drain the socket into a reused buffer without parsing (ingest runs): the
    /// server's work per viewer is the same, while the load generator, which shares
    /// the machine's two cores with the server, costs as little as it can.
    Drain,
}

impl Viewers {
    fn connect(addr: &str, count: usize) -> Viewers {
        Viewers::connect_reading(addr, count, Reading::Frames)
    }

    fn connect_reading(addr: &str, count: usize, reading: Reading) -> Viewers {
        let ready = Arc::new(AtomicUsize::new(0));
        let mut viewers = Viewers {
            arrivals: Vec::new(),
            updates: Arc::new(AtomicUsize::new(0)),
            closed: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        for _ in 0..count {
            let (mut socket, _) =
                tungstenite::connect(format!("ws://{addr}/ws")).expect("viewer connects");
            if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
                stream
                    .set_read_timeout(Some(Duration::from_millis(500)))
                    .expect("read timeout");
            }
            let arrivals = Arc::new(Mutex::new(Vec::new()));
            viewers.arrivals.push(Arc::clone(&arrivals));
            let (ready, updates, closed, stop) = (
                Arc::clone(&ready),
                Arc::clone(&viewers.updates),
                Arc::clone(&viewers.closed),
                Arc::clone(&viewers.stop),
            );
            let thread = std::thread::Builder::new()
                .stack_size(CLIENT_STACK_BYTES)
                .spawn(move || match reading {
                    Reading::Frames => {
                        read_loop(&mut socket, &arrivals, &ready, &updates, &closed, &stop)
                    }
                    Reading::Drain => {
                        // Subscribed before the handshake's answer: ready now.
                        ready.fetch_add(1, Ordering::SeqCst);
                        drain_loop(socket.get_mut(), &closed, &stop)
                    }
                })
                .expect("viewer thread");
            viewers.threads.push(thread);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while ready.load(Ordering::SeqCst) < count {
            assert!(
                Instant::now() < deadline,
                "viewers did not get their snapshot"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        viewers
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn read_loop(
    socket: &mut Client,
    arrivals: &Mutex<Vec<(usize, Instant)>>,
    ready: &AtomicUsize,
    updates: &AtomicUsize,
    closed: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut got_snapshot = false;
    while !stop.load(Ordering::Relaxed) {
        match socket.read() {
            Ok(Message::Text(text)) => {
                let now = Instant::now();
                if !got_snapshot {
                    got_snapshot = true;
                    ready.fetch_add(1, Ordering::SeqCst);
                } else if let Some(count) = report_count(text.as_str()) {
                    arrivals.lock().expect("arrivals").push((count, now));
                    updates.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Message::Close(_)) => {
                closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    }
}

fn drain_loop(stream: &mut MaybeTlsStream<TcpStream>, closed: &AtomicUsize, stop: &AtomicBool) {
    use std::io::Read;
    let mut buffer = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    if !stop.load(Ordering::Relaxed) {
        closed.fetch_add(1, Ordering::SeqCst); // the server closed it: dropped
    }
}

/// The `report_count` of a `team_update`, found without parsing the whole message.
fn report_count(message: &str) -> Option<usize> {
    if !message.starts_with(r#"{"type":"team_update""#) {
        return None;
    }
    let rest = &message[message.find(r#""report_count":"#)? + 15..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Posts `reports` reports 100 ms apart (ten times the rate of six teams reporting
/// every second); returns (p50, p99) in ms of POST answered -> message received,
/// over every viewer and report (0 when the message beat the answer), and prints the
/// same from the moment the POST was sent.
fn latency_run(viewer_count: usize, reports: usize) -> (f64, f64) {
    let server = ServerProcess::start();
    let viewers = Viewers::connect(&server.addr, viewer_count);
    let agent = agent();
    let mut answered = Vec::with_capacity(reports);
    let mut sent = Vec::with_capacity(reports);
    for _ in 0..reports {
        sent.push(Instant::now());
        server.post(&agent, "bench");
        answered.push(Instant::now());
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let all_arrived = || {
        viewers.arrivals.iter().all(|a| {
            let a = a.lock().expect("arrivals");
            a.last().is_some_and(|(count, _)| *count == reports)
        })
    };
    while !all_arrived() {
        let closed = viewers.closed.load(Ordering::SeqCst);
        assert_eq!(
            closed, 0,
            "{closed} viewers were dropped during the latency run"
        );
        assert!(Instant::now() < deadline, "updates did not all arrive");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Every update a viewer got, against the moment its report's POST was answered.
    let mut received = 0;
    let mut latencies = Vec::new();
    let mut from_sent = Vec::new();
    for arrivals in &viewers.arrivals {
        let arrivals = arrivals.lock().expect("arrivals");
        received += arrivals.len();
        for (count, got) in arrivals.iter() {
            let ms = |since: Instant| got.saturating_duration_since(since).as_secs_f64() * 1e3;
            latencies.push(ms(answered[count - 1]));
            from_sent.push(ms(sent[count - 1]));
        }
    }
    from_sent.sort_by(f64::total_cmp);
    println!(
        "  (from POST sent: p50 {:.2} ms, p99 {:.2} ms)",
        percentile(&from_sent, 0.5),
        percentile(&from_sent, 0.99)
    );
    let coalesced = viewer_count * reports - received;
    if coalesced > 0 {
        println!(
            "  ({coalesced} of {} updates were coalesced)",
            viewer_count * reports
        );
    }
    latencies.sort_by(f64::total_cmp);
    viewers.stop();
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

/// Reports/s stored by `POSTERS` posting threads in `seconds`, with `viewer_count` reading
/// viewers; also how many viewers were dropped.
fn ingest_run(viewer_count: usize, seconds: f64) -> (f64, usize) {
    let server = ServerProcess::start();
    let viewers = Viewers::connect_reading(&server.addr, viewer_count, Reading::Drain);
    let stored = Arc::new(AtomicUsize::new(0));
    let server_pid = server.child.id().to_string();
    let cpu_before = (cpu_seconds(&server_pid), cpu_seconds("self"));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    std::thread::scope(|scope| {
        for _ in 0..POSTERS {
            let stored = Arc::clone(&stored);
            let server = &server;
            scope.spawn(move || {
                let agent = agent();
                while Instant::now() < end {
                    server.post(&agent, "bench");
                    stored.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let rate = stored.load(Ordering::SeqCst) as f64 / elapsed;
    println!(
        "  (CPU: server {:.2} cores, bench clients {:.2} cores)",
        (cpu_seconds(&server_pid) - cpu_before.0) / elapsed,
        (cpu_seconds("self") - cpu_before.1) / elapsed
    );
    let dropped = viewers.closed.load(Ordering::SeqCst);
    viewers.stop();
    (rate, dropped)
}

/// KiB of server RSS per idle viewer beyond the first, with `viewer_count` viewers.
fn memory_run(viewer_count: usize) -> f64 {
    let server = ServerProcess::start();
    let agent = agent();
    for team in 1..=6 {
        server.post(&agent, &format!("team{team}")); // a realistic snapshot: six teams
    }
    let first = Viewers::connect(&server.addr, 1);
    std::thread::sleep(Duration::from_millis(300));
    let before = server.rss_kib();
    let rest = Viewers::connect(&server.addr, viewer_count - 1);
    std::thread::sleep(Duration::from_millis(300));
    let after = server.rss_kib();
    rest.stop();
    first.stop();
    (after.saturating_sub(before)) as f64 / (viewer_count - 1) as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list`
    }
    if let Some(limit) = open_file_limit().filter(|&l| l < 2300) {
        eprintln!(
            "open-file limit is {limit}; 1,000 viewers need ~2,300: run `ulimit -n 4096` first"
        );
        std::process::exit(1);
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    // BENCH_ONLY=latency|ingest|memory runs one scenario.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only == name;
    let mut lat100 = (Vec::new(), Vec::new());
    let mut lat1000 = (Vec::new(), Vec::new());
    let (mut ingest0, mut ingest1000, mut memory) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        if wanted("latency") {
            let (p50, p99) = latency_run(100, 100);
            println!("run {run}: latency, 100 viewers: p50 {p50:.2} ms, p99 {p99:.2} ms");
            lat100.0.push(p50);
            lat100.1.push(p99);
            let (p50, p99) = latency_run(1000, 60);
            println!("run {run}: latency, 1000 viewers: p50 {p50:.2} ms, p99 {p99:.2} ms");
            lat1000.0.push(p50);
            lat1000.1.push(p99);
        }
        if wanted("ingest") {
            let (rate, _) = ingest_run(0, 3.0);
            println!("run {run}: ingest, no viewers: {rate:.0} reports/s");
            ingest0.push(rate);
            let (rate, dropped) = ingest_run(1000, 3.0);
            println!(
                "run {run}: ingest, 1000 viewers: {rate:.0} reports/s ({dropped} viewers dropped for falling behind)"
            );
            ingest1000.push(rate);
        }
        if wanted("memory") {
            let kib = memory_run(1000);
            println!("run {run}: memory per idle viewer: {kib:.1} KiB");
            memory.push(kib);
        }
    }
    let (i0, i1000) = (median(ingest0), median(ingest1000));
    println!("\nmedians of {runs} runs:");
    println!(
        "  latency, 100 viewers:  p50 {:.2} ms, p99 {:.2} ms (target p99 <= 20 ms)",
        median(lat100.0),
        median(lat100.1)
    );
    println!(
        "  latency, 1000 viewers: p50 {:.2} ms, p99 {:.2} ms (target p99 <= 100 ms)",
        median(lat1000.0),
        median(lat1000.1)
    );
    println!(
        "  ingest: {i0:.0} reports/s without viewers, {i1000:.0} with 1000 = {:.0} % (target >= 70 %)",
        i1000 / i0 * 100.0
    );
    println!(
        "  memory per idle viewer: {:.1} KiB (target <= 64 KiB)",
        median(memory)
    );
}
