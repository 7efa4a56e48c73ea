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
    let cli = history_stdout(&[
        "--data-dir",
        server.data_dir.to_str().unwrap(),
        "export",
        "--team",
        "team1",
    ]);
    assert_eq!(cli, text);
}

/// Runs `benchboard-history` with `args`; it must succeed. Returns its stdout.
fn history_stdout(args: &[&str]) -> String {
    let cli = assert_cmd::Command::cargo_bin("benchboard-history")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    String::from_utf8(cli.stdout).unwrap()
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

/// Writes one report of `team` named `name` into `data` in the original tool's format
/// (names with a tab or a carriage return cannot come through `X-Team-Name`, but a data
/// directory written by the original can hold them).
fn write_original_report(data: &std::path::Path, team: &str, name: &str) {
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap())
            .unwrap();
    let file = serde_json::json!({
        "team_id": team,
        "team_name": name,
        "timestamp": "2025-08-01T10:00:05.138000",
        "stats": stats,
    });
    let dir = data.join(team);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("20250801_100005_138.json"),
        serde_json::to_vec_pretty(&file).unwrap(),
    )
    .unwrap();
}

/// (team_id, team_name) cells of every row of a CSV export.
fn id_and_name_cells(csv_text: &str) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect()
}

#[test]
fn export_defuses_cells_a_spreadsheet_would_run_as_formulas() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    write_original_report(&data, "tab", "\tcmd|' /C calc'!A0");
    write_original_report(&data, "cr", "\r=1+1");
    let server = common::TestServer::start_on(data.clone(), |_| {});
    let risky = [
        ("eq", "=HYPERLINK(\"http://x\")"),
        ("plus", "+1+1"),
        ("minus", "-1+1"),
        ("at", "@SUM(A1:A9)"),
        ("-lead", "Lead"),
        ("plain", "第一小组"),
    ];
    let body = std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap();
    for (id, name) in risky {
        let encoded = benchboard::team::encode_team_name(name);
        let (status, answer) =
            server.post_report(&[("X-Team-ID", id), ("X-Team-Name", &encoded)], &body);
        assert_eq!(status, 200, "{id}: {answer}");
    }
    // A leading `'` on every cell that starts with = + - @ tab or CR, ids included.
    let mut expected: Vec<(String, String)> = [
        ("'-lead", "Lead"),
        ("at", "'@SUM(A1:A9)"),
        ("cr", "'\r=1+1"),
        ("eq", "'=HYPERLINK(\"http://x\")"),
        ("minus", "'-1+1"),
        ("plain", "第一小组"),
        ("plus", "'+1+1"),
        ("tab", "'\tcmd|' /C calc'!A0"),
    ]
    .iter()
    .map(|(id, name)| (id.to_string(), name.to_string()))
    .collect();
    expected.sort();

    // Through the server's download, team by team...
    let mut from_server = Vec::new();
    for (id, _) in risky.iter().chain(&[("tab", ""), ("cr", "")]) {
        let mut response = agent()
            .get(&server.url(&format!("/api/teams/{id}/export.csv")))
            .call()
            .unwrap();
        assert_eq!(response.status(), 200, "{id}");
        from_server.extend(id_and_name_cells(
            &response.body_mut().read_to_string().unwrap(),
        ));
    }
    from_server.sort();
    assert_eq!(from_server, expected);

    // ...and through `benchboard-history export` of the whole data directory.
    let cli = history_stdout(&["--data-dir", data.to_str().unwrap(), "export"]);
    let mut from_cli = id_and_name_cells(&cli);
    from_cli.sort();
    assert_eq!(from_cli, expected);
}
