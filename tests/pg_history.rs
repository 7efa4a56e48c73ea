//! `benchboard-history` with PostgreSQL: `migrate --from DIR --to URL` and back out
//! with `export --format dir`, byte for byte on the stats; every command reads a
//! database as it reads the data directory it came from. Real binaries, a real
//! throwaway cluster (tests/common/pg.rs).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{copy_dir, fixture, pg};

const HISTORY: &str = env!("CARGO_BIN_EXE_benchboard-history");

fn history(args: &[&str]) -> Output {
    Command::new(HISTORY)
        .args(args)
        .output()
        .expect("benchboard-history runs")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}; stderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn migrate(from: &Path, url: &str) -> String {
    ok(&history(&[
        "migrate",
        "--from",
        from.to_str().unwrap(),
        "--to",
        url,
    ]))
}

/// `benchboard-history --store URL export --format dir -o OUT`, which must succeed.
fn export_dir(url: &str, out: &Path) {
    ok(&history(&[
        "--store",
        url,
        "export",
        "--format",
        "dir",
        "-o",
        out.to_str().unwrap(),
    ]));
}

/// The report files of a data directory: (team/name, stats exactly as in the file).
fn stats_by_file(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for team in std::fs::read_dir(dir).unwrap().flatten() {
        for file in std::fs::read_dir(team.path()).unwrap().flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if benchboard::timefmt::parse_file_name(&name).is_none() {
                continue;
            }
            let (_, stats, _) = benchboard::store::read_report_file_raw(&file.path()).unwrap();
            let team = team.file_name().to_string_lossy().into_owned();
            found.push((format!("{team}/{name}"), stats));
        }
    }
    found.sort();
    found
}

/// The original tool's data directory, copied (the binaries must not change it).
fn original_data(temp: &Path) -> PathBuf {
    let dir = temp.join("original");
    copy_dir(&fixture("original-data"), &dir);
    dir
}

#[test]
fn migrate_and_export_round_trip_the_stats_byte_for_byte() {
    let db = pg::database();
    let temp = tempfile::tempdir().unwrap();
    let source = original_data(temp.path());
    let said = migrate(&source, &db.url());
    assert!(said.contains("copied 6 reports of 2 teams"), "{said}");
    assert!(said.contains("verified"), "{said}");

    let out = temp.path().join("exported");
    export_dir(&db.url(), &out);
    assert_eq!(stats_by_file(&out), stats_by_file(&source));
    for team in ["team1", "team2"] {
        let newest = benchboard::store::read_report_file_raw(&out.join(team).join("latest.json"))
            .unwrap()
            .1;
        let (_, expected) = stats_by_file(&source)
            .into_iter()
            .rfind(|(name, _)| name.starts_with(team))
            .unwrap();
        assert_eq!(newest, expected, "{team}/latest.json is the newest report");
    }
    // The exported directory is a data directory like any other: it migrates again
    // into a fresh database with the same result.
    let again = pg::database();
    assert!(migrate(&out, &again.url()).contains("copied 6 reports"));
}

#[test]
fn migrating_twice_copies_nothing_twice_and_finishes_a_partial_copy() {
    let db = pg::database();
    let temp = tempfile::tempdir().unwrap();
    let source = original_data(temp.path());
    // A migration stopped half-way: only the oldest report of team1 made it.
    let partial = temp.path().join("partial");
    std::fs::create_dir_all(partial.join("team1")).unwrap();
    std::fs::copy(
        source.join("team1/20250801_100005_138.json"),
        partial.join("team1/20250801_100005_138.json"),
    )
    .unwrap();
    assert!(migrate(&partial, &db.url()).contains("copied 1 reports"));

    let said = migrate(&source, &db.url());
    assert!(
        said.contains("copied 5 reports") && said.contains("1 already there"),
        "{said}"
    );
    let said = migrate(&source, &db.url());
    assert!(
        said.contains("copied 0 reports") && said.contains("6 already there"),
        "{said}"
    );
    let count: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM reports", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 6);
}

#[test]
fn every_command_reads_a_database_as_the_directory_it_came_from() {
    let db = pg::database();
    let temp = tempfile::tempdir().unwrap();
    let source = original_data(temp.path());
    migrate(&source, &db.url());
    let dir = ["--data-dir", source.to_str().unwrap()];
    let url = db.url();
    let store = ["--store", url.as_str()];
    let commands: [&[&str]; 6] = [
        &["teams", "--json"],
        &["show", "team1", "--json", "--limit", "2", "--offset", "1"],
        &["best", "--by", "latency", "--json"],
        &["export", "--format", "csv"],
        &["export", "--format", "ndjson", "--team", "team2"],
        &["summary", "team2", "--since", "2025-08-01 10:00:06"],
    ];
    // Only where the reports live differs (the summary names it).
    let located = |text: String| -> String {
        text.lines()
            .filter(|l| !l.starts_with("data directory"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for command in commands {
        let from_dir = ok(&history(&[&dir[..], command].concat()));
        let from_store = ok(&history(&[&store[..], command].concat()));
        assert_eq!(located(from_store), located(from_dir), "{command:?}");
    }
}

#[test]
fn a_database_without_the_schema_is_refused_with_a_hint() {
    let db = pg::database();
    let output = history(&["--store", &db.url(), "teams"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no BenchBoard schema"), "{stderr}");
    let output = history(&["--store", "postgres://bb@/x?port=notaport", "teams"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_imported_report_keeps_its_source_through_migrate_and_export() {
    let db = pg::database();
    let temp = tempfile::tempdir().unwrap();
    let source = temp.path().join("data");
    let store = benchboard::store::WritableStore::open(&source, false).unwrap();
    let body = std::fs::read(fixture("valid/full-13-buckets.json")).unwrap();
    let report = benchboard::report::Report::parse(&body).unwrap();
    let metrics = benchboard::metrics::Metrics::of(&report);
    let id = benchboard::team::TeamId::parse("team1").unwrap();
    let from = serde_json::json!({"format": "jtl", "sha256": "ab12", "approximate": false});
    store
        .append_imported(&id, "T", &body, report, &metrics, &from)
        .unwrap();
    drop(store);
    assert!(migrate(&source, &db.url()).contains("copied 1 reports"));
    let out = temp.path().join("exported");
    export_dir(&db.url(), &out);
    let name = common::report_files(&source, "team1").remove(0);
    let read = |dir: &Path| {
        let (_, stats, source) =
            benchboard::store::read_report_file_raw(&dir.join("team1").join(&name)).unwrap();
        (stats, source)
    };
    // The stats byte for byte, and the same `source`.
    assert_eq!(read(&out), read(&source));
    assert_eq!(
        read(&out).1.as_deref(),
        Some(r#"{"format":"jtl","sha256":"ab12","approximate":false}"#)
    );
}
