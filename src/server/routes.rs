//! The route table ([`ROUTES`]: method, path template, [`Endpoint`]) and answering
//! one request: match the route, call its handler (the JSON API in [`api`],
//! the pages, the WebSocket upgrade), and turn an error into its answer in one place
//! ([`ApiError::reply`]).

use std::net::IpAddr;

use tiny_http::Request;

use super::client_addr::client_address;
use super::error::ApiError;
use super::reply::{Reply, header, send};
use super::trust::Refusal;
use super::{
    App, admin_api, api, freeze, health, import, kiosk, login, pages, replay, telemetry, ws,
};
use crate::logging::clean;
use crate::team::TeamId;

/// What a route leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    SubmitReport,
    ImportReport,
    Teams,
    Team,
    History,
    HistorySummary,
    HistorySeries,
    ExportCsv,
    Alerts,
    Contest,
    Dashboard,
    HistoryPage,
    WebSocket,
    Asset,
    /// The private board's login form (`POST`) and its logout.
    Login,
    Logout,
    AdminPage,
    /// Everything under `/api/admin/` (see [`super::admin_api`]).
    Admin(AdminEndpoint),
    /// `GET /healthz`: public even on a private board (probes carry no token).
    Health,
    Metrics,
    /// `GET /qr.svg?url=`: the kiosk's QR code.
    QrCode,
    /// `GET /api/replay`: the timeline of the contest.
    Replay,
    /// `GET /replay`: the page that plays it.
    ReplayPage,
}

impl Endpoint {
    /// The endpoint's name in `/metrics` (`submit_report`, `teams`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::SubmitReport => "submit_report",
            Endpoint::ImportReport => "import_report",
            Endpoint::Teams => "teams",
            Endpoint::Team => "team",
            Endpoint::History => "history",
            Endpoint::HistorySummary => "history_summary",
            Endpoint::HistorySeries => "history_series",
            Endpoint::ExportCsv => "export_csv",
            Endpoint::Alerts => "alerts",
            Endpoint::Contest => "contest",
            Endpoint::Dashboard => "dashboard",
            Endpoint::HistoryPage => "history_page",
            Endpoint::WebSocket => "websocket",
            Endpoint::Asset => "asset",
            Endpoint::Login => "login",
            Endpoint::Logout => "logout",
            Endpoint::AdminPage => "admin_page",
            Endpoint::Admin(_) => "admin",
            Endpoint::Health => "healthz",
            Endpoint::Metrics => "metrics",
            Endpoint::QrCode => "qr_code",
            Endpoint::Replay => "replay",
            Endpoint::ReplayPage => "replay_page",
        }
    }
}

/// The admin API's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminEndpoint {
    Teams,
    Reports,
    Hide,
    Show,
    Rename,
    Reset,
    TrashReport,
    Restore,
    Trash,
    Audit,
    ResetAll,
    Reload,
    Reveal,
}

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone: the login form, the admin page's files, the static assets.
    Public,
    /// Anyone on a public board; with the viewer token on a private one.
    Reader,
    /// A team with its token in registered mode (checked by the handler, which
    /// knows the team).
    Team,
    /// The admin token.
    Admin,
}

/// One route: method, path template (`{name}` matches one segment), endpoint, guard.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub guard: Guard,
}

const fn route(
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    guard: Guard,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        guard,
    }
}

use AdminEndpoint as A;
use Guard::{Admin, Public, Reader};

/// Every route the server answers; `openapi.yaml` must list exactly these.
pub const ROUTES: &[Route] = &[
    route(
        "POST",
        "/api/stats/report",
        Endpoint::SubmitReport,
        Guard::Team,
    ),
    route(
        "POST",
        "/api/import/{format}",
        Endpoint::ImportReport,
        Guard::Team,
    ),
    route("GET", "/api/teams", Endpoint::Teams, Reader),
    route("GET", "/api/teams/{team_id}", Endpoint::Team, Reader),
    route(
        "GET",
        "/api/teams/{team_id}/history",
        Endpoint::History,
        Reader,
    ),
    route(
        "GET",
        "/api/teams/{team_id}/history/summary",
        Endpoint::HistorySummary,
        Reader,
    ),
    route(
        "GET",
        "/api/teams/{team_id}/history/series",
        Endpoint::HistorySeries,
        Reader,
    ),
    route(
        "GET",
        "/api/teams/{team_id}/export.csv",
        Endpoint::ExportCsv,
        Reader,
    ),
    route("GET", "/api/alerts", Endpoint::Alerts, Reader),
    route("GET", "/api/contest", Endpoint::Contest, Reader),
    route("GET", "/api/replay", Endpoint::Replay, Reader),
    route("GET", "/replay", Endpoint::ReplayPage, Reader),
    route("GET", "/", Endpoint::Dashboard, Reader),
    route(
        "GET",
        "/team/{team_id}/history",
        Endpoint::HistoryPage,
        Reader,
    ),
    route("GET", "/ws", Endpoint::WebSocket, Reader),
    route("GET", "/static/{file}", Endpoint::Asset, Public),
    route("GET", "/healthz", Endpoint::Health, Public),
    route("POST", "/login", Endpoint::Login, Public),
    route("POST", "/logout", Endpoint::Logout, Public),
    route("GET", "/admin", Endpoint::AdminPage, Public),
    route("GET", "/api/admin/teams", Endpoint::Admin(A::Teams), Admin),
    route(
        "GET",
        "/api/admin/teams/{team_id}/reports",
        Endpoint::Admin(A::Reports),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/teams/{team_id}/hide",
        Endpoint::Admin(A::Hide),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/teams/{team_id}/show",
        Endpoint::Admin(A::Show),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/teams/{team_id}/rename",
        Endpoint::Admin(A::Rename),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/teams/{team_id}/reset",
        Endpoint::Admin(A::Reset),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/teams/{team_id}/reports/{file}/trash",
        Endpoint::Admin(A::TrashReport),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/trash/{team_id}/{file}/restore",
        Endpoint::Admin(A::Restore),
        Admin,
    ),
    route("GET", "/api/admin/trash", Endpoint::Admin(A::Trash), Admin),
    route("GET", "/api/admin/audit", Endpoint::Admin(A::Audit), Admin),
    route(
        "POST",
        "/api/admin/reset-all",
        Endpoint::Admin(A::ResetAll),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/reload",
        Endpoint::Admin(A::Reload),
        Admin,
    ),
    route(
        "POST",
        "/api/admin/reveal",
        Endpoint::Admin(A::Reveal),
        Admin,
    ),
    route("GET", "/metrics", Endpoint::Metrics, Public),
    route("GET", "/qr.svg", Endpoint::QrCode, Public),
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

/// Answers one request.
pub fn handle(app: &App, mut request: Request) {
    let method = request.method().as_str().to_ascii_uppercase();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    if method == "OPTIONS" {
        return send(request, Reply::preflight());
    }
    // HEAD is GET without the body (tiny_http leaves the body out), as Flask did.
    let route_method = if method == "HEAD" { "GET" } else { &method };
    let mut endpoint = None;
    let result = match match_route(route_method, path) {
        Matched::Found(route, _) if route.endpoint == Endpoint::WebSocket => {
            return ws::serve(app, request);
        }
        Matched::Found(route, params) => {
            endpoint = Some(route.endpoint);
            match guard(app, route, &request) {
                Ok(()) => dispatch(app, route.endpoint, &params, query, &mut request),
                // A browser that opens a page of a private board gets the login form.
                Err(refusal) if is_page(route.endpoint) => Ok(login::page(path, &refusal)),
                Err(refusal) => Err(refusal.into()),
            }
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
        if endpoint == Some(Endpoint::SubmitReport) {
            app.telemetry.report_refused(&error);
        }
        app.telemetry.store_error(&error);
        log_refused(app, &request, &method, path, &error);
        error.reply()
    });
    app.telemetry.request_answered(endpoint, reply.status);
    send(request, reply);
}

/// Logs a refused request: method, path, status, reason, client address and agent,
/// each client-supplied part [`clean`]ed, at most a few lines per client address and
/// minute (the rest are counted in one summary line).
fn log_refused(app: &App, request: &Request, method: &str, path: &str, error: &ApiError) {
    let client = client_address(request, &app.config.trusted_proxies);
    let status = error.status();
    let line = format!(
        "{} {} -> {status}: {} ({})",
        clean(method),
        clean(path),
        clean(&error.to_string()),
        client_description(request, client),
    );
    let level = if status >= 500 {
        log::Level::Error
    } else {
        log::Level::Warn
    };
    app.refusals.log(client, level, &line);
}

/// `client 192.0.2.1, agent "curl/8.5"` for a log line, the agent [`clean`]ed.
pub(super) fn client_description(request: &Request, client: Option<IpAddr>) -> String {
    let who = client.map_or_else(|| "client unknown".to_string(), |ip| format!("client {ip}"));
    match header(request, "User-Agent") {
        Some(agent) => format!("{who}, agent \"{}\"", clean(agent)),
        None => who,
    }
}

/// Checks who may use the route (a team's token is checked by its handler).
fn guard(app: &App, route: &Route, request: &Request) -> Result<(), Refusal> {
    match route.guard {
        Guard::Public | Guard::Team => Ok(()),
        Guard::Reader => app.trust.check_viewer(request),
        Guard::Admin => app.trust.check_admin(request),
    }
}

fn is_page(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::Dashboard | Endpoint::HistoryPage | Endpoint::ReplayPage
    )
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
        Endpoint::SubmitReport => api::submit_report(app, request),
        Endpoint::ImportReport => import::submit_import(app, params[0], query, request),
        // What each reader sees during a freeze: crate::contest::visibility.
        Endpoint::Teams => Ok(api::teams(app, &app.reader(request, None))),
        Endpoint::Team => {
            let id = team_param()?;
            api::team(app, &id, &app.reader(request, Some(&id)))
        }
        Endpoint::History => {
            let id = team_param()?;
            api::history(app, &id, query, app.cutoff_for(request, &id))
        }
        Endpoint::HistorySummary => {
            let id = team_param()?;
            api::history_summary(app, &id, app.cutoff_for(request, &id))
        }
        Endpoint::HistorySeries => {
            let id = team_param()?;
            api::history_series(app, &id, query, app.cutoff_for(request, &id))
        }
        Endpoint::ExportCsv => {
            let id = team_param()?;
            api::export_csv(app, &id, app.cutoff_for(request, &id))
        }
        Endpoint::Alerts => Ok(freeze::alerts(app, &app.reader(request, None))),
        Endpoint::Contest => Ok(super::contest::answer(app)),
        Endpoint::Dashboard => Ok(pages::dashboard(app)),
        Endpoint::HistoryPage => Ok(pages::history_page(app, params[0])),
        Endpoint::Asset => Ok(pages::asset(params[0])),
        Endpoint::Login => login::submit(app, request),
        Endpoint::Logout => Ok(login::logout()),
        Endpoint::AdminPage => Ok(pages::admin_page()),
        Endpoint::Admin(admin) => admin_api::dispatch(app, admin, params, query, request),
        Endpoint::Health => Ok(health::healthz(app)),
        Endpoint::Metrics => Ok(telemetry::metrics(app, header(request, "Accept"))),
        Endpoint::QrCode => kiosk::qr_code(request, query),
        Endpoint::Replay => replay::replay(app, request, query),
        Endpoint::ReplayPage => Ok(pages::replay_page(app)),
        Endpoint::WebSocket => unreachable!("WebSocket upgrades are handled before dispatch"),
    }
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
