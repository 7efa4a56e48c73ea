//! The `[ranking]` rule wired through: `/api/teams` and `/api/teams/{id}` carry
//! `rank`, `score`, `qualified` and `disqualified_for` on hand-made teams (a tie goes
//! to who reached the value first, the disqualified come after the qualified with
//! their reasons), reports after the end are not ranked, no `[ranking]` keeps the
//! original's API, and `benchboard-history best` follows the same rule.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use benchboard::clock::ManualClock;
use benchboard::config::ContestFile;
use common::TestServer;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_benchboard-history");

const RULES: &str = "[contest]\nstart = \"2026-12-01T14:00:00+00:00\"\nend = \"2026-12-01T18:00:00+00:00\"\n\n[ranking]\nby = \"qps\"\ndisqualify = [\"data_loss_rate > 1\"]\n";

/// A report with this QPS and this many requests lost out of 5,000.
fn report(qps: f64, lost: i64) -> Vec<u8> {
    let text = std::fs::read_to_string(common::fixture("valid/full-13-buckets.json")).unwrap();
    let mut report: Value = serde_json::from_str(&text).unwrap();
    report["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    report["totalSent"] = json!(5000);
    report["pending"] = json!(0);
    report["totalOps"] = json!(5000 - lost);
    serde_json::to_vec(&report).unwrap()
}

/// An open-mode server with `text` as its contest file and a clock the test moves.
fn server_with(text: &str, dir: &Path) -> (TestServer, Arc<ManualClock>) {
    let path = dir.join("contest.toml");
    std::fs::write(&path, text).unwrap();
    let file = ContestFile::load(&path).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T14:00:00+00:00").unwrap();
    let clock = Arc::new(ManualClock::new(at));
    let server_clock = clock.clone();
    let server = TestServer::start_with(move |c| {
        c.contest = Some(file);
        c.clock = server_clock;
    });
    (server, clock)
}

fn places(server: &TestServer) -> Vec<(String, u64, bool)> {
    let (_, teams) = server.get_json("/api/teams");
    let mut list: Vec<(String, u64, bool)> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["team_id"].as_str().unwrap().to_string(),
                t["rank"].as_u64().unwrap(),
                t["qualified"].as_bool().unwrap(),
            )
        })
        .collect();
    list.sort_by_key(|p| p.1);
    list
}

#[test]
fn hand_made_teams_are_ranked_by_the_rule_through_the_api_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (server, clock) = server_with(RULES, dir.path());
    let second = || clock.advance(Duration::from_secs(1));
    for (team, qps, lost) in [
        ("early", 100.0, 0),
        ("lossy", 900.0, 125), // 2.5 % lost: never counts
        ("late", 100.0, 0),    // the same QPS a second later: after "early"
        ("slow", 50.0, 0),
    ] {
        second();
        assert_eq!(server.post_for(team, &report(qps, lost)).0, 200);
    }
    let expected = |list: &[(&str, u64, bool)]| -> Vec<(String, u64, bool)> {
        list.iter()
            .map(|(t, r, q)| (t.to_string(), *r, *q))
            .collect()
    };
    assert_eq!(
        places(&server),
        expected(&[
            ("early", 1, true),
            ("late", 2, true),
            ("slow", 3, true),
            ("lossy", 4, false)
        ])
    );
    let (status, lossy) = server.get_json("/api/teams/lossy");
    assert_eq!(status, 200);
    assert_eq!(lossy["score"], 900.0);
    assert_eq!(
        lossy["disqualified_for"],
        json!([{"condition": "data_loss_rate > 1", "value": 2.5}])
    );
    let (_, early) = server.get_json("/api/teams/early");
    assert_eq!(
        (early["score"].clone(), early["disqualified_for"].clone()),
        (json!(100.0), json!([]))
    );
    // "slow" overtakes both with a better report; after the end nothing changes.
    second();
    server.post_for("slow", &report(150.0, 0));
    assert_eq!(places(&server)[0].0, "slow");
    clock.advance(Duration::from_secs(4 * 3600));
    let (_, answer) = server.post_for("late", &report(5000.0, 0));
    assert_eq!(answer["after_end"], true);
    assert_eq!(
        places(&server)[1].0,
        "early",
        "a report after the end is not ranked"
    );
    let (_, late) = server.get_json("/api/teams/late");
    assert_eq!(late["score"], 100.0);
    assert_eq!(
        late["qps"], 5000.0,
        "the card still shows the latest numbers"
    );

    // The CLI follows the same rule, from the contest file or from the server.
    let contest = dir.path().join("contest.toml");
    let data = server.data_dir.clone();
    for args in [
        vec![
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            contest.to_str().unwrap(),
        ],
        vec!["--server", server.base.as_str()],
    ] {
        let mut full = args.clone();
        full.extend(["best", "--json"]);
        let output = std::process::Command::new(BIN)
            .args(&full)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        let order: Vec<&str> = json["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["team_id"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["slow", "early", "late", "lossy"], "{args:?}");
        assert_eq!(json["ranking"][3]["qualified"], false);
        assert_eq!(json["rule"]["by"], "qps");
        let mut table = args.clone();
        table.push("best");
        let output = std::process::Command::new(BIN)
            .args(&table)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("disqualified: data_loss_rate > 1 (2.50)"),
            "{text}"
        );
        assert!(text.contains("ranked by qps (higher is better"), "{text}");
        let mut show = args.clone();
        show.extend(["show", "late"]);
        let output = std::process::Command::new(BIN)
            .args(&show)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(text.matches("(after the end)").count(), 1, "{text}");
    }
    // --by still ranks by the original's records.
    let output = std::process::Command::new(BIN)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "best",
            "--by",
            "qps",
            "--json",
        ])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ranking"][0]["team_id"], "late");
}

#[test]
fn without_a_ranking_section_the_api_is_the_original() {
    let server = TestServer::start();
    assert_eq!(server.post_for("t1", &report(10.0, 0)).0, 200);
    let (_, teams) = server.get_json("/api/teams");
    for key in ["rank", "score", "qualified", "disqualified_for"] {
        assert!(teams[0].get(key).is_none(), "{key} in {}", teams[0]);
    }
    let (_, contest) = server.get_json("/api/contest");
    assert_eq!(contest["ranking"], Value::Null);
}

#[test]
fn a_reload_with_another_rule_ranks_again_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let rules = format!("[admin]\ntoken = \"{}\"\n{RULES}", common::contest::ADMIN);
    let (server, clock) = server_with(&rules, dir.path());
    clock.advance(Duration::from_secs(1));
    server.post_for("fast", &report(900.0, 0));
    clock.advance(Duration::from_secs(1));
    server.post_for("quick", &report(100.0, 0));
    assert_eq!(places(&server)[0].0, "fast");
    // The organiser turns the rule around: the lower QPS first.
    let text = rules.replace("by = \"qps\"", "by = \"qps\"\nbetter = \"lower\"");
    std::fs::write(dir.path().join("contest.toml"), text).unwrap();
    let answer = common::contest::admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(answer.status, 200, "{}", answer.json());
    let (_, contest) = server.get_json("/api/contest");
    assert_eq!(contest["ranking"]["by"], "qps");
    assert_eq!(contest["ranking"]["better"], "lower");
    assert_eq!(places(&server)[0].0, "quick");
}
