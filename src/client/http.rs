//! HTTP plumbing shared by every client in the crate: the sender, the demo's check and
//! `benchboard-history --server`.

use std::time::Duration;

use serde_json::Value;

use super::ClientError;

/// Checks a server URL (`http://` or `https://`) and returns it without a trailing
/// slash; `host:port` alone gets `http://`.
pub fn normalize_server(url: &str) -> Result<String, ClientError> {
    let trimmed = url.trim();
    let (scheme, rest) = match trimmed.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
        Some(_) => return Err(ClientError::BadServer(url.to_string())),
        None => ("http", trimmed),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(ClientError::BadServer(url.to_string()));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// An HTTP agent that returns 4xx/5xx as responses and gives up after `timeout`;
/// https:// servers are checked against the roots of [`super::tls`].
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .tls_config(super::tls::ureq_tls_config())
        .build()
        .into()
}

/// A server's answer, read in full.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, empty when absent or not text.
    pub content_type: String,
    /// The body as received.
    pub body: Vec<u8>,
}

/// Reads the status, content type and body of `response`; a body longer than
/// `max_body_bytes` is an error rather than memory a hostile server could fill.
pub fn read_answer(
    response: &mut ureq::http::Response<ureq::Body>,
    max_body_bytes: u64,
) -> Result<Answer, ureq::Error> {
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
        .limit(max_body_bytes)
        .read_to_vec()?;
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// A short reason for a transport failure ("connection refused", "timed out", ...).
pub fn describe_transport_error(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "no answer in time (timed out)".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        other => other.to_string(),
    }
}

/// The server's message: `error` of a JSON body, else the body's first line.
pub fn error_message(body: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body)
        && let Some(Value::String(message)) = map.get("error")
    {
        return message.clone();
    }
    let line = body.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "(empty answer)".to_string()
    } else {
        line.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_server_urls() {
        assert_eq!(
            normalize_server("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            normalize_server("127.0.0.1:9").unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            normalize_server("https://example.org/").unwrap(),
            "https://example.org"
        );
        assert!(normalize_server("ftp://example.org").is_err());
        assert!(normalize_server("http://").is_err());
    }

    #[test]
    fn reads_server_error_message() {
        assert_eq!(
            error_message(r#"{"error": "totalSent: missing"}"#),
            "totalSent: missing"
        );
        assert_eq!(error_message("<html>oops\nmore"), "<html>oops");
    }
}
