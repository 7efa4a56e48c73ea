//! A hostile or damaged data directory, met by the real server and the real
//! `benchboard-history`: files that are not what their names say, a sidecar linked
//! elsewhere, an unreadable newest report, a sidecar of another version, a second
//! server on the same directory. Legitimate requests keep being answered and nothing
//! stored is lost.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::PATIENCE;
use common::serve::{self, HISTORY, ServeChild, run_bounded, serve_command, valid_report};
use common::{TestServer, agent, ordered_report_files};
use serde_json::Value;

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("benchboard-datadir-")
        .tempdir()
        .unwrap()
}

/// A data directory with `reports` reports of team `t1` written by a real server.
fn data_with_reports(reports: usize) -> (tempfile::TempDir, PathBuf) {
    let temp = temp_dir();
    let data = temp.path().join("data");
    let server = TestServer::start_on(data.clone(), |_| {});
    for _ in 0..reports {
        assert_eq!(server.post_for("t1", &valid_report()).0, 200);
    }
    server.stop();
    (temp, data)
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
}

/// `benchboard-history --json ARGS --data-dir DATA` under a 1 GiB address-space
/// limit (so that reading `/dev/zero` would fail fast instead of eating the machine),
/// killed if it takes longer than [`PATIENCE`].
fn history_bounded(data: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(HISTORY);
    command.arg("--data-dir").arg(data).arg("--json").args(args);
    serve::limit(&mut command, libc::RLIMIT_AS, 1 << 30);
    run_bounded(&mut command, PATIENCE)
        .unwrap_or_else(|| panic!("benchboard-history {args:?} hung (killed after {PATIENCE:?})"))
}

#[test]
fn report_named_fifos_and_links_to_dev_zero_are_skipped_by_history_and_the_server() {
    let (_temp, data) = data_with_reports(2);
    let names = ordered_report_files(&data, "t1");
    // Named to sort before, between and after the real reports.
    mkfifo(&data.join("t1/20000101_000000_000.json"));
    std::os::unix::fs::symlink("/dev/zero", data.join("t1/20990101_000000_000.json")).unwrap();
    mkfifo(&data.join("t1/20990101_000000_001.json"));
    let outside = data.parent().unwrap().join("outside.json");
    std::fs::copy(data.join("t1").join(&names[0]), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, data.join("t1/20990101_000000_002.json")).unwrap();

    let output = history_bounded(&data, &["teams"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let teams: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(teams[0]["team_id"], "t1", "{teams}");
    assert_eq!(teams[0]["reports"], 2, "{teams}");
    assert!(stderr.contains("a FIFO, not a regular file"), "{stderr}");
    assert!(stderr.contains("symbolic link: not followed"), "{stderr}");
    let output = history_bounded(&data, &["show", "t1"]);
    assert_eq!(output.status.code(), Some(0));

    let mut command = serve_command(&data);
    serve::limit(&mut command, libc::RLIMIT_AS, 4 << 30);
    let server = ServeChild::start(&mut command);
    let (status, history) = server.get_json("/api/teams/t1/history");
    assert_eq!(status, 200);
    assert_eq!(history["total"], 2, "{history}");
    assert_eq!(history["history"].as_array().unwrap().len(), 2);
    assert_eq!(server.post_for("t1").0, 200);
    let (_, history) = server.get_json("/api/teams/t1/history");
    assert_eq!(history["total"], 3, "{history}");
}

#[test]
fn the_sidecar_is_never_written_through_a_symlink() {
    let (temp, data) = data_with_reports(1);
    let victim = temp.path().join("victim");
    std::fs::write(&victim, b"precious\n").unwrap();
    let sidecar = data.join("t1/.benchboard-index");

    // Planted before the start: replaced by a regular sidecar, the target untouched.
    std::fs::remove_file(&sidecar).unwrap();
    std::os::unix::fs::symlink(&victim, &sidecar).unwrap();
    let server = TestServer::start_on(data.clone(), |_| {});
    assert_eq!(server.post_for("t1", &valid_report()).0, 200);
    assert!(!std::fs::symlink_metadata(&sidecar).unwrap().is_symlink());

    // Planted while the server runs: the report is still stored, the target untouched.
    std::fs::remove_file(&sidecar).unwrap();
    std::os::unix::fs::symlink(&victim, &sidecar).unwrap();
    assert_eq!(server.post_for("t1", &valid_report()).0, 200);
    assert_eq!(server.get_json("/api/teams/t1/history").1["total"], 3);

    // A new team's directory made with a linked sidecar before its first report.
    std::fs::create_dir(data.join("t2")).unwrap();
    std::os::unix::fs::symlink(&victim, data.join("t2/.benchboard-index")).unwrap();
    assert_eq!(server.post_for("t2", &valid_report()).0, 200);
    assert_eq!(server.get_json("/api/teams/t2/history").1["total"], 1);
    server.stop();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");

    // The next start rebuilds the sidecar from the report files.
    let server = TestServer::start_on(data.clone(), |_| {});
    assert_eq!(server.get_json("/api/teams/t1/history").1["total"], 3);
    assert_eq!(server.get_json("/api/teams/t2/history").1["total"], 1);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
    assert!(!std::fs::symlink_metadata(&sidecar).unwrap().is_symlink());
}

#[test]
fn a_team_directory_that_is_a_symlink_is_not_written_through() {
    let temp = temp_dir();
    let data = temp.path().join("data");
    let elsewhere = temp.path().join("elsewhere");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, data.join("t9")).unwrap();
    let server = TestServer::start_on(data.clone(), |_| {});
    let (status, answer) = server.post_for("t9", &valid_report());
    assert_eq!(status, 500, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("symbolic link"),
        "{answer}"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(server.post_for("t1", &valid_report()).0, 200);
}

#[test]
fn a_second_server_on_the_same_data_directory_exits_2_and_changes_nothing() {
    let (_temp, data) = data_with_reports(2);
    let first = ServeChild::start(&mut serve_command(&data));
    assert_eq!(first.post_for("t1").0, 200);
    // What a second server's start-up would otherwise change: a leftover temporary
    // file it would delete and a report the sidecar lacks, whose sidecar it would rewrite.
    std::fs::write(data.join("t1/.tmp-4242-0"), b"{\"team_id\": \"t").unwrap();
    let names = ordered_report_files(&data, "t1");
    std::fs::copy(
        data.join("t1").join(&names[0]),
        data.join("t1/20000101_000000_000.json"),
    )
    .unwrap();
    let before = serve::snapshot(&data);

    let output = run_bounded(&mut serve_command(&data), PATIENCE).expect("the second exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = format!("data directory in use by pid {}", first.pid());
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty(), "it never said it listens");
    assert_eq!(
        serve::snapshot(&data),
        before,
        "the second server changed files"
    );

    // On the first one's port: it cannot listen, and touches nothing either.
    let port = first.base.rsplit(':').next().unwrap();
    let mut same_port = Command::new(serve::SERVE);
    same_port.args(["--host", "127.0.0.1", "--port", port, "--data-dir"]);
    let output = run_bounded(same_port.arg(&data), PATIENCE).expect("it exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
    assert_eq!(serve::snapshot(&data), before);

    // The first server serves on; benchboard-history reads without the lock.
    assert_eq!(first.post_for("t1").0, 200);
    let output = history_bounded(&data, &["teams"]);
    assert_eq!(output.status.code(), Some(0));
    let teams: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(teams[0]["reports"], 5, "{teams}");

    // Once the first is gone (killed: the kernel drops its lock), a new one starts.
    drop(first);
    let next = ServeChild::start(&mut serve_command(&data));
    let (_, history) = next.get_json("/api/teams/t1/history");
    assert_eq!(history["total"], 5, "{history}");
    assert!(
        !data.join("t1/.tmp-4242-0").exists(),
        "the new owner cleans up"
    );
}

#[test]
fn an_unreadable_newest_report_falls_back_to_the_newest_readable_one_with_one_warning() {
    let (_temp, data) = data_with_reports(3);
    let names = ordered_report_files(&data, "t1");
    let (newest, readable) = (&names[2], &names[1]);
    // A power loss without --fsync: the newest file's name reached the disk, its data
    // did not (latest.json, another name of the same file, is empty too).
    std::fs::write(data.join("t1").join(newest), b"").unwrap();
    let readable_bytes = std::fs::read(data.join("t1").join(readable)).unwrap();
    let readable_stamp: Value = serde_json::from_slice(&readable_bytes).unwrap();

    let output = history_bounded(&data, &["teams"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let teams: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(teams[0]["reports"], 2, "{teams}");
    assert_eq!(stderr.matches(newest.as_str()).count(), 1, "{stderr}");
    let output = history_bounded(&data, &["show", "t1"]);
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["total"], 2, "{shown}");
    assert_eq!(shown["history"].as_array().unwrap().len(), 2, "{shown}");

    let mut server = ServeChild::start(&mut serve_command(&data));
    let warnings = server.stderr_so_far(std::time::Duration::from_secs(2));
    let about_it: Vec<_> = warnings
        .iter()
        .filter(|l| l.contains(newest.as_str()))
        .collect();
    assert_eq!(about_it.len(), 1, "{warnings:#?}");
    let (_, teams) = server.get_json("/api/teams");
    assert!(
        teams
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["team_id"] == "t1"),
        "the team is listed: {teams}"
    );
    let (status, team) = server.get_json("/api/teams/t1");
    assert_eq!(status, 200);
    assert_eq!(team["last_update"], readable_stamp["timestamp"]);
    let (_, history) = server.get_json("/api/teams/t1/history");
    assert_eq!(history["total"], 2, "{history}");
    assert_eq!(history["history"].as_array().unwrap().len(), 2, "{history}");
    let (_, summary) = server.get_json("/api/teams/t1/history/summary");
    assert_eq!(summary["total_reports"], 2, "{summary}");
    let page = agent().get(&server.url("/team/t1/history")).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(
        std::fs::read(data.join("t1/latest.json")).unwrap(),
        readable_bytes,
        "latest.json points at the newest readable report"
    );
    assert_eq!(server.post_for("t1").0, 200);
    let (_, history) = server.get_json("/api/teams/t1/history");
    assert_eq!(history["total"], 3, "{history}");
}

#[test]
fn a_sidecar_of_another_version_is_rebuilt_never_misread() {
    let (_temp, data) = data_with_reports(2);
    let sidecar = data.join("t1/.benchboard-index");
    let ours = std::fs::read_to_string(&sidecar).unwrap();
    let header = format!(
        "{{\"benchboard_index\":{}}}\n",
        benchboard::store::INDEX_VERSION
    );
    assert!(ours.starts_with(&header), "{ours}");
    let server = TestServer::start_on(data.clone(), |_| {});
    let (_, before) = server.get_json("/api/teams/t1");
    server.stop();

    // Lines that name the real files with other numbers: read as ours, they would
    // make a best QPS of 99999.
    let lines: String = ours[header.len()..]
        .lines()
        .map(|l| {
            let mut line: Value = serde_json::from_str(l).unwrap();
            line["q"] = 99999.0.into();
            format!("{line}\n")
        })
        .collect();
    let other_versions = [
        lines.clone(),                                  // version 1: no header line
        format!("{{\"benchboard_index\":3}}\n{lines}"), // a later version
    ];
    for sidecar_text in other_versions {
        std::fs::write(&sidecar, &sidecar_text).unwrap();
        let output = history_bounded(&data, &["teams"]);
        let teams: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            teams[0]["best_qps"], before["best_qps"],
            "history misread it"
        );
        assert_eq!(std::fs::read_to_string(&sidecar).unwrap(), sidecar_text);

        let server = TestServer::start_on(data.clone(), |_| {});
        let (_, team) = server.get_json("/api/teams/t1");
        assert_eq!(
            team["best_qps"], before["best_qps"],
            "the server misread it"
        );
        assert_eq!(server.get_json("/api/teams/t1/history").1["total"], 2);
        server.stop();
        assert_eq!(
            std::fs::read_to_string(&sidecar).unwrap(),
            ours,
            "rebuilt as ours"
        );
    }
}

#[test]
fn no_absolute_server_path_reaches_the_summary_the_history_page_or_an_error() {
    let temp = temp_dir();
    let data = temp.path().join("contest/data");
    let secret = temp.path().display().to_string();
    let server = TestServer::start_on(data.clone(), |_| {});
    assert_eq!(server.post_for("t1", &valid_report()).0, 200);
    let (_, summary) = server.get_json("/api/teams/t1/history/summary");
    assert_eq!(summary["data_directory"], "data/t1", "{summary}");
    let (status, page) = server.get("/team/t1/history");
    assert_eq!(status, 200);
    assert!(!page.contains(&secret), "the page names {secret}");
    // A storage error names the path the same way.
    std::os::unix::fs::symlink(temp.path(), data.join("t9")).unwrap();
    let (status, answer) = server.post_for("t9", &valid_report());
    assert_eq!(status, 500, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("cannot write data/t9"), "{error}");
    assert!(!error.contains(&secret), "{error}");
    server.stop();

    // A relative --data-dir (the original's `data`) shows the same.
    let mut command = serve_command(Path::new("./data"));
    let server = ServeChild::start(command.current_dir(temp.path().join("contest")));
    let (_, summary) = server.get_json("/api/teams/t1/history/summary");
    assert_eq!(summary["data_directory"], "data/t1", "{summary}");
}

#[test]
fn file_names_with_control_characters_reach_stderr_escaped() {
    let (_temp, data) = data_with_reports(1);
    // A name that would clear the operator's terminal and forge a second line.
    std::fs::write(data.join("t1/\u{1b}[2Jx\nerror: forged"), b"{}").unwrap();
    let output = history_bounded(&data, &["teams"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("\\x1b[2Jx\\nerror: forged"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");

    let mut server = ServeChild::start(&mut serve_command(&data));
    let warnings = server.stderr_so_far(std::time::Duration::from_secs(2));
    let about_it: Vec<_> = warnings
        .iter()
        .filter(|l| l.contains("x\\nerror"))
        .collect();
    assert_eq!(about_it.len(), 1, "{warnings:#?}");
    assert!(
        warnings.iter().all(|l| !l.contains('\u{1b}')),
        "{warnings:#?}"
    );
    assert_eq!(server.get_json("/api/teams/t1").0, 200);
}
