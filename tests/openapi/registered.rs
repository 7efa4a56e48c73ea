//! Registered mode's statuses (tokens, the private board, the admin API), provoked
//! against real servers with a contest file.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::common::{self, TestServer, fixture};
use super::{assert_listed, raw_status};
use benchboard::server::routes::ROUTES;

const TEAM1: &str = "team1-secret-token-0123456789";
const ADMIN: &str = "admin-secret-token-0123456789";
const VIEWER: &str = "viewer-secret-token-012345678";
const WRONG: &str = "Authorization: Bearer wrong-token-0123456789\r\n";
/// A report file name no team has.
const NO_FILE: &str = "20200101_000000_000.json";

/// A contest file with `[admin]`, two teams and `[viewers]` (a private board).
fn contest_text() -> String {
    format!(
        "[admin]\ntoken = \"{ADMIN}\"\n\n[viewers]\ntoken = \"{VIEWER}\"\n\n[[team]]\nid = \"team1\"\ntoken = \"{TEAM1}\"\n\n[[team]]\nid = \"team2\"\ntoken = \"team2-secret-token-0123456789\"\n"
    )
}

/// A registered-mode server on `temp`/data (made by `prepare` first), its contest
/// file `temp`/contest.toml.
fn registered(
    temp: &Path,
    prepare: impl FnOnce(&Path),
    adjust: impl FnOnce(&mut benchboard::server::Config),
) -> TestServer {
    std::fs::create_dir_all(temp).unwrap();
    let path = temp.join("contest.toml");
    std::fs::write(&path, contest_text()).unwrap();
    let data = temp.join("data");
    std::fs::create_dir_all(&data).unwrap();
    prepare(&data);
    let contest = benchboard::config::ContestFile::load(&path).unwrap();
    TestServer::start_on(data, |c| {
        c.contest = Some(contest);
        c.max_body_bytes = 4096;
        adjust(c);
    })
}

/// Sends requests to real servers and notes each status seen as provoked.
struct Provoker<'a> {
    spec: &'a Value,
    provoked: &'a mut BTreeSet<(String, String)>,
}

impl Provoker<'_> {
    fn check(
        &mut self,
        server: &TestServer,
        template: &str,
        method: &str,
        request: &str,
        want: u16,
    ) {
        let got = raw_status(server, request);
        let shown = &request[..request.len().min(300)];
        assert_eq!(got, want, "{method} {template}: {shown:?}");
        assert_listed(self.spec, template, method, want);
        self.provoked
            .insert((template.to_string(), want.to_string()));
    }
}

/// A request with `headers` and `body` (its `Content-Length` given).
fn request(method: &str, path: &str, headers: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn as_admin(method: &str, path: &str, body: &str) -> String {
    request(
        method,
        path,
        &format!("Authorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n"),
        body,
    )
}

fn report_request(token: &str) -> String {
    let report = std::fs::read_to_string(fixture("valid/minimal-12-buckets.json")).unwrap();
    request(
        "POST",
        "/api/stats/report",
        &format!("X-Team-ID: team1\r\nAuthorization: Bearer {token}\r\n"),
        &report,
    )
}

fn login_form(token: &str) -> String {
    request(
        "POST",
        "/login",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        &format!("token={token}&next=%2F"),
    )
}

/// Every guarded route: 401 without a token, 403 with a wrong one, 429 (even with
/// the right one) once the address is locked out after a failed authentication.
fn provoke_refusals(p: &mut Provoker, private: &TestServer, locked: &TestServer) {
    use benchboard::server::routes::Guard;
    for route in ROUTES.iter().filter(|r| r.guard != Guard::Public) {
        let path = route
            .path
            .replace("{team_id}", "team1")
            .replace("{file}", NO_FILE)
            .replace("{format}", "auto");
        let method = route.method.to_ascii_lowercase();
        let right = match route.guard {
            Guard::Admin => ADMIN,
            Guard::Team => TEAM1,
            _ => VIEWER,
        };
        let body = if route.method == "POST" { "{}" } else { "" };
        let with = |auth: &str| {
            request(
                route.method,
                &path,
                &format!("X-Team-ID: team1\r\n{auth}"),
                body,
            )
        };
        p.check(private, route.path, &method, &with(""), 401);
        p.check(private, route.path, &method, &with(WRONG), 403);
        // One failure a minute is allowed there: this one (or the lock) refuses.
        assert_ne!(raw_status(locked, &with(WRONG)), 200);
        let bearer = format!("Authorization: Bearer {right}\r\n");
        p.check(locked, route.path, &method, &with(&bearer), 429);
    }
    assert_ne!(raw_status(locked, &login_form("wrong")), 303);
    p.check(locked, "/login", "post", &login_form(VIEWER), 429);
}

/// The private board's login and logout, the admin page.
fn provoke_login(p: &mut Provoker, server: &TestServer) {
    let get = |path: &str| request("GET", path, "", "");
    p.check(server, "/login", "post", &login_form(VIEWER), 303);
    p.check(server, "/login", "post", &login_form("wrong"), 403);
    // A chunked form over --max-body (4096 here) on the wire cannot be read. Its end
    // is not sent: the server reads it as it comes (a body that arrives whole is read
    // ahead, and only its decoded size would count).
    let chunk = format!("3e8\r\ntoken={}\r\n", "x".repeat(994));
    let chunked = format!(
        "POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}",
        chunk.repeat(5)
    );
    p.check(server, "/login", "post", &chunked, 400);
    p.check(server, "/login", "get", &get("/login"), 405);
    p.check(
        server,
        "/logout",
        "post",
        &request("POST", "/logout", "", ""),
        303,
    );
    p.check(server, "/logout", "get", &get("/logout"), 405);
    p.check(server, "/admin", "get", &get("/admin"), 200);
    p.check(
        server,
        "/admin",
        "post",
        &request("POST", "/admin", "", ""),
        405,
    );
}

/// The route template a path (its query left off) falls under.
fn template_of(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .map(|route| route.path)
        .find(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        .unwrap_or_else(|| panic!("no route for {path}"))
}

/// Admin requests on a server with three reports of team1, `A` the oldest: method,
/// path, body (`-` none, `BIG` one over 16 KiB), status. Each is also sent with the
/// other method (405).
const ADMIN_CASES: &str = r#"
GET  /api/admin/teams                          -                 200
GET  /api/admin/teams/team1/reports            -                 200
GET  /api/admin/teams/team1/reports?limit=0    -                 400
POST /api/admin/teams/team1/hide               -                 200
POST /api/admin/teams/a..b/hide                -                 400
POST /api/admin/teams/team1/show               -                 200
POST /api/admin/teams/a..b/show                -                 400
POST /api/admin/teams/team1/rename             {"name":"One"}    200
POST /api/admin/teams/team1/rename             {"name":5}        400
POST /api/admin/teams/team1/rename             BIG               413
POST /api/admin/teams/team2/reset              -                 200
POST /api/admin/teams/a..b/reset               -                 400
POST /api/admin/teams/team1/reports/A/trash    -                 200
POST /api/admin/teams/team1/reports/notes.txt/trash  -           400
POST /api/admin/teams/team1/reports/NONE/trash -                 404
POST /api/admin/trash/team1/A/restore          -                 200
POST /api/admin/trash/team1/notes.txt/restore  -                 400
POST /api/admin/trash/team1/NONE/restore       -                 404
POST /api/admin/reset-all                      {"confirm":"yes"} 400
POST /api/admin/reset-all                      BIG               413
GET  /api/admin/trash                          -                 200
GET  /api/admin/audit                          -                 200
GET  /api/admin/audit?limit=0                  -                 400
POST /api/admin/reload                         -                 200
POST /api/admin/reveal                         {"action":"start"} 409
POST /api/admin/reveal                         {"action":"dance"} 400
POST /api/admin/reveal                         BIG               413
"#;

/// Each admin endpoint's own answers, on a server with three reports of team1.
fn provoke_admin(p: &mut Provoker, server: &TestServer, contest: &Path) {
    let files = common::ordered_report_files(&server.data_dir, "team1");
    let [a, b, c] = [&files[0], &files[1], &files[2]];
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(20_000));
    for line in ADMIN_CASES.lines().filter(|line| !line.is_empty()) {
        let [method, path, body, want] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("a case is method, path, body, status: {line:?}")
        };
        let path = path
            .replace("/A/", &format!("/{a}/"))
            .replace("NONE", NO_FILE);
        let body = match body {
            "-" => "",
            "BIG" => &big,
            body => body,
        };
        let template = template_of(&path);
        let want = want.parse().unwrap();
        p.check(
            server,
            template,
            &method.to_ascii_lowercase(),
            &as_admin(method, &path, body),
            want,
        );
        let other = if method == "GET" { "POST" } else { "GET" };
        p.check(
            server,
            template,
            &other.to_ascii_lowercase(),
            &as_admin(other, &path, ""),
            405,
        );
    }
    provoke_conflicts(p, server, [b, c]);
    let confirmed = r#"{"confirm": "reset all teams"}"#;
    let reset_all = as_admin("POST", "/api/admin/reset-all", confirmed);
    p.check(server, "/api/admin/reset-all", "post", &reset_all, 200);
    // A contest file that lists a team twice is refused; the old one stays.
    let twice = "\n[[team]]\nid = \"team1\"\ntoken = \"another-token-0123456789\"\n";
    std::fs::write(contest, format!("{}{twice}", contest_text())).unwrap();
    let reload = as_admin("POST", "/api/admin/reload", "");
    p.check(server, "/api/admin/reload", "post", &reload, 422);
}

/// A file of that name is already where the report would go: nothing moves (409).
/// The copies are taken away again afterwards.
fn provoke_conflicts(p: &mut Provoker, server: &TestServer, [b, c]: [&String; 2]) {
    let team1 = server.data_dir.join("team1");
    let trash1 = server.data_dir.join(".trash/team1");
    let trash = "/api/admin/teams/{team_id}/reports/{file}/trash";
    let restore = "/api/admin/trash/{team_id}/{file}/restore";
    std::fs::create_dir_all(&trash1).unwrap();
    std::fs::copy(team1.join(b), trash1.join(b)).unwrap();
    let path = format!("/api/admin/teams/team1/reports/{b}/trash");
    p.check(server, trash, "post", &as_admin("POST", &path, ""), 409);
    let path = format!("/api/admin/teams/team1/reports/{c}/trash");
    p.check(server, trash, "post", &as_admin("POST", &path, ""), 200);
    std::fs::copy(trash1.join(c), team1.join(c)).unwrap();
    let path = format!("/api/admin/trash/team1/{c}/restore");
    p.check(server, restore, "post", &as_admin("POST", &path, ""), 409);
    std::fs::remove_file(trash1.join(b)).unwrap();
    std::fs::remove_file(team1.join(c)).unwrap();
}

/// The admin actions when the audit log cannot be written (`.audit.log` is a
/// directory) and the trash cannot be listed (`.trash/teamx` is a file): 500.
fn provoke_admin_failures(p: &mut Provoker, server: &TestServer) {
    assert_eq!(raw_status(server, &report_request(TEAM1)), 200);
    let file = &common::ordered_report_files(&server.data_dir, "team1")[0];
    let cases = [
        ("POST", "/api/admin/teams/team1/hide".to_string(), ""),
        ("POST", "/api/admin/teams/team1/show".into(), ""),
        (
            "POST",
            "/api/admin/teams/team1/rename".into(),
            r#"{"name": "One"}"#,
        ),
        (
            "POST",
            format!("/api/admin/teams/team1/reports/{file}/trash"),
            "",
        ),
        ("POST", format!("/api/admin/trash/team1/{file}/restore"), ""),
        ("POST", "/api/admin/teams/team1/reset".into(), ""),
        (
            "POST",
            "/api/admin/reset-all".into(),
            r#"{"confirm": "reset all teams"}"#,
        ),
        ("GET", "/api/admin/audit".into(), ""),
        ("GET", "/api/admin/trash".into(), ""),
    ];
    for (method, path, body) in &cases {
        let request = as_admin(method, path, body);
        p.check(
            server,
            template_of(path),
            &method.to_ascii_lowercase(),
            &request,
            500,
        );
    }
}

/// Statuses of registered mode, provoked against real servers with a contest file.
pub(super) fn provoke(spec: &Value, provoked: &mut BTreeSet<(String, String)>) {
    let mut p = Provoker { spec, provoked };
    let temp = tempfile::tempdir().unwrap();
    let dir = |name: &str| temp.path().join(name);
    // The lockout off here (the next server has it): many wrong tokens follow.
    let private = registered(
        &dir("main"),
        |_| {},
        |c| c.limits.max_auth_failures = Some(0),
    );
    let locked = registered(
        &dir("locked"),
        |_| {},
        |c| c.limits.max_auth_failures = Some(1),
    );
    let broken = registered(
        &dir("broken"),
        |data| {
            std::fs::create_dir_all(data.join(".audit.log")).unwrap();
            std::fs::create_dir_all(data.join(".trash")).unwrap();
            std::fs::write(data.join(".trash/teamx"), "not a directory").unwrap();
        },
        |c| c.limits.max_auth_failures = Some(0),
    );
    provoke_refusals(&mut p, &private, &locked);
    provoke_login(&mut p, &private);
    for _ in 0..3 {
        let report = report_request(TEAM1);
        p.check(&private, "/api/stats/report", "post", &report, 200);
    }
    provoke_admin(&mut p, &private, &dir("main").join("contest.toml"));
    provoke_admin_failures(&mut p, &broken);
}
