//! The contest file from the command line: `benchboard-serve token`, `--check-config`,
//! a flag winning over a `[server]` key, the reload on SIGHUP (a good file taken, a
//! bad one refused with the old settings kept), and no token in the server's output,
//! answers or data directory after a run, all with the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::PATIENCE;
use common::contest::{ADMIN, TEAM1, VIEWER, call, contest_text, report_with_qps};
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

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_dir() {
            out.extend(all_files(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

#[test]
fn tokens_never_reach_stderr_answers_or_the_data_directory() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("contest.toml");
    std::fs::write(
        &path,
        contest_text(&format!("[viewers]\ntoken = \"{VIEWER}\"\n")),
    )
    .unwrap();
    let data = temp.path().join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-serve"))
        .args([
            "--config",
            path.to_str().unwrap(),
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--log-level",
            "debug",
        ])
        .arg("--data-dir")
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let base = first
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let url = |p: &str| format!("{base}{p}");
    let body = report_with_qps(7.0);
    let mut answers = Vec::new();
    let team1_bearer = format!("Bearer {TEAM1}");
    let admin_bearer = format!("Bearer {ADMIN}");
    let viewer_bearer = format!("Bearer {VIEWER}");
    let wrong_bearer = format!("Bearer {TEAM1}x");
    for (method, path, auth) in [
        ("POST", "/api/stats/report", team1_bearer.as_str()),
        ("POST", "/api/stats/report", wrong_bearer.as_str()),
        ("GET", "/api/teams", viewer_bearer.as_str()),
        ("GET", "/api/teams", wrong_bearer.as_str()),
        ("GET", "/api/admin/teams", admin_bearer.as_str()),
        ("GET", "/api/admin/teams", viewer_bearer.as_str()),
        ("POST", "/api/admin/reload", admin_bearer.as_str()),
        ("POST", "/api/admin/teams/team1/hide", admin_bearer.as_str()),
    ] {
        let answer = call(
            method,
            &url(path),
            &[("Authorization", auth), ("X-Team-ID", "team1")],
            Some(&body),
        );
        answers.push(format!("{:?} {}", answer.headers, answer.body));
    }
    // A browser's login: its cookie stands for the token without holding it.
    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let login = no_redirects
        .post(&url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("token={VIEWER}&next=%2F").as_bytes())
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    answers.push(format!("{:?}", login.headers()));
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let board = call("GET", &url("/"), &[("Cookie", &cookie)], None);
    assert_eq!(board.status, 200);
    answers.push(format!("{:?} {}", board.headers, board.body));
    let x_team_token = call(
        "POST",
        &url("/api/stats/report"),
        &[("X-Team-Token", TEAM1), ("X-Team-ID", "team1")],
        Some(&body),
    );
    assert_eq!(x_team_token.status, 200);
    answers.push(format!("{:?} {}", x_team_token.headers, x_team_token.body));
    let login = format!("token={VIEWER}x");
    answers.push(
        call(
            "POST",
            &url("/login"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(login.as_bytes()),
        )
        .body,
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -INT failed");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(stderr.contains("tokens travel in clear"), "{stderr}");
    let files = all_files(&data);
    assert!(files.iter().any(|f| f.ends_with(".audit.log")), "{files:?}");
    for token in [TEAM1, ADMIN, VIEWER] {
        assert!(!stderr.contains(token), "{token} in stderr:\n{stderr}");
        for answer in &answers {
            assert!(!answer.contains(token), "{token} in an answer: {answer}");
        }
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(token),
                "{token} in {}",
                file.display()
            );
        }
    }
}
