//! The web pages: static files embedded in the binary at build time, and the
//! history page whose title and heading carry the team's name, rendered here and
//! HTML-escaped.

use super::App;
use super::reply::Reply;
use crate::team::TeamId;

/// Embedded static files: (name under `/static/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/style.css"),
    ),
    (
        "warnings.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/warnings.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    (
        "team.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/team.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/admin.js"),
    ),
    (
        "screen.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/screen.css"),
    ),
    (
        "fit.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/fit.js"),
    ),
    (
        "replay.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/replay.js"),
    ),
    (
        "replay.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/replay.css"),
    ),
    (
        "contest.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/contest.js"),
    ),
    (
        "contest.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/contest.css"),
    ),
    (
        "reveal.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/reveal.js"),
    ),
    (
        "reveal.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/reveal.css"),
    ),
    (
        "kiosk.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/kiosk.js"),
    ),
];

/// The board's page (also the archive's standings, `crate::archive::pages`).
pub(crate) const INDEX_HTML: &str = include_str!("../../static/index.html");
/// The history page (also the archive's team pages).
pub(crate) const TEAM_HTML: &str = include_str!("../../static/team.html");
/// The replay page (also the archive's `replay.html`).
pub(crate) const REPLAY_HTML: &str = include_str!("../../static/replay.html");
const ADMIN_HTML: &str = include_str!("../../static/admin.html");
const NOT_FOUND_HTML: &str = "<!doctype html><meta charset=utf-8><title>404</title><h1>404 - 页面不存在 / Not found</h1><p><a href=\"/\">BenchBoard</a></p>";

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: u16, body: String) -> Reply {
    let mut reply = Reply::bytes(status, "text/html; charset=utf-8", body.into_bytes());
    reply.headers.push(("Cache-Control", "no-cache".into()));
    reply
}

/// `GET /`: the dashboard, told the card limit and whether to use the push (so a
/// page on a `--no-websocket` server polls from the start).
pub fn dashboard(app: &App) -> Reply {
    let page = INDEX_HTML
        .replace("{{MAX_TEAMS}}", &app.config.max_teams.to_string())
        .replace(
            "{{WEBSOCKET}}",
            if app.config.websocket { "on" } else { "off" },
        );
    html(200, page)
}

/// `GET /replay`: the page that plays the contest from `/api/replay`, with the
/// board's card limit.
pub fn replay_page(app: &App) -> Reply {
    html(
        200,
        REPLAY_HTML.replace("{{MAX_TEAMS}}", &app.config.max_teams.to_string()),
    )
}

/// `GET /admin`: the organiser's page; it asks for the admin token itself and sends
/// it only as `Authorization: Bearer` to `/api/admin/`.
pub fn admin_page() -> Reply {
    let mut reply = html(200, ADMIN_HTML.to_string());
    // The token typed here must not be readable by a page that frames this one.
    reply.headers.push(("X-Frame-Options", "DENY".into()));
    reply
}

/// A 404 page for paths outside the API.
pub fn not_found() -> Reply {
    html(404, NOT_FOUND_HTML.to_string())
}

/// The bytes of an embedded file of `/static/`.
pub fn static_file(name: &str) -> Option<&'static [u8]> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, bytes)| *bytes)
}

/// `GET /static/<file>`.
pub fn asset(name: &str) -> Reply {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => {
            let mut reply = Reply::bytes(200, content_type, bytes.to_vec());
            reply.headers.push(("Cache-Control", "no-cache".into()));
            reply
        }
        None => not_found(),
    }
}

/// `GET /team/<id>/history`: the team's page, titled `<name> - 历史数据`; 404 for a
/// team that never reported.
pub fn history_page(app: &App, raw_id: &str) -> Reply {
    let Ok(id) = TeamId::parse(raw_id) else {
        return not_found();
    };
    let Some(name) = app.board.team_name(&id) else {
        return not_found();
    };
    let page = TEAM_HTML
        .replace("{{TEAM_NAME}}", &escape_html(&name))
        .replace("{{TEAM_ID}}", &escape_html(id.as_str()));
    html(200, page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<img src=x onerror=\"a('1')\">&"),
            "&lt;img src=x onerror=&quot;a(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }
}
