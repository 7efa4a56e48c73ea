//! The admin API: its token, the trash (byte-identical both ways), hide, rename,
//! reset, reset-all and reload, against a real server on port 0. The same suite
//! runs on PostgreSQL in tests/admin_api_postgres.rs.

mod common;

use benchboard::server::routes::{Guard, ROUTES};
use common::TestServer;
use common::contest::*;
use serde_json::{Value, json};

#[test]
fn every_admin_endpoint_needs_the_admin_token() {
    // Without the failed-authentication lockout, which the next test covers.
    let (server, _) = registered("", |config| config.limits.max_auth_failures = Some(0));
    let admin_routes: Vec<_> = ROUTES.iter().filter(|r| r.guard == Guard::Admin).collect();
    assert!(admin_routes.len() >= 12);
    for route in admin_routes {
        let path = route
            .path
            .replace("{team_id}", "team1")
            .replace("{file}", "20200101_000000_000.json");
        let body: Option<&[u8]> = (route.method == "POST").then_some(b"{}");
        let none = call(route.method, &server.url(&path), &[], body);
        assert_eq!(none.status, 401, "{} {path}: {}", route.method, none.body);
        assert!(none.header("WWW-Authenticate").is_some());
        for wrong in ["Bearer wrong-admin-token-xyz", &format!("Bearer {TEAM1}")] {
            let answer = call(
                route.method,
                &server.url(&path),
                &[("Authorization", wrong)],
                body,
            );
            assert_eq!(
                answer.status, 403,
                "{} {path}: {}",
                route.method, answer.body
            );
        }
    }
}

#[test]
fn admin_api_without_an_admin_section_says_it_is_off() {
    let server = TestServer::start();
    let answer = call(
        "GET",
        &server.url("/api/admin/teams"),
        &[("Authorization", "Bearer anything-at-all")],
        None,
    );
    assert_eq!(answer.status, 403);
    assert!(answer.json()["error"].as_str().unwrap().contains("[admin]"));
}

#[test]
fn trash_and_restore_are_byte_identical_and_best_records_follow() {
    let (server, _) = registered("", |_| {});
    for qps in [100.0, 900.0, 300.0] {
        assert_eq!(
            post(&server, "team1", Some(TEAM1), &report_with_qps(qps)).status,
            200
        );
    }
    let stored = server.stored("team1");
    let files: Vec<String> = stored.iter().map(|f| f.name.clone()).collect();
    let best_file = files[1].clone();
    let before = stored[1].text.clone();
    assert_eq!(server.get_json("/api/teams/team1").1["best_qps"], 900.0);

    let trashed = admin(
        &server,
        "POST",
        &format!("/api/admin/teams/team1/reports/{best_file}/trash"),
        None,
    );
    assert_eq!(trashed.status, 200, "{}", trashed.body);
    assert_eq!(in_trash(&server, &best_file), Some(before.clone()));
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(team["best_qps"], 300.0);
    assert_eq!(team["report_count"], 2);
    assert_eq!(server.get_json("/api/teams/team1/history").1["total"], 2);
    assert_eq!(
        server.get_json("/api/teams/team1/history/series").1["total"],
        2
    );
    let (_, csv) = server.get("/api/teams/team1/export.csv");
    assert_eq!(csv.lines().count(), 3, "a header and two rows:\n{csv}");
    assert_eq!(page_qps(&server, 1), 100.0);
    let listed = admin(&server, "GET", "/api/admin/teams/team1/reports", None).json();
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["reports"][0]["file_name"], files[2].as_str());
    assert_eq!(listed["reports"][0]["qps"], 300.0);
    let list = admin(&server, "GET", "/api/admin/trash", None).json();
    assert_eq!(list["reports"][0]["file_name"], best_file.as_str());
    assert_eq!(list["reports"][0]["bytes"], before.len());
    // benchboard-history reads the store without the trash.
    let history = std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-history"))
        .args(server.store_args())
        .args(["--json", "summary", "team1"])
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(summary["total_reports"], 2, "{summary}");

    let restored = admin(
        &server,
        "POST",
        &format!("/api/admin/trash/team1/{best_file}/restore"),
        None,
    );
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(server.stored("team1")[1].text, before);
    assert_eq!(in_trash(&server, &best_file), None);
    assert_eq!(server.get_json("/api/teams/team1").1["best_qps"], 900.0);
    let names: Vec<String> = server.stored("team1").into_iter().map(|f| f.name).collect();
    assert_eq!(names, files);
    assert_eq!(page_qps(&server, 1), 900.0);

    let again = admin(
        &server,
        "POST",
        &format!("/api/admin/trash/team1/{best_file}/restore"),
        None,
    );
    assert_eq!(again.status, 404, "{}", again.body);
    let bad = admin(
        &server,
        "POST",
        "/api/admin/teams/team1/reports/..%2F..%2Fetc/trash",
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);

    let audit = admin(&server, "GET", "/api/admin/audit", None).json();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["restore", "trash"]);
    assert_eq!(audit["entries"][0]["from"], "127.0.0.1");
    // On files, the audit log is a file of the data directory; on PostgreSQL, a table.
    assert_eq!(
        server.data_dir.join(".audit.log").is_file(),
        !server.on_postgres()
    );
}

/// The QPS of team1's report at `offset` from the newest, on its history page.
fn page_qps(server: &TestServer, offset: usize) -> f64 {
    let path = format!("/api/teams/team1/history?limit=1&offset={offset}");
    let (_, page) = server.get_json(&path);
    page["history"][0]["stats"]["performanceMetrics"]["avgCompletedQPS"]
        .as_f64()
        .unwrap()
}

/// The trashed report's contents as in the original's file layout, if it is in the
/// trash: a file of `.trash/` on the file store, a row of `trash` on PostgreSQL.
fn in_trash(server: &TestServer, file: &str) -> Option<String> {
    let Some(mut db) = server.db() else {
        let path = server.data_dir.join(".trash/team1").join(file);
        return std::fs::read_to_string(path).ok();
    };
    let row = db
        .query_opt(
            "SELECT team_name, timestamp, stats::text FROM trash \
             WHERE team_id = 'team1' AND file_name = $1",
            &[&file],
        )
        .unwrap()?;
    let id = benchboard::team::TeamId::parse("team1").unwrap();
    let stats: &str = row.get(2);
    let text =
        benchboard::store::report_contents(&id, row.get(0), row.get(1), None, stats.as_bytes());
    Some(String::from_utf8(text).unwrap())
}

#[test]
fn history_pages_skip_every_report_in_the_trash() {
    let (server, _) = registered("", |_| {});
    for qps in 1..=6 {
        let body = report_with_qps(f64::from(qps));
        assert_eq!(post(&server, "team1", Some(TEAM1), &body).status, 200);
    }
    let names: Vec<String> = server.stored("team1").into_iter().map(|f| f.name).collect();
    // The newest, one in the middle and one near the start.
    for index in [5, 3, 1] {
        let path = format!("/api/admin/teams/team1/reports/{}/trash", names[index]);
        assert_eq!(admin(&server, "POST", &path, None).status, 200);
    }
    let offsets: Vec<f64> = (0..3).map(|offset| page_qps(&server, offset)).collect();
    assert_eq!(offsets, [5.0, 3.0, 1.0]);
    let (_, page) = server.get_json("/api/teams/team1/history?limit=2&offset=1");
    assert_eq!(page["total"], 3);
    let qps: Vec<f64> = page["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["stats"]["performanceMetrics"]["avgCompletedQPS"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(qps, [3.0, 1.0]);
    let (_, beyond) = server.get_json("/api/teams/team1/history?offset=3");
    assert_eq!(beyond["history"], json!([]));
}

#[test]
fn trash_and_restore_renumber_the_runs() {
    let (server, _) = registered("", |_| {});
    // totalElapsed 100, 50, 80: the second report starts run 2.
    for (elapsed, qps) in [(100.0, 500.0), (50.0, 10.0), (80.0, 20.0)] {
        let mut report: Value = serde_json::from_slice(&report_with_qps(qps)).unwrap();
        report["totalElapsed"] = json!(elapsed);
        let body = serde_json::to_vec(&report).unwrap();
        assert_eq!(post(&server, "team1", Some(TEAM1), &body).status, 200);
    }
    let runs = |server: &TestServer| -> (Value, Vec<u64>) {
        let (_, team) = server.get_json("/api/teams/team1");
        let (_, history) = server.get_json("/api/teams/team1/history");
        let runs = history["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["run"].as_u64().unwrap())
            .collect();
        (
            json!([team["run"], team["run_best"]["best_qps"], team["best_qps"]]),
            runs,
        )
    };
    assert_eq!(runs(&server), (json!([2, 20.0, 500.0]), vec![2, 2, 1]));
    let first = server.stored("team1")[0].name.clone();
    let trash = format!("/api/admin/teams/team1/reports/{first}/trash");
    assert_eq!(admin(&server, "POST", &trash, None).status, 200);
    assert_eq!(runs(&server), (json!([1, 20.0, 20.0]), vec![1, 1]));
    let restore = format!("/api/admin/trash/team1/{first}/restore");
    assert_eq!(admin(&server, "POST", &restore, None).status, 200);
    assert_eq!(runs(&server), (json!([2, 20.0, 500.0]), vec![2, 2, 1]));
}

#[test]
fn hide_rename_reset_and_reset_all_change_the_board() {
    let (server, _) = registered("", |_| {});
    for team in [("team1", TEAM1), ("team2", TEAM2)] {
        assert_eq!(
            post(&server, team.0, Some(team.1), &report_with_qps(5.0)).status,
            200
        );
    }
    assert_eq!(
        admin(&server, "POST", "/api/admin/teams/team1/hide", None).status,
        200
    );
    let (_, teams) = server.get_json("/api/teams");
    assert_eq!(teams.as_array().unwrap().len(), 1);
    assert_eq!(server.get("/api/teams/team1").0, 404);
    assert_eq!(server.get("/team/team1/history").0, 404);
    let listed = admin(&server, "GET", "/api/admin/teams", None).json();
    assert_eq!(listed["mode"], "registered");
    assert!(
        listed["teams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["team_id"] == "team1" && t["hidden"] == true)
    );
    assert_eq!(
        admin(&server, "POST", "/api/admin/teams/team1/show", None).status,
        200
    );
    assert_eq!(server.get("/api/teams/team1").0, 200);

    let renamed = admin(
        &server,
        "POST",
        "/api/admin/teams/team2/rename",
        Some(json!({"name": "<b>Two</b>"})),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(
        server.get_json("/api/teams/team2").1["team_name"],
        "<b>Two</b>"
    );
    let (_, page) = server.get("/team/team2/history");
    assert!(page.contains("&lt;b&gt;Two&lt;/b&gt;") && !page.contains("<b>Two"));
    let bad = admin(
        &server,
        "POST",
        "/api/admin/teams/team2/rename",
        Some(json!({"name": 5})),
    );
    assert_eq!(bad.status, 400);

    let reset = admin(&server, "POST", "/api/admin/teams/team2/reset", None).json();
    assert_eq!(reset["detail"]["reports"], 1);
    assert_eq!(server.get("/api/teams/team2").0, 404);
    let unconfirmed = admin(
        &server,
        "POST",
        "/api/admin/reset-all",
        Some(json!({"confirm": "yes"})),
    );
    assert_eq!(unconfirmed.status, 400);
    assert!(unconfirmed.body.contains("reset all teams"));
    assert_eq!(server.get_json("/api/teams").1.as_array().unwrap().len(), 1);
    let all = admin(
        &server,
        "POST",
        "/api/admin/reset-all",
        Some(json!({"confirm": "reset all teams"})),
    );
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(server.get_json("/api/teams").1, json!([]));
    assert_eq!(
        admin(&server, "GET", "/api/admin/trash", None).json()["reports"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn reload_takes_a_good_file_and_refuses_a_bad_one_keeping_the_old() {
    let (server, path) = registered("", |_| {});
    let body = report_with_qps(5.0);
    // A viewer connected before the reloads keeps its connection through them.
    let ws_url = format!("{}/ws", server.base.replace("http://", "ws://"));
    let (mut viewer, _) = tungstenite::connect(ws_url).expect("WebSocket handshake");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = viewer.get_ref() {
        stream.set_read_timeout(Some(common::PATIENCE)).unwrap();
    }
    std::fs::write(
        &path,
        format!(
            "{}\n[[team]]\nid = \"team1\"\ntoken = \"another-token-0123456789\"\n",
            contest_text("")
        ),
    )
    .unwrap();
    let refused = admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(refused.status, 422, "{}", refused.body);
    let message = refused.json()["error"].as_str().unwrap().to_string();
    assert!(
        message.contains("contest.toml") && message.contains("twice"),
        "{message}"
    );
    assert!(!message.contains(TEAM1) && !message.contains(ADMIN));
    assert_eq!(post(&server, "team1", Some(TEAM1), &body).status, 200);

    let new_token = "team3-brand-new-token-0123456";
    let text = format!(
        "[admin]\ntoken = \"{ADMIN}\"\n[server]\nport = 1\n[[team]]\nid = \"team3\"\nname = \"三\"\ntoken = \"{new_token}\"\n"
    );
    std::fs::write(&path, text).unwrap();
    let reloaded = admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    assert_eq!(reloaded.json()["restart_needed"], json!(["port"]));
    assert_eq!(post(&server, "team1", Some(TEAM1), &body).status, 403);
    assert_eq!(post(&server, "team3", Some(new_token), &body).status, 200);
    assert_eq!(server.get_json("/api/teams/team3").1["team_name"], "三");
    loop {
        let message = viewer.read().expect("the viewer is still connected");
        let Ok(text) = message.to_text() else {
            continue;
        };
        let update: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if update["type"] == "team_update" && update["team"]["team_id"] == "team3" {
            assert_eq!(update["team"]["team_name"], "三");
            break;
        }
    }
    // What was stored before the reload is still there.
    assert_eq!(server.get_json("/api/teams/team1").1["report_count"], 1);
}

#[test]
fn reload_checks_the_alert_sections_and_says_they_need_a_restart() {
    let rule = "\n[[rule]]\nname = \"slow\"\nwhen = \"avg_latency > 100\"\n";
    let (server, path) = registered(rule, |config| {
        config.alerts = config.contest.as_ref().unwrap().alerts.clone();
    });
    let rules = |server: &TestServer| server.get_json("/api/alerts").1["rules"].clone();
    assert_eq!(rules(&server)[0]["name"], "slow");

    // A wrong rule refuses the whole file, as any wrong section does.
    let wrong = "\n[[rule]]\nname = \"slow\"\nwhen = \"p99 > 1\"\n";
    std::fs::write(&path, contest_text(wrong)).unwrap();
    let refused = admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(refused.status, 422, "{}", refused.body);
    let message = refused.json()["error"].as_str().unwrap().to_string();
    assert!(message.contains("unknown metric \"p99\""), "{message}");

    // New rules and receivers are checked, listed as needing a restart, not applied.
    let changed = "\n[[rule]]\nname = \"faster\"\nwhen = \"avg_latency > 50\"\n\
                   [[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n";
    std::fs::write(&path, contest_text(changed)).unwrap();
    let reloaded = admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    assert_eq!(
        reloaded.json()["restart_needed"],
        json!(["[[rule]]", "[[notify]]"])
    );
    assert_eq!(rules(&server).as_array().unwrap().len(), 1);
    assert_eq!(rules(&server)[0]["name"], "slow");
    assert_eq!(server.get_json("/api/alerts").1["deliveries"], json!([]));

    // The same alert sections as at the start: nothing waits for a restart.
    std::fs::write(&path, contest_text(rule)).unwrap();
    let reloaded = admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(reloaded.json()["restart_needed"], json!([]));
}
