//! The trust checks on requests built in memory (no socket).

use super::*;
use tiny_http::{Header, TestRequest};

const TEAM1: &str = "team1-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";
const VIEWER: &str = "viewer-token-012345678";

fn contest(dir: &Path, extra: &str) -> ContestFile {
    let path = dir.join("contest.toml");
    std::fs::write(
        &path,
        format!(
            "[admin]\ntoken = \"{ADMIN}\"\n[[team]]\nid = \"team1\"\nname = \"一\"\ntoken = \"{TEAM1}\"\n{extra}"
        ),
    )
    .unwrap();
    ContestFile::load(&path).unwrap()
}

fn limits() -> LimitFlags {
    LimitFlags::default()
}

fn request(headers: &[(&str, &str)], from: &str) -> Request {
    let mut test = TestRequest::new().with_remote_addr(format!("{from}:40000").parse().unwrap());
    for (name, value) in headers {
        test = test.with_header(Header::from_bytes(*name, *value).unwrap());
    }
    test.into()
}

fn team1() -> TeamId {
    TeamId::parse("team1").unwrap()
}

#[test]
fn open_mode_lets_every_report_in_without_a_limit() {
    let trust = Trust::new(None, limits());
    for _ in 0..100 {
        assert_eq!(
            trust.check_report(&request(&[], "10.0.0.1"), &team1()),
            Ok(None)
        );
    }
    assert_eq!(trust.state().limits.max_report_rate, 0);
    assert!(trust.check_viewer(&request(&[], "10.0.0.1")).is_ok());
}

#[test]
fn a_team_token_is_read_from_bearer_or_x_team_token() {
    let dir = tempfile::tempdir().unwrap();
    let trust = Trust::new(Some(&contest(dir.path(), "")), limits());
    let bearer = format!("Bearer {TEAM1}");
    let ok = trust
        .check_report(
            &request(&[("Authorization", &bearer)], "10.0.0.1"),
            &team1(),
        )
        .unwrap();
    assert_eq!(ok.unwrap().name, "一");
    let lower = format!("bearer {TEAM1}");
    assert!(
        trust
            .check_report(&request(&[("Authorization", &lower)], "10.0.0.1"), &team1())
            .is_ok()
    );
    assert!(
        trust
            .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
            .is_ok()
    );
    let missing = trust
        .check_report(&request(&[], "10.0.0.1"), &team1())
        .unwrap_err();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()[0].0, "WWW-Authenticate");
    // Wrong token, unlisted team, admin token: one 403 with one message.
    let other = TeamId::parse("team9").unwrap();
    let refusals = [
        trust.check_report(&request(&[("X-Team-Token", "wrong")], "10.0.0.2"), &team1()),
        trust.check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.2"), &other),
        trust.check_report(&request(&[("X-Team-Token", ADMIN)], "10.0.0.2"), &team1()),
    ];
    for refusal in &refusals {
        assert_eq!(refusal.as_ref().unwrap_err().status(), 403);
        assert_eq!(
            refusal.as_ref().unwrap_err().to_string(),
            refusals[0].as_ref().unwrap_err().to_string()
        );
    }
    assert!(
        !refusals[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("wrong")
    );
}

#[test]
fn failed_authentications_lock_an_address_out_but_not_others() {
    let dir = tempfile::tempdir().unwrap();
    let trust = Trust::new(Some(&contest(dir.path(), "")), limits());
    for _ in 0..10 {
        let refused = trust.check_admin(&request(&[("Authorization", "Bearer guess")], "10.0.0.3"));
        assert_eq!(refused.unwrap_err().status(), 403);
    }
    let bearer = format!("Bearer {ADMIN}");
    let locked = trust
        .check_admin(&request(&[("Authorization", &bearer)], "10.0.0.3"))
        .unwrap_err();
    assert_eq!(locked.status(), 429);
    assert!(locked.headers()[0].0 == "Retry-After");
    assert!(
        trust
            .check_admin(&request(&[("Authorization", &bearer)], "10.0.0.4"))
            .is_ok()
    );
    // Sending no token at all is not counted.
    for _ in 0..20 {
        assert_eq!(
            trust
                .check_admin(&request(&[], "10.0.0.5"))
                .unwrap_err()
                .status(),
            401
        );
    }
}

#[test]
fn reports_over_the_rate_get_429() {
    let dir = tempfile::tempdir().unwrap();
    let trust = Trust::new(Some(&contest(dir.path(), "")), limits());
    let accepted = (0..100)
        .filter(|_| {
            trust
                .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
                .is_ok()
        })
        .count();
    // The burst of 40, plus what 20/s refilled while the loop ran.
    assert!((40..60).contains(&accepted), "{accepted}");
    let refused = trust
        .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
        .unwrap_err();
    assert_eq!(refused.status(), 429);
}

#[test]
fn the_viewer_cookie_opens_a_private_board_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("[viewers]\ntoken = \"{VIEWER}\"\n");
    let trust = Trust::new(Some(&contest(dir.path(), &extra)), limits());
    assert_eq!(
        trust
            .check_viewer(&request(&[], "10.0.0.1"))
            .unwrap_err()
            .status(),
        401
    );
    let value = trust.viewer_cookie_value().unwrap();
    assert!(!value.contains(VIEWER) && !VIEWER.contains(&value));
    let set = viewer_cookie(&value, false);
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
    let sent = set.split(';').next().unwrap().to_string();
    assert!(
        trust
            .check_viewer(&request(&[("Cookie", &format!("a=b; {sent}"))], "10.0.0.1"))
            .is_ok()
    );
    let bearer = format!("Bearer {VIEWER}");
    assert!(
        trust
            .check_viewer(&request(&[("Authorization", &bearer)], "10.0.0.1"))
            .is_ok()
    );
    // The cookie is never a team's or the admin's credential.
    assert_eq!(
        trust
            .check_admin(&request(&[("Cookie", &sent)], "10.0.0.1"))
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(
        trust
            .check_report(&request(&[("Cookie", &sent)], "10.0.0.1"), &team1())
            .unwrap_err()
            .status(),
        401
    );
}

#[test]
fn a_bad_file_on_reload_is_refused_and_the_old_settings_stay() {
    let dir = tempfile::tempdir().unwrap();
    let file = contest(dir.path(), "");
    let trust = Trust::new(Some(&file), limits());
    std::fs::write(&file.path, "[[team]]\nid = \"bad id\"\n").unwrap();
    let error = trust.reload().unwrap_err().to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(
        trust
            .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
            .is_ok()
    );
    std::fs::write(
        &file.path,
        "[server]\nport = 1234\nmax_report_rate = 5\n[[team]]\nid = \"team2\"\ntoken = \"short\"\n",
    )
    .unwrap();
    let reloaded = trust.reload().unwrap();
    assert_eq!(reloaded.restart_needed, ["port"]);
    assert_eq!(reloaded.warnings.len(), 1);
    assert_eq!(trust.state().limits.max_report_rate, 5);
    assert_eq!(
        trust
            .check_report(&request(&[("X-Team-Token", TEAM1)], "10.0.0.1"), &team1())
            .unwrap_err()
            .status(),
        403
    );
    assert!(
        trust
            .check_admin(&request(&[("Authorization", "Bearer x")], "10.0.0.9"))
            .is_err()
    );
}

#[test]
fn a_cookie_of_the_token_or_of_another_server_start_asks_for_the_login_again() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("[viewers]\ntoken = \"{VIEWER}\"\n");
    let file = contest(dir.path(), &extra);
    let flags = LimitFlags {
        max_auth_failures: Some(1),
        ..LimitFlags::default()
    };
    let trust = Trust::new(Some(&file), flags);
    let before_restart = Trust::new(Some(&file), flags)
        .viewer_cookie_value()
        .unwrap();
    assert_ne!(before_restart, trust.viewer_cookie_value().unwrap());
    // Many stale cookies (a room's browsers after a restart) lock nobody out.
    for stale in [VIEWER.to_string(), before_restart, "x".repeat(43)] {
        for _ in 0..5 {
            let cookie = format!("{VIEWER_COOKIE}={stale}");
            let refused = trust
                .check_viewer(&request(&[("Cookie", &cookie)], "10.0.0.1"))
                .unwrap_err();
            assert_eq!(refused.status(), 401);
        }
    }
    let bearer = format!("Bearer {VIEWER}");
    assert!(
        trust
            .check_viewer(&request(&[("Authorization", &bearer)], "10.0.0.1"))
            .is_ok()
    );
    // A public board has no cookie to give.
    let public = Trust::new(Some(&contest(dir.path(), "")), flags);
    assert_eq!(public.viewer_cookie_value(), None);
}

#[test]
fn a_reload_puts_a_changed_schedule_and_ranking_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let file = contest(dir.path(), "");
    let trust = Trust::new(Some(&file), limits());
    assert!(trust.state().schedule.is_none() && trust.state().ranking.is_none());
    let text = std::fs::read_to_string(&file.path).unwrap();
    std::fs::write(
        &file.path,
        format!("{text}\n[contest]\nstart = \"2026-12-01T14:00:00Z\"\nend = \"2026-12-01T18:00:00Z\"\n[ranking]\nby = \"p99_latency\"\n"),
    )
    .unwrap();
    let reloaded = trust.reload().unwrap();
    assert!(reloaded.restart_needed.is_empty(), "{reloaded:?}");
    let state = trust.state();
    let schedule = state.schedule.unwrap();
    assert_eq!(schedule.end - schedule.start, chrono::Duration::hours(4));
    assert_eq!(state.ranking.as_ref().unwrap().basis_text(), "p99_latency");
    // A schedule that breaks its checks is refused; the one in force stays.
    std::fs::write(
        &file.path,
        format!(
            "{text}\n[contest]\nstart = \"2026-12-01T14:00:00Z\"\nend = \"2026-12-01T13:00:00Z\"\n"
        ),
    )
    .unwrap();
    let error = trust.reload().unwrap_err().to_string();
    assert!(error.contains("[contest] end = "), "{error}");
    assert_eq!(trust.state().schedule, Some(schedule));
}

#[test]
fn a_new_store_password_alone_needs_a_restart_and_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let store = |password: &str| {
        format!("[server]\nstore = \"postgres://bb:{password}@db.example/board\"\n")
    };
    std::fs::write(dir.path().join("contest.toml"), store("old-s3cret")).unwrap();
    let file = ContestFile::load(&dir.path().join("contest.toml")).unwrap();
    let trust = Trust::new(Some(&file), limits());
    std::fs::write(&file.path, store("new-s3cret")).unwrap();
    let reloaded = trust.reload().unwrap();
    assert_eq!(reloaded.restart_needed, ["store"]);
    let shown = format!("{reloaded:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    // The same URL again: nothing waits for a restart.
    std::fs::write(&file.path, store("new-s3cret")).unwrap();
    assert!(trust.reload().unwrap().restart_needed.is_empty());
}
