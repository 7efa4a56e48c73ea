//! Registered mode for the tests: a contest file with an admin and two teams, a
//! server started with it, and requests that carry tokens.

use std::path::PathBuf;

use benchboard::config::ContestFile;
use benchboard::server::Config;
use serde_json::{Value, json};

use super::{TestServer, agent, fixture};

pub const TEAM1: &str = "team1-secret-token-0123456789";
pub const TEAM2: &str = "team2-secret-token-0123456789";
pub const ADMIN: &str = "admin-secret-token-0123456789";
pub const VIEWER: &str = "viewer-secret-token-012345678";

/// An answer: status, headers (lower-case names), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Answer {
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

pub fn contest_text(extra: &str) -> String {
    format!(
        "[admin]\ntoken = \"{ADMIN}\"\n\n[[team]]\nid = \"team1\"\nname = \"第一小组\"\ntoken = \"{TEAM1}\"\n\n[[team]]\nid = \"team2\"\ntoken = \"{TEAM2}\"\n{extra}"
    )
}

/// A registered-mode server; the contest file is written beside the data directory.
pub fn registered(extra: &str, adjust: impl FnOnce(&mut Config)) -> (TestServer, PathBuf) {
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

pub fn report_with_qps(qps: f64) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture("valid/full-13-buckets.json")).unwrap();
    let mut report: Value = serde_json::from_str(&text).unwrap();
    report["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    serde_json::to_vec(&report).unwrap()
}

pub fn post(server: &TestServer, team: &str, token: Option<&str>, body: &[u8]) -> Answer {
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

pub fn admin(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> Answer {
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
