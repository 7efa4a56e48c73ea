//! Atomic files: a report is written complete under no name (`O_TMPFILE`, or a
//! `.tmp-*` name where the file system lacks it) and then linked under its final
//! name; `latest.json` is another name of the newest report, moved with a rename.
//! Each name only ever points at a complete file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::Value;

use super::{LATEST_FILE, MAX_REPORT_FILE_BYTES, StoreError, StoredReport, TMP_PREFIX, regular};
use crate::team::TeamId;
use crate::timefmt;

/// Group commit of a team directory's syncs: one `fsync` of the directory makes
/// durable every name linked before it began, so reports that wait while a sync
/// runs are covered by the next one instead of each paying its own.
#[derive(Default)]
pub(super) struct DirSync {
    /// Names linked so far (the team lock orders them).
    pub(super) linked: AtomicU64,
    /// Names known to be durable.
    synced: Mutex<u64>,
}

impl DirSync {
    /// Returns once the `ticket`-th name linked in `dir` is durable.
    pub(super) fn covers(&self, dir: &Path, ticket: u64) -> Result<(), StoreError> {
        let mut synced = self.synced.lock().expect("dir sync lock poisoned");
        if *synced >= ticket {
            return Ok(());
        }
        let upto = self.linked.load(Ordering::SeqCst);
        sync_dir(dir)?;
        *synced = upto;
        Ok(())
    }
}

/// A complete report file not yet under its final name.
pub(super) enum WrittenFile {
    /// An `O_TMPFILE` file: no name at all until linked.
    Unnamed(File),
    /// A `.tmp-*` file (file systems without `O_TMPFILE`).
    Named(PathBuf),
}

thread_local! {
    /// Set by unit tests on their thread to drive the `.tmp-*` fallback where the file
    /// system has `O_TMPFILE`; always false outside them.
    static FORCE_NAMED_TMP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl WrittenFile {
    /// Writes `contents` to a new file in `dir` (synced when `fsync`).
    pub(super) fn write(
        dir: &Path,
        contents: &[u8],
        fsync: bool,
    ) -> Result<WrittenFile, StoreError> {
        if !FORCE_NAMED_TMP.get()
            && let Some(file) = write_unnamed(dir, contents, fsync)?
        {
            return Ok(WrittenFile::Unnamed(file));
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TMP_PREFIX}{}-{n}", process_id()));
        write_file(&tmp, contents, fsync)?;
        Ok(WrittenFile::Named(tmp))
    }

    /// Gives the file the first free name `<stem>[_<seq>].json` from `seq` on;
    /// returns the name and its sequence number.
    pub(super) fn link(
        self,
        dir: &Path,
        stem: &str,
        seq: u32,
    ) -> Result<(String, u32), StoreError> {
        match self {
            WrittenFile::Unnamed(file) => {
                link_first_free(dir, stem, seq, |target| link_unnamed(&file, target))
            }
            WrittenFile::Named(tmp) => {
                let linked = link_first_free(dir, stem, seq, |target| fs::hard_link(&tmp, target));
                let _ = fs::remove_file(&tmp);
                linked
            }
        }
    }
}

/// Gives a complete file its name, trying `<stem>_<seq+1>` and on while taken.
fn link_first_free(
    dir: &Path,
    stem: &str,
    mut seq: u32,
    link: impl Fn(&Path) -> io::Result<()>,
) -> Result<(String, u32), StoreError> {
    loop {
        let name = timefmt::file_name(stem, seq);
        let target = dir.join(&name);
        match link(&target) {
            Ok(()) => return Ok((name, seq)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => seq += 1,
            Err(e) => return Err(StoreError::write(&target, e)),
        }
    }
}

/// Writes `contents` to a new file without a name in `dir` (`O_TMPFILE`): a crash
/// leaves nothing behind. `Ok(None)` when the file system does not support it.
fn write_unnamed(dir: &Path, contents: &[u8], fsync: bool) -> Result<Option<File>, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = OpenOptions::new()
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    let mut file = match opened {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(StoreError::write(dir, e)),
    };
    file.write_all(contents)
        .and_then(|_| if fsync { file.sync_data() } else { Ok(()) })
        .map_err(|e| StoreError::write(dir, e))?;
    Ok(Some(file))
}

/// Links an `O_TMPFILE` file under `target` (through `/proc/self/fd`, which needs no
/// privilege, unlike `AT_EMPTY_PATH`).
fn link_unnamed(file: &File, target: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let source = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .expect("no NUL in a /proc path");
    let target = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
    // SAFETY: two NUL-terminated paths that outlive the call.
    let result = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            source.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// This process's id, asked of the kernel once.
pub(super) fn process_id() -> u32 {
    static ID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *ID.get_or_init(std::process::id)
}

/// Makes `latest.json` another name of the report file `name`, atomically.
pub(super) fn point_latest_at(dir: &Path, name: &str) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{TMP_PREFIX}latest-{}", process_id()));
    let _ = fs::remove_file(&tmp);
    fs::hard_link(dir.join(name), &tmp)
        .or_else(|_| fs::copy(dir.join(name), &tmp).map(|_| ()))
        .map_err(|e| StoreError::write(&tmp, e))?;
    let latest = dir.join(LATEST_FILE);
    fs::rename(&tmp, &latest).map_err(|e| StoreError::write(&latest, e))
}

/// Writes `contents` to a new file at `path` (a temporary name), never through a
/// symbolic link left there.
pub(super) fn write_file(path: &Path, contents: &[u8], fsync: bool) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| StoreError::write(path, e))?;
    let result = file
        .write_all(contents)
        .and_then(|_| if fsync { file.sync_data() } else { Ok(()) });
    if let Err(e) = result {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(StoreError::write(path, e));
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::write(dir, e))
}

/// The file layout of a stored report (field order as the original writes it).
#[derive(Deserialize)]
struct ReportFile {
    team_id: String,
    team_name: String,
    timestamp: String,
    stats: Value,
}

/// The contents of a report file: `team_id`, `team_name`, `timestamp`, then the
/// report `body` verbatim as `stats` (the original's layout). An imported report also
/// says where it came from (`source`, before `stats`; readers ignore what they do not know).
pub fn report_contents(
    id: &TeamId,
    team_name: &str,
    timestamp: &str,
    source: Option<&Value>,
    body: &[u8],
) -> Vec<u8> {
    let mut header =
        serde_json::json!({"team_id": id.as_str(), "team_name": team_name, "timestamp": timestamp});
    if let Some(source) = source {
        header["source"] = source.clone();
    }
    let mut contents = serde_json::to_vec(&header).expect("strings serialize");
    contents.pop(); // the closing brace: the report follows as the last field
    contents.extend_from_slice(b",\"stats\":");
    contents.extend_from_slice(body);
    contents.extend_from_slice(b"}\n");
    contents
}

/// `(stem, seq)` of a report file name.
pub(super) fn split_name(name: &str) -> Option<(String, u32)> {
    let (_, seq) = timefmt::parse_file_name(name)?;
    Some((name[..19].to_string(), seq))
}

/// A report file with its stats left as the bytes they are in the file.
#[derive(Deserialize)]
struct RawReportFile<'a> {
    team_id: String,
    team_name: String,
    timestamp: String,
    #[serde(borrow, default)]
    source: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    stats: &'a serde_json::value::RawValue,
}

/// The bytes of a report file (a regular file, at most [`MAX_REPORT_FILE_BYTES`]).
fn report_bytes(path: &Path) -> Result<Vec<u8>, StoreError> {
    regular::read(path, MAX_REPORT_FILE_BYTES).map_err(|e| StoreError::read(path, e))
}

fn corrupt(path: &Path, reason: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
}

/// Reads and checks one report file; also returns its stats exactly as written
/// (for exports and migrations that must give back the bytes the team sent), and
/// an imported report's `source` as written.
pub fn read_report_file_raw(
    path: &Path,
) -> Result<(StoredReport, String, Option<String>), StoreError> {
    let bytes = report_bytes(path)?;
    let file: RawReportFile =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(path, e.to_string()))?;
    let stats: Value =
        serde_json::from_str(file.stats.get()).map_err(|e| corrupt(path, e.to_string()))?;
    let stored = checked_report(path, file.team_id, file.team_name, file.timestamp, stats)?;
    let source = file.source.map(|s| s.get().to_string());
    Ok((stored, file.stats.get().to_string(), source))
}

/// Reads and checks one report file.
pub fn read_report_file(path: &Path) -> Result<StoredReport, StoreError> {
    let bytes = report_bytes(path)?;
    let file: ReportFile =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(path, e.to_string()))?;
    checked_report(
        path,
        file.team_id,
        file.team_name,
        file.timestamp,
        file.stats,
    )
}

/// A report read from `path`, its id and timestamp checked.
fn checked_report(
    path: &Path,
    team_id: String,
    team_name: String,
    timestamp: String,
    stats: Value,
) -> Result<StoredReport, StoreError> {
    let team_id = TeamId::parse(&team_id).map_err(|e| corrupt(path, e.to_string()))?;
    let at = timefmt::parse_timestamp(&timestamp)
        .ok_or_else(|| corrupt(path, format!("bad timestamp {timestamp:?}")))?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    Ok(StoredReport {
        team_id,
        team_name,
        timestamp,
        at,
        file_name,
        stats,
        run: 0,
        warnings: Vec::new(),
    })
}

/// Makes `latest.json` the newest report again if a crash left it behind (or the
/// original tool wrote it as a copy that differs).
pub(super) fn repair_latest(dir: &Path, newest: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let newest_path = dir.join(newest);
    let latest_path = dir.join(LATEST_FILE);
    // Not followed: a `latest.json` that is a link (to anywhere) is replaced.
    let same_file = match (
        fs::symlink_metadata(&newest_path),
        fs::symlink_metadata(&latest_path),
    ) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    };
    if same_file || files_equal(&newest_path, &latest_path) {
        return Ok(());
    }
    point_latest_at(dir, newest)
}

fn files_equal(a: &Path, b: &Path) -> bool {
    let read = |path| regular::read(path, MAX_REPORT_FILE_BYTES);
    matches!((read(a), read(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_named_temporary_file_gets_the_first_free_name_and_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(format!("{TMP_PREFIX}x"));
        write_file(&tmp, b"one", false).unwrap();
        let (name, seq) = WrittenFile::Named(tmp)
            .link(dir.path(), "20250801_100005_138", 0)
            .unwrap();
        assert_eq!((name.as_str(), seq), ("20250801_100005_138.json", 0));
        let tmp = dir.path().join(format!("{TMP_PREFIX}y"));
        write_file(&tmp, b"two", false).unwrap();
        let (name, seq) = WrittenFile::Named(tmp)
            .link(dir.path(), "20250801_100005_138", 0)
            .unwrap();
        assert_eq!((name.as_str(), seq), ("20250801_100005_138_1.json", 1));
        assert_eq!(
            names_in(dir.path()),
            ["20250801_100005_138.json", "20250801_100005_138_1.json"]
        );
        assert_eq!(fs::read(dir.path().join(&name)).unwrap(), b"two");
    }

    #[test]
    fn an_unnamed_file_is_invisible_until_linked() {
        let dir = tempfile::tempdir().unwrap();
        let written = WrittenFile::write(dir.path(), b"{}", true).unwrap();
        assert!(
            matches!(written, WrittenFile::Unnamed(_)),
            "O_TMPFILE does not work in {} (the fallback has its own test)",
            dir.path().display()
        );
        assert!(names_in(dir.path()).is_empty());
        let (name, _) = written.link(dir.path(), "20250801_100005_138", 0).unwrap();
        assert_eq!(names_in(dir.path()), [name]);
    }

    /// Appends `sent` to `store` as team `id`'s report, at `now`.
    fn append_sent(
        store: &crate::store::WritableStore,
        id: &TeamId,
        sent: u64,
        now: chrono::DateTime<chrono::Local>,
    ) {
        let mut value: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/valid/minimal-12-buckets.json"
        ))
        .unwrap();
        value["totalSent"] = sent.into();
        let body = serde_json::to_vec(&value).unwrap();
        let report = crate::report::Report::parse(&body).unwrap();
        let metrics = crate::metrics::Metrics::of(&report);
        store
            .append_at(id, "T", &body, report, &metrics, now)
            .unwrap();
    }

    #[test]
    fn append_through_a_named_temporary_file_keeps_every_report_and_leaves_no_tmp() {
        FORCE_NAMED_TMP.set(true);
        let dir = tempfile::tempdir().unwrap();
        // While written, the file has only a `.tmp-*` name, which no reader takes for a report.
        let written = WrittenFile::write(dir.path(), b"{}", false).unwrap();
        assert!(matches!(written, WrittenFile::Named(_)));
        let names = names_in(dir.path());
        assert!(
            names.len() == 1 && names[0].starts_with(TMP_PREFIX),
            "{names:?}"
        );
        drop(written);
        fs::remove_file(dir.path().join(&names[0])).unwrap();

        let store = crate::store::WritableStore::open(dir.path(), true).unwrap();
        let id = TeamId::parse("t1").unwrap();
        let now = timefmt::now();
        for sent in 1..=3 {
            append_sent(&store, &id, sent, now);
        }
        store.flush_latest();
        FORCE_NAMED_TMP.set(false);
        let team_dir = dir.path().join("t1");
        let stem = timefmt::file_stem(&now);
        let files: Vec<String> = names_in(&team_dir)
            .into_iter()
            .filter(|n| n != super::super::INDEX_FILE)
            .collect();
        let mut expected = vec![
            format!("{stem}.json"),
            format!("{stem}_1.json"),
            format!("{stem}_2.json"),
            LATEST_FILE.to_string(),
        ];
        expected.sort();
        assert_eq!(
            files, expected,
            "three reports and latest.json, no temporary file"
        );
        for (seq, sent) in [(0, 1), (1, 2), (2, 3)] {
            let text = fs::read_to_string(team_dir.join(timefmt::file_name(&stem, seq))).unwrap();
            let file: Value = serde_json::from_str(&text).expect("a complete report file");
            assert_eq!(file["stats"]["totalSent"], sent);
        }
        drop(store);
        let reopened = crate::store::Store::open(dir.path()).unwrap();
        assert_eq!(reopened.report_count(&id), 3);
        assert_eq!(reopened.latest(&id).unwrap().stats["totalSent"], 3);
    }
}
