//! The HTTP side of delivery: one request per message through ureq (HTTPS with
//! rustls and the bundled roots, no redirects, a global timeout), the answer read up
//! to [`MAX_ANSWER_BYTES`] and judged by the platform's rules, and `--test-notify`'s
//! single message.

use std::time::Duration;

use super::notify::{self, Destination, Notice, NotifyKind, Outgoing};

/// Bytes of a destination's answer that are read (and shown in the status).
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024;

pub(super) fn unix_ms() -> i64 {
    crate::timefmt::now().timestamp_millis()
}

/// An agent that returns 4xx/5xx as answers, follows no redirect (a POST must not
/// turn into a GET elsewhere) and gives up after `timeout`. HTTPS through rustls
/// with the bundled Mozilla roots.
pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// Sends one request; the status code (if any answer came) and the judged answer.
pub(super) fn post(
    agent: &ureq::Agent,
    outgoing: &Outgoing,
    kind: NotifyKind,
) -> (Option<u16>, Result<String, String>) {
    let mut request = agent.post(&outgoing.url);
    for (name, value) in &outgoing.headers {
        request = request.header(name, value);
    }
    match request.send(&outgoing.body[..]) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER_BYTES)
                .read_to_string()
                .unwrap_or_default();
            (Some(status), notify::judge(kind, status, &body))
        }
        Err(e) => (None, Err(describe(&e))),
    }
}

fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "no answer in time (timed out)".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Sends one test message to `destination` at once (no queue, no retry) and says
/// what it answered: `Ok` when the platform took it.
pub fn send_test(
    destination: &Destination,
    board_url: &str,
    timeout: Duration,
) -> Result<String, String> {
    let board_url = destination.board_url.as_deref().unwrap_or(board_url);
    let notice = Notice {
        changes: &[],
        left_out: 0,
        board_url,
        test: true,
    };
    let outgoing = notify::build(destination, &notice, unix_ms());
    post(&agent(timeout), &outgoing, destination.kind).1
}
