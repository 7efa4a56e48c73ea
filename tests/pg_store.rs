//! The PostgreSQL store's own behaviour (schema, group commit) against a real,
//! throwaway PostgreSQL cluster (tests/common/pg.rs): one cluster for this binary, a
//! fresh database per test. The fan-out between instances: tests/pg_feed.rs.

mod common;

use common::pg;
use common::pg_reports::{body_with_qps, new_report};

use std::sync::{Arc, Barrier};

use benchboard::store::postgres::{PgStore, migrate};
use benchboard::team::TeamId;

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
