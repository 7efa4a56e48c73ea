//! `benchboard-client push` and `watch`, run as the real binary against a real server
//! on port 0: a tool's output is converted on the client and stored as a report;
//! `watch` follows a file that the test appends to, rotates and truncates, and sends a
//! last report on Ctrl-C.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{PATIENCE, Running, TestServer, fixture, report_files, run_to_end};
use serde_json::Value;

const CLIENT: &str = env!("CARGO_BIN_EXE_benchboard-client");
/// Generous: the machine is shared; every wait ends as soon as its event happens.
const DEADLINE: Duration = Duration::from_secs(60);

fn client(args: &[&str], stdin: &[u8]) -> std::process::Output {
    run_to_end(CLIENT, args, stdin)
}

fn tool_output(relative: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("import/{relative}"))).unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The team's latest stats once `done` holds for them, within the deadline.
fn wait_for_stats(server: &TestServer, team: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, body) = server.get_json(&format!("/api/teams/{team}"));
        if status == 200 && done(&body["stats"]) {
            return body["stats"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{team} never got there; last answer {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn push_converts_a_file_or_stdin_and_stores_the_report() {
    let server = TestServer::start();
    let jtl = fixture("import/jmeter/default.jtl");
    let out = client(
        &[
            "push",
            "--server",
            &server.base,
            "--team-id",
            "p1",
            "--team-name",
            "第一小组",
            jtl.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(line.starts_with("p1: jtl "), "{line}");
    assert!(
        line.contains("(240 requests, 80 errors) and stored by"),
        "{line}"
    );
    let stats = wait_for_stats(&server, "p1", |s| s["totalOps"] == 240);
    assert_eq!(stats["source"]["format"], "jtl");

    // stdin, auto: oha's docs line from the README in spirit (any tool's output piped in).
    let out = client(
        &["--server", &server.base, "--team-id", "p1", "push", "-"],
        &tool_output("locust/run.json"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("p1: locust-json - converted (506 requests, 71 errors)"),
        "{}",
        text(&out.stdout)
    );
    wait_for_stats(&server, "p1", |s| s["totalOps"] == 506);
    assert_eq!(report_files(&server.data_dir, "p1").len(), 2);
}

/// `push --server S --team-id TEAM <args>`, the error it printed (it must exit 2).
fn push_refused(server: &TestServer, team: &str, args: &[&str]) -> String {
    let mut all = vec!["push", "--server", &server.base, "--team-id", team];
    all.extend_from_slice(args);
    let out = client(&all, b"");
    assert_eq!(out.status.code(), Some(2), "{all:?}: {}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn push_of_a_file_that_is_not_the_format_exits_2_and_sends_nothing() {
    let server = TestServer::start();
    let csv = fixture("import/locust/run_stats.csv");
    let csv = csv.to_str().unwrap();
    let error = push_refused(&server, "p2", &["--format", "oha", csv]);
    assert!(error.starts_with("Error: "), "{error}");
    assert!(
        error.contains("oha (oha --output-format json): not valid JSON"),
        "{error}"
    );
    let error = push_refused(&server, "p2", &["--map", "x=writes", csv]);
    assert!(error.contains("unknown kind \"writes\""), "{error}");
    assert!(!server.data_dir.join("p2").exists());
}

#[test]
fn todays_file_flag_still_sends_a_report_as_it_is() {
    let server = TestServer::start();
    let report = fixture("valid/minimal-12-buckets.json");
    let out = client(
        &[
            "--server",
            &server.base,
            "--team-id",
            "old",
            "--file",
            report.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_for_stats(&server, "old", |s| s["totalSent"] == 1000);
}

/// A running `watch` (killed on drop), once it said it is watching.
struct Watcher(Running);

impl Watcher {
    fn start(server: &TestServer, args: &[&str]) -> Watcher {
        let mut all = vec!["watch", "--server", &server.base];
        all.extend_from_slice(args);
        let mut running = Running::start(CLIENT, &all);
        running.stdout.wait_for("Watching ", PATIENCE);
        Watcher(running)
    }

    fn expect_line(&mut self, needle: &str) -> String {
        self.0.stdout.wait_for(needle, DEADLINE)
    }

    /// Ctrl-C, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        self.0.signal("INT");
        self.0.finish(DEADLINE)
    }
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}

/// The k6 fixture's 6 Metric lines, and each request's 6 Point lines.
fn k6_lines() -> (String, Vec<String>) {
    let text = String::from_utf8(tool_output("k6/requests.ndjson")).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let requests = lines[6..].chunks(6).map(|chunk| chunk.concat()).collect();
    (lines[..6].concat(), requests)
}

#[test]
fn watch_follows_a_growing_rotated_and_truncated_k6_file() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let (metrics, requests) = k6_lines();
    // The file does not exist yet when the watch starts, as before `k6 run` creates it.
    let mut watcher = Watcher::start(
        &server,
        &[
            "--format",
            "k6-ndjson",
            "--interval",
            "0.2",
            "--team-id",
            "w1",
            path.to_str().unwrap(),
        ],
    );
    append(&path, metrics.as_bytes());
    let first_two = requests[..2].concat();
    // k6 flushes mid-line: the second request's http_reqs line arrives in two pieces.
    let (head, tail) = first_two.split_at(requests[0].len() + 40);
    append(&path, head.as_bytes());
    wait_for_stats(&server, "w1", |s| s["totalOps"] == 1);
    append(&path, tail.as_bytes());
    wait_for_stats(&server, "w1", |s| s["totalOps"] == 2);
    append(&path, requests[2..4].concat().as_bytes());
    let stats = wait_for_stats(&server, "w1", |s| s["totalOps"] == 4);
    assert_eq!(stats["totalErrors"], 1); // request 4 failed

    // logrotate: the file is renamed away and a new one started; counting goes on.
    std::fs::rename(&path, dir.path().join("out.json.1")).unwrap();
    append(&path, format!("{metrics}{}", requests[4]).as_bytes());
    watcher.expect_line(&format!("{} was replaced (rotated)", path.display()));
    wait_for_stats(&server, "w1", |s| s["totalOps"] == 5);

    // Truncated in place (the tool started over writing the same file).
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    append(&path, requests[5].as_bytes());
    watcher.expect_line(&format!("{} was truncated", path.display()));
    let stats = wait_for_stats(&server, "w1", |s| s["totalOps"] == 6);
    assert_eq!(
        stats["latencyAnalysis"]["sensorData"]["buckets"],
        serde_json::json!([1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1])
    );
    assert_eq!(stats["source"]["format"], "k6-ndjson");
    assert!(watcher.stop().success());
}

#[test]
fn ctrl_c_sends_a_last_report_with_what_was_written_before_it() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.jtl");
    let jtl = tool_output("jmeter/header.jtl");
    let text = String::from_utf8(jtl).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    append(&path, lines[..31].concat().as_bytes()); // the header and 30 samples
    // An interval far beyond the test: the only report is the one Ctrl-C sends.
    let mut watcher = Watcher::start(
        &server,
        &[
            "--format",
            "jtl",
            "--interval",
            "3600",
            "--team-id",
            "w2",
            path.to_str().unwrap(),
        ],
    );
    append(&path, lines[31..].concat().as_bytes());
    let last = {
        watcher.0.signal("INT");
        watcher.expect_line("w2: last report 1 stored: 60 requests, 20 errors")
    };
    assert!(last.contains("MB read"), "{last}");
    assert_eq!(
        watcher.expect_line("stopped: "),
        "stopped: 1 report(s) stored"
    );
    let stats = wait_for_stats(&server, "w2", |s| s["totalOps"] == 60);
    assert_eq!(stats["totalErrors"], 20);
    assert_eq!(report_files(&server.data_dir, "w2").len(), 1);
}

#[test]
fn watch_reads_a_rotated_csv_file_from_its_header_again() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run_stats_history.csv");
    let history = String::from_utf8(tool_output("locust/run_stats_history.csv")).unwrap();
    let lines: Vec<&str> = history.split_inclusive('\n').collect();
    append(&path, lines[..5].concat().as_bytes());
    let mut watcher = Watcher::start(
        &server,
        &[
            "--format",
            "locust-history",
            "--interval",
            "0.2",
            "--team-id",
            "w3",
            path.to_str().unwrap(),
        ],
    );
    wait_for_stats(&server, "w3", |s| s["totalOps"] == 160);
    // A new file (Locust started again): its header is a header, its rows count.
    std::fs::rename(&path, dir.path().join("old.csv")).unwrap();
    append(
        &path,
        format!("{}{}", lines[0], lines[lines.len() - 1]).as_bytes(),
    );
    watcher.expect_line(&format!("{} was replaced (rotated)", path.display()));
    let stats = wait_for_stats(&server, "w3", |s| s["totalOps"] == 463);
    assert_eq!(stats["totalErrors"], 65);
    assert!(watcher.stop().success());
}

#[test]
fn watch_refuses_a_format_tools_do_not_append_to() {
    let out = client(&["watch", "--format", "oha", "x.json"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("possible values: k6-ndjson, locust-history, jtl"),
        "{}",
        text(&out.stderr)
    );
}
