//! Registered mode, rate limits and the private board, against a real server on
//! port 0.

mod common;

use common::contest::*;
use common::ordered_report_files;
use serde_json::Value;

#[test]
fn registered_mode_refuses_missing_wrong_other_and_unlisted_tokens_alike() {
    let (server, _) = registered("", |_| {});
    let body = report_with_qps(100.0);
    let missing = post(&server, "team1", None, &body);
    assert_eq!(missing.status, 401, "{}", missing.body);
    assert!(
        missing
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let refusals = [
        post(&server, "team1", Some("not-the-token-at-all"), &body),
        post(&server, "team1", Some(TEAM2), &body),
        post(&server, "nobody", Some(TEAM1), &body),
        post(&server, "team1", Some(ADMIN), &body),
    ];
    for refusal in &refusals {
        assert_eq!(refusal.status, 403, "{}", refusal.body);
        assert_eq!(refusal.body, refusals[0].body, "one message for all");
    }
    assert!(ordered_report_files(&server.data_dir, "team1").is_empty());
    assert!(!server.data_dir.join("nobody").exists());

    let ok = post(&server, "team1", Some(TEAM1), &body);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let header_token = call(
        "POST",
        &server.url("/api/stats/report"),
        &[("X-Team-ID", "team2"), ("X-Team-Token", TEAM2)],
        Some(&body),
    );
    assert_eq!(header_token.status, 200, "{}", header_token.body);
    // The name comes from the contest file; the sent X-Team-Name is ignored.
    let (_, team) = server.get_json("/api/teams/team1");
    assert_eq!(team["team_name"], "第一小组");
    let (_, team) = server.get_json("/api/teams/team2");
    assert_eq!(team["team_name"], "Team-team2");
    let stored = std::fs::read_to_string(
        server
            .data_dir
            .join("team1")
            .join(&ordered_report_files(&server.data_dir, "team1")[0]),
    )
    .unwrap();
    assert!(stored.contains("第一小组") && !stored.contains("Fake"));
}

#[test]
fn reports_over_the_rate_get_429_with_retry_after_and_store_nothing() {
    let (server, _) = registered("[server]\nmax_report_rate = 1\n", |config| {
        config.limits.max_report_rate = None;
    });
    let body = report_with_qps(5.0);
    // A burst of 2 at 1/s: sent back to back, the refusal comes after the burst (or
    // later on a slow machine: no timing is assumed, only that it comes).
    let mut accepted = 0;
    let refused = loop {
        let answer = post(&server, "team1", Some(TEAM1), &body);
        match answer.status {
            200 if accepted < 50 => accepted += 1,
            _ => break answer,
        }
    };
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(accepted >= 2, "the burst of 2 is allowed: {accepted}");
    assert!(
        refused
            .header("Retry-After")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let stored = ordered_report_files(&server.data_dir, "team1").len();
    assert_eq!(stored, accepted, "nothing stored for the refusal");
    // Another team has its own allowance.
    assert_eq!(post(&server, "team2", Some(TEAM2), &body).status, 200);
}

#[test]
fn failed_authentications_lock_the_address_out_with_429() {
    let (server, _) = registered("", |_| {});
    let body = report_with_qps(5.0);
    // 10 a minute: the first 10 are refused as wrong, then the address is locked out
    // (a slow machine may earn one more try meanwhile; no timing is assumed).
    let mut wrong = 0;
    loop {
        match post(&server, "team1", Some("guessing-the-token-000"), &body).status {
            403 if wrong < 100 => wrong += 1,
            status => {
                assert_eq!(status, 429);
                break;
            }
        }
    }
    assert!(wrong >= 10, "{wrong}");
    let locked = post(&server, "team1", Some(TEAM1), &body);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.header("Retry-After").is_some());
    let admin_locked = admin(&server, "GET", "/api/admin/teams", None);
    assert_eq!(admin_locked.status, 429);
}

#[test]
fn a_private_board_needs_the_viewer_token_or_its_cookie_for_reads_only() {
    let extra = format!("[viewers]\ntoken = \"{VIEWER}\"\n");
    let (server, _) = registered(&extra, |_| {});
    assert_eq!(
        post(&server, "team1", Some(TEAM1), &report_with_qps(5.0)).status,
        200
    );
    for path in [
        "/api/teams",
        "/api/teams/team1",
        "/api/teams/team1/history",
        "/api/teams/team1/export.csv",
    ] {
        let answer = call("GET", &server.url(path), &[], None);
        assert_eq!(answer.status, 401, "{path}");
        let bearer = format!("Bearer {VIEWER}");
        assert_eq!(
            call(
                "GET",
                &server.url(path),
                &[("Authorization", &bearer)],
                None
            )
            .status,
            200,
            "{path}"
        );
    }
    let page = call("GET", &server.url("/"), &[], None);
    assert_eq!(page.status, 401);
    // Probes carry no token: /healthz stays public.
    assert_eq!(call("GET", &server.url("/healthz"), &[], None).status, 200);
    assert!(page.body.contains("action=\"/login\""));
    // The form brings the browser back with its query: a kiosk stays a kiosk.
    let kiosk = call("GET", &server.url("/?kiosk&rotate=5"), &[], None);
    assert_eq!(kiosk.status, 401);
    assert!(
        kiosk
            .body
            .contains("name=\"next\" value=\"/?kiosk&amp;rotate=5\""),
        "{}",
        kiosk.body
    );
    assert_eq!(
        call("GET", &server.url("/static/style.css"), &[], None).status,
        200
    );

    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let form = format!("token={VIEWER}&next=%2Fteam%2Fteam1%2Fhistory");
    let login = no_redirects
        .post(&server.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(form.as_bytes())
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    assert_eq!(login.headers()["location"], "/team/team1/history");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    assert_eq!(
        call(
            "GET",
            &server.url("/api/teams"),
            &[("Cookie", &cookie)],
            None
        )
        .status,
        200
    );
    assert_eq!(
        call("GET", &server.url("/"), &[("Cookie", &cookie)], None).status,
        200
    );
    // Never a write credential.
    let post_with_cookie = call(
        "POST",
        &server.url("/api/stats/report"),
        &[("X-Team-ID", "team1"), ("Cookie", &cookie)],
        Some(&report_with_qps(5.0)),
    );
    assert_eq!(post_with_cookie.status, 401);
    assert_eq!(
        call(
            "GET",
            &server.url("/api/admin/teams"),
            &[("Cookie", &cookie)],
            None
        )
        .status,
        401
    );
    let wrong = no_redirects
        .post(&server.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(&b"token=nope"[..])
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    assert!(wrong.headers().get("set-cookie").is_none());
}

#[test]
fn cors_allows_the_token_headers_and_the_answer_carries_no_token() {
    let (server, _) = registered("", |_| {});
    let preflight = call("OPTIONS", &server.url("/api/stats/report"), &[], None);
    let allowed = preflight.header("Access-Control-Allow-Headers").unwrap();
    for name in ["X-Team-ID", "X-Team-Token", "Authorization"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    let refused = post(
        &server,
        "team1",
        Some("a-wrong-token-value-123"),
        &report_with_qps(1.0),
    );
    assert!(!refused.body.contains("a-wrong-token-value-123"));
    assert_eq!(refused.header("Access-Control-Allow-Origin"), Some("*"));
}

/// Every file under `dir`, recursively.

#[test]
fn the_client_reports_with_token_or_tokens_file_and_history_reads_a_private_board() {
    let extra = format!("[viewers]\ntoken = \"{VIEWER}\"\n");
    let (server, path) = registered(&extra, |_| {});
    let client = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-client"))
            .args([
                "--server",
                &server.base,
                "--count",
                "1",
                "--interval",
                "0.1",
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let refused = client(&["--team-id", "team1"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("401")
            || String::from_utf8_lossy(&refused.stderr).contains("401")
    );
    assert!(
        client(&["--team-id", "team1", "--token", TEAM1])
            .status
            .success()
    );
    let tokens = path.with_file_name("tokens.txt");
    std::fs::write(
        &tokens,
        format!("# ids and tokens\nteam1 {TEAM1}\nteam2 {TEAM2}\n"),
    )
    .unwrap();
    let both = client(&["--teams", "2", "--tokens", tokens.to_str().unwrap()]);
    assert!(
        both.status.success(),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    assert!(!String::from_utf8_lossy(&both.stdout).contains(TEAM1));
    assert_eq!(ordered_report_files(&server.data_dir, "team1").len(), 2);
    assert_eq!(ordered_report_files(&server.data_dir, "team2").len(), 1);

    let history = |token: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_benchboard-history"));
        command.args(["--server", &server.base, "--json", "teams"]);
        if let Some(token) = token {
            command.args(["--token", token]);
        }
        command
            .env_remove("BENCHBOARD_VIEWER_TOKEN")
            .output()
            .unwrap()
    };
    let without = history(None);
    assert_eq!(
        without.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    assert!(String::from_utf8_lossy(&without.stderr).contains("401"));
    let with = history(Some(VIEWER));
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let teams: Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(teams.as_array().unwrap().len(), 2);
}
