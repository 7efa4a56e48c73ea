//! The contest's phases on a real server on port 0, driven by a `ManualClock` (never
//! by waiting): `GET /api/contest`, the snapshot's `contest`, a `contest` message on
//! `/ws` at each boundary as it happens, reports after the end stored, acknowledged
//! and marked, and a reload that moves the schedule.

mod common;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benchboard::clock::{Clock, ManualClock};
use chrono::{DateTime, FixedOffset};
use common::contest::*;
use serde_json::Value;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Client = WebSocket<MaybeTlsStream<TcpStream>>;

const SCHEDULE: &str = "\n[contest]\nstart = \"2026-12-01T14:00:00+00:00\"\nfreeze = \"2026-12-01T17:00:00+00:00\"\nend = \"2026-12-01T18:00:00+00:00\"\n";

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn connect(server: &common::TestServer) -> Client {
    let url = server.url("/ws").replace("http://", "ws://");
    let (socket, _) = tungstenite::connect(url).expect("WebSocket handshake");
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    socket
}

/// The next message of `kind`, skipping others; panics after 10 s.
fn next_of(socket: &mut Client, kind: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match socket.read() {
            Ok(Message::Text(text)) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] == kind {
                    return message;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("connection ended: {e}"),
        }
    }
    panic!("no {kind} message within 10 s");
}

fn started_at(start: &str) -> (common::TestServer, std::path::PathBuf, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(at(start)));
    let server_clock = clock.clone();
    let (server, path) = registered(SCHEDULE, move |c| c.clock = server_clock);
    (server, path, clock)
}

#[test]
fn phases_change_as_the_clock_passes_each_boundary() {
    let (server, _, clock) = started_at("2026-12-01T13:59:00+00:00");
    let (status, answer) = server.get_json("/api/contest");
    assert_eq!(status, 200);
    assert_eq!(answer["now"], clock.now().timestamp_millis());
    let contest = &answer["contest"];
    assert_eq!(contest["phase"], "countdown");
    assert_eq!(contest["start"], "2026-12-01T14:00:00.000+00:00");
    assert_eq!(
        contest["freeze_ms"],
        at("2026-12-01T17:00:00Z").timestamp_millis()
    );
    assert_eq!(contest["state"]["started"], Value::Null);
    let names: Vec<&str> = contest["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["第一小组", "Team-team2"]);

    let mut viewer = connect(&server);
    let snapshot = next_of(&mut viewer, "snapshot");
    assert_eq!(snapshot["contest"]["phase"], "countdown");

    for (step, phase, milestone) in [
        (60, "live", "started"),
        (3 * 3600, "frozen", "frozen"),
        (3600, "ended", "ended"),
    ] {
        clock.advance(Duration::from_secs(step));
        let message = next_of(&mut viewer, "contest");
        assert_eq!(message["contest"]["phase"], phase, "{message}");
        assert_eq!(message["now"], clock.now().timestamp_millis());
        assert!(
            message["contest"]["state"][milestone].is_string(),
            "{message}"
        );
        let (_, answer) = server.get_json("/api/contest");
        assert_eq!(answer["contest"]["phase"], phase);
    }
    let (_, answer) = server.get_json("/api/contest");
    let state = &answer["contest"]["state"];
    assert_eq!(state["ended"], "2026-12-01T18:00:00.000+00:00");
    assert_eq!(state["thawed"], Value::Null, "not revealed yet");
    assert_eq!(state["finalized"], Value::Null, "final once revealed");
    // A newcomer's snapshot has the phase as it is now.
    let mut late = connect(&server);
    assert_eq!(next_of(&mut late, "snapshot")["contest"]["phase"], "ended");
}

#[test]
fn reports_after_the_end_are_stored_acknowledged_and_marked() {
    let (server, _, clock) = started_at("2026-12-01T17:59:58+00:00");
    let answer = post(&server, "team1", Some(TEAM1), &report_with_qps(100.0));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json().get("after_end"), None, "{}", answer.json());
    clock.advance(Duration::from_secs(2));
    let answer = post(&server, "team1", Some(TEAM1), &report_with_qps(900.0));
    assert_eq!(answer.status, 200, "stored and acknowledged");
    let json = answer.json();
    assert_eq!(json["message"], "Stats submitted successfully");
    assert_eq!(json["after_end"], true);
    // After the freeze only the team itself (and the organiser) sees these reports.
    let history = call(
        "GET",
        &server.url("/api/teams/team1/history"),
        &[("X-Team-Token", TEAM1)],
        None,
    )
    .json();
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["after_end"], true, "newest first");
    assert_eq!(entries[1].get("after_end"), None);
}

#[test]
fn without_a_contest_section_the_contest_is_null() {
    let (server, _) = registered("", |_| {});
    let (status, answer) = server.get_json("/api/contest");
    assert_eq!(status, 200);
    assert_eq!(answer["contest"], Value::Null);
    assert!(answer["now"].is_i64());
    let mut viewer = connect(&server);
    assert_eq!(next_of(&mut viewer, "snapshot")["contest"], Value::Null);
    let answer = post(&server, "team1", Some(TEAM1), &report_with_qps(1.0));
    assert_eq!(answer.json().get("after_end"), None);
}

#[test]
fn a_reload_with_a_new_schedule_takes_effect_at_once() {
    let (server, path, _clock) = started_at("2026-12-01T18:30:00+00:00");
    let mut viewer = connect(&server);
    assert_eq!(
        next_of(&mut viewer, "snapshot")["contest"]["phase"],
        "ended"
    );
    // The organiser extends the contest by an hour.
    let text = std::fs::read_to_string(&path).unwrap();
    let later = text.replace("2026-12-01T18:00:00+00:00", "2026-12-01T19:00:00+00:00");
    std::fs::write(&path, later).unwrap();
    let answer = admin(&server, "POST", "/api/admin/reload", None);
    assert_eq!(answer.status, 200, "{}", answer.json());
    let message = next_of(&mut viewer, "contest");
    assert_eq!(message["contest"]["phase"], "frozen", "{message}");
    assert_eq!(message["contest"]["end"], "2026-12-01T19:00:00.000+00:00");
    // Taken off: the contest features stop.
    std::fs::write(&path, contest_text("")).unwrap();
    assert_eq!(
        admin(&server, "POST", "/api/admin/reload", None).status,
        200
    );
    assert_eq!(next_of(&mut viewer, "contest")["contest"], Value::Null);
}
