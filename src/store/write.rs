//! [`WritableStore`]: the server's store, which also appends reports.

use std::fs;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::files::{self, WrittenFile};
use super::lock::DirLock;
use super::space::{self, DiskState};
use super::{Headline, IndexEntry, LATEST_EVERY, Store, StoreError, StoredReport, TeamLog, index};
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::metrics::Metrics;
use crate::report::Report;
use crate::report::plausibility::{self, Warning};
use crate::runs::{RunPoint, starts_new_run};
use crate::team::TeamId;
use crate::timefmt;

/// A [`Store`] that accepts new reports (the server's). At open it creates the
/// directory, removes leftover temporary files and repairs the sidecar index and
/// `latest.json`. Every read goes through the `Store` it derefs to.
pub struct WritableStore {
    store: Store,
    /// fsync each report file and its directory before acknowledging it.
    fsync: bool,
    limits: WriteLimits,
    /// Where [`WritableStore::append`] reads the arrival time.
    clock: Arc<dyn Clock>,
    /// Held for the store's life; dropped last, after `latest.json` is caught up.
    _lock: DirLock,
}

/// What a [`WritableStore`] refuses to grow past; none by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimits {
    /// Most teams: a report of a new team past it is refused
    /// ([`StoreError::TooManyTeams`]).
    pub max_teams: usize,
    /// Bytes that must stay free on the data directory's file system: below it a
    /// report is refused before anything is written ([`StoreError::DiskAlmostFull`]);
    /// 0 turns the check off.
    pub min_free_bytes: u64,
}

impl Default for WriteLimits {
    fn default() -> WriteLimits {
        WriteLimits {
            max_teams: usize::MAX,
            min_free_bytes: 0,
        }
    }
}

impl Deref for WritableStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl WritableStore {
    /// Opens (creating it if needed) a data directory to read and append; with
    /// `fsync`, every report file and its directory are synced before `append` returns.
    /// Its lock is taken first: [`StoreError::InUse`], with nothing touched, while
    /// another process has it open to write.
    pub fn open(root: impl Into<PathBuf>, fsync: bool) -> Result<WritableStore, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| StoreError::write(&root, e))?;
        let lock = DirLock::take(&root)?;
        let store = super::load::open(root, true)?;
        Ok(WritableStore {
            store,
            fsync,
            limits: WriteLimits::default(),
            clock: Arc::new(SystemClock),
            _lock: lock,
        })
    }

    /// The store with these limits instead of none.
    pub fn with_limits(mut self, limits: WriteLimits) -> WritableStore {
        self.limits = limits;
        self
    }

    /// The store reading arrival times from `clock` instead of the wall clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> WritableStore {
        self.clock = clock;
        self
    }

    /// Now by the store's clock, in local time (as file names are).
    fn arrival(&self) -> chrono::DateTime<chrono::Local> {
        self.clock.now().with_timezone(&chrono::Local)
    }

    /// Stores a validated report: on return its file is complete under its final name
    /// (and synced, with `fsync`). `latest.json` points at it too, except in a burst of
    /// one team, when it is moved at most every [`LATEST_EVERY`] and caught up by
    /// [`WritableStore::flush_latest`]. Names are handed out under the team's lock, so
    /// they sort in arrival order, and the report's run and plausibility warnings are
    /// judged there against the report stored just before it.
    ///
    /// `body` is written verbatim as the file's `stats`; `report.value` is the same
    /// report, parsed, kept in memory as the team's latest.
    pub fn append(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        metrics: &Metrics,
    ) -> Result<Arc<StoredReport>, StoreError> {
        self.append_at(id, team_name, body, report, metrics, self.arrival())
    }

    /// [`WritableStore::append`] with a given arrival time instead of the clock's: for
    /// generators of test and benchmark histories (`crate::generate`), which need a day
    /// of reports written in seconds. Names still only grow, whatever `now` says.
    pub fn append_at(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        metrics: &Metrics,
        now: chrono::DateTime<chrono::Local>,
    ) -> Result<Arc<StoredReport>, StoreError> {
        self.append_from(id, team_name, body, report, metrics, None, now)
    }

    /// [`WritableStore::append`] of a report converted from a load tool's output: the
    /// file also carries `source` (`{"format", "tool_version", "sha256"}`).
    pub fn append_imported(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        metrics: &Metrics,
        source: &Value,
    ) -> Result<Arc<StoredReport>, StoreError> {
        self.append_from(
            id,
            team_name,
            body,
            report,
            metrics,
            Some(source),
            self.arrival(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn append_from(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        mut report: Report,
        metrics: &Metrics,
        source: Option<&Value>,
        now: chrono::DateTime<chrono::Local>,
    ) -> Result<Arc<StoredReport>, StoreError> {
        // Checked before anything is written, a new team's directory included.
        self.check_free_space()?;
        let log = self.team_or_create(id)?;
        let dir = self.team_dir(id);
        // The file is written (and synced) before taking the team's lock, so that
        // concurrent reports of one team share the disk; under the lock it only gets
        // its name, so names still sort in arrival order.
        let at = now.fixed_offset();
        let timestamp = timefmt::format_timestamp(&at);
        let contents = files::report_contents(id, team_name, &timestamp, source, body);
        let written = WrittenFile::write(&dir, &contents, self.fsync)?;

        let mut log = log.lock().expect("team lock poisoned");
        let (file_name, ticket) = log.link(written, &timefmt::file_stem(&now))?;
        let run_point = RunPoint::of(&report);
        let (run, warnings) = log.judge(&report, run_point);
        log.record(IndexEntry {
            file_name: file_name.clone().into(),
            timestamp: timestamp.clone().into(),
            at,
            headline: Headline::from(metrics),
            run_point,
            run,
            warnings: warnings.clone().into_boxed_slice(),
        });
        let stats = std::mem::take(&mut report.value);
        log.latest_fields = Some(report);
        let stored = Arc::new(StoredReport {
            team_id: id.clone(),
            team_name: team_name.to_string(),
            timestamp,
            at,
            file_name,
            stats,
            run,
            warnings,
        });
        log.latest = Some(Arc::clone(&stored));
        let dir_sync = Arc::clone(&log.dir_sync);
        drop(log);
        if self.fsync {
            dir_sync.covers(&dir, ticket)?;
        }
        Ok(stored)
    }

    /// The free space of the data directory against `min_free_bytes`, now.
    pub fn disk_state(&self) -> DiskState {
        let min_free_bytes = self.limits.min_free_bytes;
        let free_bytes = space::free_bytes(self.root()).ok();
        DiskState {
            free_bytes,
            min_free_bytes,
            full: free_bytes.is_some_and(|free| free < min_free_bytes),
        }
    }

    /// [`StoreError::DiskAlmostFull`] while less than `min_free_bytes` is free. A file
    /// system that cannot say is written to (its writes still fail cleanly when full).
    fn check_free_space(&self) -> Result<(), StoreError> {
        let min_free_bytes = self.limits.min_free_bytes;
        if min_free_bytes == 0 {
            return Ok(());
        }
        match space::free_bytes(self.root()) {
            Ok(free_bytes) if free_bytes < min_free_bytes => Err(StoreError::DiskAlmostFull {
                free_bytes,
                min_free_bytes,
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn team_or_create(&self, id: &TeamId) -> Result<Arc<Mutex<TeamLog>>, StoreError> {
        if let Some(log) = self.team(id) {
            return Ok(log);
        }
        let mut teams = self.teams.write().expect("store lock poisoned");
        if let Some(log) = teams.get(id) {
            return Ok(Arc::clone(log));
        }
        // Counted under the write lock: concurrent new teams cannot pass it together.
        if teams.len() >= self.limits.max_teams {
            return Err(StoreError::TooManyTeams {
                limit: self.limits.max_teams,
            });
        }
        let dir = self.team_dir(id);
        create_team_dir(&dir)?;
        let log = Arc::new(Mutex::new(TeamLog::new(dir, Vec::new(), None, true)));
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
}

impl Drop for WritableStore {
    fn drop(&mut self) {
        self.flush_latest();
    }
}

impl TeamLog {
    /// The run of the next report (a new one when its elapsed time or sent count
    /// went down) and its plausibility warnings against the latest report.
    fn judge(&self, report: &Report, point: RunPoint) -> (u32, Vec<Warning>) {
        let run = match self.entries.last() {
            None => 1,
            Some(last) if starts_new_run(last.run_point, point) => last.run + 1,
            Some(last) => last.run,
        };
        (
            run,
            plausibility::check(report, self.latest_fields.as_ref()),
        )
    }

    /// Gives a written report file its name (the next after the last one handed out)
    /// and moves `latest.json` to it unless it moved less than [`LATEST_EVERY`] ago;
    /// returns the name and the file's ticket for [`files::DirSync::covers`].
    fn link(&mut self, written: WrittenFile, now_stem: &str) -> Result<(String, u64), StoreError> {
        let (stem, seq) = next_name(&self.last_name, now_stem);
        let (file_name, seq) = written.link(&self.dir, &stem, seq)?;
        self.linked += 1;
        self.dir_sync.linked.store(self.linked, Ordering::SeqCst);
        self.last_name = Some((stem, seq));
        self.latest_pending = Some(file_name.clone());
        if self
            .latest_moved
            .is_none_or(|at| at.elapsed() >= LATEST_EVERY)
        {
            self.move_latest();
        }
        Ok((file_name, self.linked))
    }

    /// Adds a linked report to the index and its sidecar. A sidecar that cannot be
    /// appended to only costs a rebuild at the next start (the report file itself is
    /// complete), so that is logged, not returned.
    fn record(&mut self, entry: IndexEntry) {
        if self.appends_index
            && let Err(e) = index::append(&self.dir, &entry)
        {
            log::warn!("{e}; the index will be rebuilt at the next start");
        }
        self.entries.push(entry);
    }

    /// Moves `latest.json` to the pending newest report: a second name of the same
    /// file, made under a temporary name and renamed over `latest.json`.
    fn move_latest(&mut self) {
        let Some(name) = self.latest_pending.take() else {
            return;
        };
        self.latest_moved = Some(Instant::now());
        if let Err(e) = files::point_latest_at(&self.dir, &name) {
            log::warn!("{e}; latest.json will be set right at the next start");
        }
    }
}

/// Creates a team's directory; one that is a symbolic link is refused (opening the
/// store skips those too), so that no report is written outside the data directory.
fn create_team_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(|e| StoreError::write(dir, e))?;
    let meta = fs::symlink_metadata(dir).map_err(|e| StoreError::write(dir, e))?;
    if meta.is_dir() {
        return Ok(());
    }
    Err(StoreError::write(
        dir,
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a symbolic link, not a directory of this data directory: not followed",
        ),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

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
