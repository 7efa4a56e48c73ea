//! The real `benchboard-serve` binary as a child process on port 0.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{PATIENCE, Running, agent, fixture, report_files};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_benchboard-serve");

/// A running `benchboard-serve` child (see [`Running`]) and the URL it printed.
struct Serve {
    running: Running,
    base: String,
}

impl Serve {
    fn start(command: &mut Command) -> Serve {
        let mut running = Running::spawn(command);
        let base = running.url_from_first_line();
        Serve { running, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn signal(&self, name: &str) {
        self.running.signal(name);
    }

    /// Waits (bounded) for the child to exit and returns its exit code.
    fn wait_exit(&mut self) -> Option<i32> {
        self.running
            .wait(PATIENCE)
            .expect("benchboard-serve exits")
            .code()
    }

    /// Every stderr line, once the child has exited.
    fn stderr_lines(&mut self) -> Vec<String> {
        self.running.stderr.read_to_end(PATIENCE).to_vec()
    }
}

fn serve_cmd(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .env_remove("BENCHBOARD_PORT")
        .env_remove("BENCHBOARD_HOST")
        .env_remove("BENCHBOARD_DATA_DIR")
        .env_remove("BENCHBOARD_MAX_BODY");
    command
}

fn post(url: &str, team: &str, body: &[u8]) -> (u16, Value) {
    let mut response = agent()
        .post(url)
        .header("X-Team-ID", team)
        .header("Content-Type", "application/json")
        .send(body)
        .expect("POST reaches the server");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn valid_body() -> Vec<u8> {
    std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("benchboard-cli-")
        .tempdir()
        .unwrap()
}

#[test]
fn prints_its_url_with_the_real_port_then_the_data_dir_and_serves() {
    let temp = temp_dir();
    let data = temp.path().join("data");
    let mut serve = Serve::start(&mut serve_cmd(&data));
    assert!(serve.base.starts_with("http://127.0.0.1:"));
    assert!(
        !serve.base.ends_with(":0"),
        "printed port 0: {}",
        serve.base
    );
    let second = serve.running.stdout.next(PATIENCE);
    assert!(
        second.contains(&data.display().to_string()),
        "second line: {second:?}"
    );
    let (status, answer) = post(&serve.url("/api/stats/report"), "team1", &valid_body());
    assert_eq!(status, 200, "{answer}");
    let text = agent()
        .get(&serve.url("/api/teams"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let teams: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(teams[0]["team_id"], "team1");
    assert_eq!(report_files(&data, "team1").len(), 1);
}

#[test]
fn reads_every_setting_from_benchboard_environment_variables() {
    let temp = temp_dir();
    let data = temp.path().join("env-data");
    let mut command = Command::new(BIN);
    command
        .env("BENCHBOARD_HOST", "127.0.0.1")
        .env("BENCHBOARD_PORT", "0")
        .env("BENCHBOARD_DATA_DIR", &data)
        .env("BENCHBOARD_MAX_BODY", "1KiB");
    let serve = Serve::start(&mut command);
    assert!(serve.base.starts_with("http://127.0.0.1:"));
    let (status, _) = post(&serve.url("/api/stats/report"), "team1", &valid_body());
    assert_eq!(status, 200);
    assert_eq!(
        report_files(&data, "team1").len(),
        1,
        "stored under BENCHBOARD_DATA_DIR"
    );
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(2000));
    let (status, answer) = post(&serve.url("/api/stats/report"), "team1", big.as_bytes());
    assert_eq!(status, 413, "BENCHBOARD_MAX_BODY=1KiB: {answer}");
}

/// Sends the headers and half the body of a report, signals the server, then sends
/// the rest: the report in flight is finished and stored before the server exits 0.
fn finishes_report_in_flight_then_exits_0_on(signal: &str) {
    let temp = temp_dir();
    let data = temp.path().join("data");
    let mut serve = Serve::start(&mut serve_cmd(&data));
    // One full report first, so the server is surely up and serving.
    assert_eq!(
        post(&serve.url("/api/stats/report"), "team1", &valid_body()).0,
        200
    );

    let body = valid_body();
    let mut stream = TcpStream::connect(serve.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /api/stats/report HTTP/1.1\r\nHost: x\r\nX-Team-ID: team1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    stream.flush().unwrap();
    // The server may still be reading the headers when the signal comes: it must
    // answer this request all the same.
    serve.signal(signal);
    stream.write_all(&body[body.len() / 2..]).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "in-flight report answered: {answer:?}"
    );
    assert_eq!(serve.wait_exit(), Some(0), "exit status after SIG{signal}");
    assert_eq!(
        report_files(&data, "team1").len(),
        2,
        "in-flight report stored"
    );
    let errors = serve.stderr_lines();
    assert!(errors.iter().all(|l| !l.contains("panicked")), "{errors:?}");
}

#[test]
fn sigterm_finishes_reports_in_flight_and_exits_0() {
    finishes_report_in_flight_then_exits_0_on("TERM");
}

#[test]
fn sigint_finishes_reports_in_flight_and_exits_0() {
    finishes_report_in_flight_then_exits_0_on("INT");
}

#[test]
fn help_shows_an_example() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Example"), "{text}");
    assert!(text.contains("benchboard-serve --port"), "{text}");
    for flag in [
        "--host",
        "--port",
        "--data-dir",
        "--max-body",
        "--inactive-after",
        "--threads",
        "BENCHBOARD_PORT",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn bad_arguments_fail_with_one_clear_line() {
    let temp = temp_dir();
    let file = temp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--max-body", "lots"], "max-body"),
        (vec!["--port", "99999"], "port"),
        (vec!["--inactive-after", "soon"], "inactive-after"),
        (vec!["--data-dir", file.to_str().unwrap()], "a-file"),
    ];
    for (args, word) in cases {
        let output = Command::new(BIN)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(&args)
            .env_remove("BENCHBOARD_DATA_DIR")
            .current_dir(temp.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} succeeded");
        let errors = String::from_utf8_lossy(&output.stderr);
        assert!(errors.contains(word), "{args:?}: {errors}");
        assert!(!errors.contains("panicked"), "{args:?}: {errors}");
    }
}

#[test]
fn logs_one_line_per_refused_request_and_nothing_per_accepted_report() {
    let temp = temp_dir();
    let data = temp.path().join("data");
    let mut serve = Serve::start(&mut serve_cmd(&data));
    for _ in 0..5 {
        assert_eq!(
            post(&serve.url("/api/stats/report"), "team1", &valid_body()).0,
            200
        );
    }
    assert_eq!(
        post(&serve.url("/api/stats/report"), "../x", &valid_body()).0,
        400
    );
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(), Some(0));
    // stderr is complete once the reader thread has seen its end.
    let lines = serve.stderr_lines();
    // Open mode (no contest file) says so once at start.
    assert!(
        lines[0].starts_with("warning: open mode: anyone can report as any team"),
        "{lines:?}"
    );
    let lines = &lines[1..];
    let refused: Vec<&String> = lines.iter().filter(|l| l.contains("X-Team-ID")).collect();
    assert_eq!(refused.len(), 1, "stderr: {lines:?}");
    assert!(
        lines.len() == 1,
        "one line for the refused request only: {lines:?}"
    );
}

/// A report with a distinct `totalSent`, to tell acknowledged reports apart on disk.
fn report_sent(sent: u64) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&valid_body()).unwrap();
    value["totalSent"] = sent.into();
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn acknowledged_reports_survive_a_kill_9_in_the_middle_of_writing() {
    let temp = tempfile::Builder::new()
        .prefix("benchboard-crash-")
        .tempdir()
        .unwrap();
    let data = temp.path().join("data");
    let mut server = Serve::start(&mut serve_cmd(&data));
    let url = server.url("/api/stats/report");
    let stop = Arc::new(AtomicBool::new(false));
    let acked_so_far = Arc::new(AtomicUsize::new(0));
    // Four senders post until the server dies under them; each keeps what was acked.
    let senders: Vec<_> = (0..4u64)
        .map(|t| {
            let (url, stop, acked_so_far) = (url.clone(), stop.clone(), acked_so_far.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut acked = Vec::new();
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let sent = 1_000_000 * (t + 1) + i;
                    let answer = agent
                        .post(&url)
                        .header("X-Team-ID", "crash")
                        .send(&report_sent(sent)[..]);
                    match answer {
                        Ok(response) if response.status() == 200 => {
                            acked.push(sent);
                            acked_so_far.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => break, // the server is gone
                    }
                }
                acked
            })
        })
        .collect();
    // Kill (SIGKILL: no clean-up at all) once a few hundred reports are acknowledged,
    // while the senders keep posting.
    let deadline = Instant::now() + PATIENCE;
    while acked_so_far.load(Ordering::SeqCst) < 300 {
        assert!(Instant::now() < deadline, "reports are not acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.running.child.kill().unwrap();
    server.running.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let acked: Vec<u64> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    assert!(acked.len() >= 300);

    // Every report file on disk is complete, and every acknowledged report is one of them.
    let mut on_disk = std::collections::HashSet::new();
    for name in report_files(&data, "crash") {
        let text = std::fs::read_to_string(data.join("crash").join(&name)).unwrap();
        let file: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{name} is not a complete report: {e}"));
        on_disk.insert(file["stats"]["totalSent"].as_u64().unwrap());
    }
    let lost: Vec<&u64> = acked.iter().filter(|s| !on_disk.contains(s)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");

    // A restart serves every stored report and points latest.json at the newest.
    let restarted = Serve::start(&mut serve_cmd(&data));
    let mut response = agent()
        .get(&restarted.url("/api/teams/crash/history?limit=1"))
        .call()
        .unwrap();
    let history: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(history["total"].as_u64().unwrap() as usize, on_disk.len());
    let latest: Value =
        serde_json::from_slice(&std::fs::read(data.join("crash/latest.json")).unwrap()).unwrap();
    assert_eq!(latest["stats"], history["history"][0]["stats"]);
}
