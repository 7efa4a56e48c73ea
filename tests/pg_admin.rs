//! The contest trust work on the PostgreSQL store, against a real throwaway cluster
//! (tests/common/pg.rs): tokens, registered mode and reloads work as on files; the
//! organiser's actions that live in the file store's data directory (hide, rename,
//! trash, restore, resets, the admin's report list, the audit log) are refused with
//! 501 naming the store, and change nothing. `store` is a `[server]` key of the
//! contest file, and its password is never shown by `--check-config`.

mod common;

use std::process::Command;

use common::contest::{TEAM1, admin, post, registered, report_with_qps};
use common::pg;
use common::serve::{SERVE, ServeChild, serve_command};
use serde_json::json;

#[test]
fn registered_mode_works_and_the_data_directory_actions_are_refused_with_501() {
    let db = pg::database();
    let url = db.url();
    let (server, _file) = registered("", |c| c.store_url = Some(url));
    assert_eq!(
        post(&server, "team1", Some(TEAM1), &report_with_qps(10.0)).status,
        200
    );
    assert_eq!(
        post(&server, "team1", None, &report_with_qps(10.0)).status,
        401
    );
    assert_eq!(
        post(&server, "team2", Some(TEAM1), &report_with_qps(10.0)).status,
        403
    );

    let teams = admin(&server, "GET", "/api/admin/teams", None);
    assert_eq!(teams.status, 200, "{}", teams.body);
    assert_eq!(teams.json()["teams"][0]["team_name"], "第一小组");
    let reload = admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(reload.status, 200, "{}", reload.body);

    let reports = |db: &pg::TestDb| -> Vec<String> {
        db.connect()
            .query("SELECT file_name FROM reports WHERE team_id = 'team1'", &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    let file = reports(&db)[0].clone();
    let refused = [
        ("POST", "/api/admin/teams/team1/hide".to_string(), None),
        ("POST", "/api/admin/teams/team1/show".to_string(), None),
        (
            "POST",
            "/api/admin/teams/team1/rename".to_string(),
            Some(json!({"name": "X"})),
        ),
        ("POST", "/api/admin/teams/team1/reset".to_string(), None),
        (
            "POST",
            format!("/api/admin/teams/team1/reports/{file}/trash"),
            None,
        ),
        (
            "POST",
            format!("/api/admin/trash/team1/{file}/restore"),
            None,
        ),
        (
            "POST",
            "/api/admin/reset-all".to_string(),
            Some(json!({"confirm": "reset all teams"})),
        ),
        ("GET", "/api/admin/teams/team1/reports".to_string(), None),
        ("GET", "/api/admin/trash".to_string(), None),
        ("GET", "/api/admin/audit".to_string(), None),
    ];
    for (method, path, body) in refused {
        let answer = admin(&server, method, &path, body);
        assert_eq!(answer.status, 501, "{method} {path}: {}", answer.body);
        let error = answer.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains("PostgreSQL"), "{path}: {error}");
        assert!(error.contains("--data-dir"), "{path}: {error}");
    }
    // Nothing changed: the report is still there, the team still shown as named.
    assert_eq!(reports(&db), [file]);
    let (status, team) = server.get_json("/api/teams/team1");
    assert_eq!(status, 200);
    assert_eq!(team["team_name"], "第一小组");
    assert!(!server.data_dir.exists());
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
