//! The freeze and the reveal against the real server (port 0, a temporary data
//! directory), with the contest's phases driven by a `ManualClock`: after the
//! freeze no public endpoint or WebSocket message carries a number of a later
//! report, while the organiser and the team itself (with their tokens) see it; a
//! restart keeps the frozen view; the reveal goes step by step through the API and
//! `/ws`, then thaws the board.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benchboard::clock::ManualClock;
use benchboard::config::ContestFile;
use benchboard::server::Config;
use chrono::{DateTime, FixedOffset, TimeDelta};
use common::TestServer;
use common::contest::{
    ADMIN, Answer, TEAM1, TEAM2, admin, call, contest_text, post, report_with_qps,
};
use common::receiver::Receiver;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;

type Socket = tungstenite::WebSocket<MaybeTlsStream<TcpStream>>;

/// Numbers only the reports after the freeze carry.
const LATER_QPS_1: &str = "98765.4321";
const LATER_QPS_2: &str = "87654.3219";

/// A contest from an hour ago, frozen in 10 minutes, ending in 20; a rule that
/// fires on the later reports.
struct Contest {
    clock: Arc<ManualClock>,
    t0: DateTime<FixedOffset>,
    dir: PathBuf,
    file: ContestFile,
}

impl Contest {
    fn new(extra: &str) -> Contest {
        Contest::with(extra, "")
    }

    /// `extra` goes into `[contest]`, `tail` at the end of the file.
    fn with(extra: &str, tail: &str) -> Contest {
        let t0 = chrono::Local::now().fixed_offset();
        let at = |minutes: i64| (t0 + TimeDelta::minutes(minutes)).to_rfc3339();
        let dir = tempfile::tempdir().unwrap().keep();
        let text = contest_text(&format!(
            "\n[contest]\nstart = \"{}\"\nfreeze = \"{}\"\nend = \"{}\"\n{extra}\n[ranking]\nby = \"qps\"\n\n[[rule]]\nname = \"very fast\"\nwhen = \"qps > 50000\"\n{tail}",
            at(-60),
            at(10),
            at(20)
        ));
        std::fs::write(dir.join("contest.toml"), text).unwrap();
        let file = ContestFile::load(&dir.join("contest.toml")).unwrap();
        Contest {
            clock: Arc::new(ManualClock::new(t0)),
            t0,
            dir,
            file,
        }
    }

    fn start(&self) -> TestServer {
        let (file, clock) = (self.file.clone(), self.clock.clone());
        TestServer::start_on(self.dir.join("data"), move |config: &mut Config| {
            config.alerts = file.alerts.clone();
            config.contest = Some(file);
            config.clock = clock;
        })
    }

    fn move_to(&self, minutes: i64, seconds: i64) {
        self.clock
            .set(self.t0 + TimeDelta::minutes(minutes) + TimeDelta::seconds(seconds));
    }
}

fn connect(server: &TestServer) -> Socket {
    let url = server.url("/ws").replacen("http://", "ws://", 1);
    let (socket, _) = tungstenite::connect(url).expect("WebSocket handshake");
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
    }
    socket
}

/// Messages until (and with) the first that `last` accepts.
fn read_until(socket: &mut Socket, what: &str, last: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let message = socket
            .read()
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
        let Ok(text) = message.to_text() else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        let done = last(&value);
        seen.push(value);
        if done {
            return seen;
        }
    }
    panic!("no {what} within 30 s; got {seen:?}");
}

fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Answer {
    call("GET", &server.url(path), headers, None)
}

/// Every public read, with what it answered.
fn crawl_public(server: &TestServer) -> Vec<(String, Answer)> {
    let mut paths = vec![
        "/api/teams".to_string(),
        "/api/alerts".into(),
        "/metrics".into(),
        "/".into(),
    ];
    for team in ["team1", "team2"] {
        for tail in [
            "",
            "/history",
            "/history?limit=1000",
            "/history/summary",
            "/history/series",
            "/history/series?points=1",
            "/export.csv",
        ] {
            paths.push(format!("/api/teams/{team}{tail}"));
        }
        paths.push(format!("/team/{team}/history"));
    }
    paths
        .into_iter()
        .map(|path| {
            let answer = get(server, &path, &[]);
            (path, answer)
        })
        .collect()
}

fn assert_no_later_number(what: &str, text: &str) {
    for later in [LATER_QPS_1, LATER_QPS_2] {
        assert!(!text.contains(later), "{what} carries {later}: {text}");
    }
    assert!(
        !text.contains("\"rule\":\"very fast\""),
        "{what} shows the held alert: {text}"
    );
}

/// Reports before the freeze, the freeze, and one later report per team.
fn frozen_contest(contest: &Contest, server: &TestServer) {
    assert_eq!(
        post(server, "team1", Some(TEAM1), &report_with_qps(1111.0)).status,
        200
    );
    assert_eq!(
        post(server, "team2", Some(TEAM2), &report_with_qps(2222.0)).status,
        200
    );
    contest.move_to(10, 1);
    common::serve::wait_until("the board is frozen", || {
        admin(server, "GET", "/api/admin/teams", None).status == 200
            && get(server, "/api/teams", &[]).body.contains("1111")
            && frozen_note(server)
    });
    for (team, token, qps) in [("team1", TEAM1, LATER_QPS_1), ("team2", TEAM2, LATER_QPS_2)] {
        let answer = post(
            server,
            team,
            Some(token),
            &report_with_qps(qps.parse().unwrap()),
        );
        assert_eq!(
            answer.status, 200,
            "stored and acknowledged: {}",
            answer.body
        );
    }
}

/// True once a fresh viewer's snapshot says the board is frozen.
fn frozen_note(server: &TestServer) -> bool {
    let mut socket = connect(server);
    let snapshot = read_until(&mut socket, "the snapshot", |m| m["type"] == "snapshot");
    snapshot.last().unwrap()["freeze"]["frozen"] == true
}

#[test]
fn the_freeze_leaks_nothing_public_while_admin_and_the_team_itself_see_it() {
    let contest = Contest::new("");
    let server = contest.start();
    assert_eq!(
        post(&server, "team1", Some(TEAM1), &report_with_qps(1111.0)).status,
        200
    );
    assert_eq!(
        post(&server, "team2", Some(TEAM2), &report_with_qps(2222.0)).status,
        200
    );
    let mut viewer = connect(&server);
    read_until(&mut viewer, "the snapshot", |m| m["type"] == "snapshot");
    contest.move_to(10, 1);
    let banner = read_until(&mut viewer, "the frozen banner", |m| {
        m["type"] == "freeze" && m["freeze"]["frozen"] == true
    });
    assert!(banner.last().unwrap()["freeze"]["since"].is_string());
    for (team, token, qps) in [("team1", TEAM1, LATER_QPS_1), ("team2", TEAM2, LATER_QPS_2)] {
        let answer = post(
            &server,
            team,
            Some(token),
            &report_with_qps(qps.parse().unwrap()),
        );
        assert_eq!(
            answer.status, 200,
            "stored and acknowledged: {}",
            answer.body
        );
    }
    // A rename is published after the reports: every message about them came before.
    let renamed = admin(
        &server,
        "POST",
        "/api/admin/teams/team2/rename",
        Some(json!({"name": "第二组"})),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let messages = read_until(&mut viewer, "the rename", |m| {
        m["type"] == "team_update" && m["team"]["team_name"] == "第二组"
    });
    for message in &messages {
        assert_no_later_number("a /ws message", &message.to_string());
    }
    assert_eq!(
        messages.last().unwrap()["team"]["qps"],
        2222.0,
        "as at the freeze"
    );
    let mut late_viewer = connect(&server);
    let snapshot = read_until(&mut late_viewer, "the snapshot", |m| {
        m["type"] == "snapshot"
    });
    assert_no_later_number("the snapshot", &snapshot.last().unwrap().to_string());

    for (path, answer) in crawl_public(&server) {
        assert!(answer.status < 500, "{path}: {}", answer.status);
        assert_no_later_number(&path, &answer.body);
    }
    let (_, team1) = server.get_json("/api/teams/team1");
    assert_eq!(
        (team1["qps"].as_f64(), team1["report_count"].as_u64()),
        (Some(1111.0), Some(1))
    );
    let (_, history) = server.get_json("/api/teams/team1/history");
    assert_eq!(history["total"], 1, "the later report is not counted");
    let (_, public) = server.get_json("/api/teams");
    let rank = |teams: &Value, id: &str| {
        teams
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team_id"] == id)
            .unwrap()["rank"]
            .clone()
    };
    assert_eq!(
        (rank(&public, "team1"), rank(&public, "team2")),
        (json!(2), json!(1)),
        "ranked as at the freeze"
    );
    let live = admin(&server, "GET", "/api/teams", None).json();
    assert_eq!(
        (rank(&live, "team1"), rank(&live, "team2")),
        (json!(1), json!(2)),
        "live ranks"
    );

    // The organiser sees everything live, the team its own reports only.
    let bearer = format!("Bearer {ADMIN}");
    let live = get(&server, "/api/teams", &[("Authorization", &bearer)]).body;
    assert!(
        live.contains(LATER_QPS_1) && live.contains(LATER_QPS_2),
        "{live}"
    );
    let alerts = get(&server, "/api/alerts", &[("Authorization", &bearer)]).body;
    assert!(
        alerts.contains("\"rule\":\"very fast\""),
        "the organiser sees the alert: {alerts}"
    );
    assert!(
        admin(&server, "GET", "/api/admin/teams", None)
            .body
            .contains(LATER_QPS_1)
    );
    let own = get(
        &server,
        "/api/teams/team1/history",
        &[("X-Team-Token", TEAM1)],
    );
    assert!(own.body.contains(LATER_QPS_1), "{}", own.body);
    assert_eq!(own.json()["total"], 2);
    let own_csv = get(
        &server,
        "/api/teams/team1/export.csv",
        &[("X-Team-Token", TEAM1)],
    );
    assert!(own_csv.body.contains(LATER_QPS_1));
    let other = get(
        &server,
        "/api/teams/team2/history",
        &[("X-Team-Token", TEAM1)],
    );
    assert_no_later_number("team1's view of team2", &other.body);
    let wrong = get(
        &server,
        "/api/teams/team1/history",
        &[("X-Team-Token", TEAM2)],
    );
    assert_no_later_number("team2's token on team1", &wrong.body);
    assert!(
        !get(&server, "/metrics", &[]).body.contains("team1"),
        "no team in /metrics"
    );
}

#[test]
fn a_restart_during_the_freeze_rebuilds_the_frozen_view_from_the_history() {
    let contest = Contest::new("");
    let server = contest.start();
    frozen_contest(&contest, &server);
    common::serve::wait_until("the alert is held", || {
        admin(&server, "GET", "/api/alerts", None)
            .body
            .contains("\"rule\":\"very fast\"")
    });
    server.stop();
    let server = contest.start();
    for (path, answer) in crawl_public(&server) {
        assert!(answer.status < 500, "{path}: {}", answer.status);
        assert_no_later_number(&path, &answer.body);
    }
    let mut viewer = connect(&server);
    let snapshot = read_until(&mut viewer, "the snapshot", |m| m["type"] == "snapshot");
    let snapshot = snapshot.last().unwrap();
    assert_no_later_number("the snapshot after a restart", &snapshot.to_string());
    assert_eq!(snapshot["freeze"]["frozen"], true);
    assert_eq!(server.get_json("/api/teams/team2").1["qps"], 2222.0);
    assert!(
        admin(&server, "GET", "/api/teams", None)
            .body
            .contains(LATER_QPS_2)
    );
}

#[test]
fn the_reveal_goes_from_the_last_place_up_through_the_api_and_the_websocket() {
    let contest = Contest::new("");
    let server = contest.start();
    frozen_contest(&contest, &server);
    let early = reveal(&server, json!({"action": "start"}));
    assert_eq!(early.status, 409, "not before the end: {}", early.body);
    contest.move_to(20, 0);
    assert_eq!(
        reveal(&server, json!({"action": "next"})).status,
        409,
        "not started"
    );
    assert_eq!(reveal(&server, json!({"action": "dance"})).status, 400);
    assert_eq!(
        reveal(&server, json!({"action": "auto", "every_secs": 0})).status,
        400
    );
    let mut viewer = connect(&server);
    read_until(&mut viewer, "the snapshot", |m| m["type"] == "snapshot");

    let started = reveal(&server, json!({"action": "start"}));
    assert_eq!(started.status, 200, "{}", started.body);
    let view = &started.json()["reveal"];
    assert_eq!(
        (view["step"].as_u64(), view["steps"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        view["standings"][0]["team_id"], "team2",
        "frozen: 2222 before 1111"
    );
    assert_eq!(
        reveal(&server, json!({"action": "start"})).status,
        409,
        "already started"
    );
    assert_no_later_number("the reveal's start", &started.body);

    // Step 1: the last place (team1) is shown whole and moves up.
    let first = reveal(&server, json!({"action": "next"})).json();
    let current = &first["reveal"]["current"];
    assert_eq!(
        (
            current["team_id"].as_str(),
            current["from_rank"].as_u64(),
            current["to_rank"].as_u64()
        ),
        (Some("team1"), Some(2), Some(1))
    );
    let messages = read_until(&mut viewer, "step 1", |m| {
        m["type"] == "freeze" && m["freeze"]["reveal"]["step"] == 1
    });
    assert!(messages.iter().any(|m| m["type"] == "team_update"
        && m["team"]["team_id"] == "team1"
        && m.to_string().contains(LATER_QPS_1)));
    assert_no_later_number_of(
        "team2 during the reveal",
        &server.get_json("/api/teams/team2").1,
        LATER_QPS_2,
    );
    assert!(
        get(&server, "/api/teams/team1", &[])
            .body
            .contains(LATER_QPS_1)
    );
    let mut joined = connect(&server);
    let snapshot = read_until(&mut joined, "the snapshot", |m| m["type"] == "snapshot");
    assert_eq!(
        snapshot.last().unwrap()["freeze"]["reveal"]["step"],
        1,
        "a late viewer sees the same step"
    );

    // A restart mid-reveal shows the same step, the revealed team whole.
    server.stop();
    let server = contest.start();
    let (_, answer) = server.get_json("/api/contest");
    assert_eq!(answer["freeze"]["reveal"]["step"], 1, "{answer}");
    assert!(
        get(&server, "/api/teams/team1", &[])
            .body
            .contains(LATER_QPS_1)
    );
    assert!(
        !get(&server, "/api/teams/team2", &[])
            .body
            .contains(LATER_QPS_2)
    );
    let mut viewer = connect(&server);
    read_until(&mut viewer, "the snapshot", |m| m["type"] == "snapshot");

    // Step 2 (auto, moved by the clock), then the board is thawed.
    assert_eq!(
        reveal(&server, json!({"action": "auto", "every_secs": 5})).status,
        200
    );
    contest.move_to(20, 5);
    let messages = read_until(&mut viewer, "the last step", |m| {
        m["type"] == "freeze" && m["freeze"]["reveal"]["status"] == "finished"
    });
    assert_eq!(
        messages.last().unwrap()["freeze"]["frozen"],
        false,
        "thawed"
    );
    assert_eq!(
        reveal(&server, json!({"action": "next"})).status,
        409,
        "finished"
    );
    let public = get(&server, "/api/teams", &[]).body;
    assert!(public.contains(LATER_QPS_1) && public.contains(LATER_QPS_2));
    let alerts = get(&server, "/api/alerts", &[]).body;
    assert!(
        alerts.contains("\"rule\":\"very fast\""),
        "alerts thawed too: {alerts}"
    );
    server.stop();
    let server = contest.start();
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(contest.dir.join("data/.benchboard-contest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["reveal"]["shown"], 2);
    assert!(
        get(&server, "/api/teams", &[]).body.contains(LATER_QPS_2),
        "thawed after a restart"
    );
}

fn reveal(server: &TestServer, body: Value) -> Answer {
    admin(server, "POST", "/api/admin/reveal", Some(body))
}

fn assert_no_later_number_of(what: &str, value: &Value, later: &str) {
    assert!(!value.to_string().contains(later), "{what}: {value}");
}

#[test]
fn without_a_freeze_nothing_is_held_and_there_is_nothing_to_reveal() {
    let contest = Contest::new("");
    let mut file = contest.file.clone();
    file.schedule = file.schedule.map(|mut s| {
        s.freeze = None;
        s
    });
    let clock = contest.clock.clone();
    let server = TestServer::start_on(contest.dir.join("data"), move |config: &mut Config| {
        config.contest = Some(file);
        config.clock = clock;
    });
    contest.move_to(15, 0);
    assert_eq!(
        post(&server, "team1", Some(TEAM1), &report_with_qps(98765.4321)).status,
        200
    );
    assert!(get(&server, "/api/teams", &[]).body.contains(LATER_QPS_1));
    contest.move_to(25, 0);
    let answer = admin(
        &server,
        "POST",
        "/api/admin/reveal",
        Some(json!({"action": "start"})),
    );
    assert_eq!(answer.status, 409, "{}", answer.body);
}

fn webhook(receiver: &Receiver) -> String {
    format!(
        "\n[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{}/hook\"\n",
        receiver.base
    )
}

#[test]
fn alerts_during_the_freeze_still_reach_the_organisers_destinations() {
    let receiver = Receiver::replying(200, "ok");
    let contest = Contest::with("", &webhook(&receiver));
    let server = contest.start();
    frozen_contest(&contest, &server);
    let sent = receiver.next().json();
    assert_eq!(
        (sent["status"].as_str(), sent["alerts"][0]["rule"].as_str()),
        (Some("firing"), Some("very fast"))
    );
    assert_no_later_number("/api/alerts", &get(&server, "/api/alerts", &[]).body);
}

#[test]
fn with_notify_during_freeze_false_the_held_alerts_are_not_sent() {
    let receiver = Receiver::replying(200, "ok");
    let contest = Contest::with("notify_during_freeze = false\n", &webhook(&receiver));
    let server = contest.start();
    frozen_contest(&contest, &server);
    contest.move_to(20, 0);
    for action in ["start", "next", "next"] {
        let answer = admin(
            &server,
            "POST",
            "/api/admin/reveal",
            Some(json!({"action": action})),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    // Thawed: the next change is sent, and it is the first the destination gets.
    assert_eq!(
        post(&server, "team1", Some(TEAM1), &report_with_qps(10.0)).status,
        200
    );
    let sent = receiver.next().json();
    assert_eq!(
        (
            sent["status"].as_str(),
            sent["alerts"][0]["team_id"].as_str()
        ),
        (Some("resolved"), Some("team1"))
    );
}
