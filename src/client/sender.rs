//! [`ReportSender`]: one POST of a report to `/api/stats/report`, and what can go wrong.

use std::time::Duration;

use super::ClientError;
use super::http::{
    describe_transport_error, error_message, http_agent, normalize_server, read_answer,
};
use crate::team;

/// Longest error answer read from a server: its message is all we show.
const MAX_ERROR_ANSWER_BYTES: u64 = 64 * 1024;

/// Why one attempt to send a report failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// The server answered 4xx: the report itself is wrong; sending it again won't help.
    #[error("refused ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The server answered 5xx (or 408/429): it may accept the report later.
    #[error("server error ({status}): {message}")]
    Server { status: u16, message: String },
    /// No answer: the server is down, unreachable or too slow.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

impl SendError {
    /// True when sending the same report again may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SendError::Refused { .. })
    }
}

/// The tokens a sender presents (registered mode): one for every team, or one per
/// team id. Sent as `Authorization: Bearer`, never printed.
#[derive(Clone, Default)]
pub enum Tokens {
    /// Open mode: no token.
    #[default]
    None,
    /// The same token for every report (`--token`).
    One(String),
    /// A token per team id (`--tokens FILE`).
    PerTeam(std::collections::HashMap<String, String>),
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tokens::None => "Tokens::None",
            Tokens::One(_) => "Tokens::One(…)",
            Tokens::PerTeam(_) => "Tokens::PerTeam(…)",
        })
    }
}

impl Tokens {
    fn of(&self, team_id: &str) -> Option<&str> {
        match self {
            Tokens::None => None,
            Tokens::One(token) => Some(token),
            Tokens::PerTeam(tokens) => tokens.get(team_id).map(String::as_str),
        }
    }

    /// Reads a tokens file: one `TEAM_ID TOKEN` per line (`#` starts a comment), as
    /// `benchboard-demo --secure` writes it.
    pub fn parse_file(text: &str) -> Result<Tokens, String> {
        let mut tokens = std::collections::HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(id), Some(token), None) => {
                    tokens.insert(id.to_string(), token.to_string());
                }
                _ => {
                    return Err(format!("line {}: expected TEAM_ID TOKEN", number + 1));
                }
            }
        }
        Ok(Tokens::PerTeam(tokens))
    }
}

/// POSTs reports to one server.
pub struct ReportSender {
    agent: ureq::Agent,
    base: String,
    tokens: Tokens,
}

impl ReportSender {
    /// A sender to `server` (`http://host:port`); each request gives up after `timeout`.
    pub fn new(server: &str, timeout: Duration) -> Result<ReportSender, ClientError> {
        let base = normalize_server(server)?;
        Ok(ReportSender {
            agent: http_agent(timeout),
            base,
            tokens: Tokens::None,
        })
    }

    /// The same sender presenting `tokens` (registered mode).
    pub fn with_tokens(self, tokens: Tokens) -> ReportSender {
        ReportSender { tokens, ..self }
    }

    /// The server's base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one report body for a team; `Ok` once the server has stored it.
    pub fn send(
        &self,
        team_id: &str,
        team_name: Option<&str>,
        body: &[u8],
    ) -> Result<(), SendError> {
        let url = format!("{}/api/stats/report", self.base);
        let mut request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Team-ID", team_id);
        if let Some(name) = team_name {
            request = request.header("X-Team-Name", team::encode_team_name(name));
        }
        if let Some(token) = self.tokens.of(team_id) {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.send(body).map_err(|e| SendError::Unreachable {
            url: url.clone(),
            reason: describe_transport_error(&e),
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        // An unreadable or oversized answer leaves the status to speak for itself.
        let text = read_answer(&mut response, MAX_ERROR_ANSWER_BYTES)
            .map(|answer| String::from_utf8_lossy(&answer.body).into_owned())
            .unwrap_or_default();
        let message = error_message(&text);
        match status {
            408 | 429 | 500.. => Err(SendError::Server { status, message }),
            _ => Err(SendError::Refused { status, message }),
        }
    }
}
