//! `benchboard-history` as a user runs it: the real binary on a data directory made by
//! the real server (and on one in the original tool's format), and against the
//! running server itself through `--server`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{TestServer, copy_dir, fixture, report_files};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_benchboard-history");

/// Runs the binary with these arguments.
fn history(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("benchboard-history runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and expects exit code 0; returns stdout.
fn ok(args: &[&str]) -> String {
    let output = history(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Runs and expects `code`, nothing on stdout and a one-line message on stderr.
fn fails(args: &[&str], code: i32) -> String {
    let output = history(args);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {message}");
    assert_eq!(
        message.trim_end().lines().count(),
        1,
        "{args:?}: {message:?}"
    );
    message
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A report body with the given completed QPS, average latency and lost requests.
fn body(qps: f64, avg_latency_ms: f64, lost: u64) -> Vec<u8> {
    let mut report: Value = serde_json::from_slice(
        &std::fs::read(fixture("valid/minimal-12-buckets.json")).expect("fixture"),
    )
    .expect("fixture is JSON");
    report["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    report["totalAvgLatency"] = json!(avg_latency_ms);
    report["totalSent"] = json!(1000);
    report["pending"] = json!(0);
    report["totalOps"] = json!(1000 - lost);
    report["note"] = json!("kept verbatim");
    serde_json::to_vec(&report).expect("serializes")
}

/// A data directory written by the server: `t1` (第一小组, 3 reports) and `t2`
/// (2 reports); the server is stopped when this returns.
struct ServerData {
    _temp: tempfile::TempDir,
    dir: PathBuf,
}

impl ServerData {
    fn new() -> ServerData {
        let temp = tempfile::Builder::new()
            .prefix("benchboard-history-")
            .tempdir()
            .expect("temp dir");
        let dir = temp.path().join("data");
        let server = TestServer::start_on(dir.clone(), |_| {});
        post_reports(&server);
        server.stop();
        ServerData { _temp: temp, dir }
    }

    fn arg(&self) -> &str {
        self.dir.to_str().expect("temp paths are UTF-8")
    }
}

fn post_reports(server: &TestServer) {
    let named = [
        ("X-Team-ID", "t1"),
        ("X-Team-Name", "%E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84"),
    ];
    for (qps, latency, lost) in [(100.0, 20.0, 10), (300.0, 8.0, 5), (200.0, 12.0, 0)] {
        let (status, answer) = server.post_report(&named, &body(qps, latency, lost));
        assert_eq!(status, 200, "{answer}");
    }
    for (qps, latency, lost) in [(250.0, 30.0, 50), (150.0, 5.0, 20)] {
        let (status, answer) = server.post_for("t2", &body(qps, latency, lost));
        assert_eq!(status, 200, "{answer}");
    }
}

/// A copy of the original tool's data directory (the binary must not change it).
fn original_data() -> (tempfile::TempDir, String) {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("data");
    copy_dir(&fixture("original-data"), &dir);
    let arg = dir.to_str().expect("UTF-8").to_string();
    (temp, arg)
}

/// Every file under `dir` with its contents, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            let contents = std::fs::read(&path).unwrap();
            files.push((path, contents));
        }
    }
    files.sort();
    files
}

#[test]
fn teams_lists_every_team_with_latest_and_best_numbers() {
    let data = ServerData::new();
    let table = ok(&["--data-dir", data.arg(), "teams"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("TEAM") && lines[0].contains("BEST QPS"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("t1") && lines[1].contains("第一小组"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("t2") && lines[2].contains("Team-t2"),
        "{table}"
    );

    let teams = json_of(&ok(&["--data-dir", data.arg(), "teams", "--json"]));
    let t1 = &teams[0];
    assert_eq!(t1["team_id"], "t1");
    assert_eq!(t1["team_name"], "第一小组");
    assert_eq!(t1["reports"], 3);
    assert_eq!(t1["qps"], 200.0, "latest QPS");
    assert_eq!(t1["best_qps"], 300.0);
    assert_eq!(t1["best_latency"], 8.0);
    assert_eq!(t1["best_qps_time"], t1["best_latency_time"]);
    assert_eq!(teams[1]["data_loss_rate"], 2.0, "20 of 1000 lost");
    assert!(t1["first_report"].as_str() < t1["last_report"].as_str());
}

#[test]
fn show_lists_reports_newest_first_with_limit_and_offset() {
    let data = ServerData::new();
    let all = json_of(&ok(&["--data-dir", data.arg(), "show", "t1", "--json"]));
    assert_eq!(all["total"], 3);
    let qps: Vec<f64> = all["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metrics"]["qps"].as_f64().unwrap())
        .collect();
    assert_eq!(qps, [200.0, 300.0, 100.0], "newest first");
    assert_eq!(all["history"][0]["stats"]["note"], "kept verbatim");

    let page = json_of(&ok(&[
        "--data-dir",
        data.arg(),
        "show",
        "t1",
        "--limit",
        "1",
        "--offset",
        "1",
        "--json",
    ]));
    assert_eq!(page["history"].as_array().unwrap().len(), 1);
    assert_eq!(page["history"][0]["metrics"]["qps"], 300.0);

    let table = ok(&["--data-dir", data.arg(), "show", "t1", "--limit", "2"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("TIME"), "{table}");
    assert!(
        lines[1].contains("200.0") && lines[2].contains("300.0"),
        "{table}"
    );
    assert_eq!(lines[3], "reports 1-2 of 3, newest first");
}

#[test]
fn summary_gives_the_endpoint_numbers_and_the_spread() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let server = TestServer::start_on(dir.clone(), |_| {});
    post_reports(&server);
    let (_, endpoint) = server.get_json("/api/teams/t1/history/summary");
    server.stop();

    let dir_arg = dir.to_str().unwrap();
    let summary = json_of(&ok(&["--data-dir", dir_arg, "summary", "t1", "--json"]));
    for key in [
        "team_id",
        "total_reports",
        "first_report",
        "last_report",
        "data_directory",
        "recent_files",
    ] {
        assert_eq!(summary[key], endpoint[key], "{key}");
    }
    let range = &summary["range"];
    assert_eq!(range["reports"], 3);
    assert_eq!(
        range["qps"],
        json!({"min": 100.0, "median": 200.0, "max": 300.0})
    );
    assert_eq!(
        range["avg_latency"],
        json!({"min": 8.0, "median": 12.0, "max": 20.0})
    );

    let table = ok(&["--data-dir", dir_arg, "summary", "t1"]);
    assert!(table.contains("reports         3"), "{table}");
    let qps_line = table.lines().find(|l| l.starts_with("QPS")).unwrap();
    assert_eq!(
        qps_line.split_whitespace().collect::<Vec<_>>(),
        ["QPS", "100.0", "200.0", "300.0"]
    );
}

#[test]
fn best_ranks_teams_and_gives_ties_to_who_got_there_first() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let server = TestServer::start_on(dir.clone(), |_| {});
    // `late` and `early` both reach 500 QPS; `early` got there first.
    server.post_for("early", &body(500.0, 10.0, 100));
    server.post_for("late", &body(100.0, 4.0, 0));
    server.post_for("late", &body(500.0, 6.0, 0));
    server.post_for("third", &body(300.0, 10.0, 30));
    server.stop();
    let dir_arg = dir.to_str().unwrap();

    let order = |by: &str| -> Vec<String> {
        let ranking = json_of(&ok(&["--data-dir", dir_arg, "best", "--by", by, "--json"]));
        assert_eq!(ranking["by"], by);
        ranking["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["team_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(order("qps"), ["early", "late", "third"]);
    assert_eq!(order("latency"), ["late", "early", "third"]);
    assert_eq!(order("failure-rate"), ["late", "third", "early"]);

    let table = ok(&["--data-dir", dir_arg, "best"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("RANK") && lines[0].contains("BEST QPS"),
        "{table}"
    );
    assert!(lines[1].trim_start().starts_with("1  early"), "{table}");
}

#[test]
fn export_csv_has_one_row_per_stored_report_and_stable_columns() {
    let data = ServerData::new();
    let csv_text = ok(&["--data-dir", data.arg(), "export"]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().unwrap().clone();
    for column in [
        "team_id",
        "team_name",
        "timestamp",
        "completed_qps",
        "avg_latency_ms",
        "p99_latency_ms",
        "failure_rate_pct",
        "elapsed_s",
        "sensor_data_bucket_le_1ms",
        "sensor_data_bucket_gt_5000ms",
        "query_p99_ms",
    ] {
        assert!(
            header.iter().any(|h| h == column),
            "missing {column}: {header:?}"
        );
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let stored = report_files(&data.dir, "t1").len() + report_files(&data.dir, "t2").len();
    assert_eq!(rows.len(), stored);
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let t1: Vec<&str> = rows
        .iter()
        .filter(|r| &r[column("team_id")] == "t1")
        .map(|r| &r[column("completed_qps")])
        .collect();
    assert_eq!(t1, ["100.0", "300.0", "200.0"], "oldest first");
    assert_eq!(&rows[0][column("team_name")], "第一小组");
    assert_eq!(&rows[3][column("failure_rate_pct")], "5.0");

    let only_t2 = ok(&[
        "--data-dir",
        data.arg(),
        "export",
        "--team",
        "t2",
        "--team",
        "t2",
    ]);
    assert_eq!(only_t2.lines().count(), 1 + 2);
}

#[test]
fn export_json_and_ndjson_carry_the_reports_verbatim() {
    let data = ServerData::new();
    let ndjson = ok(&["--data-dir", data.arg(), "export", "--format", "ndjson"]);
    let entries: Vec<Value> = ndjson.lines().map(json_of).collect();
    assert_eq!(entries.len(), 5);
    for entry in &entries {
        assert_eq!(entry["stats"]["note"], "kept verbatim");
        assert!(entry["metrics"]["p99_latency"].is_number());
    }
    let array = json_of(&ok(&["--data-dir", data.arg(), "export", "--json"]));
    assert_eq!(array, Value::Array(entries));
}

#[test]
fn export_to_a_file_is_complete_or_absent() {
    let data = ServerData::new();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("history.csv");
    let out_arg = out.to_str().unwrap();
    let output = history(&["--data-dir", data.arg(), "export", "-o", out_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, ok(&["--data-dir", data.arg(), "export"]));
    let files: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file left behind");

    let empty = out_dir.path().join("empty.csv");
    fails(
        &[
            "--data-dir",
            data.arg(),
            "export",
            "--since",
            "2100-01-01 00:00",
            "-o",
            empty.to_str().unwrap(),
        ],
        1,
    );
    assert!(!empty.exists(), "nothing exported, no file");
}

#[test]
fn since_and_until_include_their_boundaries() {
    let (_temp, dir) = original_data();
    let count = |range: &[&str]| -> u64 {
        let mut args = vec!["--data-dir", &dir, "show", "team1", "--json"];
        args.extend_from_slice(range);
        json_of(&ok(&args))["total"].as_u64().unwrap()
    };
    // team1 reported at 10:00:05.138, 10:00:10.170 and 10:00:15.153 local time.
    assert_eq!(count(&[]), 3);
    assert_eq!(count(&["--since", "2025-08-01 10:00:10"]), 2);
    assert_eq!(
        count(&["--since", "2025-08-01T10:00:10.170"]),
        2,
        "since is inclusive"
    );
    assert_eq!(count(&["--since", "2025-08-01T10:00:10.171"]), 1);
    assert_eq!(
        count(&["--until", "2025-08-01T10:00:10.170"]),
        2,
        "until is inclusive"
    );
    let message = fails(
        &[
            "--data-dir",
            &dir,
            "show",
            "team1",
            "--until",
            "2025-08-01 10:00",
        ],
        1,
    );
    assert!(message.contains("no reports"), "empty range: {message}");
    assert_eq!(
        count(&[
            "--since",
            "2025-08-01 10:00:06",
            "--until",
            "2025-08-01 10:00:11"
        ]),
        1
    );
    let csv_text = ok(&[
        "--data-dir",
        &dir,
        "export",
        "--since",
        "2025-08-01 10:00:10",
        "--until",
        "2025-08-01 10:00:15.153",
    ]);
    // team1 at 10.170 and 15.153 (the end, included); team2 at 10.283 (15.254 is after).
    assert_eq!(csv_text.lines().count(), 1 + 2 + 1);

    let summary = json_of(&ok(&[
        "--data-dir",
        &dir,
        "summary",
        "team2",
        "--since",
        "2025-08-01 10:00:10",
        "--json",
    ]));
    assert_eq!(summary["total_reports"], 3);
    assert_eq!(summary["range"]["reports"], 2);
}

#[test]
fn original_data_loads_unchanged_and_is_never_modified() {
    let (temp, dir) = original_data();
    let before = snapshot(temp.path());
    let teams = json_of(&ok(&["--data-dir", &dir, "teams", "--json"]));
    assert_eq!(teams.as_array().unwrap().len(), 2);
    assert_eq!(teams[0]["team_name"], "Team Alpha");
    assert_eq!(teams[0]["reports"], 3);
    assert_eq!(teams[0]["first_report"], "2025-08-01T10:00:05.138000");
    ok(&["--data-dir", &dir, "show", "team2"]);
    ok(&["--data-dir", &dir, "summary", "team1"]);
    ok(&["--data-dir", &dir, "best", "--by", "latency"]);
    let csv_text = ok(&["--data-dir", &dir, "export"]);
    assert_eq!(csv_text.lines().count(), 1 + 6);
    assert_eq!(
        snapshot(temp.path()),
        before,
        "read-only: no file changed or added"
    );
}

#[test]
fn server_gives_the_same_output_as_the_data_directory() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let server = TestServer::start_on(dir.clone(), |_| {});
    post_reports(&server);
    let dir_arg = dir.to_str().unwrap();
    let commands: &[&[&str]] = &[
        &["teams"],
        &["teams", "--json"],
        &["show", "t1"],
        &["show", "t1", "--json", "--limit", "2", "--offset", "1"],
        &["summary", "t2"],
        &["summary", "t1", "--json"],
        &["best", "--by", "latency"],
        &["best", "--json"],
        &["export"],
        &["export", "--format", "ndjson", "--team", "t2"],
        &["export", "--json"],
    ];
    for command in commands {
        let mut local = vec!["--data-dir", dir_arg];
        local.extend_from_slice(command);
        let mut remote = vec!["--server", server.base.as_str()];
        remote.extend_from_slice(command);
        assert_eq!(ok(&remote), ok(&local), "{command:?}");
    }

    // Ranges: the API has no time filter, the tool filters the same way.
    let teams = json_of(&ok(&["--data-dir", dir_arg, "show", "t1", "--json"]));
    let middle = teams["history"][1]["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    for command in [
        vec!["show", "t1", "--since", &middle],
        vec!["summary", "t1", "--until", &middle, "--json"],
        vec!["export", "--since", &middle, "--until", &middle],
    ] {
        let mut local = vec!["--data-dir", dir_arg];
        local.extend_from_slice(&command);
        let mut remote = vec!["--server", server.base.as_str()];
        remote.extend_from_slice(&command);
        assert_eq!(ok(&remote), ok(&local), "{command:?}");
    }
    let one = ok(&[
        "--server",
        &server.base,
        "export",
        "--since",
        &middle,
        "--until",
        &middle,
    ]);
    assert_eq!(one.lines().count(), 2, "exactly the report at that instant");
    let message = fails(&["--server", &server.base, "show", "nobody"], 1);
    assert!(message.contains("unknown team nobody"), "{message}");
    let bare = server.base.trim_start_matches("http://");
    assert_eq!(
        ok(&["--server", bare, "best"]),
        ok(&["--data-dir", dir_arg, "best"])
    );
}

#[test]
fn bad_usage_unknown_teams_and_missing_data_give_documented_exit_codes() {
    let data = ServerData::new();
    let d = data.arg();
    let message = fails(&["--data-dir", d, "show", "t1", "--since", "yesterday"], 2);
    assert!(
        message.contains("--since") && message.contains("YYYY-MM-DD HH:MM"),
        "{message}"
    );
    fails(
        &["--data-dir", d, "export", "--until", "2025-02-30 10:00"],
        2,
    );
    fails(
        &[
            "--data-dir",
            d,
            "summary",
            "t1",
            "--since",
            "2025-08-02 10:00",
            "--until",
            "2025-08-01 10:00",
        ],
        2,
    );
    fails(&["--data-dir", d, "show", "../etc"], 2);
    fails(&["--data-dir", d, "show", "t1", "--limit", "0"], 2);
    fails(&["--data-dir", d, "export", "--format", "xml"], 2);
    assert_eq!(
        history(&["--data-dir", d]).status.code(),
        Some(2),
        "no command"
    );

    let message = fails(&["--data-dir", d, "show", "nobody"], 1);
    assert!(message.contains("unknown team nobody"), "{message}");
    fails(&["--data-dir", d, "summary", "nobody"], 1);
    fails(
        &[
            "--data-dir",
            d,
            "export",
            "--team",
            "t1",
            "--team",
            "nobody",
        ],
        1,
    );
    fails(&["--data-dir", d, "show", "t1", "--offset", "3"], 1);
    fails(
        &["--data-dir", d, "show", "t1", "--since", "2100-01-01 00:00"],
        1,
    );

    let missing = data.dir.join("no-such-dir");
    let message = fails(&["--data-dir", missing.to_str().unwrap(), "teams"], 2);
    assert!(message.contains("no-such-dir"), "{message}");
    let empty = tempfile::tempdir().unwrap();
    fails(&["--data-dir", empty.path().to_str().unwrap(), "teams"], 1);

    let server = TestServer::start();
    let gone = server.base.clone();
    server.stop();
    let message = fails(&["--server", &gone, "teams"], 2);
    assert!(message.contains(&gone), "{message}");
    fails(&["--server", "ftp://example", "teams"], 2);
}

#[test]
fn corrupt_files_are_skipped_with_a_warning() {
    let data = ServerData::new();
    // Corrupt a report the sidecar index already lists.
    let victim = data.dir.join("t1").join(&report_files(&data.dir, "t1")[1]);
    std::fs::write(&victim, b"{\"team_id\": \"t1\", \"half a rep").unwrap();
    let output = history(&["--data-dir", data.arg(), "export", "--format", "ndjson"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output).lines().count(), 4);
    let warnings = stderr(&output);
    assert!(
        warnings.contains("warning: skipping") && warnings.contains(victim.to_str().unwrap()),
        "{warnings}"
    );

    // In the original's format (no index) the file is skipped when the store opens.
    let (_temp, dir) = original_data();
    let victim = Path::new(&dir).join("team2/20250801_100010_283.json");
    std::fs::write(&victim, b"not json").unwrap();
    let output = history(&["--data-dir", &dir, "export"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output).lines().count(), 1 + 5);
    assert!(
        stderr(&output).contains("20250801_100010_283.json"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_closed_pipe_ends_the_export_quietly() {
    let temp = tempfile::tempdir().unwrap();
    // About 1 MB of CSV: far more than a pipe holds.
    benchboard::generate::write_history(temp.path(), 2, 500).unwrap();
    let mut child = Command::new(BIN)
        .args(["--data-dir", temp.path().to_str().unwrap(), "export"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    reader.read_line(&mut header).unwrap();
    assert!(header.starts_with("team_id,"));
    drop(reader);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "quiet");
}

#[test]
fn server_pages_give_the_same_long_history_as_the_data_directory() {
    // More reports than one API page (1000), so the tool pages through the server.
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    benchboard::generate::write_history(&dir, 1, 1010).unwrap();
    let server = TestServer::start_on(dir.clone(), |_| {});
    let dir_arg = dir.to_str().unwrap();
    let commands: &[&[&str]] = &[
        &["export", "--format", "ndjson"],
        &[
            "show", "team1", "--json", "--limit", "20", "--offset", "995",
        ],
        &["summary", "team1", "--since", "2025-08-01 09:30", "--json"],
    ];
    for command in commands {
        let mut local = vec!["--data-dir", dir_arg];
        local.extend_from_slice(command);
        let mut remote = vec!["--server", server.base.as_str()];
        remote.extend_from_slice(command);
        let (remote_out, local_out) = (ok(&remote), ok(&local));
        assert!(remote_out == local_out, "{command:?} differs");
    }
    let ndjson = ok(&["--server", &server.base, "export", "--format", "ndjson"]);
    let timestamps: Vec<String> = ndjson
        .lines()
        .map(|l| json_of(l)["timestamp"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(timestamps.len(), 1010);
    assert!(timestamps.windows(2).all(|w| w[0] < w[1]), "oldest first");
}
