//! `benchboard-demo --check`: the original's `quick_test.py`, made thorough.
//!
//! Sends a few simulated reports (and two bad ones) for a fresh team to a server,
//! reads them back through every endpoint (API, pages, WebSocket) and prints one
//! `PASS`/`FAIL` line per check. Against `--server URL`, or a fresh in-process server.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::client::{http_agent, normalize_server};
use crate::server::{Config, Server};
use crate::simulate::{Profile, SimulatedTeam};
use crate::team;

use super::DemoError;

/// Reports the check sends.
const REPORTS: u64 = 3;
/// Checks run by [`run_check`].
pub const CHECKS: usize = 14;
/// Longest wait for any answer.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A name with markup in it: pages must show it escaped, the API decoded.
const TEAM_NAME: &str = "自检小组 <check> & co";

/// How the checks went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOutcome {
    pub passed: usize,
    pub failed: usize,
}

impl CheckOutcome {
    /// True when no check failed (and at least one ran).
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// Runs every check against `server` (or a fresh in-process server), printing a line each to `out`.
pub fn run_check(server: Option<&str>, out: &mut dyn Write) -> Result<CheckOutcome, DemoError> {
    match server {
        Some(url) => Ok(check_server(&normalize_server(url)?, out)),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("benchboard-check-")
                .tempdir()
                .map_err(DemoError::TempDir)?;
            let server = Server::bind(Config {
                host: "127.0.0.1".into(),
                port: 0,
                data_dir: temp.path().join("data"),
                threads: 4,
                ..Config::default()
            })?;
            let base = server.url().trim_end_matches('/').to_string();
            let _ = writeln!(out, "checking an in-process server at {base}");
            let shutdown = server.shutdown_handle();
            let thread = std::thread::spawn(move || server.run());
            let outcome = check_server(&base, out);
            shutdown.shutdown();
            let _ = thread.join();
            Ok(outcome)
        }
    }
}

/// The checks against one server at `base` (`http://host:port`).
fn check_server(base: &str, out: &mut dyn Write) -> CheckOutcome {
    let mut checker = Checker::new(base, out);
    let _ = writeln!(
        checker.out,
        "checking {base} with team {} ({TEAM_NAME})",
        checker.team_id
    );
    checker.run(
        "POST /api/stats/report: simulated reports are stored",
        Checker::post_reports,
    );
    checker.run(
        "POST /api/stats/report: a bad bucket is refused with 400 naming it",
        Checker::post_invalid,
    );
    checker.run(
        "POST /api/stats/report: a missing X-Team-ID is refused with 400",
        Checker::post_without_id,
    );
    checker.run(
        "GET /api/teams: lists the team with its decoded name",
        Checker::teams,
    );
    checker.run(
        "GET /api/teams/<id>: the latest stats and metrics",
        Checker::team,
    );
    checker.run(
        "GET /api/teams/<id>/history: newest first, nothing extra stored",
        Checker::history,
    );
    checker.run(
        "GET /api/teams/<id>/history/summary: counts the reports",
        Checker::summary,
    );
    checker.run(
        "GET /api/teams/<id>/history/series: the chart's points",
        Checker::series,
    );
    checker.run(
        "GET /api/teams/<id>/export.csv: one row per report",
        Checker::export_csv,
    );
    checker.run(
        "GET /api/teams/<unknown>: 404 with a JSON error",
        Checker::unknown_team,
    );
    checker.run("GET /: the dashboard", Checker::dashboard);
    checker.run(
        "GET /static/...: every asset the dashboard links to",
        Checker::assets,
    );
    checker.run(
        "GET /team/<id>/history: the page, titled with the escaped name",
        Checker::history_page,
    );
    checker.run("GET /ws: a snapshot with the team", Checker::websocket);
    let outcome = checker.outcome;
    let _ = writeln!(
        checker.out,
        "check: {} of {} passed{}",
        outcome.passed,
        outcome.passed + outcome.failed,
        if outcome.failed == 0 { "" } else { " - FAILED" }
    );
    outcome
}

/// An answer: status and body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("answer ({}) is not JSON: {e}", self.status))
    }

    fn expect_status(&self, status: u16) -> Result<(), String> {
        if self.status == status {
            Ok(())
        } else {
            Err(format!(
                "expected {status}, got {}: {}",
                self.status,
                crate::client::error_message(&self.body)
            ))
        }
    }
}

/// Runs checks and keeps what later checks need.
struct Checker<'a> {
    agent: ureq::Agent,
    base: String,
    team_id: String,
    /// The reports stored, oldest first.
    sent: Vec<Value>,
    outcome: CheckOutcome,
    out: &'a mut dyn Write,
}

impl<'a> Checker<'a> {
    fn new(base: &str, out: &'a mut dyn Write) -> Checker<'a> {
        // A fresh team each run, so history counts are ours alone on a shared server.
        let team_id = format!("check-{}-{:04x}", std::process::id(), fastrand::u16(..));
        Checker {
            agent: http_agent(TIMEOUT),
            base: base.to_string(),
            team_id,
            sent: Vec::new(),
            outcome: CheckOutcome::default(),
            out,
        }
    }

    fn run(&mut self, name: &str, check: fn(&mut Self) -> Result<String, String>) {
        match check(self) {
            Ok(detail) => {
                self.outcome.passed += 1;
                let _ = writeln!(self.out, "PASS  {name}: {detail}");
            }
            Err(reason) => {
                self.outcome.failed += 1;
                let _ = writeln!(self.out, "FAIL  {name}: {reason}");
            }
        }
    }

    fn get(&self, path: &str) -> Result<Answer, String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| format!("GET {url}: {e}"))?;
        read_answer(response)
    }

    fn post(&self, headers: &[(&str, String)], body: &[u8]) -> Result<Answer, String> {
        let url = format!("{}/api/stats/report", self.base);
        let mut request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send(body).map_err(|e| format!("POST {url}: {e}"))?;
        read_answer(response)
    }

    fn team_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("X-Team-ID", self.team_id.clone()),
            ("X-Team-Name", team::encode_team_name(TEAM_NAME)),
        ]
    }

    fn last_sent(&self) -> Result<&Value, String> {
        self.sent
            .last()
            .ok_or_else(|| "no report was stored, nothing to read back".to_string())
    }

    fn post_reports(&mut self) -> Result<String, String> {
        let mut team = SimulatedTeam::new(&self.team_id, TEAM_NAME, Profile::Steady, 7);
        for n in 1..=REPORTS {
            let report = team.report_at(Duration::from_secs(5 * n));
            let answer = self.post(&self.team_headers(), report.to_string().as_bytes())?;
            answer.expect_status(200)?;
            let json = answer.json()?;
            if json["message"] != "Stats submitted successfully" || json["team_id"] != *self.team_id
            {
                return Err(format!("unexpected answer {json}"));
            }
            self.sent.push(report);
        }
        Ok(format!("{REPORTS} reports accepted"))
    }

    fn post_invalid(&mut self) -> Result<String, String> {
        let mut report = self.last_sent()?.clone();
        report["latencyAnalysis"]["sensorData"]["buckets"][3] = Value::from("x");
        let answer = self.post(&self.team_headers(), report.to_string().as_bytes())?;
        answer.expect_status(400)?;
        let error = answer.json()?["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !error.contains("latencyAnalysis.sensorData.buckets[3]") {
            return Err(format!("the error does not name the field: {error:?}"));
        }
        Ok(format!("400 {error:?}"))
    }

    fn post_without_id(&mut self) -> Result<String, String> {
        let body = self.last_sent()?.to_string();
        let answer = self.post(&[], body.as_bytes())?;
        answer.expect_status(400)?;
        Ok(format!(
            "400 {:?}",
            crate::client::error_message(&answer.body)
        ))
    }

    fn teams(&mut self) -> Result<String, String> {
        let answer = self.get("/api/teams")?;
        answer.expect_status(200)?;
        let teams = answer.json()?;
        let list = teams.as_array().ok_or("expected an array of teams")?;
        let ours = list
            .iter()
            .find(|t| t["team_id"] == *self.team_id)
            .ok_or_else(|| format!("{} is not among {} teams", self.team_id, list.len()))?;
        if ours["team_name"] != TEAM_NAME {
            return Err(format!(
                "team_name is {}, expected {TEAM_NAME:?}",
                ours["team_name"]
            ));
        }
        Ok(format!(
            "{} teams, ours named {}",
            list.len(),
            ours["team_name"]
        ))
    }

    fn team(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}", self.team_id))?;
        answer.expect_status(200)?;
        let team = answer.json()?;
        let last = self.last_sent()?;
        if team["stats"]["totalSent"] != last["totalSent"] {
            return Err(format!(
                "stats.totalSent is {}, the last report sent {}",
                team["stats"]["totalSent"], last["totalSent"]
            ));
        }
        for key in [
            "avg_latency",
            "p99_latency",
            "high_priority_latency",
            "data_loss_rate",
        ] {
            if !team["metrics"][key].is_number() {
                return Err(format!("metrics.{key} is missing"));
            }
        }
        Ok(format!(
            "totalSent {}, p99 {:.1} ms",
            team["stats"]["totalSent"],
            team["metrics"]["p99_latency"].as_f64().unwrap_or_default()
        ))
    }

    fn history(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/history?limit=2", self.team_id))?;
        answer.expect_status(200)?;
        let page = answer.json()?;
        let history = page["history"]
            .as_array()
            .ok_or("history is not an array")?;
        if page["total"] != REPORTS || history.len() != 2 || page["has_more"] != true {
            return Err(format!(
                "expected total {REPORTS}, 2 entries and has_more; got total {}, {} entries, has_more {}",
                page["total"],
                history.len(),
                page["has_more"]
            ));
        }
        if history[0]["stats"]["totalSent"] != self.last_sent()?["totalSent"] {
            return Err("the first entry is not the newest report".to_string());
        }
        Ok(format!("total {}, newest first", page["total"]))
    }

    fn summary(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/history/summary", self.team_id))?;
        answer.expect_status(200)?;
        let summary = answer.json()?;
        let files = summary["recent_files"].as_array().map_or(0, Vec::len);
        if summary["total_reports"] != REPORTS || files != REPORTS as usize {
            return Err(format!(
                "expected {REPORTS} reports and files, got {} and {files}",
                summary["total_reports"]
            ));
        }
        Ok(format!(
            "{} reports in {}",
            REPORTS, summary["data_directory"]
        ))
    }

    fn series(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/history/series", self.team_id))?;
        answer.expect_status(200)?;
        let series = answer.json()?;
        let points = series["series"].as_array().map_or(0, Vec::len);
        if series["total"] != REPORTS || points == 0 {
            return Err(format!(
                "expected {REPORTS} reports in the series, got total {} and {points} points",
                series["total"]
            ));
        }
        Ok(format!("{points} points"))
    }

    fn export_csv(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/export.csv", self.team_id))?;
        answer.expect_status(200)?;
        if !answer.content_type.starts_with("text/csv") {
            return Err(format!("content type {}", answer.content_type));
        }
        let rows = answer.body.lines().count().saturating_sub(1);
        if rows != REPORTS as usize {
            return Err(format!("expected {REPORTS} rows, got {rows}"));
        }
        Ok(format!("{rows} rows"))
    }

    fn unknown_team(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}-nobody", self.team_id))?;
        answer.expect_status(404)?;
        let error = answer.json()?["error"].clone();
        if !error.is_string() {
            return Err(format!("no JSON error in {}", answer.body));
        }
        Ok(format!("404 {error}"))
    }

    fn dashboard(&mut self) -> Result<String, String> {
        let answer = self.get("/")?;
        answer.expect_status(200)?;
        if !answer.content_type.starts_with("text/html") {
            return Err(format!("content type is {:?}", answer.content_type));
        }
        Ok(format!("{} bytes of HTML", answer.body.len()))
    }

    fn assets(&mut self) -> Result<String, String> {
        let page = self.get("/")?;
        let assets = linked_assets(&page.body);
        for asset in &assets {
            let answer = self.get(asset)?;
            answer
                .expect_status(200)
                .map_err(|e| format!("{asset}: {e}"))?;
            if answer.body.is_empty() {
                return Err(format!("{asset} is empty"));
            }
        }
        Ok(format!(
            "{} linked assets: {}",
            assets.len(),
            assets.join(", ")
        ))
    }

    fn history_page(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/team/{}/history", self.team_id))?;
        answer.expect_status(200)?;
        for asset in linked_assets(&answer.body) {
            self.get(&asset)?
                .expect_status(200)
                .map_err(|e| format!("{asset}: {e}"))?;
        }
        let escaped = crate::server::pages::escape_html(TEAM_NAME);
        if !answer.body.contains(&escaped) || answer.body.contains(TEAM_NAME) {
            return Err(format!(
                "the page does not carry the name escaped as {escaped:?}"
            ));
        }
        Ok(format!("carries {escaped:?}"))
    }

    fn websocket(&mut self) -> Result<String, String> {
        let address = self.base.trim_start_matches("http://").to_string();
        let stream = TcpStream::connect(&address).map_err(|e| format!("connect {address}: {e}"))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let url = format!("ws://{address}/ws");
        let (mut socket, _) =
            tungstenite::client(url.as_str(), stream).map_err(|e| format!("{url}: {e}"))?;
        let message = socket
            .read()
            .map_err(|e| format!("reading the snapshot: {e}"))?;
        let _ = socket.close(None);
        let snapshot: Value = serde_json::from_str(message.to_text().unwrap_or_default())
            .map_err(|e| format!("the first message is not JSON: {e}"))?;
        if snapshot["type"] != "snapshot" {
            return Err(format!("the first message has type {}", snapshot["type"]));
        }
        let teams = snapshot["teams"]
            .as_array()
            .ok_or("the snapshot has no teams array")?;
        if !teams.iter().any(|t| t["team_id"] == *self.team_id) {
            return Err(format!(
                "{} is not among the snapshot's {} teams",
                self.team_id,
                teams.len()
            ));
        }
        Ok(format!("snapshot of {} teams", teams.len()))
    }
}

/// The `/static/...` paths a page links to (`src="..."`, `href="..."`), in order, once each.
fn linked_assets(html: &str) -> Vec<String> {
    let mut assets: Vec<String> = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in html.match_indices(attribute) {
            let rest = &html[start + attribute.len()..];
            let link = rest.split('"').next().unwrap_or_default();
            let path = link.split(['?', '#']).next().unwrap_or_default();
            if path.starts_with("/static/") && !assets.iter().any(|a| a == path) {
                assets.push(path.to_string());
            }
        }
    }
    assets
}

fn read_answer(mut response: ureq::http::Response<ureq::Body>) -> Result<Answer, String> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("reading the answer ({status}): {e}"))?;
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_linked_assets_once() {
        let html = r#"<link href="/static/style.css"><script src="/static/app.js?v=1"></script>
            <a href="/team/x/history"></a><link href="/static/style.css">"#;
        assert_eq!(linked_assets(html), ["/static/app.js", "/static/style.css"]);
    }
}
