//! The HTTP API of benchboard-serve, through a real server on port 0: on the file
//! store here, and all over again on PostgreSQL in tests/api_postgres.rs (the same
//! tests; what was stored is looked at through `TestServer::stored`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{TestServer, agent, fixture};
use serde_json::{Value, json};

/// A case of bad team headers: (name, headers, word the error must mention).
type HeaderCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

fn valid_body(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("valid/{name}"))).expect("fixture readable")
}

/// Every file under `dir`, recursively (relative paths, sorted).
fn all_files(dir: &Path) -> Vec<PathBuf> {
    // The server's lock file is there from its start; any other file was written.
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if path != base.join(benchboard::store::LOCK_FILE) {
                out.push(path.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Sends raw bytes as one HTTP/1.1 request (with `Connection: close`) and returns
/// (status, headers lower-cased, body).
fn raw_request(
    server: &TestServer,
    head: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(body);
    stream.write_all(&request).expect("request sent");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn assert_error_mentions(status: u16, answer: &Value, want_status: u16, word: &str, case: &str) {
    assert!(
        !word.is_empty(),
        "{case}: give a word the error must mention"
    );
    assert_eq!(status, want_status, "{case}: {answer}");
    let error = answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no JSON error in {answer}"));
    assert!(
        error.to_lowercase().contains(&word.to_lowercase()),
        "{case}: error {error:?} does not mention {word:?}"
    );
}

/// The server still answers and stores after a refused request.
fn assert_still_serving(server: &TestServer) {
    let (status, _) = server.get_json("/api/teams");
    assert_eq!(status, 200, "server stopped serving");
}

#[test]
fn accepts_every_valid_fixture_and_computes_expected_metrics() {
    let server = TestServer::start();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/expected-metrics.json")).unwrap())
            .unwrap();
    for (name, metrics) in expected.as_object().unwrap() {
        let body = valid_body(name);
        let (status, answer) = server.post_for("team1", &body);
        assert_eq!(status, 200, "{name}: {answer}");
        assert_eq!(answer["message"], "Stats submitted successfully");
        assert_eq!(answer["team_id"], "team1");
        let (_, team) = server.get_json("/api/teams/team1");
        for key in [
            "avg_latency",
            "p99_latency",
            "high_priority_latency",
            "data_loss_rate",
        ] {
            let got = team["metrics"][key].as_f64().unwrap();
            let want = metrics[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-6,
                "{name} {key}: got {got}, want {want}"
            );
        }
        let percentiles = &team["metrics"]["percentiles"]["sensorData"];
        for p in ["p50", "p90", "p99", "p999"] {
            assert!(
                percentiles[p].is_number(),
                "{name}: no {p} in {percentiles}"
            );
        }
    }
    assert_eq!(
        server.stored("team1").len(),
        expected.as_object().unwrap().len()
    );
}

#[test]
fn refuses_every_invalid_fixture_without_writing_a_file() {
    let server = TestServer::start();
    let cases: Vec<Value> =
        serde_json::from_slice(&std::fs::read(fixture("invalid/cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 10);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let headers: Vec<(String, String)> = case["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = case["body"].as_str().unwrap().as_bytes();
        let (status, answer) = server.post_report(&headers, body);
        let want = case["status"].as_u64().unwrap() as u16;
        assert_error_mentions(
            status,
            &answer,
            want,
            case["mentions"].as_str().unwrap(),
            name,
        );
        assert!(server.nothing_stored(), "{name}: something was stored");
        assert_still_serving(&server);
    }
    // A valid report is still stored after all of them.
    let (status, _) = server.post_for("team1", &valid_body("minimal-12-buckets.json"));
    assert_eq!(status, 200);
}

#[test]
fn refuses_bad_bodies_with_a_clear_400() {
    let server = TestServer::start();
    let valid = String::from_utf8(valid_body("minimal-12-buckets.json")).unwrap();
    let deep = format!(
        "{{\"deep\": {}1{}, {}",
        "[".repeat(100),
        "]".repeat(100),
        &valid.trim_start()[1..]
    );
    let huge = valid.replacen("\"totalElapsed\": 60", "\"totalElapsed\": 1e400", 1);
    assert_ne!(huge, valid);
    let mut not_utf8 = valid.clone().into_bytes();
    not_utf8.splice(1..1, b"\"x\": \"\xff\xfe\",".iter().copied());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not UTF-8", not_utf8, "UTF-8"),
        ("nested deeper than 64", deep.into_bytes(), "nest"),
        ("1e400", huge.into_bytes(), "out of range"),
    ];
    for (case, body, word) in cases {
        let (status, answer) = server.post_for("team1", &body);
        assert_error_mentions(status, &answer, 400, word, case);
        assert!(server.nothing_stored(), "{case}: something was stored");
        assert_still_serving(&server);
    }
}

#[test]
fn refuses_bad_team_headers_with_a_clear_400() {
    let server = TestServer::start();
    let body = valid_body("minimal-12-buckets.json");
    let long_name = "名".repeat(129);
    let long_name =
        percent_encoding::utf8_percent_encode(&long_name, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let long_id = "t".repeat(65);
    let cases: Vec<HeaderCase> = vec![
        ("missing X-Team-ID", vec![], "X-Team-ID"),
        ("empty X-Team-ID", vec![("X-Team-ID", "")], "X-Team-ID"),
        ("dot dot", vec![("X-Team-ID", "..")], "X-Team-ID"),
        ("slash", vec![("X-Team-ID", "a/b")], "X-Team-ID"),
        ("encoded dots", vec![("X-Team-ID", "%2e%2e")], "X-Team-ID"),
        ("space", vec![("X-Team-ID", "team one")], "X-Team-ID"),
        ("65 chars", vec![("X-Team-ID", &long_id)], "X-Team-ID"),
        (
            "name not UTF-8",
            vec![("X-Team-ID", "team1"), ("X-Team-Name", "%ff%fe")],
            "X-Team-Name",
        ),
        (
            "name with a broken escape",
            vec![("X-Team-ID", "team1"), ("X-Team-Name", "%zz")],
            "X-Team-Name",
        ),
        (
            "name with a lone percent",
            vec![("X-Team-ID", "team1"), ("X-Team-Name", "100%")],
            "X-Team-Name",
        ),
        (
            "name too long",
            vec![("X-Team-ID", "team1"), ("X-Team-Name", &long_name)],
            "X-Team-Name",
        ),
        (
            "name with control characters",
            vec![("X-Team-ID", "team1"), ("X-Team-Name", "a%0Ab")],
            "X-Team-Name",
        ),
        (
            "name with NUL",
            vec![("X-Team-ID", "team1"), ("X-Team-Name", "a%00")],
            "X-Team-Name",
        ),
    ];
    for (case, headers, word) in cases {
        let (status, answer) = server.post_report(&headers, &body);
        assert_error_mentions(status, &answer, 400, word, case);
        assert!(server.nothing_stored(), "{case}: something was stored");
    }
    // 128 characters exactly is fine, and the name is decoded.
    let name = "名".repeat(128);
    let encoded = percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let (status, answer) =
        server.post_report(&[("X-Team-ID", "team1"), ("X-Team-Name", &encoded)], &body);
    assert_eq!(status, 200, "{answer}");
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(team["team_name"], name);
}

#[test]
fn absent_team_name_defaults_to_team_dash_id() {
    let server = TestServer::start();
    let (status, _) = server.post_for("t-9", &valid_body("minimal-12-buckets.json"));
    assert_eq!(status, 200);
    let (_, team) = server.get_json("/api/teams/t-9");
    assert_eq!(team["team_name"], "Team-t-9");
}

#[test]
fn refuses_a_body_over_max_body_with_413() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 1024);
    let body = valid_body("full-13-buckets.json");
    let padded = format!(
        "{{\"padding\": \"{}\", {}",
        "x".repeat(4000),
        &String::from_utf8(body.clone()).unwrap().trim_start()[1..]
    );
    let (status, answer) = server.post_for("team1", padded.as_bytes());
    assert_error_mentions(status, &answer, 413, "max-body", "over the limit");
    assert!(server.nothing_stored());
    assert_still_serving(&server);
    let (status, _) = server.post_for("team1", &valid_body("minimal-12-buckets.json"));
    assert_eq!(status, 200, "a report under the limit is still taken");
}

#[test]
fn keeps_unknown_fields_verbatim_in_the_file_and_the_api() {
    let server = TestServer::start();
    let valid = String::from_utf8(valid_body("minimal-12-buckets.json")).unwrap();
    let extra =
        r#"{"zExtra": {"nested": [1.50, "团队", null], "b": true}, "toolVersion": "9.9"  ,"#;
    let body = format!("{extra}{}", &valid.trim_start()[1..]);
    let (status, answer) = server.post_for("team1", body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let files = server.stored("team1");
    assert_eq!(files.len(), 1);
    let text = &files[0].text;
    assert!(
        text.contains(r#""zExtra": {"nested": [1.50, "团队", null], "b": true}"#),
        "not verbatim: {text}"
    );
    let stored: Value = serde_json::from_str(text).unwrap();
    assert_eq!(stored["team_id"], "team1");
    assert!(stored["timestamp"].is_string());
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(
        team["stats"]["zExtra"],
        json!({"nested": [1.5, "团队", null], "b": true})
    );
    assert_eq!(team["stats"]["toolVersion"], "9.9");
    let (_, history) = server.get_json("/api/teams/team1/history");
    assert_eq!(
        history["history"][0]["stats"]["zExtra"]["nested"][1],
        "团队"
    );
    // Key order as sent.
    let keys: Vec<&String> = team["stats"].as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "zExtra");
    assert_eq!(keys[1], "toolVersion");
}

/// A report whose `totalSent` marks its sequence number.
fn numbered_report(n: u64) -> Vec<u8> {
    let valid = String::from_utf8(valid_body("minimal-12-buckets.json")).unwrap();
    valid
        .replacen(
            "\"totalSent\": 1000",
            &format!("\"totalSent\": {}", 1000 + n),
            1,
        )
        .into_bytes()
}

#[test]
fn concurrent_reports_to_one_team_are_all_stored_in_order() {
    let server = Arc::new(TestServer::start_with(|c| c.threads = 8));
    let threads = 50;
    let per_thread = 10;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..per_thread {
                    let n = (t * per_thread + i) as u64;
                    let (status, answer) = server.post_for("busy", &numbered_report(n));
                    assert_eq!(status, 200, "{answer}");
                    acked.push(n);
                }
                acked
            })
        })
        .collect();
    let mut acked: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    acked.sort();
    assert_eq!(acked.len(), 500);
    let files = server.stored("busy");
    assert_eq!(
        files.len(),
        500,
        "one stored report per acknowledged report"
    );
    let (_, history) = server.get_json("/api/teams/busy/history?limit=1000");
    assert_eq!(history["total"], 500);
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 500);
    let mut sent: Vec<u64> = entries
        .iter()
        .map(|e| e["stats"]["totalSent"].as_u64().unwrap() - 1000)
        .collect();
    // Newest first, and file names in the same order as the history.
    let mut names: Vec<String> = Vec::new();
    for file in &files {
        let v: Value = serde_json::from_str(&file.text).unwrap();
        names.push(v["stats"]["totalSent"].to_string());
    }
    names.reverse();
    let history_order: Vec<String> = sent.iter().map(|n| (n + 1000).to_string()).collect();
    assert_eq!(names, history_order, "history is newest first by file name");
    // Each thread's reports appear in the order it sent them.
    let position = |n: u64| sent.iter().position(|s| *s == n).unwrap();
    for t in 0..threads {
        for i in 1..per_thread {
            let (a, b) = ((t * per_thread + i - 1) as u64, (t * per_thread + i) as u64);
            assert!(
                position(b) < position(a),
                "report {b} sent after {a} is listed after it"
            );
        }
    }
    // The board shows the newest report, whatever order concurrent reports were
    // applied in, and counts every one.
    let (_, team) = server.get_json("/api/teams/busy");
    assert_eq!(
        team["stats"], entries[0]["stats"],
        "the board shows the newest report"
    );
    assert_eq!(team["report_count"], 500);
    sent.sort();
    assert_eq!(sent, acked);
    if server.on_postgres() {
        return; // latest.json is a file of the file store
    }
    // latest.json becomes the newest report (a burst moves it at most every 100 ms;
    // the server catches up about twice a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let latest: Value = serde_json::from_slice(
            &std::fs::read(server.data_dir.join("busy/latest.json")).unwrap(),
        )
        .expect("latest.json is always complete");
        if latest["stats"] == entries[0]["stats"] {
            break;
        }
        assert!(Instant::now() < deadline, "latest.json never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `totalSent` of each history entry (newest first), less the 1000 of the fixture.
fn history_numbers(server: &TestServer, team: &str) -> Vec<u64> {
    let (_, history) = server.get_json(&format!("/api/teams/{team}/history?limit=1000"));
    history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stats"]["totalSent"].as_u64().unwrap() - 1000)
        .collect()
}

/// File names, listed in arrival order, sort in that order too (and are unique).
fn assert_names_sort_in_arrival_order(names: &[String]) {
    let order: Vec<_> = names
        .iter()
        .map(|n| benchboard::timefmt::parse_file_name(n).expect("a report file name"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{names:?}");
}

#[test]
fn reports_in_one_millisecond_are_all_kept_in_arrival_order() {
    // A clock that never moves: every report arrives in one millisecond.
    let frozen = Arc::new(benchboard::clock::ManualClock::starting_now());
    let server_clock = frozen.clone();
    let server = Arc::new(TestServer::start_with(move |c| {
        c.threads = 8;
        c.clock = server_clock;
    }));
    // One sender, each report acknowledged before the next is sent: that is the
    // order of arrival. Twelve in one millisecond: `_10` and `_11` come after `_9`.
    for n in 0..12 {
        let (status, answer) = server.post_for("fast", &numbered_report(n));
        assert_eq!(status, 200, "{answer}");
    }
    // PostgreSQL names reports by the database's clock, which no test freezes; its
    // names must still sort in arrival order.
    use benchboard::clock::Clock;
    let stem = benchboard::timefmt::file_stem(&frozen.now().with_timezone(&chrono::Local));
    let expected: Vec<String> = (0..12)
        .map(|seq| benchboard::timefmt::file_name(&stem, seq))
        .collect();
    let files = server.stored("fast");
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    if server.on_postgres() {
        assert_names_sort_in_arrival_order(&names);
    } else {
        assert_eq!(names, expected, "one name per report, in arrival order");
    }
    for (n, file) in files.iter().enumerate() {
        let stored: Value = serde_json::from_str(&file.text).unwrap();
        assert_eq!(
            stored["stats"]["totalSent"],
            1000 + n as u64,
            "{}",
            file.name
        );
    }
    let newest_first: Vec<u64> = (0..12).rev().collect();
    assert_eq!(history_numbers(&server, "fast"), newest_first);

    // Eight senders at once, still in that millisecond: every report is kept, and
    // each sender's reports are listed in the order it sent them.
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                for i in 0..10 {
                    let (status, _) = server.post_for("fast", &numbered_report(100 * (t + 1) + i));
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let names: Vec<String> = server.stored("fast").into_iter().map(|f| f.name).collect();
    assert_eq!(names.len(), 12 + 80, "every acknowledged report is stored");
    if server.on_postgres() {
        assert_names_sort_in_arrival_order(&names);
    } else {
        assert!(names.iter().all(|f| f.starts_with(&stem)), "{names:?}");
    }
    let numbers = history_numbers(&server, "fast");
    assert_eq!(numbers.len(), 92);
    for t in 1..=8u64 {
        let own: Vec<u64> = numbers.iter().copied().filter(|n| n / 100 == t).collect();
        let sent_order: Vec<u64> = (0..10).rev().map(|i| 100 * t + i).collect();
        assert_eq!(own, sent_order, "sender {t}, newest first");
    }
}

#[test]
fn team_ids_in_paths_touch_no_file_outside_the_data_dir() {
    let server = TestServer::start();
    server.post_for("team1", &valid_body("minimal-12-buckets.json"));
    let parent = server.data_dir.parent().unwrap().to_path_buf();
    let before = all_files(&parent);
    for path in [
        "/api/teams/../history",
        "/api/teams/%2e%2e",
        "/api/teams/%2e%2e/history",
        "/api/teams/%2e%2e/history/summary",
        "/api/teams/..%2Fetc/history",
        "/api/teams/a%2Fb/history",
        "/api/teams/a/b/history",
        "/team/%2e%2e/history",
        "/team/../history",
    ] {
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (status, _, body) = raw_request(&server, &head, b"");
        assert!(
            [400, 404].contains(&status),
            "{path}: status {status}, body {body}"
        );
        if path.starts_with("/api/") {
            let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            assert!(answer["error"].is_string(), "{path}: {body}");
        }
    }
    for id in ["..", "a/b", "%2e%2e", "../data"] {
        let head = format!(
            "POST /api/stats/report HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Team-ID: {id}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            valid_body("minimal-12-buckets.json").len()
        );
        let (status, _, body) = raw_request(&server, &head, &valid_body("minimal-12-buckets.json"));
        assert_eq!(status, 400, "{id}: {body}");
    }
    assert_eq!(
        all_files(&parent),
        before,
        "files outside or inside the data dir changed"
    );
}

#[test]
fn answers_cors_and_preflight_like_the_original() {
    let server = TestServer::start();
    let head = "OPTIONS /api/stats/report HTTP/1.1\r\nHost: x\r\nOrigin: http://elsewhere.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: X-Team-ID, X-Team-Name, Content-Type\r\nConnection: close\r\n\r\n";
    let (status, headers, _) = raw_request(&server, head, b"");
    assert!((200..300).contains(&status), "preflight status {status}");
    assert_eq!(
        header_value(&headers, "access-control-allow-origin"),
        Some("*")
    );
    let methods = header_value(&headers, "access-control-allow-methods").unwrap_or_default();
    for m in ["GET", "POST", "OPTIONS"] {
        assert!(methods.contains(m), "allow-methods {methods:?} lacks {m}");
    }
    let allowed = header_value(&headers, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for h in ["content-type", "x-team-id", "x-team-name", "authorization"] {
        assert!(allowed.contains(h), "allow-headers {allowed:?} lacks {h}");
    }
    for path in ["/api/teams", "/api/teams/nobody/history", "/api/nope"] {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://elsewhere.example\r\nConnection: close\r\n\r\n"
        );
        let (_, headers, _) = raw_request(&server, &head, b"");
        assert_eq!(
            header_value(&headers, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
    }
}

#[test]
fn unknown_api_paths_get_404_json_and_wrong_methods_405_with_allow() {
    let server = TestServer::start();
    for path in ["/api/nope", "/api", "/api/teams/t1/nope", "/api/stats"] {
        let (status, answer) = server.get_json(path);
        assert_eq!(status, 404, "{path}");
        assert!(answer["error"].is_string(), "{path}: {answer}");
    }
    let (status, answer) = server.get_json("/api/teams/nobody");
    assert_eq!(status, 404);
    assert_eq!(answer["error"], "Team not found");
    let cases = [
        ("GET", "/api/stats/report", "POST"),
        ("DELETE", "/api/teams", "GET"),
        ("POST", "/api/teams/t1/history", "GET"),
        ("PUT", "/api/teams/t1", "GET"),
    ];
    for (method, path, allow) in cases {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let (status, headers, body) = raw_request(&server, &head, b"");
        assert_eq!(status, 405, "{method} {path}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(answer["error"].is_string(), "{method} {path}: {body}");
        let allow_header = header_value(&headers, "allow").unwrap_or_default();
        assert!(
            allow_header.contains(allow),
            "{method} {path}: Allow {allow_header:?}"
        );
    }
    // HEAD answers as GET without a body, as the original (Flask) did.
    let (status, headers, body) = raw_request(
        &server,
        "HEAD /api/teams HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert_eq!(status, 200);
    assert!(
        header_value(&headers, "content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(body, "");
}

#[test]
fn history_pages_validate_limit_and_offset() {
    let server = TestServer::start();
    for n in 0..15 {
        assert_eq!(server.post_for("pager", &numbered_report(n)).0, 200);
    }
    let (status, page) = server.get_json("/api/teams/pager/history");
    assert_eq!(status, 200);
    assert_eq!(page["limit"], 10);
    assert_eq!(page["offset"], 0);
    assert_eq!(page["total"], 15);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["history"].as_array().unwrap().len(), 10);
    assert_eq!(page["history"][0]["stats"]["totalSent"], 1014);
    let (_, page) = server.get_json("/api/teams/pager/history?limit=10&offset=10");
    assert_eq!(page["history"].as_array().unwrap().len(), 5);
    assert_eq!(page["history"][4]["stats"]["totalSent"], 1000);
    assert_eq!(page["has_more"], false);
    let first = &page["history"][0];
    for key in ["team_id", "team_name", "timestamp", "stats", "metrics"] {
        assert!(!first[key].is_null(), "history entry lacks {key}: {first}");
    }
    let (_, page) = server.get_json("/api/teams/pager/history?limit=1000&offset=100");
    assert_eq!(page["history"], json!([]));
    assert_eq!(page["total"], 15);
    let (_, page) = server.get_json("/api/teams/pager/history?limit=1");
    assert_eq!(page["history"].as_array().unwrap().len(), 1);
    for query in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=abc",
        "limit=",
        "offset=-1",
        "offset=x",
        "limit=1.5",
    ] {
        let (status, answer) = server.get_json(&format!("/api/teams/pager/history?{query}"));
        assert_eq!(status, 400, "{query}: {answer}");
        let word = query.split('=').next().unwrap();
        assert!(
            answer["error"].as_str().unwrap_or_default().contains(word),
            "{query}: {answer}"
        );
    }
    let (status, page) = server.get_json("/api/teams/nobody/history");
    assert_eq!(status, 200);
    assert_eq!(page["total"], 0);
    assert_eq!(page["history"], json!([]));
    let (status, summary) = server.get_json("/api/teams/pager/history/summary");
    assert_eq!(status, 200);
    assert_eq!(summary["total_reports"], 15);
    let files = server.stored("pager");
    let recent: Vec<&str> = files
        .iter()
        .rev()
        .take(5)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(summary["recent_files"], json!(recent));
    let location = summary["data_directory"].as_str().unwrap();
    if server.on_postgres() {
        assert!(location.starts_with("PostgreSQL: "), "{location}");
    } else {
        assert!(location.ends_with("pager"), "{location}");
    }
    assert!(summary["first_report"].is_string() && summary["last_report"].is_string());
}

#[test]
fn teams_list_carries_nested_and_flat_fields() {
    let server = TestServer::start();
    server.post_report(
        &[
            ("X-Team-ID", "team1"),
            ("X-Team-Name", "%E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84"),
        ],
        &valid_body("full-13-buckets.json"),
    );
    let (status, teams) = server.get_json("/api/teams");
    assert_eq!(status, 200);
    let team = &teams[0];
    assert_eq!(team["team_id"], "team1");
    assert_eq!(team["team_name"], "第一小组");
    assert_eq!(team["is_active"], true);
    for key in [
        "last_update",
        "qps",
        "avg_latency",
        "p99_latency",
        "data_loss_rate",
        "metrics",
        "stats",
        "best_qps",
        "best_qps_time",
        "best_latency",
        "best_latency_time",
    ] {
        assert!(!team[key].is_null(), "/api/teams entry lacks {key}: {team}");
    }
    assert_eq!(team["avg_latency"], team["metrics"]["avg_latency"]);
    assert_eq!(team["p99_latency"], team["metrics"]["p99_latency"]);
    let (_, one) = server.get_json("/api/teams/team1");
    for key in [
        "team_id",
        "team_name",
        "last_update",
        "stats",
        "metrics",
        "best_qps",
        "best_qps_time",
        "best_latency",
        "best_latency_time",
    ] {
        assert!(!one[key].is_null(), "/api/teams/team1 lacks {key}: {one}");
    }
}

#[test]
fn team_turns_inactive_after_inactive_after() {
    let server = TestServer::start_with(|c| {
        c.timing.inactive_after = Duration::from_secs(1);
    });
    server.post_for("sleepy", &valid_body("minimal-12-buckets.json"));
    let (_, teams) = server.get_json("/api/teams");
    assert_eq!(teams[0]["is_active"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, teams) = server.get_json("/api/teams");
        if teams[0]["is_active"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "team never turned inactive");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.post_for("sleepy", &valid_body("minimal-12-buckets.json"));
    let (_, teams) = server.get_json("/api/teams");
    assert_eq!(
        teams[0]["is_active"], true,
        "a new report makes it active again"
    );
}

#[test]
fn readers_during_heavy_writing_see_only_complete_reports() {
    let server = Arc::new(TestServer::start_with(|c| c.threads = 6));
    server.post_for("hot", &numbered_report(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
        std::thread::spawn(move || {
            let agent = agent();
            let latest_path = server.data_dir.join("hot/latest.json");
            let mut reads = 0;
            while !stop.load(Ordering::SeqCst) {
                let text = agent
                    .get(&server.url("/api/teams/hot/history?limit=20"))
                    .call()
                    .unwrap()
                    .body_mut()
                    .read_to_string()
                    .unwrap();
                let page: Value = serde_json::from_str(&text).expect("history is JSON");
                for entry in page["history"].as_array().unwrap() {
                    assert!(
                        entry["stats"]["totalSent"].is_u64(),
                        "incomplete entry {entry}"
                    );
                }
                let total = page["total"].as_u64().unwrap();
                assert!(page["history"].as_array().unwrap().len() as u64 == total.min(20));
                if !server.on_postgres() {
                    let latest: Value =
                        serde_json::from_slice(&std::fs::read(&latest_path).unwrap())
                            .expect("latest.json is always a complete report");
                    assert!(latest["stats"]["totalSent"].is_u64());
                }
                for file in server.stored("hot").iter().rev().take(3) {
                    let v: Value = serde_json::from_str(&file.text).expect("report complete");
                    assert!(v["stats"]["totalSent"].is_u64());
                }
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                for i in 0..100 {
                    let (status, _) = server.post_for("hot", &numbered_report(1 + w * 100 + i));
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().expect("reader saw only complete reports");
    assert!(reads > 0);
    assert_eq!(server.stored("hot").len(), 401);
}
