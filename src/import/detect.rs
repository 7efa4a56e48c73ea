//! `--format auto`: recognising a tool's output by its content.
//!
//! Text formats are recognised by their first line (CSV headers, wrk's `Running …`),
//! k6's NDJSON by its first record, and JSON documents by the keys each tool writes.

use serde_json::Value;

use super::{Format, ImportError, jmeter};

/// Bytes of the input looked at before deciding (a JSON document is read whole).
pub const HEAD_BYTES: usize = 64 * 1024;

/// Recognises the format of a whole input.
pub fn detect(input: &[u8]) -> Result<Format, ImportError> {
    if let Some(format) = detect_head(input, true) {
        return Ok(format);
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        ImportError::Unrecognised(format!(
            "the input is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let value =
        super::run::parse_json(trimmed(text)).map_err(|p| ImportError::Unrecognised(p.0))?;
    detect_document(&value).ok_or_else(|| {
        ImportError::Unrecognised(format!(
            "the JSON {} has none of the fields the formats start with (k6: metrics and root_group, or \
             version and results; Locust: num_requests or stats; oha: summary.successRate; vegeta: \
             latencies and status_codes; Gatling: numberOfRequests)",
            super::json::describe(&value)
        ))
    })
}

fn trimmed(text: &str) -> &str {
    text.trim_start_matches('\u{feff}').trim_start()
}

/// Recognises a format from the start of an input; `None` for a JSON document, which
/// needs all of it (or for an empty or unrecognised `complete` input, which [`detect`]
/// then explains).
pub fn detect_head(head: &[u8], complete: bool) -> Option<Format> {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // The head may end inside a character; judge by what comes before it.
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let text = trimmed(text);
    let first_line = text.lines().next().unwrap_or("");
    if text.starts_with('{') || text.starts_with('[') {
        return detect_json_line(first_line);
    }
    detect_text(text, first_line)
}

/// k6's NDJSON and wrk-json are one JSON object per line; other JSON needs parsing whole.
fn detect_json_line(first_line: &str) -> Option<Format> {
    let value: Value = serde_json::from_str(first_line).ok()?;
    let kind = value.get("type").and_then(Value::as_str);
    if matches!(kind, Some("Metric" | "Point")) && value.get("metric").is_some() {
        return Some(Format::K6Ndjson);
    }
    if value.get("tool").and_then(Value::as_str) == Some("wrk") {
        return Some(Format::WrkJson);
    }
    None
}

fn detect_text(text: &str, first_line: &str) -> Option<Format> {
    let header = first_line.trim_end_matches('\r');
    if header.starts_with("Timestamp,User Count,") {
        return Some(Format::LocustHistory);
    }
    if header.starts_with("Type,Name,Request Count,") {
        return Some(Format::LocustStats);
    }
    if jmeter::looks_like_jtl(header) {
        return Some(Format::Jtl);
    }
    if text.starts_with("var stats = {") {
        return Some(Format::Gatling);
    }
    if text
        .lines()
        .any(|line| line.starts_with("{\"tool\":\"wrk\""))
    {
        return Some(Format::WrkJson);
    }
    if header.starts_with("Running ") && text.contains(" requests in ") {
        return Some(Format::Wrk);
    }
    None
}

/// Recognises a JSON document by the keys its tool writes.
pub fn detect_document(value: &Value) -> Option<Format> {
    let has = |key: &str| value.get(key).is_some();
    if let Some(items) = value.as_array() {
        let first = items.first()?;
        return (first.get("num_requests").is_some() && first.get("response_times").is_some())
            .then_some(Format::LocustJson);
    }
    if has("version") && has("results") && has("metadata") {
        return Some(Format::K6MachineSummary);
    }
    if let (Some(metrics), true) = (
        value.get("metrics").and_then(Value::as_object),
        has("root_group"),
    ) {
        let wrapped = metrics
            .values()
            .any(|m| m.get("values").is_some() && m.get("type").is_some());
        return Some(if wrapped || has("state") {
            Format::K6HandleSummary
        } else {
            Format::K6Summary
        });
    }
    if value
        .get("summary")
        .and_then(|s| s.get("successRate"))
        .is_some()
    {
        return Some(Format::Oha);
    }
    if has("latencies") && has("requests") && has("status_codes") {
        return Some(Format::Vegeta);
    }
    if has("stats") && (has("user_count") || has("current_rps")) {
        return Some(Format::LocustWeb);
    }
    if has("numberOfRequests") && has("meanResponseTime") {
        return Some(Format::Gatling);
    }
    if value.get("tool").and_then(Value::as_str) == Some("wrk") {
        return Some(Format::WrkJson);
    }
    None
}
