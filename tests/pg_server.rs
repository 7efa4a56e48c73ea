//! benchboard-serve on the PostgreSQL store (`--store postgres://…`), against a real,
//! throwaway cluster (tests/common/pg.rs): two instances sharing one board, the database going
//! away under load and coming back, kill -9 during a flood, start-up before the
//! database is up.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{TestServer, agent, pg};
use serde_json::Value;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const SERVE: &str = env!("CARGO_BIN_EXE_benchboard-serve");
/// Generous: the machine is shared and loaded.
const WITHIN: Duration = Duration::from_secs(60);

/// A valid report whose `totalSent` is `n`: each report of a test is told apart by it.
fn report(n: u64) -> Vec<u8> {
    format!(
        r#"{{"totalElapsed":1,"totalSent":{n},"totalOps":{n},"totalErrors":0,"totalSaveDelayErrors":0,"pending":0,"operations":{{"sensorData":{{"operations":{n},"errors":0}}}},"performanceMetrics":{{"avgSentQPS":1,"avgCompletedQPS":{n},"errorRate":0}},"latencyAnalysis":{{"sensorData":{{"avg":2,"min":1,"max":3,"buckets":[1,1]}}}}}}"#
    )
    .into_bytes()
}

/// A server on the database `url` (its `--data-dir` is a temporary path it must not touch).
fn server_on(url: &str) -> TestServer {
    let url = url.to_string();
    TestServer::start_with(move |config| config.store_url = Some(url))
}

/// The `totalSent` of every report stored in `db`.
fn stored_numbers(db: &mut postgres::Client) -> Vec<u64> {
    db.query("SELECT (stats->>'totalSent')::int8 FROM reports", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i64>(0) as u64)
        .collect()
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn viewer(server: &TestServer) -> Socket {
    let url = server.base.replacen("http://", "ws://", 1) + "/ws";
    let (socket, _) = tungstenite::connect(url).expect("WebSocket handshake");
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    socket
}

/// The next message of `type` that `accept` takes, within [`WITHIN`].
fn next_message(socket: &mut Socket, kind: &str, accept: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WITHIN;
    while Instant::now() < deadline {
        match socket.read() {
            Ok(Message::Text(text)) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] == kind && accept(&message) {
                    return message;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("viewer lost: {e}"),
        }
    }
    panic!("no {kind} message within {WITHIN:?}");
}

#[test]
fn with_postgres_the_api_answers_and_no_data_directory_is_made() {
    let db = pg::database();
    let server = server_on(&db.url());
    for n in 1..=3 {
        let (status, answer) = server.post_for("team1", &report(n));
        assert_eq!(status, 200, "{answer}");
    }
    let (status, team) = server.get_json("/api/teams/team1");
    assert_eq!((status, team["report_count"].as_u64()), (200, Some(3)));
    assert_eq!(team["best_qps"], 3.0);
    let (_, page) = server.get_json("/api/teams/team1/history?limit=2&offset=1");
    assert_eq!(page["total"], 3);
    let sent: Vec<_> = page["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stats"]["totalSent"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [2, 1]);
    let (_, summary) = server.get_json("/api/teams/team1/history/summary");
    assert_eq!(summary["total_reports"], 3);
    assert_eq!(summary["recent_files"].as_array().unwrap().len(), 3);
    let (_, series) = server.get_json("/api/teams/team1/history/series?points=2");
    assert_eq!(series["points"], 2);
    let (status, csv) = server.get("/api/teams/team1/export.csv");
    assert_eq!((status, csv.lines().count()), (200, 4), "{csv}");
    assert!(
        !server.data_dir.exists(),
        "the server made {}",
        server.data_dir.display()
    );
}

#[test]
fn a_viewer_on_instance_b_sees_a_report_posted_to_instance_a() {
    let db = pg::database();
    let a = server_on(&db.url());
    let b = server_on(&db.url());
    let mut on_b = viewer(&b);
    next_message(&mut on_b, "snapshot", |_| true);
    for n in 1..=5 {
        assert_eq!(a.post_for("shared", &report(n)).0, 200);
    }
    let update = next_message(&mut on_b, "team_update", |m| m["team"]["report_count"] == 5);
    assert_eq!(update["team"]["stats"]["totalSent"], 5);
    // And B's own API shows it, with the records of the whole history.
    let (_, team) = b.get_json("/api/teams/shared");
    assert_eq!(
        (team["report_count"].as_u64(), team["best_qps"].as_f64()),
        (Some(5), Some(5.0))
    );
}

/// Posts reports numbered from `next` until `stop`, from several threads; records
/// the numbers answered 200 and any status other than 200 and 503.
struct Flood {
    acked: Arc<Mutex<Vec<u64>>>,
    unexpected: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Flood {
    fn start(base: &str, senders: u64) -> Flood {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let unexpected = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..senders)
            .map(|sender| {
                let (acked, unexpected, refused, stop) = (
                    Arc::clone(&acked),
                    Arc::clone(&unexpected),
                    Arc::clone(&refused),
                    Arc::clone(&stop),
                );
                let url = format!("{base}/api/stats/report");
                std::thread::spawn(move || {
                    let agent = agent();
                    let mut n = sender * 1_000_000;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let sent = agent
                            .post(&url)
                            .header("X-Team-ID", &format!("flood{}", sender % 3))
                            .send(&report(n)[..]);
                        match sent {
                            Ok(mut answer) => match answer.status().as_u16() {
                                200 => acked.lock().unwrap().push(n),
                                503 => {
                                    let body =
                                        answer.body_mut().read_to_string().unwrap_or_default();
                                    if !body.contains("storage unavailable") {
                                        unexpected.lock().unwrap().push(body);
                                    }
                                    refused.fetch_add(1, Ordering::SeqCst);
                                }
                                other => unexpected.lock().unwrap().push(other.to_string()),
                            },
                            // The server killed under us: that request had no answer.
                            Err(_) => std::thread::sleep(Duration::from_millis(20)),
                        }
                    }
                })
            })
            .collect();
        Flood {
            acked,
            unexpected,
            refused,
            stop,
            threads,
        }
    }

    fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits until `more` further reports were acknowledged.
    fn wait_for_acks(&self, more: usize) {
        let target = self.acked_count() + more;
        let deadline = Instant::now() + WITHIN;
        while self.acked_count() < target {
            assert!(
                Instant::now() < deadline,
                "the flood stalled at {}",
                self.acked_count()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn finish(mut self) -> (Vec<u64>, u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
        let acked = std::mem::take(&mut *self.acked.lock().unwrap());
        let unexpected = std::mem::take(&mut *self.unexpected.lock().unwrap());
        (acked, self.refused.load(Ordering::SeqCst), unexpected)
    }
}

/// Every acknowledged report is stored, and none is stored twice.
fn assert_all_stored(db: &mut postgres::Client, acked: &[u64]) {
    let stored = stored_numbers(db);
    let unique: HashSet<u64> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "a report was stored twice");
    let lost: Vec<_> = acked.iter().filter(|n| !unique.contains(n)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
}

#[test]
fn the_database_stopped_and_restarted_under_load_loses_nothing_acknowledged() {
    // A cluster of its own: this test stops it.
    let cluster = pg::Cluster::start(&[("fsync", "off")]);
    let url = cluster.url("postgres");
    let server = server_on(&url);
    let mut watching = viewer(&server);
    next_message(&mut watching, "snapshot", |_| true);
    let flood = Flood::start(&server.base, 4);
    flood.wait_for_acks(50);

    cluster.stop_server();
    next_message(&mut watching, "storage", |m| m["available"] == false);
    let refused_before = flood.refused.load(Ordering::SeqCst);
    let deadline = Instant::now() + WITHIN;
    while flood.refused.load(Ordering::SeqCst) < refused_before + 5 {
        assert!(
            Instant::now() < deadline,
            "no 503 while the database is down"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (status, answer) = server.get_json("/api/teams/flood0/history");
    assert_eq!(status, 503, "{answer}");
    let (status, _) = server.get_json("/api/teams");
    assert_eq!(status, 200, "the board itself stays readable");
    let (_, health) = server.get_json("/healthz");
    assert_eq!(
        (&health["status"], &health["storage_available"]),
        (&"degraded".into(), &false.into()),
        "{health}"
    );

    cluster.start_server();
    next_message(&mut watching, "storage", |m| m["available"] == true);
    flood.wait_for_acks(50);
    assert_eq!(server.get_json("/healthz").1["status"], "ok");
    let (acked, refused, unexpected) = flood.finish();
    assert!(
        unexpected.is_empty(),
        "answers other than 200 and 503: {unexpected:?}"
    );
    assert!(refused > 0);
    assert_all_stored(&mut cluster.connect("postgres"), &acked);
}

/// A `benchboard-serve` child; its stdout and stderr lines arrive on channels.
struct Serve {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

fn lines_of(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}

impl Serve {
    fn start(url: &str, work_dir: &std::path::Path) -> Serve {
        let mut child = Command::new(SERVE)
            .args(["--host", "127.0.0.1", "--port", "0", "--store", url])
            .current_dir(work_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("benchboard-serve starts");
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Serve {
            child,
            stdout,
            stderr,
        }
    }

    /// The base URL from the first line of stdout.
    fn base(&self) -> String {
        let first = self.stdout.recv_timeout(WITHIN).unwrap_or_else(|_| {
            panic!(
                "no first line; stderr: {:?}",
                self.stderr.try_iter().collect::<Vec<_>>()
            )
        });
        first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .trim_end_matches('/')
            .to_string()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kill_9_during_a_flood_loses_no_acknowledged_report() {
    let db = pg::database();
    let work = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(&db.url(), work.path());
    let flood = Flood::start(&serve.base(), 8);
    flood.wait_for_acks(300);
    serve.child.kill().unwrap(); // SIGKILL
    serve.child.wait().unwrap();
    let (acked, _, unexpected) = flood.finish();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    assert_all_stored(&mut db.connect(), &acked);
    let files: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert!(
        files.is_empty(),
        "the server wrote into its working directory: {files:?}"
    );
}

#[test]
fn start_up_waits_for_the_database_and_says_so() {
    let cluster = pg::Cluster::start(&[("fsync", "off")]);
    cluster.stop_server();
    let work = tempfile::tempdir().unwrap();
    let serve = Serve::start(&cluster.url("postgres"), work.path());
    let said = serve
        .stderr
        .recv_timeout(WITHIN)
        .expect("a message while waiting");
    assert!(
        said.contains("storage unavailable") && said.contains("retrying"),
        "{said}"
    );
    cluster.start_server();
    let base = serve.base();
    let answer = agent()
        .post(&format!("{base}/api/stats/report"))
        .header("X-Team-ID", "late")
        .send(&report(1)[..])
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

#[test]
fn max_teams_known_counts_the_teams_of_every_instance() {
    let db = pg::database();
    let limited = |url: String| {
        TestServer::start_with(move |config| {
            config.store_url = Some(url);
            config.max_teams_known = 2;
        })
    };
    let (a, b) = (limited(db.url()), limited(db.url()));
    assert_eq!(a.post_for("team1", &report(1)).0, 200);
    assert_eq!(b.post_for("team2", &report(2)).0, 200);
    for server in [&a, &b] {
        let (status, answer) = server.post_for("team3", &report(3));
        assert_eq!(status, 403, "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains("--max-teams-known"), "{answer}");
    }
    // Teams already known keep reporting, on either instance.
    assert_eq!(b.post_for("team1", &report(4)).0, 200);
    assert_eq!(a.post_for("team2", &report(5)).0, 200);
    let mut numbers = stored_numbers(&mut db.connect());
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 4, 5]);
    drop((a, b));
    // After a restart the database's count still holds.
    let c = limited(db.url());
    assert_eq!(c.post_for("team4", &report(6)).0, 403);
    assert_eq!(c.post_for("team2", &report(7)).0, 200);
}
