//! `benchboard-history` knows runs and warnings: `show` lists each report's run and
//! warnings, `teams` the current run and its best records, `best --current-run`
//! ranks by them, and the exports carry both; from a data directory (or, in
//! tests/history_runs_postgres.rs, the database) and from a running server alike.

mod common;

use std::process::Command;

use common::{TestServer, fixture};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_benchboard-history");

fn report(elapsed_s: f64, qps: f64, errors: i64) -> Vec<u8> {
    let mut value: Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap())
            .unwrap();
    let ops = (qps * elapsed_s).round() as i64;
    value["totalElapsed"] = json!(elapsed_s);
    value["totalSent"] = json!(ops + 10);
    value["totalOps"] = json!(ops);
    value["pending"] = json!(0);
    value["totalErrors"] = json!(errors);
    value["operations"]["sensorData"]["operations"] = json!(ops);
    value["latencyAnalysis"]["sensorData"]["buckets"] =
        json!([0, 0, 0, 0, 0, ops, 0, 0, 0, 0, 0, 0]);
    value["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    serde_json::to_vec(&value).unwrap()
}

/// A server whose team `t1` ran twice; the first report of run 2 has `totalErrors: -5`.
fn server_with_two_runs() -> TestServer {
    let server = TestServer::start();
    for (elapsed, qps, errors) in [
        (10.0, 500.0, 1),
        (20.0, 450.0, 2),
        (5.0, 100.0, -5),
        (10.0, 150.0, 1),
    ] {
        let (status, _) = server.post_for("t1", &report(elapsed, qps, errors));
        assert_eq!(status, 200);
    }
    server
}

/// `benchboard-history` on the server's store (its data directory, or its database).
fn history_of(server: &TestServer, args: &[&str]) -> String {
    let mut all = server.store_args();
    all.extend(args.iter().map(|a| a.to_string()));
    history(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

fn history(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn show_lists_each_reports_run_and_warnings_from_disk_and_from_the_server() {
    let server = server_with_two_runs();
    let local = history_of(&server, &["show", "t1"]);
    let lines: Vec<&str> = local.lines().collect();
    assert!(
        lines[0].contains(" RUN ") && lines[0].trim_end().ends_with("WARNINGS"),
        "{local}"
    );
    assert!(
        lines[2]
            .trim_end()
            .ends_with("negative_count (totalErrors)"),
        "{local}"
    );
    assert!(lines[1].trim_end().ends_with('-'), "{local}");
    let remote = history(&["--server", &server.base, "show", "t1"]);
    assert_eq!(remote, local);
    let json: Value =
        serde_json::from_str(&history_of(&server, &["show", "t1", "--json"])).unwrap();
    let runs: Vec<u64> = json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["run"].as_u64().unwrap())
        .collect();
    assert_eq!(runs, [2, 2, 1, 1]);
    assert_eq!(json["history"][1]["warnings"][0]["code"], "negative_count");
}

#[test]
fn teams_and_best_know_the_current_run() {
    let server = server_with_two_runs();
    let teams: Value = serde_json::from_str(&history_of(&server, &["teams", "--json"])).unwrap();
    assert_eq!(teams[0]["run"], 2);
    assert_eq!(teams[0]["best_qps"], 500.0);
    assert_eq!(teams[0]["run_best"]["best_qps"], 150.0);
    let remote: Value =
        serde_json::from_str(&history(&["--server", &server.base, "teams", "--json"])).unwrap();
    assert_eq!(remote, teams);
    let best: Value =
        serde_json::from_str(&history_of(&server, &["best", "--current-run", "--json"])).unwrap();
    assert_eq!(best["current_run"], true);
    assert_eq!(best["ranking"][0]["value"], 150.0);
}

#[test]
fn exports_carry_the_run_and_the_warnings() {
    let server = server_with_two_runs();
    let csv = history_of(&server, &["export", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let run = header.iter().position(|h| h == "run").unwrap();
    let warnings = header.iter().position(|h| h == "warnings").unwrap();
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[run].to_string(), r[warnings].to_string())
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("1".into(), "".into()),
            ("1".into(), "".into()),
            ("2".into(), "negative_count:totalErrors".into()),
            ("2".into(), "".into())
        ]
    );
    let (_, served) = server.get("/api/teams/t1/export.csv");
    assert_eq!(served, csv, "the server's CSV is the same");
    let ndjson = history_of(&server, &["export", "--format", "ndjson"]);
    let third: Value = serde_json::from_str(ndjson.lines().nth(2).unwrap()).unwrap();
    assert_eq!(
        (
            third["run"].as_u64(),
            third["warnings"][0]["field"].as_str()
        ),
        (Some(2), Some("totalErrors"))
    );
}
