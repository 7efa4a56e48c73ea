//! The JSON API's handlers: a report in, the board and the history out. Each returns
//! a [`Reply`] or an [`ApiError`] that [`routes`](super::routes) turns into its answer.

use std::io::Read;

use serde_json::{Value, json};
use tiny_http::Request;

use super::error::ApiError;
use super::reply::{Reply, header};
use super::stream::HistoryStream;
use super::{App, freeze};
use crate::api;
use crate::contest::visibility::Reader;
use crate::export;
use crate::query::{self, StoreRows, TimeRange};
use crate::report::Report;
use crate::team::{self, TeamError, TeamId};

/// Largest `limit` of a history page.
pub const MAX_HISTORY_LIMIT: usize = api::MAX_PAGE;

pub(super) fn submit_report(app: &App, request: &mut Request) -> Result<Reply, ApiError> {
    let (id, team_name) = team_of(app, request)?;
    let body = read_body(request, app.config.max_body_bytes)?;
    let started = std::time::Instant::now();
    let report = Report::parse(&body)?;
    let stored = app.ingest(&id, &team_name, &body, report)?;
    app.telemetry.report_accepted(body.len(), started.elapsed());
    log::info!("stored report {} of {}", stored.file_name, id);
    let mut answer = json!({"message": "Stats submitted successfully", "team_id": id.as_str()});
    with_warnings(&mut answer, &stored);
    with_after_end(app, &mut answer, &stored);
    Ok(Reply::json(200, &answer))
}

/// Adds the report's plausibility warnings to an answer, only when there are some: the
/// answer to a plausible report stays byte for byte the original's.
pub(super) fn with_warnings(answer: &mut Value, stored: &crate::store::StoredReport) {
    if !stored.warnings.is_empty() {
        answer["warnings"] = serde_json::to_value(&stored.warnings).expect("warnings serialize");
    }
}

/// Marks the answer to a report that arrived after the end of the contest (stored,
/// not ranked): `"after_end": true`; left out otherwise.
pub(super) fn with_after_end(app: &App, answer: &mut Value, stored: &crate::store::StoredReport) {
    if let Some(schedule) = app.trust.state().schedule
        && schedule.after_end(stored.at)
    {
        answer["after_end"] = Value::Bool(true);
    }
}

/// The team a report is for: `X-Team-ID` and, in registered mode once its token is
/// checked, the contest file's name; in open mode the decoded `X-Team-Name`.
pub(super) fn team_of(app: &App, request: &Request) -> Result<(TeamId, String), ApiError> {
    // The patched tiny_http leaves out header values with raw non-ASCII bytes and lists them.
    if let Some(field) = request.non_ascii_headers().first() {
        return Err(ApiError::BadRequest(format!(
            "{field}: header values must be ASCII; percent-encode the name as UTF-8 (for example urllib.parse.quote(name))"
        )));
    }
    let id = TeamId::parse(
        header(request, "X-Team-ID")
            .ok_or(TeamError::MissingId)?
            .trim(),
    )?;
    // Registered mode: the token is checked before the body is read, and the name
    // comes from the contest file (a sent X-Team-Name is ignored).
    let team_name = match app.trust.check_report(request, &id)? {
        Some(registered) => registered.name,
        None => team::decode_team_name(header(request, "X-Team-Name"), &id)?,
    };
    Ok((id, team_name))
}

/// Reads the body, refusing one over `limit` bytes without reading it all.
pub(super) fn read_body(request: &mut Request, limit: u64) -> Result<Vec<u8>, ApiError> {
    let declared = request.body_length().map(|n| n as u64);
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(4096).min(limit) as usize);
    request
        .as_reader()
        .take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ApiError::Timeout,
            // a chunked body over the limit as sent, framing included
            _ if e
                .get_ref()
                .is_some_and(|inner| inner.is::<tiny_http::BodyTooLarge>()) =>
            {
                ApiError::TooLarge { limit }
            }
            _ => ApiError::BadRequest(format!("could not read the request body: {e}")),
        })?;
    if body.len() as u64 > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(body)
}

pub(super) fn team(app: &App, id: &TeamId, reader: &Reader) -> Result<Reply, ApiError> {
    app.board
        .team_json_for(id, reader)
        .map(|team| Reply::encoded(200, team))
        .ok_or_else(|| ApiError::NotFound("Team not found".into()))
}

/// A query parameter as a number in a range, or its default when absent.
pub(super) fn query_number(
    query: &str,
    name: &str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some((_, value)) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name) else {
        return Ok(default);
    };
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name} must be an integer from {min} to {max}, got {value:?}"
            ))
        })
}

/// `cutoff`: the reader sees only the reports that arrived before it (a freeze).
pub(super) fn history(
    app: &App,
    id: &TeamId,
    query: &str,
    cutoff: Option<Cutoff>,
) -> Result<Reply, ApiError> {
    let limit = query_number(query, "limit", 10, 1, MAX_HISTORY_LIMIT)?;
    let offset = query_number(query, "offset", 0, 0, usize::MAX)?;
    let range = range_before(cutoff);
    let schedule = app.trust.state().schedule;
    if let Some(files) = app.store.files() {
        let (total, names) = query::page_names(files, id, &range, offset, limit);
        // Streamed: read file by file as it is sent (a vanished or corrupt one is left out).
        let stream = HistoryStream::new(
            files.reader(),
            schedule,
            id.clone(),
            names,
            (total, limit, offset),
        );
        return Ok(Reply::streamed(
            200,
            "application/json; charset=utf-8",
            Box::new(stream),
        ));
    }
    let (total, page) = app.store.page(id, &range, offset, limit)?;
    // A file that vanished or is corrupt is left out of the page.
    let page: Vec<_> = page.into_iter().filter_map(Result::ok).collect();
    let answer = api::HistoryPage {
        team_id: id.as_str().into(),
        history: page
            .iter()
            .map(|stored| query::history_entry(stored, schedule.as_ref()))
            .collect(),
        total,
        limit,
        offset,
        has_more: offset.saturating_add(limit) < total,
    };
    Ok(json_reply(&answer))
}

pub(super) fn history_summary(
    app: &App,
    id: &TeamId,
    cutoff: Option<Cutoff>,
) -> Result<Reply, ApiError> {
    match cutoff {
        Some(cutoff) => Ok(json_reply(&freeze::summary_before(app, id, cutoff)?)),
        None => Ok(json_reply(&app.store.summary(id)?)),
    }
}

/// A time before which a reader sees the reports (see [`crate::contest::visibility`]).
type Cutoff = chrono::DateTime<chrono::FixedOffset>;

/// The whole history, or what arrived before `cutoff`.
fn range_before(cutoff: Option<Cutoff>) -> TimeRange {
    TimeRange {
        since: None,
        until: cutoff.map(crate::contest::visibility::before),
    }
}

/// Largest `points` of a history series.
pub const MAX_SERIES_POINTS: usize = api::MAX_SERIES_POINTS;

/// `GET /api/teams/<id>/history/series?points=500&since=<ms>`: the history (from
/// `since`, ms since the Unix epoch, when given) downsampled from the in-memory
/// index; no report file is read.
pub(super) fn history_series(
    app: &App,
    id: &TeamId,
    query: &str,
    cutoff: Option<Cutoff>,
) -> Result<Reply, ApiError> {
    let points = query_number(query, "points", 500, 1, MAX_SERIES_POINTS)?;
    let since_ms = query_number(query, "since", 0, 0, i64::MAX as usize)? as i64;
    match cutoff {
        Some(cutoff) => Ok(json_reply(&freeze::series_before(
            app, id, since_ms, points, cutoff,
        )?)),
        None => Ok(json_reply(&app.store.series(id, since_ms, points)?)),
    }
}

/// A 200 answer with one of the API's structs.
fn json_reply(answer: &impl serde::Serialize) -> Reply {
    Reply::json(
        200,
        &serde_json::to_value(answer).expect("API answers serialize"),
    )
}

/// The team's whole history as CSV (the columns of `benchboard-history export`), streamed.
pub(super) fn export_csv(
    app: &App,
    id: &TeamId,
    cutoff: Option<Cutoff>,
) -> Result<Reply, ApiError> {
    let range = range_before(cutoff);
    let count = match cutoff {
        None => app.store.report_count(id)?,
        Some(_) => app.store.page(id, &range, 0, 0)?.0,
    };
    if count == 0 {
        return Err(ApiError::NotFound("Team not found".into()));
    }
    let reader: Box<dyn std::io::Read + Send> = if let Some(files) = app.store.files() {
        // One file read per row asked for, on the thread that sends the answer: a slow
        // download holds no thread and nothing read ahead (hundreds may run at once).
        let rows = StoreRows::one_by_one(files, std::slice::from_ref(id), &range, false);
        let reader = export::csv::CsvReader::new(rows);
        Box::new(reader)
    } else {
        // The database's rows are fetched by a thread of its own, so no query waits
        // on the thread that sends answers.
        let (rows, _) = app.store.rows(std::slice::from_ref(id), &range, false)?;
        let reader = export::csv::stream(rows).map_err(|source| ApiError::ExportStart {
            team: id.to_string(),
            source,
        })?;
        Box::new(reader)
    };
    let mut reply = Reply::streamed(200, "text/csv; charset=utf-8", reader);
    reply.headers.push((
        "Content-Disposition",
        format!("attachment; filename=\"{id}-history.csv\""),
    ));
    Ok(reply)
}

/// `GET /api/teams`: every team on the board.
pub(super) fn teams(app: &App, reader: &Reader) -> Reply {
    Reply::encoded(200, app.board.teams_json_for(reader))
}
