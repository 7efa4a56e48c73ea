//! HTTPS and wss:// served directly (`--tls-cert`, `--tls-key`), with a certificate
//! the test makes (rcgen): the real server on port 0, in process and as the binary,
//! and the clients' https:// with `--ca-cert`.

mod common;

use std::io::{BufReader, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::tls::{Https, next, pki, read_answer};
use common::{PATIENCE, Running, fixture};

const SERVE: &str = env!("CARGO_BIN_EXE_benchboard-serve");
const CLIENT: &str = env!("CARGO_BIN_EXE_benchboard-client");
const HISTORY: &str = env!("CARGO_BIN_EXE_benchboard-history");
const DEMO: &str = env!("CARGO_BIN_EXE_benchboard-demo");

#[test]
fn reports_teams_and_a_wss_viewer_over_https() {
    let server = Https::start(Duration::from_secs(10));
    let mut viewer = server.viewer();
    assert_eq!(next(&mut viewer).expect("a snapshot")["type"], "snapshot");
    assert_eq!(server.post_report("tls1"), 200);
    let update = next(&mut viewer).expect("an update");
    assert_eq!(update["type"], "team_update", "{update}");
    assert_eq!(update["team"]["team_id"], "tls1", "{update}");
    let (status, teams) = server.get_json("/api/teams");
    assert_eq!(status, 200);
    assert_eq!(teams[0]["team_id"], "tls1", "{teams}");
    server.handle.shutdown();
    let reason = next(&mut viewer).expect_err("a close frame at shutdown");
    assert!(reason.contains("shutting down"), "{reason}");
}

#[test]
fn keep_alive_requests_and_large_answers_over_one_tls_connection() {
    let server = Https::start(Duration::from_secs(10));
    assert_eq!(server.post_report("kept"), 200);
    let mut reader = BufReader::new(server.tls_stream(PATIENCE));
    let app_js = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/app.js")).unwrap();
    assert!(app_js.len() > 16 * 1024, "more than one TLS record");
    for round in 0..3 {
        for path in ["/api/teams/kept", "/static/app.js", "/api/teams"] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            reader.get_mut().write_all(head.as_bytes()).expect("write");
            let answer = read_answer(&mut reader).expect("an answer on the same connection");
            assert_eq!(answer.status, 200, "round {round} {path}: {answer:?}");
            if path == "/static/app.js" {
                assert!(answer.body == app_js, "round {round}: app.js differs");
            } else {
                assert!(answer.json().to_string().contains("kept"), "{answer:?}");
            }
        }
    }
}

#[test]
fn plain_http_garbage_and_stalled_handshakes_harm_no_one() {
    let timeout = Duration::from_secs(1);
    // more stalled handshakes than threads: they hold none
    let server = Https::start_with(|c| {
        c.request_timeout = timeout;
        c.threads = 1;
    });
    // stalled handshakes: the first bytes of a ClientHello, then nothing
    let mut stalled: Vec<_> = (0..8).map(|_| server.tcp()).collect();
    for stream in &mut stalled {
        stream
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .expect("write");
    }
    let stalled_since = Instant::now();
    // plain HTTP to the TLS port: a JSON 400 saying to use https
    let mut plain = server.tcp();
    plain
        .write_all(b"GET /api/teams HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    plain
        .read_to_string(&mut answer)
        .expect("the 400 and the end");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("https://"), "{answer}");
    // garbage handshakes: closed at once, with an alert at most
    for _ in 0..4 {
        let mut garbage = server.tcp();
        garbage
            .write_all(&[0x16, 0x03, 0x01, 0x00, 0x10])
            .expect("write");
        garbage.write_all(&[0xee; 16]).expect("write");
        let mut rest = Vec::new();
        let _ = garbage.read_to_end(&mut rest);
        assert!(rest.len() < 64, "{rest:?}");
    }
    // meanwhile HTTPS is served by the one thread
    assert_eq!(server.post_report("calm"), 200);
    assert_eq!(server.get_json("/api/teams/calm").0, 200);
    // and the stalled handshakes are dropped after the request timeout
    for stream in &mut stalled {
        let mut nothing = Vec::new();
        let _ = stream.read_to_end(&mut nothing);
        assert!(nothing.is_empty(), "{nothing:?}");
    }
    let waited = stalled_since.elapsed();
    assert!(waited >= timeout, "dropped after {waited:?}");
    assert!(waited < PATIENCE, "dropped after {waited:?}");
}

#[test]
fn the_binaries_speak_https_with_ca_cert() {
    let pki = pki();
    let data = pki.dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let mut serve = Running::start(
        SERVE,
        &[
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--data-dir",
            data,
            "--tls-cert",
            pki.cert(),
            "--tls-key",
            pki.key(),
        ],
    );
    let first = serve.stdout.next(PATIENCE);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://127.0.0.1:"))
        .unwrap_or_else(|| panic!("the banner shows no https:// URL: {first:?}"))
        .trim_end_matches('/')
        .to_string();
    let run = |program: &str, args: &[&str]| {
        let mut running = Running::start(program, args);
        let status = running.finish(PATIENCE);
        (status.code(), running.stdout.text(), running.stderr.text())
    };
    let report = fixture("valid/full-13-buckets.json");
    let report = report.to_str().expect("a UTF-8 path");
    let sent = run(
        CLIENT,
        &[
            "--server",
            &url,
            "--ca-cert",
            pki.cert(),
            "--team-id",
            "bin1",
            "--file",
            report,
        ],
    );
    assert_eq!(sent.0, Some(0), "{sent:?}");
    // without the CA the server is not trusted
    let refused = run(
        CLIENT,
        &[
            "--server",
            &url,
            "--team-id",
            "bin2",
            "--file",
            report,
            "--max-attempts",
            "1",
        ],
    );
    assert_ne!(refused.0, Some(0), "{refused:?}");
    let teams = run(
        HISTORY,
        &["--server", &url, "--ca-cert", pki.cert(), "teams"],
    );
    assert_eq!(teams.0, Some(0), "{teams:?}");
    assert!(
        teams.1.contains("bin1") && !teams.1.contains("bin2"),
        "{teams:?}"
    );
    let check = run(
        DEMO,
        &["--check", "--server", &url, "--ca-cert", pki.cert()],
    );
    assert_eq!(check.0, Some(0), "{check:?}");
    assert!(check.1.contains("PASS  GET /ws"), "{check:?}");
    serve.signal("TERM");
    assert!(serve.finish(PATIENCE).success());
}

#[test]
fn unusable_tls_files_are_refused_at_start_naming_the_flag() {
    let (pki, other) = (pki(), pki());
    let missing = pki.dir.path().join("missing.pem");
    let missing = missing.to_str().expect("a UTF-8 path");
    let not_pem: PathBuf = pki.dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let not_pem = not_pem.to_str().expect("a UTF-8 path");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--tls-cert", pki.cert(), "--tls-key", missing],
            "--tls-key",
        ),
        (
            &["--tls-cert", missing, "--tls-key", pki.key()],
            "--tls-cert",
        ),
        (
            &["--tls-cert", pki.cert(), "--tls-key", other.key()],
            "does not fit --tls-cert",
        ),
        (
            &["--tls-cert", not_pem, "--tls-key", pki.key()],
            "--tls-cert",
        ),
        (&["--tls-cert", pki.cert()], "--tls-key"),
    ];
    let data = pki.dir.path().join("data");
    for (flags, needle) in cases {
        let mut args = vec!["--port", "0", "--data-dir", data.to_str().unwrap()];
        args.extend_from_slice(flags);
        let mut running = Running::start(SERVE, &args);
        let status = running.finish(PATIENCE);
        let stderr = running.stderr.text();
        assert_eq!(status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(needle), "{flags:?}: {stderr}");
        assert!(running.stdout.text().is_empty(), "{flags:?} started");
    }
}

#[test]
fn an_unusable_ca_cert_is_bad_usage_naming_the_flag() {
    let pki = pki();
    let not_pem = pki.dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let not_pem = not_pem.to_str().expect("a UTF-8 path");
    let server = ["--server", "https://127.0.0.1:9"];
    let cases: [(&str, &[&str]); 3] = [
        (CLIENT, &["--team-id", "t1", "--count", "1"]),
        (HISTORY, &["teams"]),
        (DEMO, &["--check"]),
    ];
    for (program, rest) in cases {
        for ca in [not_pem, "/no/such/ca.pem"] {
            let mut args = server.to_vec();
            args.extend_from_slice(&["--ca-cert", ca]);
            args.extend_from_slice(rest);
            let mut running = Running::start(program, &args);
            let status = running.finish(PATIENCE);
            let stderr = running.stderr.text();
            // benchboard-demo says 1 for every failure to start, the others 2
            let expected = if program == DEMO { 1 } else { 2 };
            assert_eq!(
                status.code(),
                Some(expected),
                "{program} {args:?}: {stderr}"
            );
            assert!(stderr.contains("--ca-cert"), "{program} {args:?}: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        }
    }
}
