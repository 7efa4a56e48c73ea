//! `GET /api/replay` on hand-made histories (report files at chosen times, served by a
//! real server; tests/replay_postgres.rs runs them all on PostgreSQL): each team's
//! points, the ranking at each frame where it changed, every change of place, the
//! defaults, and the refusals of bad parameters.

mod common;

use common::TestServer;
use common::replay::{At, server_with};
use serde_json::Value;

/// 2026-11-30T10:00:00Z, in ms.
const BASE: i64 = 1_796_032_800_000;
const ADMIN: &str = "admin-secret-token-0123456789";

fn s(seconds: i64) -> i64 {
    BASE + seconds * 1000
}

/// Three teams: a leads, b overtakes it at 12 s and falls back at 32 s, c enters at 25 s.
fn three_teams() -> TestServer {
    let a: &[At] = &[(s(1), 100.0, 0.0), (s(15), 100.0, 0.0), (s(35), 100.0, 0.0)];
    let b: &[At] = &[(s(2), 50.0, 0.0), (s(12), 150.0, 0.0), (s(32), 40.0, 0.0)];
    let c: &[At] = &[(s(25), 120.0, 0.5)];
    server_with(&[
        ("a", "第一小组", a),
        ("b", "<b>Team B</b>", b),
        ("c", "Team C", c),
    ])
}

fn replay(server: &TestServer, query: &str) -> Value {
    let (status, body) = server.get_json(&format!("/api/replay{query}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn orders(answer: &Value) -> Vec<(i64, Vec<String>)> {
    answer["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let order = o["order"].as_array().unwrap();
            let ids = order.iter().map(|id| id.as_str().unwrap().to_string());
            ((o["t"].as_i64().unwrap() - BASE) / 1000, ids.collect())
        })
        .collect()
}

#[test]
fn replays_each_teams_points_and_the_ranking_at_each_change() {
    let server = three_teams();
    let answer = replay(&server, &format!("?from={BASE}&to={}&step=10000", s(40)));
    assert_eq!(answer["from_ms"], BASE);
    assert_eq!(answer["to_ms"], s(40));
    assert_eq!(
        (answer["step_ms"].as_i64(), answer["frames"].as_i64()),
        (Some(10_000), Some(5))
    );
    assert_eq!(answer["rule"]["by"], "qps");
    assert_eq!(answer["cutoff_ms"], Value::Null);
    let fields: Vec<&str> = answer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        &fields[..5],
        ["t", "qps", "avg_latency", "p99_latency", "data_loss_rate"]
    );
    let teams = answer["teams"].as_array().unwrap();
    let names: Vec<(&str, &str)> = teams
        .iter()
        .map(|t| {
            (
                t["team_id"].as_str().unwrap(),
                t["team_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("a", "第一小组"), ("b", "<b>Team B</b>"), ("c", "Team C")]
    );
    // b: one point per frame, the last report of each; its best QPS so far.
    let b: Vec<(i64, f64, f64, u64)> = teams[1]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                (p[0].as_i64().unwrap() - BASE) / 1000,
                p[1].as_f64().unwrap(),
                p[7].as_f64().unwrap(),
                p[9].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        b,
        [
            (2, 50.0, 50.0, 1),
            (12, 150.0, 150.0, 2),
            (32, 40.0, 150.0, 3)
        ]
    );
    let c = &teams[2]["points"][0];
    assert_eq!((c[1].as_f64(), c[4].as_f64()), (Some(120.0), Some(0.5)));
    let order = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        orders(&answer),
        [
            (10, order(&["a", "b"])),
            (20, order(&["b", "a"])),
            (30, order(&["b", "c", "a"])),
            (40, order(&["c", "a", "b"])),
        ]
    );
    let changes: Vec<(i64, &str, Value, i64)> = answer["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (c["t"].as_i64().unwrap() - BASE) / 1000,
                c["team_id"].as_str().unwrap(),
                c["from"].clone(),
                c["to"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes.len(), 9, "{changes:?}");
    assert_eq!(changes[0], (10, "a", Value::Null, 1));
    assert_eq!(changes[2], (20, "b", Value::from(2), 1));
    assert_eq!(changes[8], (40, "b", Value::from(1), 3));
}

#[test]
fn times_may_be_rfc_3339_and_a_later_range_starts_from_the_state_then() {
    let server = three_teams();
    let answer = replay(
        &server,
        "?from=2026-11-30T10:00:20Z&to=2026-11-30T18:00:30%2B08:00&step=5000",
    );
    assert_eq!(
        (answer["from_ms"].as_i64(), answer["to_ms"].as_i64()),
        (Some(s(20)), Some(s(30)))
    );
    assert_eq!(answer["frames"], 3);
    // Frame 0 holds each team's last report before the range, and the ranking then.
    let first = &orders(&answer)[0];
    assert_eq!(first.0, 20);
    assert_eq!(first.1, ["b", "a"]);
    let a_points = answer["teams"][0]["points"].as_array().unwrap();
    assert_eq!(a_points[0][0], s(15));
}

#[test]
fn by_default_covers_the_first_to_the_last_report_in_at_most_two_thousand_frames() {
    let long: Vec<At> = (0..3000)
        .map(|i| (s(i * 7), 100.0 + i as f64, 0.0))
        .collect();
    let server = server_with(&[("long", "Long run", &long)]);
    let answer = replay(&server, "");
    let (from, to, step, frames) = (
        answer["from_ms"].as_i64().unwrap(),
        answer["to_ms"].as_i64().unwrap(),
        answer["step_ms"].as_i64().unwrap(),
        answer["frames"].as_i64().unwrap(),
    );
    assert_eq!(from, s(0));
    assert!(
        to >= s(2999 * 7) && frames <= 2000 && step % 1000 == 0,
        "{from} {to} {step} {frames}"
    );
    assert_eq!(to, from + (frames - 1) * step);
    let points = answer["teams"][0]["points"].as_array().unwrap();
    assert!(
        points.len() <= frames as usize && points.len() > 1000,
        "{}",
        points.len()
    );
    assert_eq!(
        points.last().unwrap()[0],
        s(2999 * 7),
        "the last report is the last point"
    );
}

#[test]
fn an_empty_store_gives_an_empty_timeline() {
    let server = TestServer::start();
    let answer = replay(&server, "");
    assert_eq!(answer["teams"].as_array().map(Vec::len), Some(0));
    assert_eq!(answer["orders"].as_array().map(Vec::len), Some(0));
}

#[test]
fn refuses_bad_and_absurd_parameters_with_a_json_400() {
    let server = three_teams();
    for (query, wanted) in [
        (
            "from=yesterday",
            "from must be ms since the Unix epoch or an RFC 3339 time",
        ),
        ("to=-5", "to must be"),
        ("step=0", "step must be a whole number of ms from 1 on"),
        ("step=1.5", "step must be"),
        (&format!("from={}&to={BASE}", s(10)) as &str, "is after to"),
        (
            &format!("from={BASE}&to={}&step=1", s(3600)),
            "use step >= 361",
        ),
        (&format!("from=0&to={BASE}"), "at most 400 days"),
    ] {
        let (status, body) = server.get_json(&format!("/api/replay?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(wanted), "{query}: {error}");
    }
}

/// A contest file with `[admin]`, `[contest]` (10:00:10 to 10:00:40, with `freeze`
/// frozen from 10:00:30) and `[ranking]`, loaded as the server would.
fn contest(ranking: &str, freeze: bool) -> benchboard::config::ContestFile {
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("contest.toml");
    let text = format!(
        "[admin]\ntoken = \"{ADMIN}\"\n\n[contest]\nstart = \"2026-11-30T10:00:10Z\"\nend = \"2026-11-30T10:00:40Z\"\n{}\n[ranking]\n{ranking}\n",
        if freeze {
            "freeze = \"2026-11-30T10:00:30Z\"\n"
        } else {
            ""
        }
    );
    std::fs::write(&path, text).unwrap();
    benchboard::config::ContestFile::load(&path).unwrap()
}

#[test]
fn with_a_contest_it_covers_start_to_end_and_ranks_only_reports_inside_it() {
    // a's 500 comes before the start and its 900 after the end: neither counts.
    let a: &[At] = &[(s(5), 500.0, 0.0), (s(15), 100.0, 0.0), (s(45), 900.0, 0.0)];
    // b is lossy (disqualified) first, then clean and ahead.
    let b: &[At] = &[(s(12), 800.0, 5.0), (s(22), 200.0, 0.0)];
    let file = contest(
        "by = \"qps\"\nvalue = \"best\"\ndisqualify = [\"data_loss_rate > 1\"]",
        false,
    );
    let server = common::replay::server_configured(&[("a", "A", a), ("b", "B", b)], |config| {
        config.contest = Some(file);
    });
    let answer = replay(&server, "?step=10000");
    assert_eq!(
        (answer["from_ms"].as_i64(), answer["to_ms"].as_i64()),
        (Some(s(10)), Some(s(40)))
    );
    assert_eq!(answer["contest"]["end_ms"], s(40));
    assert_eq!(answer["contest"]["freeze_ms"], Value::Null);
    assert_eq!(answer["rule"]["value"], "best");
    assert_eq!(answer["rule"]["disqualify"][0], "data_loss_rate > 1");
    let ids = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        orders(&answer),
        [
            (10, ids(&["a"])),
            (20, ids(&["a", "b"])),
            (30, ids(&["b", "a"]))
        ],
        "b lossy ranks after a; its clean 200 beats a's 100"
    );
    // a's point before the start has no score; its 15 s report has one.
    let a_points = answer["teams"][0]["points"].as_array().unwrap();
    assert_eq!(
        (a_points[0][10].clone(), a_points[0][11].clone()),
        (Value::Null, Value::Bool(false))
    );
    assert_eq!(
        (a_points[1][10].as_f64(), a_points[1][11].as_bool()),
        (Some(100.0), Some(true))
    );
    assert!(
        a_points.iter().all(|p| p[0].as_i64() < Some(s(40))),
        "the 45 s report is past `to`"
    );
}
