//! The PostgreSQL store's own behaviour (schema, group commit, fan-out) against a
//! real, throwaway PostgreSQL cluster (tests/common/pg.rs): one cluster for this binary, a
//! fresh database per test.

mod common;

use common::pg;

use std::collections::HashMap;
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use benchboard::metrics::Metrics;
use benchboard::report::Report;
use benchboard::store::postgres::{FeedEvent, NewReport, PgStore, migrate};
use benchboard::team::TeamId;

/// A valid report whose completed QPS is `qps`, laid out as a tool might send it.
fn body_with_qps(qps: f64) -> String {
    format!(
        r#"{{ "totalElapsed": 10, "totalSent": 100, "totalOps": 90,  "totalErrors": 1,
  "totalSaveDelayErrors": 0, "pending": 5, "zExtra": "第一", "aExtra": [1.50, 1e3],
  "operations": {{"sensorData": {{"operations": 90, "errors": 1}}}},
  "performanceMetrics": {{"avgSentQPS": 10, "avgCompletedQPS": {qps}, "errorRate": 1.1}},
  "latencyAnalysis": {{"sensorData": {{"avg": 3.5, "min": 1, "max": 9,
    "buckets": [10, 20, 30, 20, 10, 0, 0, 0, 0, 0, 0, 0]}}}}}}"#
    )
}

fn new_report(team: &str, qps: f64) -> NewReport {
    let body = body_with_qps(qps);
    let report = Report::parse(body.as_bytes()).expect("a valid report");
    let metrics = Metrics::of(&report);
    NewReport {
        team_id: TeamId::parse(team).unwrap(),
        team_name: format!("Team {team}"),
        body,
        stats: report.value,
        metrics,
        warnings: Vec::new(),
        arrival: None,
        source: None,
    }
}

fn count(db: &pg::TestDb, sql: &str) -> i64 {
    db.connect().query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn each_test_gets_its_own_empty_database() {
    let a = pg::database();
    let b = pg::database();
    assert_ne!(a.name, b.name);
    a.connect()
        .batch_execute("CREATE TABLE only_in_a (x int)")
        .unwrap();
    let tables = "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'";
    assert_eq!((count(&a, tables), count(&b, tables)), (1, 0));
}

#[test]
fn two_instances_starting_at_once_migrate_once() {
    let db = pg::database();
    let start = Arc::new(Barrier::new(4));
    let url = db.url();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let (start, url) = (Arc::clone(&start), url.clone());
            std::thread::spawn(move || {
                start.wait();
                PgStore::open(&url).map(|_| ())
            })
        })
        .collect();
    for handle in opened {
        handle.join().unwrap().expect("every instance opens");
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM benchboard_migrations"),
        migrate::MIGRATIONS.len() as i64
    );
    // And again, with the schema in place: nothing more is applied.
    PgStore::open(&url).unwrap();
    assert_eq!(
        count(&db, "SELECT max(version)::int8 FROM benchboard_migrations"),
        migrate::current_version() as i64
    );
}

#[test]
fn a_newer_schema_is_refused_rather_than_used() {
    let db = pg::database();
    PgStore::open(&db.url()).unwrap();
    db.connect()
        .batch_execute("INSERT INTO benchboard_migrations (version, name) VALUES (999, 'future')")
        .unwrap();
    let error = PgStore::open(&db.url()).err().expect("refused");
    assert!(error.to_string().contains("version 999"), "{error}");
}

#[test]
fn a_missing_database_is_refused_with_a_hint() {
    let url = pg::shared().url("no_such_database");
    let error = PgStore::open(&url).err().expect("refused");
    assert!(!error.is_unavailable(), "{error}");
    assert!(error.to_string().contains("createdb"), "{error}");
}

#[test]
fn reports_are_numbered_named_and_kept_verbatim() {
    let db = pg::database();
    let store = PgStore::open(&db.url()).unwrap();
    let appended: Vec<_> = [5.0, 9.0, 7.0]
        .iter()
        .map(|qps| store.append(new_report("alpha", *qps)).unwrap())
        .collect();
    assert_eq!(
        appended.iter().map(|a| a.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let names: Vec<&str> = appended.iter().map(|a| &*a.stored.file_name).collect();
    assert!(
        names
            .windows(2)
            .all(|w| benchboard::timefmt::parse_file_name(w[0])
                < benchboard::timefmt::parse_file_name(w[1])),
        "{names:?}"
    );

    let team = store
        .team(&TeamId::parse("alpha").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(team.reports, 3);
    assert_eq!(team.latest.file_name, names[2]);
    assert_eq!(team.best_qps.as_ref().unwrap().0, 9.0);
    assert_eq!(team.best_qps.unwrap().1, appended[1].stored.timestamp);

    let chunk = store
        .chunk(&TeamId::parse("alpha").unwrap(), &(None, None), 0, 10)
        .unwrap();
    assert_eq!(chunk.len(), 3);
    assert_eq!(
        chunk[0].2,
        body_with_qps(5.0),
        "stats come back byte for byte"
    );
}

#[test]
fn concurrent_reports_share_commits_and_keep_dense_sequences() {
    let db = pg::database();
    let store = Arc::new(PgStore::open(&db.url()).unwrap());
    let senders: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for n in 0..15 {
                    let team = format!("team{}", i % 4);
                    store.append(new_report(&team, f64::from(n))).unwrap();
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    assert_eq!(count(&db, "SELECT count(*) FROM reports"), 32 * 15);
    let gaps = "SELECT count(*) FROM teams t WHERE reports <> \
                (SELECT count(*) FROM reports r WHERE r.team_id = t.team_id AND r.seq <= t.reports)";
    assert_eq!(count(&db, gaps), 0, "every team's seqs are 1..=reports");
    let transactions = count(&db, "SELECT count(DISTINCT xmin::text) FROM reports");
    assert!(
        transactions < 32 * 15,
        "{transactions} transactions for 480 reports: no report shared a commit"
    );
}

#[test]
fn a_history_page_is_the_same_at_any_depth() {
    let db = pg::database();
    let store = PgStore::open(&db.url()).unwrap();
    let id = TeamId::parse("deep").unwrap();
    for n in 0..25 {
        store.append(new_report("deep", f64::from(n))).unwrap();
    }
    let qps = |page: &[benchboard::store::StoredReport]| -> Vec<f64> {
        page.iter()
            .map(|s| {
                s.stats["performanceMetrics"]["avgCompletedQPS"]
                    .as_f64()
                    .unwrap()
            })
            .collect()
    };
    let (total, page) = store.page(&id, &(None, None), 0, 3).unwrap();
    assert_eq!((total, qps(&page)), (25, vec![24.0, 23.0, 22.0]));
    let (_, page) = store.page(&id, &(None, None), 23, 10).unwrap();
    assert_eq!(qps(&page), [1.0, 0.0]);
    let (_, page) = store.page(&id, &(None, None), 25, 10).unwrap();
    assert!(page.is_empty());
    let unknown = TeamId::parse("nobody").unwrap();
    assert_eq!(store.page(&unknown, &(None, None), 0, 10).unwrap().0, 0);
}

/// Collects what a listener passes on.
fn listening(
    store: &PgStore,
) -> (
    benchboard::store::postgres::Listener,
    mpsc::Receiver<FeedEvent>,
) {
    let (events, received) = mpsc::channel();
    let events = std::sync::Mutex::new(events);
    let listener = store.listen(Vec::new(), move |event| {
        let _ = events.lock().unwrap().send(event);
    });
    (listener, received)
}

/// The (team, seq) of each report event until `n` have come, within a deadline.
fn reports_seen(events: &mpsc::Receiver<FeedEvent>, n: usize) -> Vec<(String, u64)> {
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

#[test]
fn a_report_stored_by_one_instance_reaches_the_other_once_and_in_order() {
    let db = pg::database();
    let a = PgStore::open(&db.url()).unwrap();
    let b = PgStore::open(&db.url()).unwrap();
    let (_listener, events) = listening(&b);
    for n in 0..30 {
        a.append(new_report(if n % 2 == 0 { "even" } else { "odd" }, 1.0))
            .unwrap();
    }
    let seen = reports_seen(&events, 30);
    let mut per_team: HashMap<String, Vec<u64>> = HashMap::new();
    for (team, seq) in seen {
        per_team.entry(team).or_default().push(seq);
    }
    assert_eq!(per_team["even"], (1..=15).collect::<Vec<_>>());
    assert_eq!(per_team["odd"], (1..=15).collect::<Vec<_>>());
    // Nothing is passed on twice: the next event is the next report.
    a.append(new_report("even", 1.0)).unwrap();
    assert_eq!(reports_seen(&events, 1), [("even".to_string(), 16)]);
}

#[test]
fn a_lost_listener_reconnects_and_catches_up_without_duplicates() {
    let db = pg::database();
    let a = PgStore::open(&db.url()).unwrap();
    let b = PgStore::open(&db.url()).unwrap();
    let (_listener, events) = listening(&b);
    a.append(new_report("team1", 1.0)).unwrap();
    assert_eq!(reports_seen(&events, 1), [("team1".to_string(), 1)]);

    // Cut the listener's connection, store while it is away, and let it come back.
    let killed = count(
        &db,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'benchboard-listener'",
    );
    assert_eq!(killed, 1, "one listener connection");
    for _ in 0..5 {
        a.append(new_report("team1", 1.0)).unwrap();
    }
    let mut seen = Vec::new();
    let mut down = false;
    let mut up = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 5 || !up {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(FeedEvent::Report { seq, .. }) => seen.push(seq),
            Ok(FeedEvent::Available(false)) => down = true,
            Ok(FeedEvent::Available(true)) => up = true,
            Ok(FeedEvent::Team(_)) => panic!("a short gap is replayed report by report"),
            Ok(FeedEvent::Clock(_)) => {}
            // Once back, the listener reads every team and the presentation again.
            Ok(FeedEvent::TeamChanged(..) | FeedEvent::Presentation(_)) => {}
            Ok(event @ (FeedEvent::AdminAction(_) | FeedEvent::Alert(_))) => {
                panic!("nobody announced {event:?}")
            }
            Err(_) => panic!("seen {seen:?}, down {down}, up {up}"),
        }
    }
    assert_eq!(seen, [2, 3, 4, 5, 6]);
    assert!(down, "the board heard that the database was away");
}
