//! The contest trust work on the PostgreSQL store, against a real throwaway cluster
//! (tests/common/pg.rs): tokens and registered mode work as on files, and every
//! organiser action taken on one instance (trash, hide, rename, restore, reset-all)
//! shows on the boards and viewers of the others and in their audit log; a new
//! instance starts with the hidden teams and names the database keeps. `store` is a
//! `[server]` key of the contest file, and its password is never shown by
//! `--check-config`.

mod common;

use std::process::Command;

use common::TestServer;
use common::contest::{TEAM1, TEAM2, admin, post, registered, report_with_qps};
use common::pg;
use common::serve::{SERVE, ServeChild, serve_command};
use common::watch::{eventually, next_message, viewer};
use serde_json::json;

#[test]
fn registered_mode_and_every_admin_action_work_across_instances() {
    let db = pg::database();
    let (a, _) = registered("", |c| c.store_url = Some(db.url()));
    let (b, _) = registered("", |c| c.store_url = Some(db.url()));
    for qps in [100.0, 900.0] {
        assert_eq!(
            post(&a, "team1", Some(TEAM1), &report_with_qps(qps)).status,
            200
        );
    }
    assert_eq!(
        post(&a, "team2", Some(TEAM2), &report_with_qps(5.0)).status,
        200
    );
    assert_eq!(post(&a, "team1", None, &report_with_qps(10.0)).status, 401);
    assert_eq!(
        post(&a, "team2", Some(TEAM1), &report_with_qps(10.0)).status,
        403
    );
    let team = |server: &TestServer, id: &str| server.get_json(&format!("/api/teams/{id}"));
    eventually("B shows both reports", || {
        team(&b, "team1").1["report_count"] == 2
    });
    let mut watching = viewer(&b);
    let files: Vec<String> = db
        .connect()
        .query(
            "SELECT file_name FROM reports WHERE team_id = 'team1' ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();

    let path = format!("/api/admin/teams/team1/reports/{}/trash", files[1]);
    assert_eq!(admin(&a, "POST", &path, None).status, 200);
    eventually("B drops the trashed best record", || {
        let (_, t) = team(&b, "team1");
        t["best_qps"] == 100.0 && t["report_count"] == 1
    });
    let pushed = next_message(&mut watching, |m| m["type"] == "admin_action");
    assert_eq!(pushed["entry"]["action"], "trash");
    assert!(pushed["entry"].get("from").is_none(), "{pushed}");

    assert_eq!(
        admin(&a, "POST", "/api/admin/teams/team2/hide", None).status,
        200
    );
    eventually("B hides team2", || team(&b, "team2").0 == 404);
    let rename = Some(json!({"name": "<i>Eins</i>"}));
    assert_eq!(
        admin(&b, "POST", "/api/admin/teams/team1/rename", rename).status,
        200
    );
    eventually("A shows the new name", || {
        team(&a, "team1").1["team_name"] == "<i>Eins</i>"
    });
    let path = format!("/api/admin/trash/team1/{}/restore", files[1]);
    assert_eq!(admin(&b, "POST", &path, None).status, 200);
    eventually("A shows the restored best record", || {
        team(&a, "team1").1["best_qps"] == 900.0
    });
    let audit = admin(&a, "GET", "/api/admin/audit", None).json();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["restore", "rename", "hide", "trash"]);

    // A new instance starts with what the database keeps: team2 hidden, team1 renamed.
    let (c, _) = registered("", |c| c.store_url = Some(db.url()));
    assert_eq!(team(&c, "team2").0, 404);
    assert_eq!(team(&c, "team1").1["team_name"], "<i>Eins</i>");
    let all = Some(json!({"confirm": "reset all teams"}));
    let reset = admin(&c, "POST", "/api/admin/reset-all", all);
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(reset.json()["detail"]["reports"], 3);
    eventually("A and B are empty", || {
        a.get_json("/api/teams").1 == json!([]) && b.get_json("/api/teams").1 == json!([])
    });
    let trash = admin(&b, "GET", "/api/admin/trash", None).json();
    assert_eq!(trash["reports"].as_array().unwrap().len(), 3);
    for server in [&a, &b, &c] {
        assert!(!server.data_dir.exists());
    }
}

#[test]
fn store_is_a_server_key_of_the_contest_file() {
    let db = pg::database();
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("contest.toml");
    std::fs::write(&path, format!("[server]\nstore = \"{}\"\n", db.url())).unwrap();
    let data_dir = temp.path().join("data");
    let mut server = ServeChild::start(serve_command(&data_dir).arg("--config").arg(&path));
    let described = server.running.stdout.next(common::PATIENCE);
    assert!(described.starts_with("PostgreSQL"), "{described}");
    assert_eq!(server.post_for("team1").0, 200);
    let stored: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM reports", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
    assert!(!data_dir.exists(), "the file store was opened");
}

#[test]
fn check_config_never_shows_the_store_password() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("contest.toml");
    let url = "postgres://bb:s3cret-pw@db.example/board?password=other-s3cret";
    std::fs::write(&path, format!("[server]\nstore = \"{url}\"\n")).unwrap();
    let output = Command::new(SERVE)
        .arg("--check-config")
        .arg(&path)
        .env_remove("BENCHBOARD_CONFIG")
        .env_remove("BENCHBOARD_STORE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("postgres://bb:***@db.example/board?password=***"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    // A store that is not a PostgreSQL URL is refused, naming the key's line.
    std::fs::write(&path, "[server]\nstore = \"./data\"\n").unwrap();
    let output = Command::new(SERVE)
        .arg("--check-config")
        .arg(&path)
        .env_remove("BENCHBOARD_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("PostgreSQL URL"), "{stderr}");
}
