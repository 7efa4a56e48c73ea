//! Storage failure end to end: a real server whose data directory is a small tmpfs
//! the test mounts (tests run as root, also on CI), filled up and made read-only.
//! The report is refused (507 full, 500 read-only) without an acknowledgement or a
//! partial file, the server keeps serving, and it accepts the report once the disk
//! is writable again.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::tmpfs::Tmpfs;
use common::{TestServer, fixture, report_files};
use serde_json::Value;

fn report() -> Vec<u8> {
    std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap()
}

/// Fills the file system of `dir` with one file until it is full; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 4096];
    loop {
        match file.write_all(&block) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // The page cache may hold back a last partial block: flush it into the full disk.
    let _ = file.sync_all();
    path
}

/// Every file in a team's directory: report files must each be complete.
fn assert_no_partial_file(data: &Path, team: &str) {
    let dir = data.join(team);
    for entry in std::fs::read_dir(&dir).into_iter().flatten() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".tmp-"),
            "a temporary file is left: {name}"
        );
        if name.ends_with(".json") {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let file: Result<Value, _> = serde_json::from_str(&text);
            assert!(file.is_ok(), "{name} is not a complete report: {text:?}");
        }
    }
}

fn assert_still_serving(server: &TestServer, team: &str, reports: u64) {
    let (status, _) = server.get_json("/api/teams");
    assert_eq!(status, 200, "the server stopped serving");
    let (status, history) = server.get_json(&format!("/api/teams/{team}/history"));
    assert_eq!(status, 200);
    assert_eq!(history["total"], reports, "{history}");
}

#[test]
fn a_full_disk_refuses_with_507_and_takes_the_report_once_space_is_back() {
    let temp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount("1m", &temp.path().join("disk"));
    let data = disk.at.join("data");
    // Off: the disk is to fill up during a write (--min-free-space would refuse first).
    let server = TestServer::start_on(data.clone(), |c| c.min_free_bytes = 0);
    assert_eq!(server.post_for("t1", &report()).0, 200);

    let filler = fill(&disk.at);
    for team in ["t1", "newteam"] {
        let (status, answer) = server.post_for(team, &report());
        assert_eq!(status, 507, "{team}: {answer}");
        let error = answer["error"].as_str().expect("a JSON error");
        assert!(error.contains("No space left"), "{error}");
        assert_ne!(answer["message"], "Stats submitted successfully");
        assert_no_partial_file(&data, team);
    }
    assert_eq!(report_files(&data, "t1").len(), 1, "nothing more stored");
    assert!(report_files(&data, "newteam").is_empty());
    assert_still_serving(&server, "t1", 1);

    std::fs::remove_file(filler).unwrap();
    assert_eq!(server.post_for("t1", &report()).0, 200);
    assert_eq!(server.post_for("newteam", &report()).0, 200);
    assert_eq!(report_files(&data, "t1").len(), 2);
    assert_eq!(report_files(&data, "newteam").len(), 1);
    assert_still_serving(&server, "t1", 2);
}

#[test]
fn a_read_only_disk_refuses_with_500_and_takes_the_report_once_writable() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = TestServer::start_on(data.clone(), |_| {});
    assert_eq!(server.post_for("t1", &report()).0, 200);
    // The team's directory is a file system of its own, turned read-only. (A whole
    // data directory cannot be remounted read-only while the server holds its lock
    // file open for writing: the kernel answers EBUSY.)
    let disk = Tmpfs::mount("1m", &data.join("frozen"));
    disk.remount("ro");

    let (status, answer) = server.post_for("frozen", &report());
    assert_eq!(status, 500, "{answer}");
    let error = answer["error"].as_str().expect("a JSON error");
    assert!(error.contains("Read-only file system"), "{error}");
    assert!(
        error.contains("frozen"),
        "the message names the path: {error}"
    );
    assert_no_partial_file(&data, "frozen");
    assert!(report_files(&data, "frozen").is_empty());
    assert_still_serving(&server, "t1", 1);
    assert_eq!(
        server.post_for("t1", &report()).0,
        200,
        "other teams still store"
    );

    disk.remount("rw");
    assert_eq!(server.post_for("frozen", &report()).0, 200);
    assert_eq!(report_files(&data, "frozen").len(), 1);
    assert_still_serving(&server, "frozen", 1);
}
