//! `POST /api/import/<format>` over real HTTP: a tool's output is converted and stored
//! like a report (the file carries `source`), a body that is not the format is refused
//! with 400 and nothing is stored, and the import has its own body limit. The same
//! tests run on PostgreSQL (tests/import_api_postgres.rs): there the stored file is
//! the one `export --format dir` writes, `source` included.

mod common;

use common::{TestServer, agent, fixture};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn tool_output(relative: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("import/{relative}"))).unwrap()
}

fn stored_files(server: &TestServer, team: &str) -> Vec<Value> {
    server
        .stored(team)
        .iter()
        .map(|file| serde_json::from_str(&file.text).unwrap())
        .collect()
}

#[test]
fn imported_jtl_is_stored_as_a_report_with_its_source() {
    let server = TestServer::start();
    let jtl = tool_output("jmeter/default.jtl");
    let headers = [
        ("X-Team-ID", "team1"),
        ("X-Team-Name", "%E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84"),
    ];
    let (status, answer) = server.post_to("/api/import/jtl", &headers, &jtl);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "Stats submitted successfully");
    assert_eq!(
        (answer["team_id"].as_str(), answer["format"].as_str()),
        (Some("team1"), Some("jtl"))
    );
    assert_eq!(answer["approximate"], false);

    let files = stored_files(&server, "team1");
    assert_eq!(files.len(), 1);
    let file = &files[0];
    let keys: Vec<&str> = file
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["team_id", "team_name", "timestamp", "source", "stats"]
    );
    assert_eq!(file["team_name"], "第一小组");
    let sha256: String = Sha256::digest(&jtl)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        file["source"],
        serde_json::json!({"format": "jtl", "sha256": sha256})
    );
    assert_eq!(file["stats"]["totalOps"], 240);
    assert_eq!(file["stats"]["totalErrors"], 80);
    assert_eq!(file["stats"]["source"]["format"], "jtl");

    let (status, team) = server.get_json("/api/teams/team1");
    assert_eq!(status, 200);
    assert_eq!(team["team_name"], "第一小组");
    assert_eq!(team["stats"]["totalSent"], 240);
    let (_, history) = server.get_json("/api/teams/team1/history");
    assert_eq!(history["total"], 1);
}

#[test]
fn auto_finds_the_format_and_keeps_the_tool_version() {
    let server = TestServer::start();
    let summary = tool_output("k6/machine-summary-docs.json");
    let (status, answer) = server.post_to("/api/import/auto", &[("X-Team-ID", "k6team")], &summary);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["format"], "k6-machine-summary");
    assert_eq!(answer["approximate"], true);
    let file = &stored_files(&server, "k6team")[0];
    assert_eq!(file["source"]["format"], "k6-machine-summary");
    assert_eq!(file["source"]["tool_version"], "1.5.0");
    assert_eq!(file["stats"]["source"]["approximate"], true);
    assert_eq!(file["stats"]["totalOps"], 180);
}

#[test]
fn map_in_the_query_routes_labels_to_kinds() {
    let server = TestServer::start();
    let jtl = tool_output("jmeter/default.jtl");
    let (status, answer) = server.post_to(
        "/api/import/jtl?map=slow%3Dquery&map=missing%3DsensorRW",
        &[("X-Team-ID", "t")],
        &jtl,
    );
    assert_eq!(status, 200, "{answer}");
    let (_, team) = server.get_json("/api/teams/t");
    assert_eq!(team["stats"]["operations"]["query"]["operations"], 80);
    assert_eq!(team["stats"]["operations"]["sensorRW"]["errors"], 80);
    let (status, answer) = server.post_to(
        "/api/import/jtl?map=slow%3Dwrites",
        &[("X-Team-ID", "t")],
        &jtl,
    );
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("map \"slow=writes\": unknown kind"),
        "{answer}"
    );
}

#[test]
fn a_body_that_is_not_the_format_is_refused_and_nothing_is_stored() {
    let server = TestServer::start();
    let csv = tool_output("locust/run_stats.csv");
    let (status, answer) = server.post_to("/api/import/oha", &[("X-Team-ID", "team2")], &csv);
    assert_eq!(status, 400);
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.starts_with("oha (oha --output-format json): not valid JSON"),
        "{message}"
    );
    let vegeta = tool_output("vegeta/metrics-test.json");
    let (status, answer) = server.post_to("/api/import/oha", &[("X-Team-ID", "team2")], &vegeta);
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "oha (oha --output-format json): summary: required field is missing"
    );
    let half = &vegeta[..vegeta.len() / 2];
    let (status, answer) = server.post_to("/api/import/vegeta", &[("X-Team-ID", "team2")], half);
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("truncated"),
        "{answer}"
    );
    let (status, answer) =
        server.post_to("/api/import/auto", &[("X-Team-ID", "team2")], b"{\"a\": 1}");
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().starts_with("auto: "),
        "{answer}"
    );
    assert!(server.stored("team2").is_empty());
    assert_eq!(server.get_json("/api/teams/team2").0, 404);
}

#[test]
fn unknown_format_is_404_and_team_headers_are_checked_as_for_reports() {
    let server = TestServer::start();
    let jtl = tool_output("jmeter/default.jtl");
    let (status, answer) = server.post_to("/api/import/nmon", &[("X-Team-ID", "t")], &jtl);
    assert_eq!(status, 404);
    assert!(
        answer["error"].as_str().unwrap().contains("k6-ndjson"),
        "{answer}"
    );
    let (status, _) = server.post_to("/api/import/jtl", &[], &jtl);
    assert_eq!(status, 400);
    let (status, _) = server.post_to("/api/import/jtl", &[("X-Team-ID", "../etc")], &jtl);
    assert_eq!(status, 400);
    let (status, answer) = agent()
        .get(&server.url("/api/import/jtl"))
        .call()
        .map(|r| (r.status().as_u16(), r.headers().get("allow").cloned()))
        .unwrap();
    assert_eq!(status, 405);
    assert_eq!(answer.unwrap(), "POST, OPTIONS");
    assert!(server.nothing_stored());
}

#[test]
fn import_bodies_have_their_own_limit() {
    // The default import limit (8 MiB) is above the report limit, set to 1 KiB here.
    let server = TestServer::start_with(|c| c.max_body_bytes = 1024);
    let jtl = tool_output("jmeter/default.jtl");
    assert!(jtl.len() > 1024);
    assert_eq!(
        server
            .post_to("/api/import/jtl", &[("X-Team-ID", "big")], &jtl)
            .0,
        200
    );
    let server = TestServer::start_with(|c| c.max_import_body_bytes = 4096);
    let (status, answer) = server.post_to("/api/import/jtl", &[("X-Team-ID", "big")], &jtl);
    assert_eq!(status, 413);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("--max-import-body"),
        "{answer}"
    );
    assert!(server.nothing_stored());
}

#[test]
fn an_import_gets_the_plausibility_checks_of_a_report() {
    let server = TestServer::start();
    // A report of the same run a moment before, with far more errors than the tool saw.
    let mut before: Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap())
            .unwrap();
    before["totalElapsed"] = 0.001.into();
    before["totalSent"] = 1.into();
    before["totalOps"] = 1.into();
    before["pending"] = 0.into();
    before["totalErrors"] = 1_000_000.into();
    let (status, _) = server.post_for("team1", &serde_json::to_vec(&before).unwrap());
    assert_eq!(status, 200);
    let jtl = tool_output("jmeter/default.jtl");
    let (status, answer) = server.post_to("/api/import/jtl", &[("X-Team-ID", "team1")], &jtl);
    assert_eq!(status, 200, "{answer}");
    let warnings = answer["warnings"].as_array().expect("warnings listed");
    assert!(
        warnings
            .iter()
            .any(|w| w["code"] == "counter_went_down" && w["field"] == "totalErrors"),
        "{answer}"
    );
    // As the history gives it.
    let (_, history) = server.get_json("/api/teams/team1/history?limit=1");
    assert_eq!(
        history["history"][0]["warnings"], answer["warnings"],
        "{history}"
    );
}
