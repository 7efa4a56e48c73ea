//! `/api/admin/`: the organiser's endpoints (admin token only, checked by the
//! route's guard). Each action goes through [`crate::admin::Admin::perform`], which
//! changes store and board together, audits it and pushes it to viewers.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tiny_http::Request;

use super::App;
use super::api::{query_number, read_body};
use super::error::ApiError;
use super::reply::Reply;
use super::routes::AdminEndpoint;
use crate::admin::{Action, MAX_AUDIT_ENTRIES, RESET_ALL_CONFIRMATION};
use crate::metrics::Metrics;
use crate::query::TimeRange;
use crate::store::{Headline, StoreError};
use crate::team::TeamId;

/// Largest JSON body of an admin request (a name, a confirmation).
const MAX_ADMIN_BODY: u64 = 16 * 1024;
/// Largest page of a team's reports.
const MAX_REPORTS_PAGE: usize = 1000;

/// Answers one admin endpoint.
pub(super) fn dispatch(
    app: &App,
    endpoint: AdminEndpoint,
    params: &[&str],
    query: &str,
    request: &mut Request,
) -> Result<Reply, ApiError> {
    let team = || -> Result<TeamId, ApiError> { Ok(TeamId::parse(params[0])?) };
    let action = match endpoint {
        AdminEndpoint::Teams => return Ok(teams(app)),
        AdminEndpoint::Reports => return reports(app, &team()?, query),
        AdminEndpoint::Trash => {
            let list = app.admin.trash_list(&*app.store)?;
            return Ok(Reply::json(200, &json!({ "reports": list })));
        }
        AdminEndpoint::Audit => {
            let limit = query_number(query, "limit", 100, 1, MAX_AUDIT_ENTRIES)?;
            let entries = app.admin.audit_entries(&*app.store, limit)?;
            return Ok(Reply::json(200, &json!({ "entries": entries })));
        }
        AdminEndpoint::Reload => return reload(app, request),
        AdminEndpoint::Reveal => return super::freeze::reveal(app, &json_body(request)?),
        AdminEndpoint::Hide => Action::Hide(team()?),
        AdminEndpoint::Show => Action::Show(team()?),
        AdminEndpoint::Rename => Action::Rename(team()?, new_name(request)?),
        AdminEndpoint::Reset => Action::ResetTeam(team()?),
        AdminEndpoint::TrashReport => Action::Trash(team()?, params[1].to_string()),
        AdminEndpoint::Restore => Action::Restore(team()?, params[1].to_string()),
        AdminEndpoint::ResetAll => {
            confirmed(request)?;
            Action::ResetAll
        }
    };
    let from = address(app, request);
    let detail = app.admin.perform(&*app.store, &app.board, action, &from)?;
    // Hidden, shown, trashed or restored reports change the standings.
    if let Err(e) = super::contest::set_rules(app) {
        log::error!("the standings were not rebuilt after an admin action: {e}");
    }
    Ok(Reply::json(
        200,
        &json!({"message": "done", "detail": detail}),
    ))
}

/// Every team the board knows (hidden ones too), and the contest file's teams that
/// have not reported yet.
fn teams(app: &App) -> Reply {
    let mut teams = app.board.admin_teams_json();
    let known: BTreeSet<String> = teams
        .iter()
        .filter_map(|t| t["team_id"].as_str().map(str::to_string))
        .collect();
    let state = app.trust.state();
    let presentation = app.board.presentation();
    for registered in state.access.teams.values() {
        if !known.contains(registered.id.as_str()) {
            teams.push(json!({
                "team_id": registered.id.as_str(),
                "team_name": presentation.name_of(&registered.id).unwrap_or_else(|| registered.name.clone()),
                "report_count": 0,
                "hidden": presentation.is_hidden(&registered.id),
                "registered": true,
            }));
        }
    }
    for team in &mut teams {
        if let Some(id) = team["team_id"]
            .as_str()
            .and_then(|id| TeamId::parse(id).ok())
        {
            team["registered"] = json!(state.access.teams.contains_key(&id));
        }
    }
    let mode = if state.access.is_open() {
        "open"
    } else {
        "registered"
    };
    Reply::json(200, &json!({"mode": mode, "teams": teams}))
}

/// One page of a team's reports, newest first: from the file store's index (no file
/// is read), or from the database.
fn reports(app: &App, id: &TeamId, query: &str) -> Result<Reply, ApiError> {
    let limit = query_number(query, "limit", 20, 1, MAX_REPORTS_PAGE)?;
    let offset = query_number(query, "offset", 0, 0, usize::MAX)?;
    let listed = |file_name: &str, timestamp: &str, headline: &Headline| {
        json!({
            "file_name": file_name,
            "timestamp": timestamp,
            "qps": headline.qps,
            "avg_latency": headline.avg_latency,
            "p99_latency": headline.p99_latency,
            "data_loss_rate": headline.data_loss_rate,
        })
    };
    let (total, page) = match app.store.files() {
        Some(files) => files.with_entries(id, |entries| {
            let page: Vec<Value> = entries
                .iter()
                .rev()
                .skip(offset)
                .take(limit)
                .map(|e| listed(&e.file_name, &e.timestamp, &e.headline))
                .collect();
            (entries.len(), page)
        }),
        None => {
            let (total, page) = app.store.page(id, &TimeRange::default(), offset, limit)?;
            let page = page
                .into_iter()
                .map(|stored| {
                    let stored = stored?;
                    let headline = Headline::from(&Metrics::of_stored(&stored.stats).0);
                    Ok(listed(&stored.file_name, &stored.timestamp, &headline))
                })
                .collect::<Result<Vec<Value>, StoreError>>()?;
            (total, page)
        }
    };
    Ok(Reply::json(
        200,
        &json!({"team_id": id.as_str(), "total": total, "limit": limit, "offset": offset, "reports": page}),
    ))
}

fn reload(app: &App, request: &Request) -> Result<Reply, ApiError> {
    let reloaded = app.reload(&address(app, request))?;
    Ok(Reply::json(
        200,
        &json!({
            "message": "contest file reloaded",
            "warnings": reloaded.warnings,
            "restart_needed": reloaded.restart_needed,
        }),
    ))
}

/// The JSON body of an admin request (an empty body is `{}`).
fn json_body(request: &mut Request) -> Result<Value, ApiError> {
    let body = read_body(request, MAX_ADMIN_BODY)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body must be a JSON object: {e}")))
}

/// `{"name": "…"}` of a rename; `null` or `""` goes back to the name of the contest
/// file or of the reports.
fn new_name(request: &mut Request) -> Result<Option<String>, ApiError> {
    match &json_body(request)?["name"] {
        Value::Null => Ok(None),
        Value::String(name) => Ok(Some(name.clone())),
        _ => Err(ApiError::BadRequest(
            "name must be a string (or null to go back to the reported name)".into(),
        )),
    }
}

/// A reset of every team needs `{"confirm": "reset all teams"}`.
fn confirmed(request: &mut Request) -> Result<(), ApiError> {
    if json_body(request)?["confirm"] == RESET_ALL_CONFIRMATION {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!(
        "resetting every team needs the body {{\"confirm\": \"{RESET_ALL_CONFIRMATION}\"}}"
    )))
}

fn address(app: &App, request: &Request) -> String {
    app.trust
        .client(request)
        .map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
}
