//! Alerts through the real server: rules evaluated on every report and tick with a
//! clock the test moves (never a sleep), the state across a restart, a receiver that
//! never answers, GET /api/alerts, and `--test-notify` of the real binary.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use benchboard::alerts::sender::SenderOptions;
use benchboard::alerts::{AlertSections, ManualClock};
use benchboard::server::Config;
use common::receiver::{Answer, Receiver};
use common::{TestServer, fixture};
use serde_json::Value;

/// The minimal fixture with `totalAvgLatency` set: the rule's metric.
fn report(avg_latency_ms: f64) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture("valid/minimal-12-buckets.json")).unwrap();
    text.replacen(
        "\"totalElapsed\"",
        &format!("\"totalAvgLatency\": {avg_latency_ms}, \"totalElapsed\""),
        1,
    )
    .into_bytes()
}

fn contest(toml_text: &str) -> benchboard::alerts::AlertSettings {
    toml::from_str::<AlertSections>(toml_text)
        .unwrap()
        .check()
        .unwrap()
}

fn rules_and_webhook(rules: &str, receiver: &Receiver) -> String {
    format!(
        "{rules}\n[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}/hook\"\n",
        receiver.base
    )
}

/// Polls `GET /api/alerts` (up to 60 s) until `check` holds; returns that answer.
fn wait_for_alerts(server: &TestServer, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, alerts) = server.get_json("/api/alerts");
        assert_eq!(status, 200);
        if check(&alerts) {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "alerts never got there: {alerts}"
        );
        std::thread::yield_now();
    }
}

fn phases(alerts: &Value) -> Vec<(String, String)> {
    alerts["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap().to_string(),
                c["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(from: &str, to: &str) -> (String, String) {
    (from.to_string(), to.to_string())
}

const SLOW_FOR_30S: &str = "[[rule]]\nname = \"slow\"\nwhen = \"avg_latency > 100\"\nfor = \"30s\"\nseverity = \"critical\"\n";

#[test]
fn a_rule_with_for_goes_pending_then_fires_when_the_clock_moves_and_resolves() {
    let receiver = Receiver::replying(200, "ok");
    let clock = Arc::new(ManualClock::starting_now());
    let settings = contest(&rules_and_webhook(SLOW_FOR_30S, &receiver));
    let server_clock = clock.clone();
    let server = TestServer::start_with(move |config: &mut Config| {
        config.alerts = settings;
        config.clock = server_clock;
    });
    server.post_for("team1", &report(150.0));
    let alerts = server.get_json("/api/alerts").1;
    assert_eq!(
        phases(&alerts),
        [pair("ok", "pending")],
        "evaluated on the report itself"
    );
    assert_eq!(alerts["pending"][0]["rule"], "slow");
    assert_eq!(alerts["rules"][0]["for_secs"], 30.0);
    // Pending is not sent (the first message is the firing one, below) and nothing
    // fires before the 30 s have passed on the clock.
    assert!(alerts["firing"].as_array().unwrap().is_empty());

    clock.advance(Duration::from_secs(30));
    let alerts = wait_for_alerts(&server, |a| !a["firing"].as_array().unwrap().is_empty());
    assert_eq!(alerts["firing"][0]["team_id"], "team1");
    assert_eq!(alerts["firing"][0]["value"], 150.0);
    let sent = receiver.next().json();
    assert_eq!(
        (sent["status"].as_str(), sent["alerts"][0]["rule"].as_str()),
        (Some("firing"), Some("slow"))
    );
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(team["alerts"][0]["rule"], "slow", "the card knows");

    server.post_for("team1", &report(50.0));
    let alerts = server.get_json("/api/alerts").1;
    assert_eq!(phases(&alerts)[0], pair("firing", "resolved"));
    assert_eq!(alerts["changes"][0]["value"], 50.0);
    let sent = receiver.next().json();
    assert_eq!(sent["status"], "resolved");
    let deliveries = wait_for_alerts(&server, |a| a["deliveries"][0]["delivered"] == 2);
    assert_eq!(deliveries["deliveries"][0]["state"], "delivered");
    assert_eq!(deliveries["deliveries"][0]["answer"], "HTTP 200 ok");
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(
        team["alerts"],
        serde_json::json!([]),
        "the card knows it ended"
    );
    let metrics = common::agent()
        .get(&server.url("/metrics"))
        .call()
        .expect("/metrics answered")
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("benchboard_alert_notifications_total{result=\"delivered\"} 2"),
        "{metrics}"
    );
}

#[test]
fn a_silent_team_fires_the_silent_rule_and_its_next_report_resolves_it() {
    let clock = Arc::new(ManualClock::starting_now());
    let settings = contest("[[rule]]\nname = \"no report for 60 s\"\nwhen = \"silent > 60\"\n");
    let server_clock = clock.clone();
    let server = TestServer::start_with(move |config: &mut Config| {
        config.alerts = settings;
        config.clock = server_clock;
    });
    server.post_for("quiet", &report(10.0));
    clock.advance(Duration::from_secs(61));
    let alerts = wait_for_alerts(&server, |a| !a["firing"].as_array().unwrap().is_empty());
    assert!(
        alerts["firing"][0]["value"].as_f64().unwrap() >= 60.0,
        "{alerts}"
    );
    server.post_for("quiet", &report(10.0));
    let alerts = server.get_json("/api/alerts").1;
    assert!(alerts["firing"].as_array().unwrap().is_empty(), "{alerts}");
}

#[test]
fn a_restart_keeps_the_alert_state_and_its_history() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let rules = "[[rule]]\nname = \"slow\"\nwhen = \"avg_latency > 100\"\n";
    let server = TestServer::start_on(data.clone(), |config| config.alerts = contest(rules));
    server.post_for("team1", &report(150.0));
    let before = server.get_json("/api/alerts").1;
    assert_eq!(phases(&before), [pair("ok", "firing")]);
    server.stop();
    assert!(data.join(".benchboard-alerts.json").exists());

    let server = TestServer::start_on(data, |config| config.alerts = contest(rules));
    let after = server.get_json("/api/alerts").1;
    assert_eq!(after["firing"], before["firing"]);
    assert_eq!(after["changes"], before["changes"]);
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(
        team["alerts"][0]["rule"], "slow",
        "the board shows it again at once"
    );
    server.post_for("team1", &report(10.0));
    assert_eq!(
        phases(&server.get_json("/api/alerts").1)[0],
        pair("firing", "resolved")
    );
}

#[test]
fn a_receiver_that_never_answers_changes_nothing_for_reporting_teams() {
    let receiver = Receiver::start(|_, _| Answer::Hang);
    let settings = contest(&rules_and_webhook(
        "[[rule]]\nname = \"slow\"\nwhen = \"avg_latency > 100\"\n",
        &receiver,
    ));
    let server = TestServer::start_with(move |config: &mut Config| {
        config.alerts = settings;
        config.delivery = SenderOptions {
            timeout: Duration::from_secs(120),
            queue: 8,
            ..SenderOptions::default()
        };
    });
    server.post_for("team1", &report(150.0));
    receiver.next(); // the sender now waits for an answer that never comes
    let started = Instant::now();
    for i in 0..100 {
        // Every report flips the alert: a change to send each time.
        let (status, _) = server.post_for("team1", &report(if i % 2 == 0 { 10.0 } else { 150.0 }));
        assert_eq!(status, 200);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(30),
        "100 reports took {elapsed:?}"
    );
    let alerts = server.get_json("/api/alerts").1;
    assert_eq!(alerts["changes"].as_array().unwrap().len(), 101);
    let delivery = &alerts["deliveries"][0];
    assert!(delivery["dropped"].as_u64().unwrap() > 0, "{delivery}");
}

#[test]
fn without_a_contest_file_the_alerts_are_empty() {
    let server = TestServer::start();
    server.post_for("team1", &report(150.0));
    let (status, alerts) = server.get_json("/api/alerts");
    assert_eq!(status, 200);
    for list in ["rules", "firing", "pending", "changes", "deliveries"] {
        assert_eq!(alerts[list], serde_json::json!([]), "{list}");
    }
    assert!(!server.data_dir.join(".benchboard-alerts.json").exists());
}

const SERVE: &str = env!("CARGO_BIN_EXE_benchboard-serve");

#[test]
fn test_notify_sends_one_message_and_says_what_came_back() {
    let receiver = Receiver::start(|n, _| match n {
        0 => Answer::Reply(200, "thanks".into()),
        _ => Answer::Reply(403, "forbidden".into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("contest.toml");
    std::fs::write(&path, rules_and_webhook(SLOW_FOR_30S, &receiver)).unwrap();
    let run = || {
        std::process::Command::new(SERVE)
            .args(["--port", "0", "--config"])
            .arg(&path)
            .args(["--test-notify", "ops"])
            .env_remove("BENCHBOARD_CONFIG")
            .output()
            .unwrap()
    };
    let output = run();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        "ops (webhook): test message delivered: HTTP 200 thanks"
    );
    assert_eq!(receiver.next().json()["status"], "test");

    let output = run();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "Error: ops (webhook): test message not delivered: HTTP 403 forbidden"
    );

    let output = std::process::Command::new(SERVE)
        .args(["--config"])
        .arg(&path)
        .args(["--test-notify", "nobody"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no [[notify]] is named \"nobody\""));
}

#[test]
fn a_bad_contest_file_stops_the_server_with_one_line() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("contest.toml");
    std::fs::write(&path, "[[rule]]\nname = \"r\"\nwhen = \"p99 > 200\"\n").unwrap();
    let output = std::process::Command::new(SERVE)
        .args(["--port", "0", "--data-dir"])
        .arg(temp.path().join("data"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("when = \"p99 > 200\": unknown metric \"p99\""),
        "{stderr}"
    );
}
