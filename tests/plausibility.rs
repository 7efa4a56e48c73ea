//! Accept, then judge, over real HTTP: what the original accepted is stored, with
//! plausibility warnings in the answer, the history and the team; a tool restart
//! starts a new run, and best records are given for the run too.

mod common;

use common::{TestServer, fixture};
use serde_json::{Value, json};

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// The original's `test_complete_system.py` posts `totalErrors: -5` in its third
/// round; the original stores it, and so do we, with a warning naming the field.
#[test]
fn the_original_suites_negative_total_errors_is_stored_with_a_warning() {
    let server = TestServer::start();
    let (status, answer) = server.post_for(
        "team3",
        fixture_text("valid/negative-errors.json").as_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "Stats submitted successfully");
    assert_eq!(
        answer["warnings"],
        json!([{"code": "negative_count", "field": "totalErrors", "message": "totalErrors is -5: a count cannot be negative"}])
    );
    let (_, history) = server.get_json("/api/teams/team3/history");
    let entry = &history["history"][0];
    assert_eq!(entry["stats"]["totalErrors"], -5, "stored verbatim");
    assert_eq!(entry["warnings"][0]["field"], "totalErrors");
    assert_eq!(entry["run"], 1);
    let (_, team) = server.get_json("/api/teams/team3");
    assert_eq!(team["warnings"][0]["code"], "negative_count");
    assert_eq!(team["metrics"]["data_loss_rate"], 0.5);
}

#[test]
fn a_plausible_reports_answer_is_the_originals_byte_for_byte() {
    let server = TestServer::start();
    let response = common::agent()
        .post(&server.url("/api/stats/report"))
        .header("X-Team-ID", "team1")
        .send(fixture_text("valid/minimal-12-buckets.json").as_bytes())
        .unwrap();
    let body = response.into_body().read_to_string().unwrap();
    assert_eq!(
        body,
        r#"{"message":"Stats submitted successfully","team_id":"team1"}"#
    );
}

#[test]
fn integers_beyond_2_pow_53_are_stored_exactly_and_flagged() {
    let server = TestServer::start();
    let body = fixture_text("valid/minimal-12-buckets.json").replacen(
        "\"totalSent\": 1000",
        "\"totalSent\": 18446744073709551615",
        1,
    );
    let (status, answer) = server.post_for("big", body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let codes: Vec<&str> = answer["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["beyond_js_precision"]);
    assert_eq!(answer["warnings"][0]["field"], "totalSent");
    let file = std::fs::read_dir(server.data_dir.join("big"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name().unwrap() != "latest.json" && p.extension().is_some_and(|e| e == "json")
        })
        .unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("\"totalSent\": 18446744073709551615"),
        "{text}"
    );
    let (_, team) = server.get_json("/api/teams/big");
    let loss = team["data_loss_rate"].as_f64().unwrap();
    assert!(
        (99.9..=100.0).contains(&loss),
        "the metrics stay in range: {loss}"
    );
}

#[test]
fn booleans_and_numeric_strings_stay_refused() {
    let server = TestServer::start();
    for (from, to, field) in [
        (
            "\"totalErrors\": 20",
            "\"totalErrors\": true",
            "totalErrors",
        ),
        (
            "\"totalErrors\": 20",
            "\"totalErrors\": \"20\"",
            "totalErrors",
        ),
        (
            "\"totalElapsed\": 60",
            "\"totalElapsed\": \"60\"",
            "totalElapsed",
        ),
    ] {
        let body = fixture_text("valid/minimal-12-buckets.json").replacen(from, to, 1);
        let (status, answer) = server.post_for("team1", body.as_bytes());
        assert_eq!(status, 400, "{to}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
}

/// A report of the minimal fixture at `elapsed_s` seconds into a run, with QPS and
/// average latency given (consistent counts, so no warning).
fn report(elapsed_s: f64, qps: f64, avg_ms: f64) -> Vec<u8> {
    let mut value: Value =
        serde_json::from_str(&fixture_text("valid/minimal-12-buckets.json")).unwrap();
    let ops = (qps * elapsed_s).round() as i64;
    value["totalElapsed"] = json!(elapsed_s);
    value["totalSent"] = json!(ops + 10);
    value["totalOps"] = json!(ops);
    value["pending"] = json!(0);
    value["operations"]["sensorData"]["operations"] = json!(ops);
    value["latencyAnalysis"]["sensorData"]["buckets"] =
        json!([ops, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    value["latencyAnalysis"]["sensorData"]["avg"] = json!(1.0);
    value["latencyAnalysis"]["sensorData"]["min"] = json!(0.5);
    value["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    value["totalAvgLatency"] = json!(avg_ms);
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn a_tool_restart_starts_a_new_run_with_its_own_best_records() {
    let server = TestServer::start();
    for (elapsed, qps, avg) in [
        (10.0, 500.0, 20.0),
        (20.0, 400.0, 30.0),
        (5.0, 100.0, 40.0),
        (10.0, 200.0, 35.0),
    ] {
        let (status, answer) = server.post_for("team1", &report(elapsed, qps, avg));
        assert_eq!((status, answer.get("warnings")), (200, None), "{answer}");
    }
    let (_, history) = server.get_json("/api/teams/team1/history");
    let runs: Vec<u64> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["run"].as_u64().unwrap())
        .collect();
    assert_eq!(runs, [2, 2, 1, 1], "newest first");
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(team["run"], 2);
    assert_eq!(
        (team["best_qps"].as_f64(), team["best_latency"].as_f64()),
        (Some(500.0), Some(20.0))
    );
    let run_best = &team["run_best"];
    assert_eq!(
        (
            run_best["best_qps"].as_f64(),
            run_best["best_latency"].as_f64()
        ),
        (Some(200.0), Some(35.0))
    );
    let (_, series) = server.get_json("/api/teams/team1/history/series");
    let starts = series["run_starts"].as_array().unwrap();
    assert_eq!(
        starts
            .iter()
            .map(|s| s["run"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(starts[1]["t"], series["series"][2]["t"]);
}

#[test]
fn runs_and_the_run_best_survive_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_on(data.clone(), |_| {});
    for (elapsed, qps) in [(10.0, 500.0), (3.0, 100.0)] {
        server.post_for("team1", &report(elapsed, qps, 10.0));
    }
    server.stop();
    let server = TestServer::start_on(data, |_| {});
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(team["run"], 2);
    assert_eq!(team["run_best"]["best_qps"], 100.0);
    assert_eq!(team["best_qps"], 500.0);
}
