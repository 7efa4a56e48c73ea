//! The contest file from the command line: `benchboard-serve token`, `--check-config`,
//! a flag winning over a `[server]` key, and the reload on SIGHUP (a good file taken,
//! a bad one refused with the old settings kept), all with the real binary.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::PATIENCE;
use common::serve::{SERVE, ServeChild, serve_command, valid_report};

/// `benchboard-serve ARGS` run to its end.
fn serve_once(args: &[&str]) -> Output {
    Command::new(SERVE)
        .args(args)
        .env_remove("BENCHBOARD_CONFIG")
        .output()
        .unwrap()
}

/// `benchboard-serve token ARGS`: (the token shown on stderr, the lines for the file).
fn new_token(args: &[&str]) -> (String, String) {
    let output = serve_once(&[&["token"], args].concat());
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let token = stderr.trim_end().rsplit(' ').next().unwrap().to_string();
    (token, String::from_utf8(output.stdout).unwrap())
}

/// POSTs a report for `team` with `token` -> status.
fn post(server: &ServeChild, team: &str, token: &str) -> u16 {
    common::agent()
        .post(&server.url("/api/stats/report"))
        .header("X-Team-ID", team)
        .header("Authorization", &format!("Bearer {token}"))
        .send(&valid_report()[..])
        .unwrap()
        .status()
        .as_u16()
}

fn check_config(path: &Path) -> Output {
    serve_once(&["--check-config", path.to_str().unwrap()])
}

#[test]
fn the_token_command_writes_no_token_into_the_file_and_check_config_reads_it() {
    let temp = tempfile::tempdir().unwrap();
    let (team_token, team_lines) = new_token(&["team1", "--name", "第一小组"]);
    let (admin_token, admin_lines) = new_token(&["--admin"]);
    assert!(team_token.len() >= 22, "{team_token:?}: at least 128 bits");
    assert!(!team_lines.contains(&team_token), "{team_lines}");
    assert!(!admin_lines.contains(&admin_token), "{admin_lines}");
    let path = temp.path().join("contest.toml");
    std::fs::write(&path, format!("{team_lines}\n{admin_lines}")).unwrap();
    let checked = check_config(&path);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{checked:?}");
    assert!(stdout.contains("mode: registered: 1 team(s)"), "{stdout}");
    assert!(stdout.contains("team1  第一小组"), "{stdout}");
    assert!(stdout.contains("admin API: on"), "{stdout}");
    for token in [&team_token, &admin_token] {
        assert!(!stdout.contains(token.as_str()), "{stdout}");
    }
    // A wrong key: one line naming the file, the line and the key; exit 1.
    std::fs::write(&path, "[[team]]\nid = \"team1\"\ntokn = \"x\"\n").unwrap();
    let wrong = check_config(&path);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("contest.toml line 3") && stderr.contains("tokn"),
        "{stderr}"
    );
}

#[test]
fn sighup_takes_a_good_file_and_refuses_a_bad_one_keeping_the_old_settings() {
    let temp = tempfile::tempdir().unwrap();
    let (team1, team1_lines) = new_token(&["team1"]);
    let (team2, team2_lines) = new_token(&["team2"]);
    let path = temp.path().join("contest.toml");
    // The file's data_dir loses against the flag's.
    let from_file = temp.path().join("not-this-one");
    let server_section = format!("[server]\ndata_dir = {:?}\n\n", from_file.to_str().unwrap());
    std::fs::write(&path, format!("{server_section}{team1_lines}")).unwrap();
    let data = temp.path().join("data");
    let mut server = ServeChild::start(serve_command(&data).arg("--config").arg(&path));
    assert_eq!(post(&server, "team1", &team1), 200);
    assert_eq!(post(&server, "team2", &team2), 403);
    assert!(data.join("team1").is_dir() && !from_file.exists());

    std::fs::write(&path, format!("{server_section}{team1_lines}{team2_lines}")).unwrap();
    server.running.signal("HUP");
    server
        .running
        .stderr
        .wait_for("contest file reloaded", PATIENCE);
    assert_eq!(post(&server, "team2", &team2), 200);

    std::fs::write(&path, format!("{team1_lines}{team1_lines}")).unwrap();
    server.running.signal("HUP");
    let refused = server.running.stderr.wait_for("not reloaded", PATIENCE);
    assert!(refused.contains("listed twice"), "{refused}");
    assert_eq!(post(&server, "team2", &team2), 200);
    assert_eq!(post(&server, "team1", &team1), 200);
    server.running.signal("INT");
    assert!(server.running.finish(PATIENCE).success());
    let stderr = server.running.stderr.text();
    for token in [&team1, &team2] {
        assert!(!stderr.contains(token.as_str()), "{stderr}");
    }
}
