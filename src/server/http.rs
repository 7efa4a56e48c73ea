//! Routes requests to handlers, and maps every error to a status and a JSON body in
//! one place ([`ApiError::status`]).

use std::io::Read;

use serde_json::{Value, json};
use tiny_http::{Header, Request, Response};

use super::{App, pages, ws};
use crate::api;
use crate::export;
use crate::query::{self, StoreRows, TimeRange};
use crate::report::{Report, ValidationError};
use crate::store::StoreError;
use crate::team::{self, TeamError, TeamId};

/// Largest `limit` of a history page.
pub const MAX_HISTORY_LIMIT: usize = api::MAX_PAGE;
/// Headers a browser may send cross-origin, as the original allowed.
pub const CORS_ALLOW_HEADERS: &str = "Content-Type, X-Team-ID, X-Team-Name, Authorization";
/// Methods a browser may use cross-origin.
pub const CORS_ALLOW_METHODS: &str = "GET, POST, OPTIONS";

/// What a request handler can fail with; each variant has one status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: headers, query, body.
    #[error("{0}")]
    BadRequest(String),
    /// The report breaks the schema.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// A bad `X-Team-ID` or `X-Team-Name`, or a bad team id in the path.
    #[error("{0}")]
    Team(#[from] TeamError),
    /// A path that names nothing.
    #[error("{0}")]
    NotFound(String),
    /// A known path with a method it does not take.
    #[error("method {method} not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: String },
    /// The client took longer than `--request-timeout` to send its body.
    #[error("timed out reading the request body")]
    Timeout,
    /// The body is larger than `--max-body`.
    #[error("request body larger than the limit of {limit} bytes (--max-body)")]
    TooLarge { limit: u64 },
    /// A resource of the server itself failed (threads, pipes).
    #[error("{0}")]
    Internal(String),
    /// Writing the report failed; nothing was acknowledged.
    #[error("{0}")]
    Storage(#[from] StoreError),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid(_) | ApiError::Team(_) => 400,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Timeout => 408,
            ApiError::TooLarge { .. } => 413,
            ApiError::Storage(e) if e.is_disk_full() => 507,
            ApiError::Storage(_) | ApiError::Internal(_) => 500,
        }
    }
}

/// What a route leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    SubmitReport,
    Teams,
    Team,
    History,
    HistorySummary,
    HistorySeries,
    ExportCsv,
    Dashboard,
    HistoryPage,
    WebSocket,
    Asset,
}

/// One route: method, path template (`{name}` matches one segment), endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
}

/// Every route the server answers; `openapi.yaml` must list exactly these.
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/stats/report",
        endpoint: Endpoint::SubmitReport,
    },
    Route {
        method: "GET",
        path: "/api/teams",
        endpoint: Endpoint::Teams,
    },
    Route {
        method: "GET",
        path: "/api/teams/{team_id}",
        endpoint: Endpoint::Team,
    },
    Route {
        method: "GET",
        path: "/api/teams/{team_id}/history",
        endpoint: Endpoint::History,
    },
    Route {
        method: "GET",
        path: "/api/teams/{team_id}/history/summary",
        endpoint: Endpoint::HistorySummary,
    },
    Route {
        method: "GET",
        path: "/api/teams/{team_id}/history/series",
        endpoint: Endpoint::HistorySeries,
    },
    Route {
        method: "GET",
        path: "/api/teams/{team_id}/export.csv",
        endpoint: Endpoint::ExportCsv,
    },
    Route {
        method: "GET",
        path: "/",
        endpoint: Endpoint::Dashboard,
    },
    Route {
        method: "GET",
        path: "/team/{team_id}/history",
        endpoint: Endpoint::HistoryPage,
    },
    Route {
        method: "GET",
        path: "/ws",
        endpoint: Endpoint::WebSocket,
    },
    Route {
        method: "GET",
        path: "/static/{file}",
        endpoint: Endpoint::Asset,
    },
];

/// How a path matched the routes.
enum Matched<'a> {
    Found(&'static Route, Vec<&'a str>),
    WrongMethod(String),
    Nothing,
}

fn match_route<'a>(method: &str, path: &'a str) -> Matched<'a> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut allowed = Vec::new();
    for route in ROUTES {
        let template: Vec<&str> = route.path.split('/').skip(1).collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let fits = template.iter().zip(&segments).all(|(t, s)| {
            if t.starts_with('{') {
                params.push(*s);
                !s.is_empty()
            } else {
                t == s
            }
        });
        if !fits {
            continue;
        }
        if route.method == method {
            return Matched::Found(route, params);
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() {
        Matched::Nothing
    } else {
        if allowed.contains(&"GET") {
            allowed.push("HEAD");
        }
        allowed.push("OPTIONS");
        Matched::WrongMethod(allowed.join(", "))
    }
}

/// An answer ready to send.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// A body produced while it is sent (chunked); `body` is then unused.
    pub stream: Option<Box<dyn Read + Send>>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: serde_json::to_vec(value).expect("JSON values serialize"),
            stream: None,
            headers: Vec::new(),
        }
    }

    /// Any other answer.
    pub fn bytes(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            body,
            stream: None,
            headers: Vec::new(),
        }
    }

    /// An answer whose body is read from `stream` while it is sent.
    pub fn streamed(
        status: u16,
        content_type: &'static str,
        stream: Box<dyn Read + Send>,
    ) -> Reply {
        Reply {
            stream: Some(stream),
            ..Reply::bytes(status, content_type, Vec::new())
        }
    }

    fn error(error: &ApiError) -> Reply {
        let mut reply = Reply::json(error.status(), &json!({"error": error.to_string()}));
        if let ApiError::MethodNotAllowed { allow, .. } = error {
            reply.headers.push(("Allow", allow.clone()));
        }
        reply
    }
}

/// Answers one request.
pub fn handle(app: &App, mut request: Request) {
    let method = request.method().as_str().to_ascii_uppercase();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    if method == "OPTIONS" {
        return send(request, preflight());
    }
    // HEAD is GET without the body (tiny_http leaves the body out), as Flask did.
    let route_method = if method == "HEAD" { "GET" } else { &method };
    let result = match match_route(route_method, path) {
        Matched::Found(route, _) if route.endpoint == Endpoint::WebSocket => {
            return ws::serve(app, request);
        }
        Matched::Found(route, params) => {
            dispatch(app, route.endpoint, &params, query, &mut request)
        }
        Matched::WrongMethod(allow) => Err(ApiError::MethodNotAllowed {
            method: method.clone(),
            allow,
        }),
        Matched::Nothing if path.starts_with("/api/") || path == "/api" => {
            Err(ApiError::NotFound(format!("no such endpoint: {path}")))
        }
        Matched::Nothing => Ok(pages::not_found()),
    };
    let reply = result.unwrap_or_else(|error| {
        match error.status() {
            500.. => log::error!("{method} {path} -> {}: {error}", error.status()),
            _ => log::warn!("{method} {path} -> {}: {error}", error.status()),
        }
        Reply::error(&error)
    });
    send(request, reply);
}

fn dispatch(
    app: &App,
    endpoint: Endpoint,
    params: &[&str],
    query: &str,
    request: &mut Request,
) -> Result<Reply, ApiError> {
    let team_param = || -> Result<TeamId, ApiError> { Ok(TeamId::parse(params[0])?) };
    match endpoint {
        Endpoint::SubmitReport => submit_report(app, request),
        Endpoint::Teams => Ok(Reply::json(200, &Value::Array(app.board.teams_json()))),
        Endpoint::Team => team(app, &team_param()?),
        Endpoint::History => history(app, &team_param()?, query),
        Endpoint::HistorySummary => Ok(history_summary(app, &team_param()?)),
        Endpoint::HistorySeries => history_series(app, &team_param()?, query),
        Endpoint::ExportCsv => export_csv(app, &team_param()?),
        Endpoint::Dashboard => Ok(pages::dashboard(app)),
        Endpoint::HistoryPage => Ok(pages::history_page(app, params[0])),
        Endpoint::Asset => Ok(pages::asset(params[0])),
        Endpoint::WebSocket => unreachable!("WebSocket upgrades are handled before dispatch"),
    }
}

/// A request header's value, if sent.
pub fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn submit_report(app: &App, request: &mut Request) -> Result<Reply, ApiError> {
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
    let team_name = team::decode_team_name(header(request, "X-Team-Name"), &id)?;
    let body = read_body(request, app.config.max_body_bytes)?;
    let report = Report::parse(&body)?;
    let stored = app.ingest(&id, &team_name, &body, report)?;
    log::info!("stored report {} of {}", stored.file_name, id);
    Ok(Reply::json(
        200,
        &json!({"message": "Stats submitted successfully", "team_id": id.as_str()}),
    ))
}

/// Reads the body, refusing one over `limit` bytes without reading it all.
fn read_body(request: &mut Request, limit: u64) -> Result<Vec<u8>, ApiError> {
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
            _ => ApiError::BadRequest(format!("could not read the request body: {e}")),
        })?;
    if body.len() as u64 > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(body)
}

fn team(app: &App, id: &TeamId) -> Result<Reply, ApiError> {
    app.board
        .team_json(id)
        .map(|team| Reply::json(200, &team))
        .ok_or_else(|| ApiError::NotFound("Team not found".into()))
}

/// A query parameter as a number in a range, or its default when absent.
fn query_number(
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

fn history(app: &App, id: &TeamId, query: &str) -> Result<Reply, ApiError> {
    let limit = query_number(query, "limit", 10, 1, MAX_HISTORY_LIMIT)?;
    let offset = query_number(query, "offset", 0, 0, usize::MAX)?;
    let (total, page) = query::page(&app.store, id, &TimeRange::default(), offset, limit);
    // A file that vanished or is corrupt is left out of the page.
    let page: Vec<_> = page.into_iter().filter_map(Result::ok).collect();
    let answer = api::HistoryPage {
        team_id: id.as_str().into(),
        history: page.iter().map(query::history_entry).collect(),
        total,
        limit,
        offset,
        has_more: offset.saturating_add(limit) < total,
    };
    Ok(json_reply(&answer))
}

fn history_summary(app: &App, id: &TeamId) -> Reply {
    json_reply(&query::summary(&app.store, id))
}

/// Largest `points` of a history series.
pub const MAX_SERIES_POINTS: usize = api::MAX_SERIES_POINTS;

/// `GET /api/teams/<id>/history/series?points=500&since=<ms>`: the history (from
/// `since`, ms since the Unix epoch, when given) downsampled from the in-memory
/// index; no report file is read.
fn history_series(app: &App, id: &TeamId, query: &str) -> Result<Reply, ApiError> {
    let points = query_number(query, "points", 500, 1, MAX_SERIES_POINTS)?;
    let since_ms = query_number(query, "since", 0, 0, i64::MAX as usize)? as i64;
    Ok(json_reply(&query::series(&app.store, id, since_ms, points)))
}

/// A 200 answer with one of the API's structs.
fn json_reply(answer: &impl serde::Serialize) -> Reply {
    Reply::json(
        200,
        &serde_json::to_value(answer).expect("API answers serialize"),
    )
}

/// The team's whole history as CSV (the columns of `benchboard-history export`), streamed.
fn export_csv(app: &App, id: &TeamId) -> Result<Reply, ApiError> {
    if app.store.report_count(id) == 0 {
        return Err(ApiError::NotFound("Team not found".into()));
    }
    let rows = StoreRows::new(
        &app.store,
        std::slice::from_ref(id),
        &TimeRange::default(),
        false,
    );
    let reader = export::csv::stream(rows)
        .map_err(|e| ApiError::Internal(format!("cannot start the export: {e}")))?;
    let mut reply = Reply::streamed(200, "text/csv; charset=utf-8", Box::new(reader));
    reply.headers.push((
        "Content-Disposition",
        format!("attachment; filename=\"{id}-history.csv\""),
    ));
    Ok(reply)
}

fn preflight() -> Reply {
    let mut reply = Reply::bytes(204, "text/plain", Vec::new());
    reply
        .headers
        .push(("Access-Control-Allow-Methods", CORS_ALLOW_METHODS.into()));
    reply
        .headers
        .push(("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS.into()));
    reply
        .headers
        .push(("Access-Control-Max-Age", "86400".into()));
    reply
}

/// Sends a reply with its content type and the CORS header every answer carries.
pub(crate) fn send(request: Request, reply: Reply) {
    match reply.stream {
        // No length: tiny_http sends it chunked as the stream yields it.
        Some(stream) => send_response(
            request,
            Response::new(reply.status.into(), Vec::new(), stream, None, None),
            reply.content_type,
            &reply.headers,
        ),
        None => send_response(
            request,
            Response::from_data(reply.body).with_status_code(reply.status),
            reply.content_type,
            &reply.headers,
        ),
    }
}

fn send_response<R: Read>(
    request: Request,
    mut response: Response<R>,
    content_type: &str,
    headers: &[(&'static str, String)],
) {
    let mut add = |name: &str, value: &str| {
        let header = Header::from_bytes(name.as_bytes(), value.as_bytes())
            .expect("header names and values are ASCII");
        response.add_header(header);
    };
    add("Content-Type", content_type);
    add("Access-Control-Allow-Origin", "*");
    for (name, value) in headers {
        add(name, value);
    }
    // A client that went away is not an error of ours.
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates_and_reports_allowed_methods() {
        assert!(
            matches!(match_route("GET", "/api/teams/t1/history"), Matched::Found(r, p) if r.endpoint == Endpoint::History && p == ["t1"])
        );
        assert!(
            matches!(match_route("DELETE", "/api/teams"), Matched::WrongMethod(a) if a == "GET, HEAD, OPTIONS")
        );
        assert!(matches!(
            match_route("GET", "/api/teams//history"),
            Matched::Nothing
        ));
        assert!(matches!(match_route("GET", "/api/nope"), Matched::Nothing));
    }
}
