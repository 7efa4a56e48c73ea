//! The file store (DESIGN §5): one JSON file per report, `latest.json` per team,
//! and an in-memory index so that reads never list or parse a team's directory.
//!
//! ```text
//! data/<team_id>/<YYYYMMDD_HHMMSS_fff>.json   one file per report (original's layout)
//! data/<team_id>/latest.json                  the newest report
//! data/<team_id>/.benchboard-index            our sidecar index, one line per report
//! ```
//!
//! Writing a report costs one new file and one new name: the report is written to an
//! unnamed file (`O_TMPFILE`; a `.tmp-*` name where the file system lacks it) and
//! then linked under its final name (the link fails if the name is taken, which is
//! how two reports in one millisecond both survive). `latest.json` is another name
//! of the same file, moved with a rename; under a burst it is moved at most every
//! [`LATEST_EVERY`] per team, and [`Store::flush_latest`] (the server calls it about
//! twice a second, and it runs on drop) catches up. Each name only ever points at a
//! complete file, so neither a reader nor a crash sees half a report; after a crash
//! `latest.json` is set right at the next start.
//!
//! The sidecar index holds, per report, its file name, timestamp and headline numbers.
//! It is only a cache: at start-up it is checked against the directory listing and
//! rebuilt from the report files for whatever it lacks.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::metrics::Metrics;
use crate::report::Report;
use crate::team::TeamId;
use crate::timefmt;

mod trash;
pub use trash::{TRASH_DIR, TrashError, TrashedReport};

/// Name of the per-team file that always holds the newest report.
pub const LATEST_FILE: &str = "latest.json";
/// Name of the per-team sidecar index.
pub const INDEX_FILE: &str = ".benchboard-index";
/// Prefix of temporary files; leftovers are removed at start-up.
pub const TMP_PREFIX: &str = ".tmp-";
/// Under a burst of reports, `latest.json` of a team is moved at most this often;
/// [`Store::flush_latest`] brings it up to date.
pub const LATEST_EVERY: Duration = Duration::from_millis(100);

/// A failure of the file store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The data directory is missing or not a directory (read-only opening).
    #[error("data directory {} does not exist or is not a directory", .0.display())]
    NoDataDir(PathBuf),
    /// A stored file is not a report in the expected format.
    #[error("{}: not a BenchBoard report file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
}

impl StoreError {
    /// True when the disk is full (the API answers 507 then).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Write { source, .. } => source.kind() == io::ErrorKind::StorageFull,
            _ => false,
        }
    }

    fn write(path: &Path, source: io::Error) -> StoreError {
        StoreError::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    fn read(path: &Path, source: io::Error) -> StoreError {
        StoreError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How the store treats the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The server: creates the directory, removes leftover temporary files, repairs
    /// the sidecar index and `latest.json`, and accepts new reports.
    ReadWrite {
        /// fsync each report file and its directory before acknowledging it.
        fsync: bool,
    },
    /// Tools such as `benchboard-history`: never changes a file.
    ReadOnly,
}

/// The headline numbers of one report, kept in the index for every report.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Headline {
    /// Completed requests per second.
    #[serde(rename = "q")]
    pub qps: f64,
    /// Average latency in ms.
    #[serde(rename = "a")]
    pub avg_latency: f64,
    /// 99th-percentile latency in ms.
    #[serde(rename = "p")]
    pub p99_latency: f64,
    /// Failure rate in %.
    #[serde(rename = "l")]
    pub data_loss_rate: f64,
}

impl From<&Metrics> for Headline {
    fn from(m: &Metrics) -> Headline {
        Headline {
            qps: m.qps,
            avg_latency: m.avg_latency,
            p99_latency: m.p99_latency,
            data_loss_rate: m.data_loss_rate,
        }
    }
}

/// One report in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// File name inside the team's directory.
    pub file_name: Box<str>,
    /// The timestamp as written in the file (the original's are naive local time).
    pub timestamp: Box<str>,
    /// The timestamp, parsed.
    pub at: DateTime<FixedOffset>,
    pub headline: Headline,
}

/// The sidecar line of one report.
#[derive(Serialize, Deserialize)]
struct IndexLine {
    f: String,
    t: String,
    #[serde(flatten)]
    h: Headline,
}

/// A stored report, as read back from (or just written to) its file.
#[derive(Debug, Clone)]
pub struct StoredReport {
    pub team_id: TeamId,
    pub team_name: String,
    /// The timestamp as written in the file.
    pub timestamp: String,
    pub at: DateTime<FixedOffset>,
    pub file_name: String,
    /// The report as the team sent it.
    pub stats: Value,
}

/// The file layout of a stored report (field order as the original writes it).
#[derive(Deserialize)]
struct ReportFile {
    team_id: String,
    team_name: String,
    timestamp: String,
    stats: Value,
}

/// What the history summary endpoint needs, without reading any report file.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryInfo {
    pub total_reports: usize,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
    /// The 5 newest report file names, newest first.
    pub recent_files: Vec<String>,
}

/// The reports of one team: its index and the open sidecar.
struct TeamLog {
    dir: PathBuf,
    entries: Vec<IndexEntry>,
    /// Stem and sequence of the newest name handed out, so that names only grow.
    last_name: Option<(String, u32)>,
    /// Append handle of the sidecar index (read-write mode only).
    index_file: Option<File>,
    latest: Option<Arc<StoredReport>>,
    /// When `latest.json` was last moved (read-write mode).
    latest_moved: Option<Instant>,
    /// The newest report's file name when `latest.json` still lags behind it.
    latest_pending: Option<String>,
    /// Shares directory syncs between concurrent reports (`--fsync`).
    dir_sync: Arc<DirSync>,
    /// Names given so far; a report's ticket for [`DirSync::covers`].
    linked: u64,
}

/// Group commit of a team directory's syncs: one `fsync` of the directory makes
/// durable every name linked before it began, so reports that wait while a sync
/// runs are covered by the next one instead of each paying its own.
#[derive(Default)]
struct DirSync {
    /// Names linked so far (the team lock orders them).
    linked: std::sync::atomic::AtomicU64,
    /// Names known to be durable.
    synced: Mutex<u64>,
}

impl DirSync {
    /// Returns once the `ticket`-th name linked in `dir` is durable.
    fn covers(&self, dir: &Path, ticket: u64) -> Result<(), StoreError> {
        let mut synced = self.synced.lock().expect("dir sync lock poisoned");
        if *synced >= ticket {
            return Ok(());
        }
        let upto = self.linked.load(std::sync::atomic::Ordering::SeqCst);
        sync_dir(dir)?;
        *synced = upto;
        Ok(())
    }
}

/// The file store of one data directory.
pub struct Store {
    root: PathBuf,
    mode: OpenMode,
    teams: RwLock<BTreeMap<TeamId, Arc<Mutex<TeamLog>>>>,
    /// Warnings met while opening (corrupt or foreign files), one line each.
    warnings: Vec<String>,
}

impl Store {
    /// Opens a data directory, loading every team's index (rebuilding it where it is
    /// missing or stale). In read-write mode the directory is created if needed.
    pub fn open(root: impl Into<PathBuf>, mode: OpenMode) -> Result<Store, StoreError> {
        let root = root.into();
        match mode {
            OpenMode::ReadWrite { .. } => {
                fs::create_dir_all(&root).map_err(|e| StoreError::write(&root, e))?
            }
            OpenMode::ReadOnly if !root.is_dir() => return Err(StoreError::NoDataDir(root)),
            OpenMode::ReadOnly => {}
        }
        let mut team_dirs = Vec::new();
        for entry in fs::read_dir(&root).map_err(|e| StoreError::read(&root, e))? {
            let entry = entry.map_err(|e| StoreError::read(&root, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| TeamId::parse(n).ok()) else {
                continue;
            };
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                team_dirs.push((id, entry.path()));
            }
        }
        let loaded = load_teams_in_parallel(team_dirs, mode);
        let mut teams = BTreeMap::new();
        let mut warnings = Vec::new();
        for (id, result) in loaded {
            let (log, team_warnings) = result?;
            warnings.extend(team_warnings);
            if !log.entries.is_empty() {
                teams.insert(id, Arc::new(Mutex::new(log)));
            }
        }
        Ok(Store {
            root,
            mode,
            teams: RwLock::new(teams),
            warnings,
        })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lines to print about files skipped while opening.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Every team with at least one report, by id (a team whose reports all went to
    /// the trash is left out).
    pub fn team_ids(&self) -> Vec<TeamId> {
        self.teams
            .read()
            .expect("store lock poisoned")
            .iter()
            .filter(|(_, log)| !log.lock().expect("team lock poisoned").entries.is_empty())
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn team(&self, id: &TeamId) -> Option<Arc<Mutex<TeamLog>>> {
        self.teams
            .read()
            .expect("store lock poisoned")
            .get(id)
            .cloned()
    }

    /// The team's directory as shown to users (`data/team1`).
    pub fn team_dir(&self, id: &TeamId) -> PathBuf {
        self.root.join(id.as_str())
    }

    /// Stores a validated report: on return its file is complete under its final name
    /// (and synced, with `fsync`). `latest.json` points at it too, except in a burst of
    /// one team, when it is moved at most every [`LATEST_EVERY`] and caught up by
    /// [`Store::flush_latest`]. Names are handed out under the team's lock, so they sort
    /// in arrival order.
    ///
    /// `body` is written verbatim as the file's `stats`; `stats` is the same report,
    /// parsed, kept in memory as the team's latest.
    pub fn append(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        stats: Value,
        metrics: &Metrics,
    ) -> Result<Arc<StoredReport>, StoreError> {
        self.append_at(id, team_name, body, stats, metrics, timefmt::now())
    }

    /// [`Store::append`] with a given arrival time instead of the clock's: for
    /// generators of test and benchmark histories (`crate::generate`), which need a day of
    /// reports written in seconds. Names still only grow, whatever `now` says.
    pub fn append_at(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        stats: Value,
        metrics: &Metrics,
        now: chrono::DateTime<chrono::Local>,
    ) -> Result<Arc<StoredReport>, StoreError> {
        let OpenMode::ReadWrite { fsync } = self.mode else {
            panic!("Store::append on a store opened read-only is a programming error");
        };
        let log = self.team_or_create(id)?;
        let dir = self.team_dir(id);
        // The file is written (and synced) before taking the team's lock, so that
        // concurrent reports of one team share the disk; under the lock it only gets
        // its name, so names still sort in arrival order.
        let at = now.fixed_offset();
        let timestamp = timefmt::format_timestamp(&at);
        let header = serde_json::json!({"team_id": id.as_str(), "team_name": team_name, "timestamp": timestamp});
        let mut contents = serde_json::to_vec(&header).expect("strings serialize");
        contents.pop(); // the closing brace: the report follows as the last field
        contents.extend_from_slice(b",\"stats\":");
        contents.extend_from_slice(body);
        contents.extend_from_slice(b"}\n");
        let written = WrittenFile::write(&dir, &contents, fsync)?;

        let mut log = log.lock().expect("team lock poisoned");
        let (stem, seq) = next_name(&log.last_name, &timefmt::file_stem(&now));
        let (file_name, seq) = written.link(&dir, &stem, seq)?;
        log.linked += 1;
        let ticket = log.linked;
        log.dir_sync
            .linked
            .store(ticket, std::sync::atomic::Ordering::SeqCst);
        let dir_sync = Arc::clone(&log.dir_sync);
        log.last_name = Some((stem, seq));
        log.latest_pending = Some(file_name.clone());
        if log
            .latest_moved
            .is_none_or(|at| at.elapsed() >= LATEST_EVERY)
        {
            log.move_latest();
        }

        let entry = IndexEntry {
            file_name: file_name.clone().into(),
            timestamp: timestamp.clone().into(),
            at,
            headline: Headline::from(metrics),
        };
        log.append_index_line(&entry);
        log.entries.push(entry);
        let stored = Arc::new(StoredReport {
            team_id: id.clone(),
            team_name: team_name.to_string(),
            timestamp,
            at,
            file_name,
            stats,
        });
        log.latest = Some(Arc::clone(&stored));
        drop(log);
        if fsync {
            dir_sync.covers(&dir, ticket)?;
        }
        Ok(stored)
    }

    fn team_or_create(&self, id: &TeamId) -> Result<Arc<Mutex<TeamLog>>, StoreError> {
        if let Some(log) = self.team(id) {
            return Ok(log);
        }
        let mut teams = self.teams.write().expect("store lock poisoned");
        if let Some(log) = teams.get(id) {
            return Ok(Arc::clone(log));
        }
        let dir = self.team_dir(id);
        fs::create_dir_all(&dir).map_err(|e| StoreError::write(&dir, e))?;
        let index_file = open_index_for_append(&dir)?;
        let log = Arc::new(Mutex::new(TeamLog {
            dir,
            entries: Vec::new(),
            last_name: None,
            index_file: Some(index_file),
            latest: None,
            latest_moved: None,
            latest_pending: None,
            dir_sync: Arc::default(),
            linked: 0,
        }));
        teams.insert(id.clone(), Arc::clone(&log));
        Ok(log)
    }

    /// Points every team's `latest.json` at its newest report where a burst left it
    /// behind (see [`LATEST_EVERY`]). Failures are logged; the next start repairs them.
    pub fn flush_latest(&self) {
        let teams: Vec<_> = self
            .teams
            .read()
            .expect("store lock poisoned")
            .values()
            .cloned()
            .collect();
        for log in teams {
            let mut log = log.lock().expect("team lock poisoned");
            if log.latest_pending.is_some() {
                log.move_latest();
            }
        }
    }

    /// The team's newest report (without reading its file again), if any.
    pub fn latest(&self, id: &TeamId) -> Option<Arc<StoredReport>> {
        self.team(id)?
            .lock()
            .expect("team lock poisoned")
            .latest
            .clone()
    }

    /// Number of reports of a team (0 for an unknown team).
    pub fn report_count(&self, id: &TeamId) -> usize {
        self.team(id)
            .map(|log| log.lock().expect("team lock poisoned").entries.len())
            .unwrap_or(0)
    }

    /// A copy of the team's index entries, oldest first.
    pub fn entries(&self, id: &TeamId) -> Vec<IndexEntry> {
        self.team(id)
            .map(|log| log.lock().expect("team lock poisoned").entries.clone())
            .unwrap_or_default()
    }

    /// Calls `visit` with the team's index entries, oldest first, under the team's lock.
    pub fn with_entries<T>(&self, id: &TeamId, visit: impl FnOnce(&[IndexEntry]) -> T) -> T {
        match self.team(id) {
            Some(log) => visit(&log.lock().expect("team lock poisoned").entries),
            None => visit(&[]),
        }
    }

    /// The summary numbers of a team's history, from the index alone.
    pub fn history_info(&self, id: &TeamId) -> HistoryInfo {
        self.with_entries(id, |entries| HistoryInfo {
            total_reports: entries.len(),
            first_report: entries.first().map(|e| e.timestamp.to_string()),
            last_report: entries.last().map(|e| e.timestamp.to_string()),
            recent_files: entries
                .iter()
                .rev()
                .take(5)
                .map(|e| e.file_name.to_string())
                .collect(),
        })
    }

    /// One page of a team's history, newest first: `(total, reports)`. Reads only the
    /// files of the page; a file that vanished or is corrupt is left out of the page.
    pub fn history_page(
        &self,
        id: &TeamId,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<StoredReport>) {
        let (total, names) = self.with_entries(id, |entries| {
            let names: Vec<Box<str>> = entries
                .iter()
                .rev()
                .skip(offset)
                .take(limit)
                .map(|e| e.file_name.clone())
                .collect();
            (entries.len(), names)
        });
        let dir = self.team_dir(id);
        let page = names
            .iter()
            .filter_map(|name| read_report_file(&dir.join(&**name)).ok())
            .collect();
        (total, page)
    }

    /// Reads the report file behind an index entry.
    pub fn read_entry(&self, id: &TeamId, entry: &IndexEntry) -> Result<StoredReport, StoreError> {
        read_report_file(&self.team_dir(id).join(&*entry.file_name))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if matches!(self.mode, OpenMode::ReadWrite { .. }) {
            self.flush_latest();
        }
    }
}

impl TeamLog {
    /// Moves `latest.json` to the pending newest report: a second name of the same
    /// file, made under a temporary name and renamed over `latest.json`.
    fn move_latest(&mut self) {
        let Some(name) = self.latest_pending.take() else {
            return;
        };
        self.latest_moved = Some(Instant::now());
        if let Err(e) = point_latest_at(&self.dir, &name) {
            log::warn!("{e}; latest.json will be set right at the next start");
        }
    }

    /// Appends the entry to the sidecar. A failure only costs a rebuild of the index
    /// at the next start (the report file itself is already complete), so it is
    /// logged, not returned.
    fn append_index_line(&mut self, entry: &IndexEntry) {
        let Some(file) = self.index_file.as_mut() else {
            return;
        };
        let mut line = serde_json::to_vec(&IndexLine {
            f: entry.file_name.to_string(),
            t: entry.timestamp.to_string(),
            h: entry.headline,
        })
        .expect("index line serializes");
        line.push(b'\n');
        if let Err(e) = file.write_all(&line) {
            eprintln!(
                "warning: cannot append to {}: {e}; it will be rebuilt at the next start",
                self.dir.join(INDEX_FILE).display()
            );
        }
    }
}

/// The next file name after `last`: the stem of now, or — when the clock has not
/// moved past the last name (same millisecond, or a clock stepped back) — the last
/// stem with the next sequence number, so names always sort in arrival order.
fn next_name(last: &Option<(String, u32)>, now_stem: &str) -> (String, u32) {
    match last {
        Some((stem, seq)) if stem.as_str() >= now_stem => (stem.clone(), seq + 1),
        _ => (now_stem.to_string(), 0),
    }
}

/// A complete report file not yet under its final name.
enum WrittenFile {
    /// An `O_TMPFILE` file: no name at all until linked.
    Unnamed(File),
    /// A `.tmp-*` file (file systems without `O_TMPFILE`).
    Named(PathBuf),
}

impl WrittenFile {
    /// Writes `contents` to a new file in `dir` (synced when `fsync`).
    fn write(dir: &Path, contents: &[u8], fsync: bool) -> Result<WrittenFile, StoreError> {
        if let Some(file) = write_unnamed(dir, contents, fsync)? {
            return Ok(WrittenFile::Unnamed(file));
        }
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!("{TMP_PREFIX}{}-{n}", process_id()));
        write_file(&tmp, contents, fsync)?;
        Ok(WrittenFile::Named(tmp))
    }

    /// Gives the file the first free name `<stem>[_<seq>].json` from `seq` on;
    /// returns the name and its sequence number.
    fn link(self, dir: &Path, stem: &str, seq: u32) -> Result<(String, u32), StoreError> {
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
fn process_id() -> u32 {
    static ID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *ID.get_or_init(std::process::id)
}

/// Makes `latest.json` another name of the report file `name`, atomically.
fn point_latest_at(dir: &Path, name: &str) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{TMP_PREFIX}latest-{}", process_id()));
    let _ = fs::remove_file(&tmp);
    fs::hard_link(dir.join(name), &tmp)
        .or_else(|_| fs::copy(dir.join(name), &tmp).map(|_| ()))
        .map_err(|e| StoreError::write(&tmp, e))?;
    let latest = dir.join(LATEST_FILE);
    fs::rename(&tmp, &latest).map_err(|e| StoreError::write(&latest, e))
}

fn write_file(path: &Path, contents: &[u8], fsync: bool) -> Result<(), StoreError> {
    let mut file = File::create(path).map_err(|e| StoreError::write(path, e))?;
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

fn open_index_for_append(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(INDEX_FILE);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| StoreError::write(&path, e))
}

/// Reads and checks one report file.
pub fn read_report_file(path: &Path) -> Result<StoredReport, StoreError> {
    let bytes = fs::read(path).map_err(|e| StoreError::read(path, e))?;
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let file: ReportFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let team_id = TeamId::parse(&file.team_id).map_err(|e| corrupt(e.to_string()))?;
    let at = timefmt::parse_timestamp(&file.timestamp)
        .ok_or_else(|| corrupt(format!("bad timestamp {:?}", file.timestamp)))?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    Ok(StoredReport {
        team_id,
        team_name: file.team_name,
        timestamp: file.timestamp,
        at,
        file_name,
        stats: file.stats,
    })
}

/// The index entry of a report file, computing its metrics (used to rebuild the index).
fn entry_from_file(path: &Path) -> Result<(IndexEntry, StoredReport, Option<String>), StoreError> {
    let stored = read_report_file(path)?;
    // A report the original tool accepted but our validation refuses still belongs to
    // the history (it is shown with zero metrics): "loads unchanged".
    let (metrics, warning) = match Report::fields_of(&stored.stats) {
        Ok(report) => (Metrics::of(&report), None),
        Err(e) => (
            Metrics::default(),
            Some(format!(
                "warning: {}: its stats break the schema ({e}); listed with zero metrics",
                path.display()
            )),
        ),
    };
    let entry = IndexEntry {
        file_name: stored.file_name.clone().into(),
        timestamp: stored.timestamp.clone().into(),
        at: stored.at,
        headline: Headline::from(&metrics),
    };
    Ok((entry, stored, warning))
}

type LoadResult = Result<(TeamLog, Vec<String>), StoreError>;

/// Loads every team directory, spread over the available cores (start-up time).
fn load_teams_in_parallel(
    team_dirs: Vec<(TeamId, PathBuf)>,
    mode: OpenMode,
) -> Vec<(TeamId, LoadResult)> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let chunk = team_dirs.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = team_dirs
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(id, dir)| (id.clone(), load_team(dir, mode)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("team loader thread panicked"))
            .collect()
    })
}

/// Loads one team directory: lists it, reads the sidecar, parses the report files the
/// sidecar lacks, and (read-write) repairs what a crash may have left behind.
fn load_team(dir: &Path, mode: OpenMode) -> LoadResult {
    let writable = matches!(mode, OpenMode::ReadWrite { .. });
    let mut warnings = Vec::new();
    let mut report_names: HashMap<String, timefmt::FileOrder> = HashMap::new();
    for entry in fs::read_dir(dir).map_err(|e| StoreError::read(dir, e))? {
        let entry = entry.map_err(|e| StoreError::read(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(order) = timefmt::parse_file_name(&name) {
            report_names.insert(name, order);
        } else if name.starts_with(TMP_PREFIX) {
            // A write interrupted by a crash: never acknowledged, never a report.
            if writable {
                let _ = fs::remove_file(entry.path());
            }
        } else if name != LATEST_FILE && name != INDEX_FILE {
            warnings.push(format!(
                "warning: skipping {}: not a report file",
                entry.path().display()
            ));
        }
    }

    let (mut by_name, index_clean) = read_index(dir, &report_names);
    let mut latest_read = None;
    let mut missing: Vec<&String> = report_names
        .keys()
        .filter(|n| !by_name.contains_key(*n))
        .collect();
    missing.sort_by_key(|n| report_names[*n]);
    for name in &missing {
        match entry_from_file(&dir.join(name)) {
            Ok((entry, stored, warning)) => {
                warnings.extend(warning);
                latest_read = Some(stored);
                by_name.insert((*name).clone(), entry);
            }
            Err(e) => warnings.push(format!("warning: skipping {e}")),
        }
    }
    // Look each name's order up once, not in every comparison (start-up time).
    let mut ordered: Vec<(timefmt::FileOrder, IndexEntry)> = by_name
        .into_values()
        .map(|e| (report_names[&*e.file_name], e))
        .collect();
    ordered.sort_unstable_by_key(|(order, _)| *order);
    let entries: Vec<IndexEntry> = ordered.into_iter().map(|(_, e)| e).collect();

    let latest = match entries.last() {
        None => None,
        Some(newest)
            if latest_read
                .as_ref()
                .is_some_and(|s| *s.file_name == *newest.file_name) =>
        {
            latest_read
        }
        Some(newest) => match read_report_file(&dir.join(&*newest.file_name)) {
            Ok(stored) => Some(stored),
            Err(e) => {
                warnings.push(format!("warning: {e}"));
                None
            }
        },
    };
    let mut index_file = None;
    if writable {
        if !index_clean || !missing.is_empty() {
            rewrite_index(dir, &entries)?;
        }
        if let Some(newest) = entries.last() {
            repair_latest(dir, &newest.file_name)?;
        }
        index_file = Some(open_index_for_append(dir)?);
    }
    let last_name = entries.last().and_then(|e| split_name(&e.file_name));
    Ok((
        TeamLog {
            dir: dir.to_path_buf(),
            entries,
            last_name,
            index_file,
            latest: latest.map(Arc::new),
            latest_moved: None,
            latest_pending: None,
            dir_sync: Arc::default(),
            linked: 0,
        },
        warnings,
    ))
}

/// `(stem, seq)` of a report file name.
fn split_name(name: &str) -> Option<(String, u32)> {
    let (_, seq) = timefmt::parse_file_name(name)?;
    Some((name[..19].to_string(), seq))
}

/// Reads the sidecar, keeping only lines whose report file exists. Returns the
/// entries by file name and whether the sidecar matched the directory exactly.
fn read_index(
    dir: &Path,
    report_names: &HashMap<String, timefmt::FileOrder>,
) -> (HashMap<String, IndexEntry>, bool) {
    let mut by_name = HashMap::with_capacity(report_names.len());
    let Ok(text) = fs::read_to_string(dir.join(INDEX_FILE)) else {
        return (by_name, false);
    };
    let mut clean = true;
    for line in text.lines() {
        let parsed: Option<IndexLine> = serde_json::from_str(line).ok();
        let entry = parsed.and_then(|l| {
            let at = timefmt::parse_timestamp(&l.t)?;
            Some(IndexEntry {
                file_name: l.f.into(),
                timestamp: l.t.into(),
                at,
                headline: l.h,
            })
        });
        match entry {
            Some(entry) if report_names.contains_key(&*entry.file_name) => {
                if by_name.insert(entry.file_name.to_string(), entry).is_some() {
                    clean = false;
                }
            }
            // A torn last line, a deleted report, a line of another version.
            _ => clean = false,
        }
    }
    (by_name, clean)
}

/// Writes the sidecar anew, atomically.
fn rewrite_index(dir: &Path, entries: &[IndexEntry]) -> Result<(), StoreError> {
    let mut text = Vec::with_capacity(entries.len() * 96);
    for entry in entries {
        serde_json::to_writer(
            &mut text,
            &IndexLine {
                f: entry.file_name.to_string(),
                t: entry.timestamp.to_string(),
                h: entry.headline,
            },
        )
        .expect("index line serializes");
        text.push(b'\n');
    }
    let tmp = dir.join(format!("{TMP_PREFIX}index-{}", process_id()));
    write_file(&tmp, &text, false)?;
    let path = dir.join(INDEX_FILE);
    fs::rename(&tmp, &path).map_err(|e| StoreError::write(&path, e))
}

/// Makes `latest.json` the newest report again if a crash left it behind (or the
/// original tool wrote it as a copy that differs).
fn repair_latest(dir: &Path, newest: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let newest_path = dir.join(newest);
    let latest_path = dir.join(LATEST_FILE);
    let same_file = match (fs::metadata(&newest_path), fs::metadata(&latest_path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    };
    if same_file || files_equal(&newest_path, &latest_path) {
        return Ok(());
    }
    point_latest_at(dir, newest)
}

fn files_equal(a: &Path, b: &Path) -> bool {
    matches!((fs::read(a), fs::read(b)), (Ok(x), Ok(y)) if x == y)
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
        if matches!(written, WrittenFile::Unnamed(_)) {
            assert!(names_in(dir.path()).is_empty());
        }
        let (name, _) = written.link(dir.path(), "20250801_100005_138", 0).unwrap();
        assert_eq!(names_in(dir.path()), [name]);
    }

    #[test]
    fn names_never_go_back_when_the_clock_does() {
        let last = Some(("20250801_100005_138".to_string(), 2));
        assert_eq!(
            next_name(&last, "20250801_100005_100"),
            ("20250801_100005_138".to_string(), 3)
        );
        assert_eq!(
            next_name(&last, "20250801_100006_000"),
            ("20250801_100006_000".to_string(), 0)
        );
    }
}
