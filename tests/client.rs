//! benchboard-client, run as a real binary against a real server on port 0; and the
//! simulator's reports, checked against the server's validation over many seeds.

mod common;

use std::time::Duration;

use benchboard::metrics::BUCKET_UPPER_MS;
use benchboard::report::Report;
use benchboard::simulate::{Profile, SimulatedTeam};
use common::{ClosedPort, PATIENCE, Running, TestServer, fixture, report_files};
use proptest::prelude::*;
use serde_json::Value;

const CLIENT: &str = env!("CARGO_BIN_EXE_benchboard-client");

/// Runs the client to completion ([`PATIENCE`] at most) with `stdin` as input.
fn client(args: &[&str], stdin: &[u8]) -> std::process::Output {
    common::run_to_end(CLIENT, args, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn start(args: &[&str]) -> Running {
    Running::start(CLIENT, args)
}

#[test]
fn sends_valid_file_and_exits_0() {
    let server = TestServer::start();
    let file = fixture("valid/full-13-buckets.json");
    let output = client(
        &[
            "--server",
            &server.base,
            "--team-id",
            "t1",
            "--team-name",
            "第一小组",
            "--file",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(report_files(&server.data_dir, "t1").len(), 1);
    let (_, team) = server.get_json("/api/teams/t1");
    assert_eq!(team["team_name"], "第一小组");
    assert_eq!(team["stats"]["totalSent"], 5000);
}

#[test]
fn refused_file_exits_1_with_the_servers_message() {
    let server = TestServer::start();
    let body = std::fs::read_to_string(fixture("valid/minimal-12-buckets.json"))
        .unwrap()
        .replacen("[100, 200, 150, 80", "[100, 200, 150, \"x\"", 1);
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("bad.json");
    std::fs::write(&path, body).unwrap();
    let output = client(
        &["--server", &server.base, "--file", path.to_str().unwrap()],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("latencyAnalysis.sensorData.buckets[3]: expected an integer"),
        "{stderr}"
    );
    assert!(report_files(&server.data_dir, "team1").is_empty());
}

#[test]
fn reads_the_report_from_stdin() {
    let server = TestServer::start();
    let body = std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap();
    let output = client(
        &[
            "--server",
            &server.base,
            "--team-id",
            "piped",
            "--file",
            "-",
        ],
        &body,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(report_files(&server.data_dir, "piped").len(), 1);
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["--file", "/no/such/report.json"][..],
        &["--teams", "0"],
        &["--interval", "soon"],
        &["--team-id", "../etc"],
        &["--server", "ftp://example.org"],
        &[
            "--server",
            "https://127.0.0.1:9",
            "--ca-cert",
            "/no/such/ca.pem",
        ],
        &["--token", "a", "--tokens", "t.txt"],
        &["--file", "r.json", "--teams", "3"],
        &["--no-such-flag"],
    ] {
        let output = client(args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!text(&output.stderr).trim().is_empty(), "{args:?}");
    }
}

#[test]
fn three_teams_five_reports_store_exactly_fifteen() {
    let server = TestServer::start();
    let output = client(
        &[
            "--server",
            &server.base,
            "--teams",
            "3",
            "--count",
            "5",
            "--interval",
            "0.1",
        ],
        b"",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    for team in ["team1", "team2", "team3"] {
        assert_eq!(report_files(&server.data_dir, team).len(), 5, "{team}");
    }
    assert!(report_files(&server.data_dir, "team4").is_empty());
    let (_, teams) = server.get_json("/api/teams");
    let names: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["team_name"].as_str())
        .collect();
    for name in ["第一小组", "第二小组", "第三小组"] {
        assert!(names.contains(&name), "{names:?}");
    }
}

#[test]
fn team_id_is_a_prefix_with_several_teams() {
    let server = TestServer::start();
    let output = client(
        &[
            "--server",
            &server.base,
            "--team-id",
            "lab",
            "--team-name",
            "Lab",
            "--teams",
            "2",
            "--count",
            "1",
        ],
        b"",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(report_files(&server.data_dir, "lab1").len(), 1);
    assert_eq!(report_files(&server.data_dir, "lab2").len(), 1);
    let (_, team) = server.get_json("/api/teams/lab2");
    assert_eq!(team["team_name"], "Lab 2");
}

#[test]
fn retries_until_the_server_comes_up() {
    let port = ClosedPort::new();
    let url = port.url();
    let mut running = start(&["--server", &url, "--count", "1", "--interval", "0.2"]);
    let failure = running.stderr.wait_for("cannot reach", PATIENCE);
    assert!(failure.contains("retrying in"), "{failure}");
    let server = TestServer::start_on_port(port);
    let status = running
        .wait(PATIENCE)
        .expect("the client delivers its report once the server is up");
    assert!(status.success());
    running.stdout.wait_for("report 1 stored", PATIENCE);
    assert_eq!(report_files(&server.data_dir, "team1").len(), 1);
}

#[test]
fn gives_up_on_a_file_after_max_attempts() {
    let port = ClosedPort::new();
    let file = fixture("valid/minimal-12-buckets.json");
    let output = client(
        &[
            "--server",
            &port.url(),
            "--file",
            file.to_str().unwrap(),
            "--max-attempts",
            "2",
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.matches("cannot reach").count(), 2, "{stderr}");
    assert!(stderr.contains("gave up after 2 attempts"), "{stderr}");
}

/// How soon after Ctrl-C a client must be gone: far less than the `--interval 60` or
/// `--timeout 60` it would otherwise wait out, and many times the 0.5 s it takes.
const STOPS_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn ctrl_c_stops_at_once() {
    let server = TestServer::start();
    let mut running = start(&["--server", &server.base, "--interval", "60"]);
    running.stdout.wait_for("report 1 stored", PATIENCE);
    running.signal("INT");
    let status = running
        .wait(STOPS_WITHIN)
        .expect("the client stops at once on Ctrl-C, not after --interval");
    // Exit 0 (not killed by the signal): the handler ran and printed the summary.
    assert_eq!(status.code(), Some(0), "{status}");
    running
        .stdout
        .wait_for("stopped: 1 report(s) stored", PATIENCE);
}

#[test]
fn ctrl_c_stops_at_once_even_with_a_request_in_flight() {
    // A "server" that accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", silent.local_addr().unwrap());
    let report = fixture("valid/minimal-12-buckets.json");
    let mut running = start(&[
        "--server",
        &address,
        "--team-id",
        "t1",
        "--timeout",
        "60",
        "--file",
        report.to_str().unwrap(),
    ]);
    let (_connection, _) = silent.accept().expect("the client connects");
    running.signal("INT");
    let status = running
        .wait(STOPS_WITHIN)
        .expect("the client stops at once on Ctrl-C, not after --timeout");
    assert_eq!(status.code(), Some(0), "{status}");
    running
        .stdout
        .wait_for("stopped: the request in flight was abandoned", PATIENCE);
}

/// Every latency distribution agrees with its buckets: the buckets sum to the
/// kind's operations and the average lies within what the buckets allow.
fn assert_distributions_agree(report: &Value) {
    for (kind, dist) in report["latencyAnalysis"].as_object().unwrap() {
        let buckets: Vec<u64> = dist["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap())
            .collect();
        let total: u64 = buckets.iter().sum();
        assert_eq!(total, report["operations"][kind]["operations"], "{kind}");
        if total == 0 {
            continue;
        }
        let (avg, min, max) = (
            dist["avg"].as_f64().unwrap(),
            dist["min"].as_f64().unwrap(),
            dist["max"].as_f64().unwrap(),
        );
        assert!(min <= avg && avg <= max, "{kind}: {min} {avg} {max}");
        let lower: f64 = (1..buckets.len())
            .map(|i| buckets[i] as f64 * BUCKET_UPPER_MS[i - 1])
            .sum::<f64>()
            / total as f64;
        let upper: f64 = (0..buckets.len() - 1)
            .map(|i| buckets[i] as f64 * BUCKET_UPPER_MS[i])
            .sum::<f64>()
            / total as f64;
        let overflow = buckets[buckets.len() - 1] > 0;
        assert!(avg >= lower - 0.001, "{kind}: avg {avg} < {lower}");
        assert!(
            overflow || avg <= upper + 0.001,
            "{kind}: avg {avg} > {upper}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn simulated_reports_always_validate_and_stay_consistent(
        seed in any::<u64>(),
        profile in 0usize..6,
        steps_ms in proptest::collection::vec(0u64..20_000, 1..15),
    ) {
        let mut team = SimulatedTeam::new("t", "T", Profile::for_team(profile), seed);
        let mut since_start = Duration::ZERO;
        let mut previous: Option<Report> = None;
        for step in steps_ms {
            since_start += Duration::from_millis(step);
            let value = team.report_at(since_start);
            let body = serde_json::to_vec(&value).unwrap();
            let report = Report::parse(&body)
                .map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
            prop_assert!(report.total_ops + report.pending <= report.total_sent);
            prop_assert!(report.total_errors <= report.total_ops);
            prop_assert!(report.total_save_delay_errors <= report.total_errors);
            let elapsed = report.total_elapsed_s;
            let qps = report.total_ops as f64 / elapsed;
            prop_assert!((report.performance.avg_completed_qps - qps).abs() < 0.01);
            prop_assert!((report.performance.avg_sent_qps - report.total_sent as f64 / elapsed).abs() < 0.01);
            assert_distributions_agree(&value);
            if let Some(before) = &previous {
                prop_assert!(report.total_elapsed_s >= before.total_elapsed_s);
                prop_assert!(report.total_sent >= before.total_sent);
                prop_assert!(report.total_ops >= before.total_ops);
                prop_assert!(report.total_errors >= before.total_errors);
                prop_assert!(report.total_save_delay_errors >= before.total_save_delay_errors);
                for ((_, now), (_, then)) in report.latency.iter().zip(&before.latency) {
                    for (a, b) in now.buckets.iter().zip(then.buckets) {
                        prop_assert!(*a >= b);
                    }
                }
            }
            previous = Some(report);
        }
    }
}
