//! `GET /api/teams/<id>/history/series`: the history page's chart data.

mod common;

use common::{TestServer, fixture};

fn report(qps: f64) -> Vec<u8> {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/full-13-buckets.json")).unwrap())
            .unwrap();
    value["performanceMetrics"]["avgCompletedQPS"] = serde_json::json!(qps);
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn series_folds_the_whole_history_into_the_asked_points() {
    let server = TestServer::start();
    for i in 0..10 {
        assert_eq!(server.post_for("team1", &report(100.0 + i as f64)).0, 200);
    }
    let (status, body) = server.get_json("/api/teams/team1/history/series?points=4");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 10);
    assert_eq!(body["points"], 4);
    let series = body["series"].as_array().unwrap();
    let counts: u64 = series.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(counts, 10);
    assert_eq!(series[0]["qps_min"], 100.0);
    assert_eq!(series[3]["qps_max"], 109.0);
    let times: Vec<i64> = series.iter().map(|p| p["t"].as_i64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {times:?}"
    );

    let (_, all) = server.get_json("/api/teams/team1/history/series");
    assert_eq!(all["points"], 10, "short histories come back whole");
    let future = times[3] + 60_000;
    let (_, none) = server.get_json(&format!("/api/teams/team1/history/series?since={future}"));
    assert_eq!(
        (none["total"].as_u64(), none["points"].as_u64()),
        (Some(10), Some(0))
    );
}

#[test]
fn series_refuses_bad_points_and_answers_unknown_teams_empty() {
    let server = TestServer::start();
    let (status, body) = server.get_json("/api/teams/team1/history/series?points=0");
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("points"), "{body}");
    let (status, body) = server.get_json("/api/teams/nobody/history/series");
    assert_eq!(status, 200);
    assert_eq!(body["total"], 0);
    let (status, _) = server.get_json("/api/teams/..%2Fetc/history/series");
    assert_eq!(status, 400);
}
