//! `benchboard-demo --check`: the original's `quick_test.py`, made thorough.
//!
//! Sends a few simulated reports (and two bad ones) for a fresh team to a server,
//! reads them back through every endpoint (API, pages, WebSocket) and prints one
//! `PASS`/`FAIL` line per check. Against `--server URL`, or a fresh in-process server.
//! [`checker`] talks to the server; the checks are in [`api`] and [`pages`].

mod api;
mod checker;
mod pages;

use std::io::Write;

use crate::client::normalize_server;
use crate::server::{Config, Server};
use checker::Checker;

use super::DemoError;

/// Checks run by [`run_check`].
pub const CHECKS: usize = 14;

/// One check: on success a short detail for its PASS line, else why it failed.
type Check = fn(&mut Checker) -> Result<String, String>;

/// Every check with its name, in the order they run: later ones read back what the
/// first stored.
const CHECK_LIST: [(&str, Check); CHECKS] = [
    (
        "POST /api/stats/report: simulated reports are stored",
        Checker::post_reports,
    ),
    (
        "POST /api/stats/report: a bad bucket is refused with 400 naming it",
        Checker::post_invalid,
    ),
    (
        "POST /api/stats/report: a missing X-Team-ID is refused with 400",
        Checker::post_without_id,
    ),
    (
        "GET /api/teams: lists the team with its decoded name",
        Checker::teams,
    ),
    (
        "GET /api/teams/<id>: the latest stats and metrics",
        Checker::team,
    ),
    (
        "GET /api/teams/<id>/history: newest first, nothing extra stored",
        Checker::history,
    ),
    (
        "GET /api/teams/<id>/history/summary: counts the reports",
        Checker::summary,
    ),
    (
        "GET /api/teams/<id>/history/series: the chart's points",
        Checker::series,
    ),
    (
        "GET /api/teams/<id>/export.csv: one row per report",
        Checker::export_csv,
    ),
    (
        "GET /api/teams/<unknown>: 404 with a JSON error",
        Checker::unknown_team,
    ),
    ("GET /: the dashboard", Checker::dashboard),
    (
        "GET /static/...: every asset the dashboard links to",
        Checker::assets,
    ),
    (
        "GET /team/<id>/history: the page, titled with the escaped name",
        Checker::history_page,
    ),
    ("GET /ws: a snapshot with the team", Checker::websocket),
];

/// How the checks went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOutcome {
    pub passed: usize,
    pub failed: usize,
}

impl CheckOutcome {
    /// True when no check failed (and at least one ran).
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// The check run in registered mode (`--secure`) after the others.
const SECURE_CHECK: (&str, Check) = (
    "POST /api/stats/report: without a token 401, with a wrong one 403, nothing stored",
    Checker::post_without_token,
);

/// Runs every check against `server` (or a fresh in-process server, registered with a
/// token for the check's team when `secure`), printing a line each to `out`.
pub fn run_check(
    server: Option<&str>,
    secure: bool,
    out: &mut dyn Write,
) -> Result<CheckOutcome, DemoError> {
    match server {
        Some(url) => Ok(check_server(Checker::new(&normalize_server(url)?), out)),
        None => check_in_process(secure, out),
    }
}

/// The checks against a fresh server on a temporary data directory, stopped afterwards.
fn check_in_process(secure: bool, out: &mut dyn Write) -> Result<CheckOutcome, DemoError> {
    let temp = tempfile::Builder::new()
        .prefix("benchboard-check-")
        .tempdir()
        .map_err(DemoError::TempDir)?;
    let mut checker = Checker::new("");
    let contest = match secure {
        true => {
            let team = [(checker.team_id.clone(), checker::TEAM_NAME.to_string())];
            let contest = super::secure::write_secure_contest(temp.path(), &team)
                .map_err(DemoError::Usage)?;
            checker.token = contest.tokens.get(&checker.team_id).cloned();
            Some(contest.file)
        }
        false => None,
    };
    let server = Server::bind(Config {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: temp.path().join("data"),
        threads: 4,
        contest,
        ..Config::default()
    })?;
    let base = server.url().trim_end_matches('/').to_string();
    let mode = if secure {
        "a registered"
    } else {
        "an in-process"
    };
    let _ = writeln!(out, "checking {mode} server at {base}");
    checker.base = base;
    let shutdown = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    let outcome = check_server(checker, out);
    shutdown.shutdown();
    let _ = thread.join();
    Ok(outcome)
}

/// The checks against one server at `base` (`http://host:port`).
fn check_server(mut checker: Checker, out: &mut dyn Write) -> CheckOutcome {
    let _ = writeln!(
        out,
        "checking {} with team {} ({})",
        checker.base,
        checker.team_id,
        checker::TEAM_NAME
    );
    let mut outcome = CheckOutcome::default();
    let secure = checker.token.is_some().then_some(SECURE_CHECK);
    for (name, check) in CHECK_LIST.into_iter().chain(secure) {
        match check(&mut checker) {
            Ok(detail) => {
                outcome.passed += 1;
                let _ = writeln!(out, "PASS  {name}: {detail}");
            }
            Err(reason) => {
                outcome.failed += 1;
                let _ = writeln!(out, "FAIL  {name}: {reason}");
            }
        }
    }
    let _ = writeln!(
        out,
        "check: {} of {} passed{}",
        outcome.passed,
        outcome.passed + outcome.failed,
        if outcome.failed == 0 { "" } else { " - FAILED" }
    );
    outcome
}
