//! `POST /api/import/<format>`: a load tool's output in, converted by
//! [`crate::import`] and stored like a report (same team headers), with the file's
//! top-level `source` saying what it came from.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tiny_http::Request;

use super::App;
use super::api::{read_body, team_of};
use super::error::ApiError;
use super::reply::Reply;
use crate::import::{self, Choice, ImportError, KindMap, Options};
use crate::report::Report;

/// Converts the body (a tool's output in `format`, or `auto`) and stores the report.
/// `?map=NAME=KIND` (repeatable) routes request names to operation kinds, as the
/// client's `--map` does.
pub(super) fn submit_import(
    app: &App,
    format: &str,
    query: &str,
    request: &mut Request,
) -> Result<Reply, ApiError> {
    let choice: Choice = format
        .parse()
        .map_err(|e: ImportError| ApiError::NotFound(format!("no such import format: {e}")))?;
    let options = options_of(query)?;
    let (id, team_name) = team_of(app, request)?;
    let body = read_body(request, app.config.max_import_body_bytes).map_err(|e| match e {
        ApiError::TooLarge { limit } => ApiError::ImportTooLarge { limit },
        other => other,
    })?;
    let converted = import::convert(choice, &body, &options)?;
    let report_body = serde_json::to_vec(&converted.report).expect("JSON values serialize");
    // Every conversion passes validation (tests check each format); should one slip, the
    // client hears why (400) and nothing is stored.
    let report = Report::parse(&report_body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the {} output converted into an invalid report ({e}); please report this as a BenchBoard bug",
            converted.format
        ))
    })?;
    let source = source_of(&converted, &body);
    let stored = app.ingest_imported(&id, &team_name, &report_body, report, &source)?;
    log::info!(
        "stored report {} of {} imported from {}",
        stored.file_name,
        id,
        converted.format
    );
    let mut answer = json!({
        "message": "Stats submitted successfully",
        "team_id": id.as_str(),
        "format": converted.format.name(),
        "approximate": converted.approximate,
    });
    // The same plausibility checks as a POSTed report.
    super::api::with_warnings(&mut answer, &stored);
    super::api::with_after_end(app, &mut answer, &stored);
    Ok(Reply::json(200, &answer))
}

/// `{"format", "tool_version" (when the output says it), "sha256"}` of what was sent.
fn source_of(converted: &import::Converted, body: &[u8]) -> Value {
    let mut source = Map::new();
    source.insert("format".into(), json!(converted.format.name()));
    if let Some(version) = &converted.tool_version {
        source.insert("tool_version".into(), json!(version));
    }
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    source.insert("sha256".into(), json!(hex));
    Value::Object(source)
}

fn options_of(query: &str) -> Result<Options, ApiError> {
    let entries: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == "map")
        .map(|(_, value)| value.into_owned())
        .collect();
    Ok(Options {
        map: KindMap::parse(&entries)
            .map_err(|e| ApiError::BadRequest(e.to_string().replacen("--map", "map", 1)))?,
    })
}
