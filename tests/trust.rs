//! Registered mode, the admin API, the trash, reloads, rate limits and the private
//! board, against a real server on port 0.

mod common;

use std::path::{Path, PathBuf};

use benchboard::config::ContestFile;
use benchboard::server::Config;
use benchboard::server::routes::{Guard, ROUTES};
use common::{TestServer, agent, fixture, ordered_report_files};
use serde_json::{Value, json};

const TEAM1: &str = "team1-secret-token-0123456789";
const TEAM2: &str = "team2-secret-token-0123456789";
const ADMIN: &str = "admin-secret-token-0123456789";
const VIEWER: &str = "viewer-secret-token-012345678";

/// An answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Answer {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let agent = agent();
    let mut response = match body {
        Some(body) => agent.run(request.body(body.to_vec()).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    }
    .expect("the server answers");
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status: response.status().as_u16(),
        headers,
        body,
    }
}

fn contest_text(extra: &str) -> String {
    format!(
        "[admin]\ntoken = \"{ADMIN}\"\n\n[[team]]\nid = \"team1\"\nname = \"第一小组\"\ntoken = \"{TEAM1}\"\n\n[[team]]\nid = \"team2\"\ntoken = \"{TEAM2}\"\n{extra}"
    )
}

/// A registered-mode server; the contest file is written beside the data directory.
fn registered(extra: &str, adjust: impl FnOnce(&mut Config)) -> (TestServer, PathBuf) {
    let temp = tempfile::tempdir().unwrap().keep();
    let path = temp.join("contest.toml");
    std::fs::write(&path, contest_text(extra)).unwrap();
    let contest = ContestFile::load(&path).unwrap();
    let server = TestServer::start_on(temp.join("data"), |config| {
        config.contest = Some(contest);
        adjust(config);
    });
    (server, path)
}

fn report_with_qps(qps: f64) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture("valid/full-13-buckets.json")).unwrap();
    let mut report: Value = serde_json::from_str(&text).unwrap();
    report["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    serde_json::to_vec(&report).unwrap()
}

fn post(server: &TestServer, team: &str, token: Option<&str>, body: &[u8]) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("X-Team-ID", team),
        ("X-Team-Name", "Fake%20Name"),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer));
    }
    call(
        "POST",
        &server.url("/api/stats/report"),
        &headers,
        Some(body),
    )
}

fn admin(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> Answer {
    let bearer = format!("Bearer {ADMIN}");
    let body = body.map(|b| b.to_string());
    call(
        method,
        &server.url(path),
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        body.as_deref().map(str::as_bytes),
    )
}

#[test]
fn registered_mode_refuses_missing_wrong_other_and_unlisted_tokens_alike() {
    let (server, _) = registered("", |_| {});
    let body = report_with_qps(100.0);
    let missing = post(&server, "team1", None, &body);
    assert_eq!(missing.status, 401, "{}", missing.body);
    assert!(
        missing
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let refusals = [
        post(&server, "team1", Some("not-the-token-at-all"), &body),
        post(&server, "team1", Some(TEAM2), &body),
        post(&server, "nobody", Some(TEAM1), &body),
        post(&server, "team1", Some(ADMIN), &body),
    ];
    for refusal in &refusals {
        assert_eq!(refusal.status, 403, "{}", refusal.body);
        assert_eq!(refusal.body, refusals[0].body, "one message for all");
    }
    assert!(ordered_report_files(&server.data_dir, "team1").is_empty());
    assert!(!server.data_dir.join("nobody").exists());

    let ok = post(&server, "team1", Some(TEAM1), &body);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let header_token = call(
        "POST",
        &server.url("/api/stats/report"),
        &[("X-Team-ID", "team2"), ("X-Team-Token", TEAM2)],
        Some(&body),
    );
    assert_eq!(header_token.status, 200, "{}", header_token.body);
    // The name comes from the contest file; the sent X-Team-Name is ignored.
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(team["team_name"], "第一小组");
    let (_, team) = server.get_json("/api/teams/team2");
    assert_eq!(team["team_name"], "Team-team2");
    let stored = std::fs::read_to_string(
        server
            .data_dir
            .join("team1")
            .join(&ordered_report_files(&server.data_dir, "team1")[0]),
    )
    .unwrap();
    assert!(stored.contains("第一小组") && !stored.contains("Fake"));
}

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
    let files = ordered_report_files(&server.data_dir, "team1");
    let best_file = files[1].clone();
    let before = std::fs::read(server.data_dir.join("team1").join(&best_file)).unwrap();
    assert_eq!(server.get_json("/api/teams/team1").1["best_qps"], 900.0);

    let trashed = admin(
        &server,
        "POST",
        &format!("/api/admin/teams/team1/reports/{best_file}/trash"),
        None,
    );
    assert_eq!(trashed.status, 200, "{}", trashed.body);
    let in_trash = server.data_dir.join(".trash/team1").join(&best_file);
    assert_eq!(std::fs::read(&in_trash).unwrap(), before);
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
    let list = admin(&server, "GET", "/api/admin/trash", None).json();
    assert_eq!(list["reports"][0]["file_name"], best_file.as_str());
    // benchboard-history reads the data directory without the trash.
    let history = std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-history"))
        .args([
            "--data-dir",
            server.data_dir.to_str().unwrap(),
            "--json",
            "summary",
            "team1",
        ])
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
    assert_eq!(
        std::fs::read(server.data_dir.join("team1").join(&best_file)).unwrap(),
        before
    );
    assert!(!in_trash.exists());
    assert_eq!(server.get_json("/api/teams/team1").1["best_qps"], 900.0);
    assert_eq!(ordered_report_files(&server.data_dir, "team1"), files);

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
    assert!(server.data_dir.join(".audit.log").is_file());
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
fn reports_over_the_rate_get_429_with_retry_after_and_store_nothing() {
    let (server, _) = registered("[server]\nmax_report_rate = 1\n", |config| {
        config.limits.max_report_rate = None;
    });
    let body = report_with_qps(5.0);
    // A burst of 2 at 1/s: sent back to back, the refusal comes after the burst (or
    // later on a slow machine: no timing is assumed, only that it comes).
    let mut accepted = 0;
    let refused = loop {
        let answer = post(&server, "team1", Some(TEAM1), &body);
        match answer.status {
            200 if accepted < 50 => accepted += 1,
            _ => break answer,
        }
    };
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(accepted >= 2, "the burst of 2 is allowed: {accepted}");
    assert!(
        refused
            .header("Retry-After")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let stored = ordered_report_files(&server.data_dir, "team1").len();
    assert_eq!(stored, accepted, "nothing stored for the refusal");
    // Another team has its own allowance.
    assert_eq!(post(&server, "team2", Some(TEAM2), &body).status, 200);
}

#[test]
fn failed_authentications_lock_the_address_out_with_429() {
    let (server, _) = registered("", |_| {});
    let body = report_with_qps(5.0);
    // 10 a minute: the first 10 are refused as wrong, then the address is locked out
    // (a slow machine may earn one more try meanwhile; no timing is assumed).
    let mut wrong = 0;
    loop {
        match post(&server, "team1", Some("guessing-the-token-000"), &body).status {
            403 if wrong < 100 => wrong += 1,
            status => {
                assert_eq!(status, 429);
                break;
            }
        }
    }
    assert!(wrong >= 10, "{wrong}");
    let locked = post(&server, "team1", Some(TEAM1), &body);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.header("Retry-After").is_some());
    let admin_locked = admin(&server, "GET", "/api/admin/teams", None);
    assert_eq!(admin_locked.status, 429);
}

#[test]
fn a_private_board_needs_the_viewer_token_or_its_cookie_for_reads_only() {
    let extra = format!("[viewers]\ntoken = \"{VIEWER}\"\n");
    let (server, _) = registered(&extra, |_| {});
    assert_eq!(
        post(&server, "team1", Some(TEAM1), &report_with_qps(5.0)).status,
        200
    );
    for path in [
        "/api/teams",
        "/api/teams/team1",
        "/api/teams/team1/history",
        "/api/teams/team1/export.csv",
    ] {
        let answer = call("GET", &server.url(path), &[], None);
        assert_eq!(answer.status, 401, "{path}");
        let bearer = format!("Bearer {VIEWER}");
        assert_eq!(
            call(
                "GET",
                &server.url(path),
                &[("Authorization", &bearer)],
                None
            )
            .status,
            200,
            "{path}"
        );
    }
    let page = call("GET", &server.url("/"), &[], None);
    assert_eq!(page.status, 401);
    // Probes carry no token: /healthz stays public.
    assert_eq!(call("GET", &server.url("/healthz"), &[], None).status, 200);
    assert!(page.body.contains("action=\"/login\""));
    assert_eq!(
        call("GET", &server.url("/static/style.css"), &[], None).status,
        200
    );

    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let form = format!("token={VIEWER}&next=%2Fteam%2Fteam1%2Fhistory");
    let login = no_redirects
        .post(&server.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(form.as_bytes())
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    assert_eq!(login.headers()["location"], "/team/team1/history");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    assert_eq!(
        call(
            "GET",
            &server.url("/api/teams"),
            &[("Cookie", &cookie)],
            None
        )
        .status,
        200
    );
    assert_eq!(
        call("GET", &server.url("/"), &[("Cookie", &cookie)], None).status,
        200
    );
    // Never a write credential.
    let post_with_cookie = call(
        "POST",
        &server.url("/api/stats/report"),
        &[("X-Team-ID", "team1"), ("Cookie", &cookie)],
        Some(&report_with_qps(5.0)),
    );
    assert_eq!(post_with_cookie.status, 401);
    assert_eq!(
        call(
            "GET",
            &server.url("/api/admin/teams"),
            &[("Cookie", &cookie)],
            None
        )
        .status,
        401
    );
    let wrong = no_redirects
        .post(&server.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(&b"token=nope"[..])
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    assert!(wrong.headers().get("set-cookie").is_none());
}

#[test]
fn cors_allows_the_token_headers_and_the_answer_carries_no_token() {
    let (server, _) = registered("", |_| {});
    let preflight = call("OPTIONS", &server.url("/api/stats/report"), &[], None);
    let allowed = preflight.header("Access-Control-Allow-Headers").unwrap();
    for name in ["X-Team-ID", "X-Team-Token", "Authorization"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    let refused = post(
        &server,
        "team1",
        Some("a-wrong-token-value-123"),
        &report_with_qps(1.0),
    );
    assert!(!refused.body.contains("a-wrong-token-value-123"));
    assert_eq!(refused.header("Access-Control-Allow-Origin"), Some("*"));
}

/// Every file under `dir`, recursively.
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

#[test]
fn the_client_reports_with_token_or_tokens_file_and_history_reads_a_private_board() {
    let extra = format!("[viewers]\ntoken = \"{VIEWER}\"\n");
    let (server, path) = registered(&extra, |_| {});
    let client = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-client"))
            .args([
                "--server",
                &server.base,
                "--count",
                "1",
                "--interval",
                "0.1",
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let refused = client(&["--team-id", "team1"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("401")
            || String::from_utf8_lossy(&refused.stderr).contains("401")
    );
    assert!(
        client(&["--team-id", "team1", "--token", TEAM1])
            .status
            .success()
    );
    let tokens = path.with_file_name("tokens.txt");
    std::fs::write(
        &tokens,
        format!("# ids and tokens\nteam1 {TEAM1}\nteam2 {TEAM2}\n"),
    )
    .unwrap();
    let both = client(&["--teams", "2", "--tokens", tokens.to_str().unwrap()]);
    assert!(
        both.status.success(),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    assert!(!String::from_utf8_lossy(&both.stdout).contains(TEAM1));
    assert_eq!(ordered_report_files(&server.data_dir, "team1").len(), 2);
    assert_eq!(ordered_report_files(&server.data_dir, "team2").len(), 1);

    let history = |token: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-history"));
        command.args(["--server", &server.base, "--json", "teams"]);
        if let Some(token) = token {
            command.args(["--token", token]);
        }
        command
            .env_remove("BENCHBOARD_VIEWER_TOKEN")
            .output()
            .unwrap()
    };
    let without = history(None);
    assert_eq!(
        without.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    assert!(String::from_utf8_lossy(&without.stderr).contains("401"));
    let with = history(Some(VIEWER));
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let teams: Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(teams.as_array().unwrap().len(), 2);
}
