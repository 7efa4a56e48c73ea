//! The file store (DESIGN §5): one JSON file per report, `latest.json` per team,
//! and an in-memory index so that reads never list or parse a team's directory.
//!
//! ```text
//! data/<team_id>/<YYYYMMDD_HHMMSS_fff>.json   one file per report (original's layout)
//! data/<team_id>/latest.json                  the newest report
//! data/<team_id>/.benchboard-index            our sidecar index: a version line, one line per report
//! ```
//!
//! Writing a report costs one new file and one new name: the report is written to an
//! unnamed file (`O_TMPFILE`; a `.tmp-*` name where the file system lacks it) and
//! then linked under its final name (the link fails if the name is taken, which is
//! how two reports in one millisecond both survive). `latest.json` is another name
//! of the same file, moved with a rename; under a burst it is moved at most every
//! [`LATEST_EVERY`] per team, and [`WritableStore::flush_latest`] (the server calls it about
//! twice a second, and it runs on drop) catches up. Each name only ever points at a
//! complete file, so neither a reader nor a crash sees half a report; after a crash
//! `latest.json` is set right at the next start.
//!
//! The sidecar index holds, per report, its file name, timestamp and headline numbers.
//! It is only a cache: at start-up it is checked against the directory listing and
//! rebuilt from the report files for whatever it lacks.

//!
//! [`Store`] only reads: `benchboard-history` opens one and can change no file.
//! [`WritableStore`] (the server) is a `Store` that also appends; it derefs to the
//! `Store` for every read. The questions asked of a history (pages, summary, series,
//! best records, every report in a range) are answered in [`crate::query`] from what
//! a `Store` offers: the team ids, each team's index ([`Store::with_entries`]), its
//! latest report and a [`ReportReader`].
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the types and the reading API |
//! | `write.rs` | [`WritableStore`]: appending, `latest.json`, directory syncs |
//! | `files.rs` | atomic files: `O_TMPFILE` or `.tmp-*`, links, `latest.json`, reading a report file |
//! | `index.rs` | the sidecar format |
//! | `load.rs` | the open-time scan and repair |
//! | `lock.rs` | one server per data directory (`flock` on [`LOCK_FILE`]) |
//! | `space.rs` | the free space of the data directory (`--min-free-space`) |
//! | `regular.rs` | opening only regular files, never through a link, size-capped |

pub mod backend;
mod files;
mod index;
mod load;
mod lock;
pub mod postgres;
mod regular;
mod space;
mod trash;
mod write;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use backend::{RawReport, ReadStore, TeamEntry, WriteStore};
pub use files::{read_report_file, read_report_file_raw, report_contents};
pub use index::INDEX_VERSION;
pub use space::DiskState;
pub(crate) use trash::check_name;
pub use trash::{TRASH_DIR, TrashError, TrashedReport};
pub use write::{WritableStore, WriteLimits};

use crate::metrics::Metrics;
use crate::report::Report;
use crate::report::plausibility::Warning;
use crate::runs::RunPoint;
use crate::team::TeamId;

/// Name of the per-team file that always holds the newest report.
pub const LATEST_FILE: &str = "latest.json";
/// Name of the per-team sidecar index.
pub const INDEX_FILE: &str = ".benchboard-index";
/// Name of the lock file in the data directory: the server holds an exclusive
/// `flock` on it (it holds the server's process id).
pub const LOCK_FILE: &str = ".benchboard-lock";
/// Prefix of temporary files; leftovers are removed at start-up.
pub const TMP_PREFIX: &str = ".tmp-";
/// Largest report body the store takes (and so the largest `--max-body`), in bytes.
pub const MAX_REPORT_BYTES: u64 = 16 * 1024 * 1024;
/// Largest report file read back: a body of [`MAX_REPORT_BYTES`] and its header
/// (team id, name, timestamp). A bigger file is skipped, never read into memory.
pub const MAX_REPORT_FILE_BYTES: u64 = MAX_REPORT_BYTES + 64 * 1024;
/// Under a burst of reports, `latest.json` of a team is moved at most this often;
/// [`WritableStore::flush_latest`] brings it up to date.
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
    /// Another process (another `benchboard-serve`) holds the data directory's lock.
    #[error(
        "data directory in use by pid {}: {} is locked by another benchboard-serve; stop it or choose another --data-dir",
        pid.map_or("unknown".to_string(), |p| p.to_string()),
        root.display()
    )]
    InUse { root: PathBuf, pid: Option<u32> },
    /// Less than `--min-free-space` is free on the data directory's file system: the
    /// report is refused before anything is written (507); reports are taken again
    /// as soon as space is freed.
    #[error(
        "disk almost full: {} free on the data directory's file system, below --min-free-space {}; reports are refused until space is freed (retry later)",
        bytesize::ByteSize::b(*free_bytes).display().iec(),
        bytesize::ByteSize::b(*min_free_bytes).display().iec()
    )]
    DiskAlmostFull {
        free_bytes: u64,
        min_free_bytes: u64,
    },
    /// A report of a new team when the store already knows its limit of teams
    /// (`--max-teams-known`): refused for good, nothing is stored; clients must not
    /// retry it. Teams already known keep reporting.
    #[error(
        "this server already knows {limit} teams, its limit (--max-teams-known): a report of a new team is refused for good, do not retry it"
    )]
    TooManyTeams { limit: usize },
    /// A stored file is not a report in the expected format.
    #[error("{}: not a BenchBoard report file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// The PostgreSQL store failed (`--store postgres://…`).
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
}

impl StoreError {
    /// True when the disk is full or below `--min-free-space` (the API answers 507 then).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Write { source, .. } => source.kind() == io::ErrorKind::StorageFull,
            StoreError::DiskAlmostFull { .. } => true,
            _ => false,
        }
    }

    /// True when the database is away: the API answers 503 and the server retries.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.is_unavailable())
    }

    pub(crate) fn write(path: &Path, source: io::Error) -> StoreError {
        StoreError::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn read(path: &Path, source: io::Error) -> StoreError {
        StoreError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
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
    /// High-priority average latency in ms. Required in a sidecar line: a line
    /// written before it was kept is of another version, and its report is read
    /// again from the file (once; the sidecar is then rewritten).
    #[serde(rename = "h")]
    pub high_priority_latency: f64,
    /// `totalVerifyErrorRate` in %, when the report has one.
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub verify_error_rate: Option<f64>,
}

impl From<&Metrics> for Headline {
    fn from(m: &Metrics) -> Headline {
        Headline {
            qps: m.qps,
            avg_latency: m.avg_latency,
            p99_latency: m.p99_latency,
            data_loss_rate: m.data_loss_rate,
            high_priority_latency: m.high_priority_latency,
            verify_error_rate: m.verify_error_rate,
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
    /// `totalElapsed` and `totalSent`, which tell the team's runs apart.
    pub run_point: RunPoint,
    /// The run (from 1) the report belongs to; numbered in memory, not stored.
    pub run: u32,
    /// The report's plausibility warnings (empty for almost every report).
    pub warnings: Box<[Warning]>,
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
    /// The run it belongs to and its plausibility warnings, as the index has them
    /// (0 and none for a report read from its file alone: see [`Store::read_entry`]).
    pub run: u32,
    pub warnings: Vec<Warning>,
}

/// The reports of one team: its index and the open sidecar.
struct TeamLog {
    dir: PathBuf,
    entries: Vec<IndexEntry>,
    /// Stem and sequence of the newest name handed out, so that names only grow.
    last_name: Option<(String, u32)>,
    /// Appends each new report to the sidecar index (a [`WritableStore`]'s only); the
    /// sidecar is opened per line, so that no team holds a file descriptor.
    appends_index: bool,
    latest: Option<Arc<StoredReport>>,
    /// The typed fields of the latest report (no `value`): the "previous report" of
    /// the plausibility checks of the next one.
    latest_fields: Option<Report>,
    /// When `latest.json` was last moved (a [`WritableStore`]'s only).
    latest_moved: Option<Instant>,
    /// The newest report's file name when `latest.json` still lags behind it.
    latest_pending: Option<String>,
    /// Shares directory syncs between concurrent reports (`--fsync`).
    dir_sync: Arc<files::DirSync>,
    /// Names given so far; a report's ticket for [`DirSync::covers`].
    linked: u64,
}

impl TeamLog {
    fn new(
        dir: PathBuf,
        entries: Vec<IndexEntry>,
        latest: Option<StoredReport>,
        appends_index: bool,
    ) -> TeamLog {
        let last_name = entries.last().and_then(|e| files::split_name(&e.file_name));
        let latest_fields = latest
            .as_ref()
            .and_then(|l| Report::fields_of(&l.stats).ok());
        TeamLog {
            dir,
            entries,
            last_name,
            appends_index,
            latest: latest.map(Arc::new),
            latest_fields,
            latest_moved: None,
            latest_pending: None,
            dir_sync: Arc::default(),
            linked: 0,
        }
    }
}

/// The file store of one data directory, opened to read (see [`WritableStore`]).
pub struct Store {
    root: PathBuf,
    teams: RwLock<BTreeMap<TeamId, Arc<Mutex<TeamLog>>>>,
    /// Warnings met while opening (corrupt or foreign files), one line each.
    warnings: Vec<String>,
}

impl Store {
    /// Opens a data directory to read it: loads every team's index (from the report
    /// files where the sidecar is missing or stale) and changes no file.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(StoreError::NoDataDir(root));
        }
        load::open(root, false)
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

    /// The team's directory on disk (under [`Store::root`]).
    pub fn team_dir(&self, id: &TeamId) -> PathBuf {
        self.root.join(id.as_str())
    }

    /// The team's directory as shown to the public: relative to the data directory's
    /// parent (`data/team1`), as the original tool showed it; never the server's
    /// absolute path.
    pub fn shown_team_dir(&self, id: &TeamId) -> String {
        self.shown_root().join(id.as_str()).display().to_string()
    }

    /// `error` with every path in it shown as [`Store::shown_team_dir`] shows them:
    /// for answers to clients.
    pub fn shown_error(&self, error: StoreError) -> StoreError {
        let shown_root = self.shown_root();
        let shown = |path: PathBuf| match path.strip_prefix(&self.root) {
            Ok(rest) => shown_root.join(rest),
            Err(_) => path.file_name().map(PathBuf::from).unwrap_or_default(),
        };
        match error {
            StoreError::Write { path, source } => StoreError::Write {
                path: shown(path),
                source,
            },
            StoreError::Read { path, source } => StoreError::Read {
                path: shown(path),
                source,
            },
            StoreError::NoDataDir(path) => StoreError::NoDataDir(shown(path)),
            StoreError::InUse { root, pid } => StoreError::InUse {
                root: shown(root),
                pid,
            },
            StoreError::Corrupt { path, reason } => StoreError::Corrupt {
                path: shown(path),
                reason,
            },
            other @ (StoreError::TooManyTeams { .. }
            | StoreError::DiskAlmostFull { .. }
            | StoreError::Postgres(_)) => other,
        }
    }

    /// The last component of the data directory (`data` for `./data` or
    /// `/srv/contest/data`); empty for `/`.
    fn shown_root(&self) -> PathBuf {
        let absolute = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone());
        absolute.file_name().map(PathBuf::from).unwrap_or_default()
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

    /// Reads reports by team and file name; cheap to clone, for other threads.
    pub fn reader(&self) -> ReportReader {
        ReportReader {
            root: self.root.clone(),
        }
    }

    /// Reads the report file behind an index entry, with the entry's run and warnings.
    pub fn read_entry(&self, id: &TeamId, entry: &IndexEntry) -> Result<StoredReport, StoreError> {
        let mut stored = read_report_file(&self.team_dir(id).join(&*entry.file_name))?;
        stored.run = entry.run;
        stored.warnings = entry.warnings.to_vec();
        Ok(stored)
    }
}

/// Reads stored reports by team and file name (see [`Store::reader`]).
#[derive(Debug, Clone)]
pub struct ReportReader {
    root: PathBuf,
}

impl ReportReader {
    /// Reads and checks the report file `name` of team `id`.
    pub fn read(&self, id: &TeamId, name: &str) -> Result<StoredReport, StoreError> {
        read_report_file(&self.path(id, name))
    }

    /// Where the report file `name` of team `id` is (for messages).
    pub fn path(&self, id: &TeamId, name: &str) -> PathBuf {
        self.root.join(id.as_str()).join(name)
    }
}
