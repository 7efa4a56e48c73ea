//! The live board's tests (other modules use the helpers too).

use super::*;
use crate::report::Report;
use crate::store::WritableStore;

/// A store on a temporary directory and a board over it.
pub(crate) fn board_on_a_fresh_store() -> (tempfile::TempDir, WritableStore, LiveBoard) {
    let dir = tempfile::tempdir().unwrap();
    let store = WritableStore::open(dir.path(), false).unwrap();
    let board = LiveBoard::from_store(&store, Timing::default(), 6, Hub::new(16, 4)).unwrap();
    (dir, store, board)
}

/// Stores a report of `team` with the given `totalSent` and completed QPS.
pub(crate) fn store_report(
    store: &WritableStore,
    team: &str,
    sent: u64,
) -> (Arc<StoredReport>, Metrics) {
    let body = format!(
        r#"{{"totalElapsed":1,"totalSent":{sent},"totalOps":1,"totalErrors":0,"totalSaveDelayErrors":0,"pending":0,"operations":{{"sensorData":{{"operations":1,"errors":0}}}},"performanceMetrics":{{"avgSentQPS":1,"avgCompletedQPS":{sent},"errorRate":0}},"latencyAnalysis":{{"sensorData":{{"avg":1,"min":1,"max":1,"buckets":[1]}}}}}}"#
    );
    let report = Report::parse(body.as_bytes()).unwrap();
    let metrics = Metrics::of(&report);
    let id = TeamId::parse(team).unwrap();
    let stored = store
        .append(&id, "x", body.as_bytes(), report, &metrics)
        .unwrap();
    (stored, metrics)
}

#[test]
fn a_viewer_behind_gets_only_the_newest_update_of_each_team() {
    let (_dir, store, board) = board_on_a_fresh_store();
    let (_, subscription) = board.subscribe().unwrap();
    for team in ["team-7", "team-8", "team-7"] {
        let (stored, metrics) = store_report(&store, team, 1);
        board.apply(stored, metrics);
    }
    let (batch, _) = board.hub().batch_after(subscription.cursor()).unwrap();
    let updates: Vec<(String, u64)> = batch
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            let team = &v["team"];
            (
                team["team_id"].as_str().unwrap().to_string(),
                team["report_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        updates,
        [("team-8".to_string(), 1), ("team-7".to_string(), 2)]
    );
}

#[test]
fn viewers_joining_between_two_updates_share_one_snapshot() {
    let (_dir, store, board) = board_on_a_fresh_store();
    let (first, _a) = board.subscribe().unwrap();
    let (second, _b) = board.subscribe().unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    let (stored, metrics) = store_report(&store, "t", 5);
    board.apply(stored, metrics);
    let (third, _c) = board.subscribe().unwrap();
    assert!(!Arc::ptr_eq(&first, &third));
    let third = String::from_utf8(third.to_vec()).unwrap();
    assert!(third.contains("\"totalSent\":5"));
}

#[test]
fn reports_applied_out_of_order_leave_the_newest_as_latest() {
    let (_dir, store, board) = board_on_a_fresh_store();
    let stored: Vec<_> = [100, 200]
        .iter()
        .map(|&sent| store_report(&store, "t", sent))
        .collect();
    // The second report is applied first, as a race between two workers may do.
    for (report, metrics) in stored.into_iter().rev() {
        board.apply(report, metrics);
    }
    let team = board.team_json(&TeamId::parse("t").unwrap()).unwrap();
    let team: serde_json::Value = serde_json::from_slice(&team.to_vec()).unwrap();
    assert_eq!(team["stats"]["totalSent"], 200);
    assert_eq!(team["qps"], 200.0);
    assert_eq!(team["report_count"], 2);
    assert_eq!(team["best_qps"], 200.0);
}

fn alert_change(team: &str) -> Change {
    Change {
        rule: "slow".into(),
        severity: crate::alerts::Severity::Critical,
        condition: "avg_latency > 100".into(),
        metric: "avg_latency".into(),
        threshold: 100.0,
        team_id: team.into(),
        team_name: "x".into(),
        from: crate::alerts::Phase::Pending,
        to: crate::alerts::Phase::Firing,
        value: Some(150.0),
        at: "2026-12-01T10:00:05+00:00".into(),
        active_since: Some("2026-12-01T10:00:00+00:00".into()),
    }
}

#[test]
fn a_firing_alert_is_serialised_into_the_shared_entry_and_the_snapshot() {
    let (_dir, store, board) = board_on_a_fresh_store();
    let (stored, metrics) = store_report(&store, "t", 5);
    board.apply(stored, metrics);
    let change = alert_change("t");
    let firing = FiringAlert {
        rule: "slow".into(),
        severity: change.severity,
        team_id: "t".into(),
        team_name: "x".into(),
        condition: change.condition.clone(),
        value: change.value,
        since: change.at.clone(),
    };
    board.show_alerts(std::slice::from_ref(&change), std::slice::from_ref(&firing));
    let id = TeamId::parse("t").unwrap();
    let team: serde_json::Value =
        serde_json::from_slice(&board.team_json(&id).unwrap().to_vec()).unwrap();
    assert_eq!(team["alerts"][0]["rule"], "slow");
    // The snapshot put together from the shared bytes is WsMessage::Snapshot's JSON.
    let (snapshot, _) = board.subscribe().unwrap();
    let snapshot: serde_json::Value = serde_json::from_slice(&snapshot.to_vec()).unwrap();
    let now = crate::timefmt::now().fixed_offset();
    let teams = board.teams.lock().unwrap();
    let expected = WsMessage::Snapshot {
        teams: teams
            .values()
            .map(|t| t.to_api(now, &board.timing))
            .collect(),
        max_teams: board.max_teams,
        inactive_after_secs: board.timing.inactive_after.as_secs(),
        evict_after_secs: board.timing.evict_after.as_secs(),
        storage_available: true,
        alerts: vec![change],
        contest: None,
        ranking: None,
        freeze: serde_json::json!({}),
    };
    assert_eq!(snapshot, serde_json::to_value(&expected).unwrap());
    drop(teams);
    // Resolved: the entry is serialised again without it.
    board.show_alerts(&[], &[]);
    let team: serde_json::Value =
        serde_json::from_slice(&board.team_json(&id).unwrap().to_vec()).unwrap();
    assert_eq!(team["alerts"], serde_json::json!([]));
}
