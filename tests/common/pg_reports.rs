//! Reports for the PostgreSQL store's own tests (`PgStore` without a server), and a
//! listener that collects what the feed passes on.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use benchboard::metrics::Metrics;
use benchboard::report::Report;
use benchboard::store::postgres::{FeedEvent, Listener, NewReport, PgStore};
use benchboard::team::TeamId;

/// A valid report whose completed QPS is `qps`, laid out as a tool might send it.
pub fn body_with_qps(qps: f64) -> String {
    body_with(qps, 1)
}

/// [`body_with_qps`] with `errors` as its `totalErrors` (a cumulative counter).
pub fn body_with(qps: f64, errors: u64) -> String {
    format!(
        r#"{{ "totalElapsed": 10, "totalSent": 100, "totalOps": 90,  "totalErrors": {errors},
  "totalSaveDelayErrors": 0, "pending": 5, "zExtra": "第一", "aExtra": [1.50, 1e3],
  "operations": {{"sensorData": {{"operations": 90, "errors": 1}}}},
  "performanceMetrics": {{"avgSentQPS": 10, "avgCompletedQPS": {qps}, "errorRate": 1.1}},
  "latencyAnalysis": {{"sensorData": {{"avg": 3.5, "min": 1, "max": 9,
    "buckets": [10, 20, 30, 20, 10, 0, 0, 0, 0, 0, 0, 0]}}}}}}"#
    )
}

/// A report of `team` as a migration hands it over (no plausibility judging).
pub fn new_report(team: &str, qps: f64) -> NewReport {
    report_of(team, body_with_qps(qps), false)
}

/// A report of `team` with this body; `judged`: as the server hands it over (the
/// writer judges it against the team's newest report).
pub fn report_of(team: &str, body: String, judged: bool) -> NewReport {
    let report = Report::parse(body.as_bytes()).expect("a valid report");
    let metrics = Metrics::of(&report);
    let mut fields = report;
    let stats = std::mem::take(&mut fields.value);
    NewReport {
        team_id: TeamId::parse(team).unwrap(),
        team_name: format!("Team {team}"),
        body,
        stats,
        metrics,
        warnings: Vec::new(),
        fields: judged.then(|| Box::new(fields)),
        arrival: None,
        source: None,
    }
}

/// Collects what a listener passes on.
pub fn listening(store: &PgStore) -> (Listener, mpsc::Receiver<FeedEvent>) {
    let (events, received) = mpsc::channel();
    let events = std::sync::Mutex::new(events);
    let listener = store.listen(Vec::new(), move |event| {
        let _ = events.lock().unwrap().send(event);
    });
    (listener, received)
}

/// The (team, seq) of each report event until `n` have come, within a deadline.
pub fn reports_seen(events: &mpsc::Receiver<FeedEvent>, n: usize) -> Vec<(String, u64)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(FeedEvent::Report { seq, stored, .. }) => {
                seen.push((stored.team_id.to_string(), seq))
            }
            Ok(_) => {}
            Err(_) => panic!("only {} of {n} reports arrived: {seen:?}", seen.len()),
        }
    }
    seen
}
