//! The check's side of the conversation: a [`Checker`] that talks to one server and
//! keeps what later checks need, and the [`Answer`]s it reads.

use std::time::Duration;

use serde_json::Value;

use crate::client::http::{self, http_agent};
use crate::team;

/// Reports the check sends.
pub(super) const REPORTS: u64 = 3;
/// Longest wait for any answer.
pub(super) const TIMEOUT: Duration = Duration::from_secs(5);
/// A name with markup in it: pages must show it escaped, the API decoded.
pub(super) const TEAM_NAME: &str = "自检小组 <check> & co";

/// An answer: status and body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) body: String,
}

impl Answer {
    pub(super) fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("answer ({}) is not JSON: {e}", self.status))
    }

    pub(super) fn expect_status(&self, status: u16) -> Result<(), String> {
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

/// Runs checks against one server and keeps what later checks need.
pub(super) struct Checker {
    pub(super) agent: ureq::Agent,
    pub(super) base: String,
    pub(super) team_id: String,
    /// The team's token when the server is in registered mode.
    pub(super) token: Option<String>,
    /// The reports stored, oldest first.
    pub(super) sent: Vec<Value>,
}

impl Checker {
    pub(super) fn new(base: &str) -> Checker {
        // A fresh team each run, so history counts are ours alone on a shared server.
        let team_id = format!("check-{}-{:04x}", std::process::id(), fastrand::u16(..));
        Checker {
            agent: http_agent(TIMEOUT),
            base: base.to_string(),
            team_id,
            token: None,
            sent: Vec::new(),
        }
    }

    pub(super) fn get(&self, path: &str) -> Result<Answer, String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| format!("GET {url}: {e}"))?;
        read_answer(response)
    }

    pub(super) fn post(&self, headers: &[(&str, String)], body: &[u8]) -> Result<Answer, String> {
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

    pub(super) fn team_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("X-Team-ID", self.team_id.clone()),
            ("X-Team-Name", team::encode_team_name(TEAM_NAME)),
        ];
        if let Some(token) = &self.token {
            headers.push(("Authorization", format!("Bearer {token}")));
        }
        headers
    }

    pub(super) fn last_sent(&self) -> Result<&Value, String> {
        self.sent
            .last()
            .ok_or_else(|| "no report was stored, nothing to read back".to_string())
    }
}

/// The `/static/...` paths a page links to (`src="..."`, `href="..."`), in order, once each.
pub(super) fn linked_assets(html: &str) -> Vec<String> {
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

/// Longest answer the check reads (the dashboard and its assets are far smaller).
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

fn read_answer(mut response: ureq::http::Response<ureq::Body>) -> Result<Answer, String> {
    let status = response.status().as_u16();
    let answer = http::read_answer(&mut response, MAX_ANSWER_BYTES)
        .map_err(|e| format!("reading the answer ({status}): {e}"))?;
    let body = String::from_utf8(answer.body)
        .map_err(|e| format!("reading the answer ({status}): {e}"))?;
    Ok(Answer {
        status,
        content_type: answer.content_type,
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
