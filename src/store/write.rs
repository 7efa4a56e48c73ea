//! [`WritableStore`]: the server's store, which also appends reports.

use std::fs;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use super::files::{self, WrittenFile};
use super::{Headline, IndexEntry, LATEST_EVERY, Store, StoreError, StoredReport, TeamLog, index};
use crate::metrics::Metrics;
use crate::team::TeamId;
use crate::timefmt;

/// A [`Store`] that accepts new reports (the server's). At open it creates the
/// directory, removes leftover temporary files and repairs the sidecar index and
/// `latest.json`. Every read goes through the `Store` it derefs to.
pub struct WritableStore {
    store: Store,
    /// fsync each report file and its directory before acknowledging it.
    fsync: bool,
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
    pub fn open(root: impl Into<PathBuf>, fsync: bool) -> Result<WritableStore, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| StoreError::write(&root, e))?;
        let store = super::load::open(root, true)?;
        Ok(WritableStore { store, fsync })
    }

    /// Stores a validated report: on return its file is complete under its final name
    /// (and synced, with `fsync`). `latest.json` points at it too, except in a burst of
    /// one team, when it is moved at most every [`LATEST_EVERY`] and caught up by
    /// [`WritableStore::flush_latest`]. Names are handed out under the team's lock, so
    /// they sort in arrival order.
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

    /// [`WritableStore::append`] with a given arrival time instead of the clock's: for
    /// generators of test and benchmark histories (`crate::generate`), which need a day
    /// of reports written in seconds. Names still only grow, whatever `now` says.
    pub fn append_at(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        stats: Value,
        metrics: &Metrics,
        now: chrono::DateTime<chrono::Local>,
    ) -> Result<Arc<StoredReport>, StoreError> {
        let log = self.team_or_create(id)?;
        let dir = self.team_dir(id);
        // The file is written (and synced) before taking the team's lock, so that
        // concurrent reports of one team share the disk; under the lock it only gets
        // its name, so names still sort in arrival order.
        let at = now.fixed_offset();
        let timestamp = timefmt::format_timestamp(&at);
        let contents = files::report_contents(id, team_name, &timestamp, body);
        let written = WrittenFile::write(&dir, &contents, self.fsync)?;

        let mut log = log.lock().expect("team lock poisoned");
        let (file_name, ticket) = log.link(written, &timefmt::file_stem(&now))?;
        log.record(IndexEntry {
            file_name: file_name.clone().into(),
            timestamp: timestamp.clone().into(),
            at,
            headline: Headline::from(metrics),
        });
        let stored = Arc::new(StoredReport {
            team_id: id.clone(),
            team_name: team_name.to_string(),
            timestamp,
            at,
            file_name,
            stats,
        });
        log.latest = Some(Arc::clone(&stored));
        let dir_sync = Arc::clone(&log.dir_sync);
        drop(log);
        if self.fsync {
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
        let index_file = index::open_for_append(&dir)?;
        let log = Arc::new(Mutex::new(TeamLog::new(
            dir,
            Vec::new(),
            None,
            Some(index_file),
        )));
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
        if let Some(file) = self.index_file.as_mut()
            && let Err(e) = index::append_line(file, &entry)
        {
            eprintln!(
                "warning: cannot append to {}: {e}; it will be rebuilt at the next start",
                index::path(&self.dir).display()
            );
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
