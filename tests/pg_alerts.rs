//! The alert state on the PostgreSQL store, against a real throwaway cluster
//! (tests/common/pg.rs): it lives in the database (one row per team and rule, no
//! `.benchboard-alerts.json`), every instance sharing the database agrees on it and
//! shows each change to its viewers, and an instance started later takes it up.

mod common;

use common::TestServer;
use common::contest::{TEAM1, post, registered, report_with_qps};
use common::pg;
use common::watch::{eventually, next_message, viewer};
use serde_json::Value;

const RULE: &str = "\n[[rule]]\nname = \"slow\"\nwhen = \"qps < 50\"\n";

/// A registered-mode server on `url` judging [`RULE`].
fn instance(url: String) -> TestServer {
    registered(RULE, move |config| {
        config.alerts = config.contest.as_ref().unwrap().alerts.clone();
        config.store_url = Some(url);
    })
    .0
}

fn firing(server: &TestServer) -> Vec<Value> {
    server.get_json("/api/alerts").1["firing"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_instance_agrees_on_the_alert_state_kept_in_the_database() {
    let db = pg::database();
    let (a, b) = (instance(db.url()), instance(db.url()));
    let mut watching = viewer(&b);
    assert_eq!(
        post(&a, "team1", Some(TEAM1), &report_with_qps(10.0)).status,
        200
    );
    assert_eq!(firing(&a)[0]["rule"], "slow");
    // B's viewer gets the change A made, and B's alerts say so.
    let pushed = next_message(&mut watching, |m| m["type"] == "alert");
    assert_eq!(pushed["change"]["to"], "firing");
    assert_eq!(pushed["team_alerts"][0]["team_id"], "team1");
    eventually("B shows the alert firing", || firing(&b).len() == 1);
    let (_, alerts) = b.get_json("/api/alerts");
    assert_eq!(alerts["changes"][0]["to"], "firing", "{alerts}");
    let rows: i64 = db
        .connect()
        .query_one(
            "SELECT count(*) FROM alert_state WHERE team_id = 'team1' AND rule = 'slow'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    assert!(
        !a.data_dir.exists() && !b.data_dir.exists(),
        "no state file"
    );

    // The team's next report goes to B, which judges it from the state A left.
    assert_eq!(
        post(&b, "team1", Some(TEAM1), &report_with_qps(500.0)).status,
        200
    );
    assert!(firing(&b).is_empty());
    let resolved = next_message(&mut watching, |m| m["type"] == "alert");
    assert_eq!(resolved["change"]["from"], "firing");
    assert_eq!(resolved["change"]["to"], "resolved");
    eventually("A shows it resolved", || {
        let (_, alerts) = a.get_json("/api/alerts");
        alerts["firing"] == Value::Array(vec![]) && alerts["changes"][0]["to"] == "resolved"
    });

    // An instance started later takes up the state and the changes.
    assert_eq!(
        post(&a, "team1", Some(TEAM1), &report_with_qps(1.0)).status,
        200
    );
    let c = instance(db.url());
    assert_eq!(firing(&c)[0]["team_id"], "team1");
    let (_, alerts) = c.get_json("/api/alerts");
    let changes: Vec<&str> = alerts["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["to"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["firing", "resolved", "firing"]);
}
