//! The real `benchboard-serve` at its limits: many teams under a small file-descriptor
//! limit, `--max-teams-known`, `--min-free-space`. Legitimate reports keep being
//! answered and nothing stored is lost.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::serve::{
    self, ServeChild, get_json, post_report, run_bounded, serve_command, valid_report,
};
use common::tmpfs::{self, Tmpfs};
use common::{PATIENCE, Running};
use common::{TestServer, agent, report_files};
use serde_json::Value;

const CLIENT: &str = env!("CARGO_BIN_EXE_benchboard-client");

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("benchboard-limits-")
        .tempdir()
        .unwrap()
}

/// A real JMeter JTL (tests/fixtures/import), to import.
fn jtl_output() -> Vec<u8> {
    std::fs::read(common::fixture("import/jmeter/default.jtl")).unwrap()
}

fn history_total(base: &str, team: &str) -> Value {
    let (status, history) = get_json(base, &format!("/api/teams/{team}/history?limit=5"));
    assert_eq!(status, 200, "{team}: {history}");
    assert_eq!(
        history["history"].as_array().map(Vec::len),
        history["total"].as_u64().map(|n| n.min(5) as usize),
        "{team}: entries served and total agree: {history}"
    );
    history["total"].clone()
}

fn serve_under_fd_limit(data: &Path, fds: u64, extra: &[&str]) -> ServeChild {
    let mut command = serve_command(data);
    command.args(["--threads", "4"]).args(extra);
    serve::limit(&mut command, libc::RLIMIT_NOFILE, fds);
    ServeChild::start(&mut command)
}

#[test]
fn starts_with_300_team_directories_under_64_descriptors_and_takes_80_new_teams() {
    let temp = temp_dir();
    let data = temp.path().join("data");
    benchboard::generate::write_history(&data, 300, 2).unwrap();

    let server = serve_under_fd_limit(&data, 64, &[]);
    assert_eq!(history_total(&server.base, "team1"), 2);
    assert_eq!(history_total(&server.base, "team300"), 2);
    // One keep-alive connection: the descriptors left are the server's to spend.
    let client = agent();
    for n in 0..80 {
        let team = format!("new{n}");
        let (status, answer) = post_report(&client, &server.base, &team);
        assert_eq!(status, 200, "{team}: {answer}");
    }
    for team in ["team1", "team150", "team300"] {
        assert_eq!(post_report(&client, &server.base, team).0, 200, "{team}");
        assert_eq!(history_total(&server.base, team), 3);
    }
    for n in 0..80 {
        assert_eq!(history_total(&server.base, &format!("new{n}")), 1);
        assert_eq!(report_files(&data, &format!("new{n}")).len(), 1);
    }
    assert_eq!(server.get_json("/api/teams").0, 200);
}

#[test]
fn a_new_team_past_max_teams_known_gets_a_final_403_and_nothing_is_stored() {
    let temp = temp_dir();
    let data = temp.path().join("data");
    let server = TestServer::start_on(data.clone(), |c| c.max_teams_known = 3);
    for team in ["t1", "t2", "t3"] {
        assert_eq!(server.post_for(team, &valid_report()).0, 200, "{team}");
    }
    let (status, answer) = server.post_for("t4", &valid_report());
    assert_eq!(status, 403, "{answer}");
    let error = answer["error"].as_str().expect("a JSON error");
    assert!(
        error.contains("3 teams") && error.contains("--max-teams-known"),
        "{error}"
    );
    assert!(error.contains("do not retry"), "{error}");
    assert!(!data.join("t4").exists(), "nothing stored for t4");
    // A tool's output goes through the same store and limit.
    let (status, answer) = server.import_for("t4", "jtl", &jtl_output());
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("--max-teams-known")
    );
    assert!(!data.join("t4").exists(), "nothing imported for t4");
    assert_eq!(server.import_for("t2", "jtl", &jtl_output()).0, 200);
    assert_eq!(
        server.post_for("t1", &valid_report()).0,
        200,
        "known teams report on"
    );

    // benchboard-client takes the 403 as final: one attempt, exit 1, the message shown.
    let mut client = Command::new(CLIENT);
    client.args(["--server", &server.base, "--team-id", "t5", "--count", "5"]);
    client.args(["--interval", "0.1", "--timeout", "30"]);
    let output = run_bounded(&mut client, PATIENCE).expect("the client gives up at once");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused (403)"), "{stderr}");
    assert!(stderr.contains("--max-teams-known"), "{stderr}");
    assert!(!stderr.contains("retrying in"), "no retry: {stderr}");
    assert!(!data.join("t5").exists());
    server.stop();

    // The teams on disk count after a restart too.
    let server = TestServer::start_on(data.clone(), |c| c.max_teams_known = 3);
    assert_eq!(server.post_for("t4", &valid_report()).0, 403);
    assert_eq!(server.post_for("t3", &valid_report()).0, 200);
    assert_eq!(server.get_json("/api/teams/t1/history").1["total"], 2);
    assert_eq!(report_files(&data, "t3").len(), 2);
}

#[test]
fn below_min_free_space_reports_get_507_untouched_and_resume_by_themselves() {
    let temp = temp_dir();
    let disk = Tmpfs::mount("8m", &temp.path().join("disk"));
    let data = disk.at.join("data");
    let server = TestServer::start_on(data.clone(), |c| c.min_free_bytes = 4 << 20);
    assert_eq!(server.post_for("t1", &valid_report()).0, 200);
    let (_, health) = server.get_json("/healthz");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["disk"]["full"], false, "{health}");

    // About 2 MiB left: below the 4 MiB margin, though a report would still fit.
    let filler = disk.at.join("filler");
    tmpfs::filler(&filler, 6 << 20);
    let before = serve::snapshot(&data);
    for team in ["t1", "newteam"] {
        let (status, answer) = server.post_for(team, &valid_report());
        assert_eq!(status, 507, "{team}: {answer}");
        let error = answer["error"].as_str().expect("a JSON error");
        assert!(error.starts_with("disk almost full"), "{error}");
        assert!(error.contains("--min-free-space 4.0 MiB"), "{error}");
        let (status, answer) = server.import_for(team, "jtl", &jtl_output());
        assert_eq!(status, 507, "import of {team}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .starts_with("disk almost full")
        );
    }
    assert_eq!(
        serve::snapshot(&data),
        before,
        "nothing written, not even a directory"
    );
    let (status, health) = server.get_json("/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["disk"]["full"], true, "{health}");
    assert_eq!(health["disk"]["min_free_bytes"], 4 << 20);
    assert!(
        health["disk"]["free_bytes"].as_u64().unwrap() < 4 << 20,
        "{health}"
    );
    assert_eq!(server.get_json("/api/teams/t1/history").1["total"], 1);

    // benchboard-client retries the 507 and delivers once space is back, by itself.
    let temp_report = temp.path().join("report.json");
    std::fs::write(&temp_report, valid_report()).unwrap();
    let mut client = Command::new(CLIENT);
    client.args(["--server", &server.base, "--team-id", "newteam"]);
    client
        .args(["--max-attempts", "100", "--file"])
        .arg(&temp_report);
    let mut client = Running::spawn(client.stdin(Stdio::null()));
    let line = client.stderr.wait_for("retrying in", PATIENCE);
    assert!(line.contains("server error (507)"), "{line}");
    std::fs::remove_file(&filler).unwrap();
    let status = client.finish(PATIENCE);
    assert_eq!(status.code(), Some(0), "{}", client.stderr.text());
    assert_eq!(report_files(&data, "newteam").len(), 1);
    assert_eq!(server.post_for("t1", &valid_report()).0, 200);
    assert_eq!(report_files(&data, "t1").len(), 2);
    assert_eq!(server.get_json("/healthz").1["status"], "ok");
}
