//! `GET /api/teams/{team_id}/export.csv`: the history page's CSV download.

mod common;

use common::{TestServer, agent, fixture};

#[test]
fn export_csv_streams_every_report_with_the_cli_columns() {
    let server = TestServer::start();
    let body = std::fs::read(fixture("valid/full-13-buckets.json")).unwrap();
    for _ in 0..3 {
        assert_eq!(server.post_for("team1", &body).0, 200);
    }
    let mut response = agent()
        .get(&server.url("/api/teams/team1/export.csv"))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("team1-history.csv")
    );
    let text = response.body_mut().read_to_string().unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, benchboard::export::csv::header());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let p99 = header
        .iter()
        .position(|c| c == "p99_latency_ms")
        .expect("a p99 column");
    let value: f64 = rows[0][p99].parse().unwrap();
    assert!((value - 2705.0).abs() < 1e-6, "{value}");

    // The same bytes as `benchboard-history export --team team1` on the data directory.
    let cli = assert_cmd::Command::cargo_bin("benchboard-history")
        .unwrap()
        .args([
            "--data-dir",
            server.data_dir.to_str().unwrap(),
            "export",
            "--team",
            "team1",
        ])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(String::from_utf8(cli.stdout).unwrap(), text);
}

#[test]
fn export_csv_of_unknown_team_is_404_json() {
    let server = TestServer::start();
    let (status, body) = server.get_json("/api/teams/nobody/export.csv");
    assert_eq!(status, 404);
    assert_eq!(body["error"], "Team not found");
    let (status, _) = server.get_json("/api/teams/a..b/export.csv");
    assert_eq!(status, 400);
}
