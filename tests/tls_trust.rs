//! HTTPS with the contest trust: `tls_cert`/`tls_key` in the contest file's
//! `[server]` (paths from the file's directory; `--check-config` reads them; a reload
//! names them as applying at start), no "tokens travel in clear" warning over TLS,
//! `benchboard-client --ca-cert --token` to a registered-mode HTTPS server, and the
//! private board's cookie `Secure` over direct HTTPS.

mod common;

use std::io::{BufReader, Write};
use std::path::Path;

use benchboard::config::ContestFile;
use common::contest::{ADMIN, TEAM1, TEAM2, VIEWER, contest_text};
use common::tls::{Https, pki, read_answer};
use common::{PATIENCE, Running, TestServer, fixture, report_files};
use serde_json::json;

const SERVE: &str = env!("CARGO_BIN_EXE_benchboard-serve");
const CLIENT: &str = env!("CARGO_BIN_EXE_benchboard-client");

/// Runs a binary to its end: exit code, stdout, stderr.
fn run(program: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut running = Running::start(program, args);
    let status = running.finish(PATIENCE);
    (status.code(), running.stdout.text(), running.stderr.text())
}

fn write_contest(path: &Path, server: &str) {
    std::fs::write(path, format!("[server]\n{server}\n{}", contest_text(""))).unwrap();
}

#[test]
fn tls_keys_of_the_contest_file_serve_https_to_token_bearing_clients() {
    let pki = pki();
    let dir = pki.dir.path();
    let contest = dir.join("contest.toml");
    write_contest(&contest, "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"");
    let contest = contest.to_str().unwrap();
    // The tests run in the crate's directory: relative paths are the file's.
    let check = run(SERVE, &["--check-config", contest]);
    assert_eq!(check.0, Some(0), "{check:?}");
    let https_line = format!("TLS: HTTPS (and wss:// for /ws) with {}", pki.cert());
    assert!(check.1.contains(&https_line), "{check:?}");
    assert!(!check.1.contains("travel in clear"), "{check:?}");

    let data = dir.join("data");
    let mut serve = Running::start(
        SERVE,
        &[
            "--config",
            contest,
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    let first = serve.stdout.next(PATIENCE);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://127.0.0.1:"))
        .unwrap_or_else(|| panic!("the banner shows no https:// URL: {first:?}"))
        .trim_end_matches('/')
        .to_string();
    let report = fixture("valid/full-13-buckets.json");
    let send = |team: &str, token: Option<&str>| {
        let mut args = vec!["--server", &url, "--ca-cert", pki.cert(), "--team-id", team];
        args.extend(["--file", report.to_str().unwrap(), "--max-attempts", "1"]);
        if let Some(token) = token {
            args.extend(["--token", token]);
        }
        run(CLIENT, &args)
    };
    let sent = send("team1", Some(TEAM1));
    assert_eq!(sent.0, Some(0), "{sent:?}");
    assert_eq!(report_files(&data, "team1").len(), 1);
    let refused = send("team2", None);
    assert_ne!(refused.0, Some(0), "{refused:?}");
    assert!(report_files(&data, "team2").is_empty());

    // A reload that changes the HTTPS files names them: they apply at the next start.
    std::fs::copy(pki.cert(), dir.join("cert2.pem")).unwrap();
    write_contest(
        dir.join("contest.toml").as_path(),
        "tls_cert = \"cert2.pem\"\ntls_key = \"key.pem\"",
    );
    let mut reloaded = pki
        .agent()
        .post(&format!("{url}/api/admin/reload"))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_empty()
        .expect("the reload is answered");
    assert_eq!(reloaded.status().as_u16(), 200);
    let answer: serde_json::Value =
        serde_json::from_str(&reloaded.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(answer["restart_needed"], json!(["tls_cert"]), "{answer}");

    serve.signal("TERM");
    assert!(serve.finish(PATIENCE).success());
    let stderr = serve.stderr.text();
    assert!(!stderr.contains("travel in clear"), "{stderr}");
    for token in [TEAM1, TEAM2, ADMIN] {
        assert!(!stderr.contains(token), "{token} in stderr: {stderr}");
    }
}

#[test]
fn check_config_refuses_half_or_unusable_tls_keys() {
    let pki = pki();
    let contest = pki.dir.path().join("contest.toml");
    let path = contest.to_str().unwrap();
    write_contest(&contest, "port = 8443\ntls_key = \"key.pem\"");
    let half = run(SERVE, &["--check-config", path]);
    assert_eq!(half.0, Some(1), "{half:?}");
    let expected = format!("{path} line 3: tls_key: [server] needs tls_cert too");
    assert!(half.2.contains(&expected), "{half:?}");
    assert_eq!(half.2.trim().lines().count(), 1, "{half:?}");

    std::fs::write(pki.dir.path().join("bad.pem"), "not a key\n").unwrap();
    write_contest(&contest, "tls_cert = \"cert.pem\"\ntls_key = \"bad.pem\"");
    let unusable = run(SERVE, &["--check-config", path]);
    assert_eq!(unusable.0, Some(1), "{unusable:?}");
    let bad = pki.dir.path().join("bad.pem");
    let expected = format!(
        "[server] tls_cert/tls_key cannot be served with: --tls-key {}",
        bad.display()
    );
    assert!(unusable.2.contains(&expected), "{unusable:?}");
}

/// `POST /login` with the viewer token; the `Set-Cookie` header.
fn login_cookie(answer: std::io::Result<common::tls::Answer>) -> String {
    let answer = answer.expect("the login is answered");
    assert_eq!(answer.status, 303, "{answer:?}");
    answer.header("set-cookie").expect("a cookie").to_string()
}

fn login_request(extra_header: &str) -> String {
    let form = format!("token={VIEWER}&next=%2F");
    format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{extra_header}Connection: close\r\n\r\n{form}",
        form.len()
    )
}

#[test]
fn the_viewers_cookie_is_secure_over_direct_https() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("contest.toml");
    let viewers = format!("\n[viewers]\ntoken = \"{VIEWER}\"\n");
    std::fs::write(&path, contest_text(&viewers)).unwrap();
    let contest = ContestFile::load(&path).unwrap();

    let https = Https::start_with(|config| config.contest = Some(contest.clone()));
    let mut stream = https.tls_stream(PATIENCE);
    stream.write_all(login_request("").as_bytes()).unwrap();
    let cookie = login_cookie(read_answer(&mut BufReader::new(stream)));
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));

    // Plain HTTP: Secure only when a TLS proxy says the browser talks HTTPS.
    let plain = TestServer::start_with(|config| config.contest = Some(contest));
    let address = plain.url("").trim_start_matches("http://").to_string();
    for (header, secure) in [("", false), ("X-Forwarded-Proto: https\r\n", true)] {
        let mut tcp = std::net::TcpStream::connect(&address).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        tcp.write_all(login_request(header).as_bytes()).unwrap();
        let cookie = login_cookie(read_answer(&mut BufReader::new(tcp)));
        assert_eq!(cookie.contains("; Secure"), secure, "{header:?}: {cookie}");
    }
}
