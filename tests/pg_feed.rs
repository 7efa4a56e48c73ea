//! The fan-out between instances on one database (the feed, `LISTEN/NOTIFY`, the
//! catch-up after a lost listener connection) and the writer's batches as other
//! instances see them, against a real, throwaway PostgreSQL cluster
//! (tests/common/pg.rs): one cluster for this binary, a fresh database per test.

mod common;

use common::pg;
use common::pg_reports::{body_with, listening, new_report, report_of, reports_seen};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use benchboard::store::postgres::{FeedEvent, NewReport, PgStore};
use postgres::fallible_iterator::FallibleIterator;

fn count(db: &pg::TestDb, sql: &str) -> i64 {
    db.connect().query_one(sql, &[]).unwrap().get(0)
}

/// Ends the listener connections of the database's instances; how many.
fn cut_listeners(db: &pg::TestDb) -> i64 {
    count(
        db,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'benchboard-listener'",
    )
}

/// Per team, the seqs in the order they were seen.
fn per_team(seen: Vec<(String, u64)>) -> HashMap<String, Vec<u64>> {
    let mut teams: HashMap<String, Vec<u64>> = HashMap::new();
    for (team, seq) in seen {
        teams.entry(team).or_default().push(seq);
    }
    teams
}

/// `n` reports, round robin over `teams`.
fn spread(teams: &[&str], n: usize) -> Vec<NewReport> {
    (0..n)
        .map(|i| new_report(teams[i % teams.len()], i as f64))
        .collect()
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
    let seen = per_team(reports_seen(&events, 30));
    assert_eq!(seen["even"], (1..=15).collect::<Vec<_>>());
    assert_eq!(seen["odd"], (1..=15).collect::<Vec<_>>());
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
    assert_eq!(cut_listeners(&db), 1, "one listener connection");
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
            // Once back, the listener reads every team, the presentation and the
            // contest state again.
            Ok(
                FeedEvent::TeamChanged(..) | FeedEvent::Presentation(_) | FeedEvent::Contest(..),
            ) => {}
            Ok(event @ (FeedEvent::AdminAction(_) | FeedEvent::Alert(_))) => {
                panic!("nobody announced {event:?}")
            }
            Err(_) => panic!("seen {seen:?}, down {down}, up {up}"),
        }
    }
    assert_eq!(seen, [2, 3, 4, 5, 6]);
    assert!(down, "the board heard that the database was away");
}

#[test]
fn a_batch_is_announced_once_and_reaches_the_other_instance_in_order() {
    let db = pg::database();
    let a = PgStore::open(&db.url()).unwrap();
    let b = PgStore::open(&db.url()).unwrap();
    let (_listener, events) = listening(&b);
    let mut raw = db.connect();
    raw.batch_execute("LISTEN benchboard").unwrap();
    for result in a.append_all(spread(&["t1", "t2", "t3"], 90)) {
        result.unwrap();
    }
    // Every notification names the storing instance, then each team once, with the
    // seqs its commit stored.
    let mut newest: HashMap<String, u64> = HashMap::new();
    let mut notifications = 0;
    let mut heard = raw.notifications();
    let mut waiting = heard.timeout_iter(Duration::from_secs(60));
    while newest.values().sum::<u64>() < 90 {
        let note = waiting.next().unwrap().expect("the batch was announced");
        notifications += 1;
        let mut teams = Vec::new();
        let mut lines = note.payload().lines();
        let by = lines.next().unwrap();
        assert!(by.starts_with('@'), "the storing instance first: {by}");
        for line in lines {
            let (team, seqs) = line.split_once(' ').unwrap();
            let (first, last) = seqs.split_once('-').unwrap_or((seqs, seqs));
            let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
            let before = newest.insert(team.to_string(), last).unwrap_or(0);
            assert_eq!(first, before + 1, "{line}: the seqs follow on");
            teams.push(team.to_string());
        }
        teams.sort();
        teams.dedup();
        assert_eq!(
            teams.len(),
            note.payload().lines().count() - 1,
            "{}",
            note.payload()
        );
    }
    let commits = count(&db, "SELECT count(DISTINCT xmin::text) FROM reports");
    assert_eq!(notifications, commits, "one NOTIFY per commit");
    assert!(commits < 90, "the reports shared commits");
    let seen = per_team(reports_seen(&events, 90));
    for team in ["t1", "t2", "t3"] {
        assert_eq!(seen[team], (1..=30).collect::<Vec<_>>(), "{team}");
    }
}

#[test]
fn a_listener_lost_during_batches_catches_up_once_and_ignores_repeats() {
    let db = pg::database();
    let a = PgStore::open(&db.url()).unwrap();
    let b = PgStore::open(&db.url()).unwrap();
    let (_listener, events) = listening(&b);
    a.append_all(spread(&["t1", "t2"], 4));
    assert_eq!(reports_seen(&events, 4).len(), 4);

    // Batches stored while the listener is away, of both teams and of a new one.
    assert_eq!(cut_listeners(&db), 1, "one listener connection");
    for result in a.append_all(spread(&["t1", "t2", "t3"], 60)) {
        result.unwrap();
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 60 {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(FeedEvent::Report { seq, stored, .. }) => {
                seen.push((stored.team_id.to_string(), seq))
            }
            Ok(FeedEvent::Team(_)) => panic!("a short gap is replayed report by report"),
            Ok(_) => {}
            Err(_) => panic!("seen {seen:?}"),
        }
    }
    let seen = per_team(seen);
    assert_eq!(seen["t1"], (3..=22).collect::<Vec<_>>());
    assert_eq!(seen["t2"], (3..=22).collect::<Vec<_>>());
    assert_eq!(seen["t3"], (1..=20).collect::<Vec<_>>());

    // An announcement heard again (or overlapping what was passed on) adds nothing:
    // the next event is the next report.
    db.connect()
        .batch_execute("SELECT pg_notify('benchboard', E't1 1-22\\nt3 5')")
        .unwrap();
    a.append(new_report("t3", 1.0)).unwrap();
    assert_eq!(reports_seen(&events, 1), [("t3".to_string(), 21)]);
}

/// The warning codes of a stored report.
fn codes(stored: &benchboard::store::StoredReport) -> Vec<String> {
    stored
        .warnings
        .iter()
        .map(|w| w.code.as_str().to_string())
        .collect()
}

#[test]
fn warnings_are_judged_against_the_newest_report_of_any_instance() {
    let db = pg::database();
    let a = PgStore::open(&db.url()).unwrap();
    let b = PgStore::open(&db.url()).unwrap();
    let down = "counter_went_down".to_string();
    let post = |store: &PgStore, errors| {
        let report = report_of("t1", body_with(9.0, errors), true);
        store.append(report).unwrap().stored
    };
    assert!(!codes(&post(&a, 1000)).contains(&down));
    // B judges against A's report, which it never held.
    assert!(codes(&post(&b, 10)).contains(&down), "1000 errors, then 10");
    // A judges against B's report, not the one A stored before it.
    assert!(
        !codes(&post(&a, 500)).contains(&down),
        "10 errors, then 500"
    );
    // Reports of one batch are judged against each other, in order.
    let batch = vec![
        report_of("t1", body_with(9.0, 600), true),
        report_of("t1", body_with(9.0, 550), true),
    ];
    let stored: Vec<_> = a
        .append_all(batch)
        .into_iter()
        .map(|r| r.unwrap().stored)
        .collect();
    assert!(!codes(&stored[0]).contains(&down), "500, then 600");
    assert!(codes(&stored[1]).contains(&down), "600, then 550");
    // As kept in the database.
    let kept: String = db
        .connect()
        .query_one("SELECT warnings::text FROM reports WHERE seq = 5", &[])
        .unwrap()
        .get(0);
    assert!(kept.contains("counter_went_down"), "{kept}");
}
