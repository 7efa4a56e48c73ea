//! The HTTP API of benchboard-serve, through a real server on port 0.

mod common;

use common::{TestServer, fixture};

#[test]
fn accepts_every_valid_fixture_and_computes_expected_metrics() {
    let server = TestServer::start();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/expected-metrics.json")).unwrap())
            .unwrap();
    for (name, metrics) in expected.as_object().unwrap() {
        let body = std::fs::read(fixture(&format!("valid/{name}"))).unwrap();
        let (status, answer) = server.post_for("team1", &body);
        assert_eq!(status, 200, "{name}: {answer}");
        assert_eq!(answer["message"], "Stats submitted successfully");
        let (_, team) = server.get_json("/api/teams/team1");
        for key in [
            "avg_latency",
            "p99_latency",
            "high_priority_latency",
            "data_loss_rate",
        ] {
            let got = team["metrics"][key].as_f64().unwrap();
            let want = metrics[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-6,
                "{name} {key}: got {got}, want {want}"
            );
        }
    }
}
