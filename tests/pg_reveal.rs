//! The contest state (the reveal) on the PostgreSQL store, against a real throwaway
//! cluster (tests/common/pg.rs): it lives in one row of the database (no
//! `.benchboard-contest.json`), a reveal started and moved on at instance A shows
//! the same step at instance B (`/api/contest` and a viewer's `freeze` message), an
//! instance started later takes it up, and an `auto` reveal steps once per interval
//! however many instances tick.

mod common;

use std::sync::Arc;

use benchboard::clock::ManualClock;
use benchboard::config::ContestFile;
use chrono::{DateTime, FixedOffset, TimeDelta};
use common::TestServer;
use common::contest::{Answer, TEAM1, TEAM2, admin, contest_text, post, report_with_qps};
use common::pg;
use common::watch::{eventually, next_message, viewer};
use serde_json::{Value, json};

const TEAM3: &str = "team3-secret-token-0123456789";

/// A contest frozen a minute ago (reports get the database's time, so every report
/// of the test comes after the freeze) that ends in 10 minutes by the shared clock.
struct Contest {
    clock: Arc<ManualClock>,
    t0: DateTime<FixedOffset>,
    file: ContestFile,
}

impl Contest {
    fn new() -> Contest {
        let t0 = chrono::Local::now().fixed_offset();
        let at = |minutes: i64| (t0 + TimeDelta::minutes(minutes)).to_rfc3339();
        let dir = tempfile::tempdir().unwrap().keep();
        let text = contest_text(&format!(
            "\n[[team]]\nid = \"team3\"\ntoken = \"{TEAM3}\"\n\n[contest]\nstart = \"{}\"\nfreeze = \"{}\"\nend = \"{}\"\n\n[ranking]\nby = \"qps\"\n",
            at(-60),
            at(-1),
            at(10)
        ));
        std::fs::write(dir.join("contest.toml"), text).unwrap();
        Contest {
            clock: Arc::new(ManualClock::new(t0)),
            t0,
            file: ContestFile::load(&dir.join("contest.toml")).unwrap(),
        }
    }

    fn instance(&self, url: String) -> TestServer {
        let (file, clock) = (self.file.clone(), self.clock.clone());
        let dir = tempfile::tempdir().unwrap().keep().join("data");
        TestServer::start_on(dir, move |config| {
            config.contest = Some(file);
            config.clock = clock;
            config.store_url = Some(url);
        })
    }

    fn move_to(&self, minutes: i64, seconds: i64) {
        self.clock
            .set(self.t0 + TimeDelta::minutes(minutes) + TimeDelta::seconds(seconds));
    }
}

fn reveal(server: &TestServer, body: Value) -> Answer {
    admin(server, "POST", "/api/admin/reveal", Some(body))
}

/// The reveal `/api/contest` shows.
fn shown(server: &TestServer) -> Value {
    server.get_json("/api/contest").1["freeze"]["reveal"].clone()
}

/// The saved state's version and the steps it has shown.
fn saved(db: &pg::TestDb) -> (i64, Value) {
    let row = db
        .connect()
        .query_one("SELECT version, state::text FROM contest_state", &[])
        .unwrap();
    let state: Value = serde_json::from_str(row.get(1)).unwrap();
    (row.get(0), state["reveal"]["shown"].clone())
}

#[test]
fn a_reveal_started_on_one_instance_shows_the_same_step_on_every_instance() {
    let db = pg::database();
    let contest = Contest::new();
    let (a, b) = (contest.instance(db.url()), contest.instance(db.url()));
    for (team, token, qps) in [("team1", TEAM1, 100.0), ("team2", TEAM2, 300.0)] {
        let answer = post(&a, team, Some(token), &report_with_qps(qps));
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let answer = post(&a, "team3", Some(TEAM3), &report_with_qps(200.0));
    assert_eq!(answer.status, 200, "{}", answer.body);
    contest.move_to(10, 0);
    let mut watching = viewer(&b);
    next_message(&mut watching, |m| m["type"] == "snapshot");

    let started = reveal(&a, json!({"action": "start"}));
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.json()["reveal"]["steps"], 3, "{}", started.body);
    eventually("B shows the reveal started", || shown(&b)["steps"] == 3);
    assert_eq!(
        reveal(&b, json!({"action": "start"})).status,
        409,
        "B knows it has started"
    );

    let first = reveal(&a, json!({"action": "next"})).json()["reveal"].clone();
    assert_eq!(first["step"], 1);
    let pushed = next_message(&mut watching, |m| {
        m["type"] == "freeze" && m["freeze"]["reveal"]["step"] == 1
    });
    assert_eq!(
        pushed["freeze"]["reveal"], first,
        "B's viewer sees A's step"
    );
    assert_eq!(shown(&b), first, "B's /api/contest too");
    assert_eq!(saved(&db), (2, json!(1)), "start and next, in the database");
    assert!(
        !a.data_dir.exists() && !b.data_dir.exists(),
        "no state file"
    );

    // An instance started later takes up the step at once.
    let c = contest.instance(db.url());
    assert_eq!(shown(&c), first);

    // `auto` on A: at the interval one step, not one per instance.
    assert_eq!(
        reveal(&a, json!({"action": "auto", "every_secs": 5})).status,
        200
    );
    contest.move_to(10, 5);
    let pushed = next_message(&mut watching, |m| {
        m["type"] == "freeze" && m["freeze"]["reveal"]["step"] == 2
    });
    assert_eq!(pushed["freeze"]["reveal"]["status"], "revealing");
    eventually("every instance shows step 2", || {
        [&a, &b, &c].iter().all(|s| shown(s)["step"] == 2)
    });
    assert_eq!(saved(&db), (4, json!(2)), "auto, then one step");

    // B moves it on to the end; A and C follow, the board thaws.
    let last = reveal(&b, json!({"action": "next"})).json()["reveal"].clone();
    assert_eq!(last["status"], "finished");
    eventually("A and C show the end", || {
        shown(&a) == last && shown(&c) == last
    });
    eventually("A is thawed", || {
        a.get_json("/api/contest").1["freeze"]["frozen"] == false
    });
}
