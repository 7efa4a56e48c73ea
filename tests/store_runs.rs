//! The store numbers each team's runs and keeps each report's plausibility warnings
//! in its index; both survive a restart and are rebuilt from the report files when
//! the index is gone or was written before runs existed.

mod common;

use std::path::Path;

use benchboard::metrics::Metrics;
use benchboard::report::Report;
use benchboard::report::plausibility::WarningCode;
use benchboard::store::{INDEX_FILE, Store, WritableStore};
use benchboard::team::TeamId;
use common::fixture;
use serde_json::{Value, json};

/// The minimal fixture with its elapsed time, sent count and error count replaced.
fn report(elapsed_s: f64, sent: i64, errors: i64) -> Vec<u8> {
    let mut value: Value =
        serde_json::from_slice(&std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap())
            .unwrap();
    value["totalElapsed"] = json!(elapsed_s);
    value["totalSent"] = json!(sent);
    value["totalOps"] = json!(sent - 20);
    value["pending"] = json!(0);
    value["totalErrors"] = json!(errors);
    value["performanceMetrics"]["avgCompletedQPS"] = json!((sent - 20) as f64 / elapsed_s);
    serde_json::to_vec(&value).unwrap()
}

fn append(store: &WritableStore, body: &[u8]) {
    let report = Report::parse(body).unwrap();
    let metrics = Metrics::of(&report);
    store
        .append(&TeamId::parse("t1").unwrap(), "T", body, report, &metrics)
        .unwrap();
}

/// (run, warning codes and fields) of each report, oldest first.
fn runs_and_warnings(store: &Store) -> Vec<(u32, Vec<(WarningCode, String)>)> {
    store
        .entries(&TeamId::parse("t1").unwrap())
        .iter()
        .map(|e| {
            let warnings = e
                .warnings
                .iter()
                .map(|w| (w.code, w.field.clone()))
                .collect();
            (e.run, warnings)
        })
        .collect()
}

fn expected() -> Vec<(u32, Vec<(WarningCode, String)>)> {
    vec![
        (1, vec![]),
        (
            1,
            vec![(WarningCode::CounterWentDown, "totalErrors".into())],
        ),
        (2, vec![(WarningCode::NegativeCount, "totalErrors".into())]),
        (2, vec![]),
    ]
}

fn write_history(dir: &Path) {
    let store = WritableStore::open(dir, false).unwrap();
    append(&store, &report(10.0, 1000, 30));
    append(&store, &report(20.0, 2000, 25)); // errors went down within the run
    append(&store, &report(5.0, 500, -5)); // the tool restarted: run 2, a negative count
    append(&store, &report(10.0, 1000, 3));
    assert_eq!(runs_and_warnings(&store), expected());
    let latest = store.latest(&TeamId::parse("t1").unwrap()).unwrap();
    assert_eq!(latest.run, 2);
}

#[test]
fn runs_and_warnings_are_kept_in_the_index_across_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    write_history(temp.path());
    let index = std::fs::read_to_string(temp.path().join("t1").join(INDEX_FILE)).unwrap();
    assert_eq!(
        index.lines().filter(|l| l.contains("\"w\":")).count(),
        2,
        "{index}"
    );
    let store = Store::open(temp.path()).unwrap();
    assert_eq!(runs_and_warnings(&store), expected());
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
}

#[test]
fn a_lost_index_is_rebuilt_with_the_same_runs_and_warnings() {
    let temp = tempfile::tempdir().unwrap();
    write_history(temp.path());
    std::fs::remove_file(temp.path().join("t1").join(INDEX_FILE)).unwrap();
    let store = WritableStore::open(temp.path(), false).unwrap();
    assert_eq!(runs_and_warnings(&store), expected());
    let latest = store.latest(&TeamId::parse("t1").unwrap()).unwrap();
    assert_eq!((latest.run, latest.warnings.len()), (2, 0));
}

#[test]
fn a_partly_lost_index_judges_its_first_missing_report_against_the_one_before() {
    let temp = tempfile::tempdir().unwrap();
    write_history(temp.path());
    // As if the server died after writing the second report's file but before its index line.
    let index = temp.path().join("t1").join(INDEX_FILE);
    let text = std::fs::read_to_string(&index).unwrap();
    let first_line: String = text.lines().next().unwrap().to_string() + "\n";
    std::fs::write(&index, first_line).unwrap();
    let store = Store::open(temp.path()).unwrap();
    assert_eq!(runs_and_warnings(&store), expected());
}

#[test]
fn an_index_written_before_runs_existed_is_read_again_from_the_files() {
    let temp = tempfile::tempdir().unwrap();
    write_history(temp.path());
    let index = temp.path().join("t1").join(INDEX_FILE);
    let text = std::fs::read_to_string(&index).unwrap();
    let old: String = text
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            let map = value.as_object_mut().unwrap();
            map.remove("e");
            map.remove("s");
            map.remove("w");
            value.to_string() + "\n"
        })
        .collect();
    std::fs::write(&index, old).unwrap();
    let store = WritableStore::open(temp.path(), false).unwrap();
    assert_eq!(runs_and_warnings(&store), expected());
    drop(store);
    let rewritten = std::fs::read_to_string(&index).unwrap();
    let mut lines = rewritten.lines();
    assert_eq!(
        lines.next(),
        Some("{\"benchboard_index\":2}"),
        "the version line"
    );
    assert!(lines.all(|l| l.contains("\"e\":")), "{rewritten}");
}

#[test]
fn the_originals_data_directory_gets_runs_and_its_warnings() {
    let temp = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture("original-data"), temp.path());
    let store = Store::open(temp.path()).unwrap();
    let team1 = store.entries(&TeamId::parse("team1").unwrap());
    assert!(team1.iter().all(|e| e.run == 1));
    let codes: Vec<_> = team1
        .iter()
        .flat_map(|e| e.warnings.iter().map(|w| w.code))
        .collect();
    assert!(
        codes.iter().all(|c| *c == WarningCode::CounterWentDown),
        "{codes:?}"
    );
}

/// The team's report file names, oldest first.
fn names(store: &Store) -> Vec<String> {
    let entries = store.entries(&TeamId::parse("t1").unwrap());
    entries.iter().map(|e| e.file_name.to_string()).collect()
}

#[test]
fn a_trashed_report_counts_for_no_run_and_no_warning_and_a_restored_one_again() {
    let temp = tempfile::tempdir().unwrap();
    write_history(temp.path());
    let store = WritableStore::open(temp.path(), false).unwrap();
    let t1 = TeamId::parse("t1").unwrap();
    let files = names(&store);
    // Without the first report, the second one has nothing before it to go down from.
    store.trash_report(&t1, &files[0]).unwrap();
    let mut without_first = expected();
    without_first.remove(0);
    without_first[0].1.clear();
    assert_eq!(runs_and_warnings(&store), without_first);
    store.restore_report(&t1, &files[0]).unwrap();
    assert_eq!(runs_and_warnings(&store), expected());

    // A third run, then the second run's reports go: the third run becomes the second.
    append(&store, &report(4.0, 400, 1));
    assert_eq!(store.latest(&t1).unwrap().run, 3);
    store.trash_report(&t1, &files[2]).unwrap();
    store.trash_report(&t1, &files[3]).unwrap();
    let runs: Vec<u32> = runs_and_warnings(&store)
        .iter()
        .map(|(run, _)| *run)
        .collect();
    assert_eq!(runs, [1, 1, 2]);
    assert_eq!(store.latest(&t1).unwrap().run, 2);
    // The next report is judged against the newest one left (1 error: it went down),
    // not against a trashed one (which had more time: a new run, no such warning).
    append(&store, &report(8.0, 800, 0));
    assert_eq!(
        runs_and_warnings(&store).last().unwrap(),
        &(
            2,
            vec![(WarningCode::CounterWentDown, "totalErrors".into())]
        )
    );
    drop(store);
    // As the index says after a restart.
    let store = Store::open(temp.path()).unwrap();
    let runs: Vec<u32> = runs_and_warnings(&store)
        .iter()
        .map(|(run, _)| *run)
        .collect();
    assert_eq!(runs, [1, 1, 2, 2]);
}
