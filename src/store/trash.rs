//! The trash: reports an organiser took off the record, kept byte for byte.
//!
//! ```text
//! data/.trash/<team_id>/<YYYYMMDD_HHMMSS_fff>.json   a trashed report, as it was
//! ```
//!
//! Moving a report to the trash gives its file a name there and then removes its name
//! in the team's directory (a link, never a copy, and never over an existing name), so
//! the bytes stay the same and nothing is ever deleted; restoring does the reverse.
//! The team's index, `latest.json` and its in-memory latest report follow at once.
//! `.trash` is not a valid team id, so neither the server nor `benchboard-history`
//! ever reads it as a team.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::{point_latest_at, read_report_file};
use super::load::entry_from_file;
use super::{LATEST_FILE, Store, StoreError, TeamLog, WritableStore, index};
use crate::report::Report;
use crate::runs::RunCounter;
use crate::team::TeamId;
use crate::timefmt;

/// The trash directory's name inside the data directory.
pub const TRASH_DIR: &str = ".trash";

/// A report in the trash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrashedReport {
    pub team_id: String,
    pub file_name: String,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// Why a trash operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TrashError {
    /// The name is not a report file name (`YYYYMMDD_HHMMSS_fff[_n].json`).
    #[error("{0:?} is not a report file name (YYYYMMDD_HHMMSS_fff.json)")]
    BadName(String),
    /// The team has no such report (in its history, or in the trash for a restore).
    #[error("team {team} has no report {file} {place}")]
    NoSuchReport {
        team: String,
        file: String,
        place: &'static str,
    },
    /// A file of that name is already where the report would go.
    #[error("{} already exists; nothing was moved", .0.display())]
    AlreadyThere(PathBuf),
    /// The file system failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl Store {
    /// `data/.trash/<team>`.
    pub fn trash_dir(&self, id: &TeamId) -> PathBuf {
        self.root.join(TRASH_DIR).join(id.as_str())
    }

    /// Every report in the trash, by team and file name.
    pub fn trash_list(&self) -> Result<Vec<TrashedReport>, StoreError> {
        list(&self.root.join(TRASH_DIR))
    }
}

impl WritableStore {
    /// Moves one report of a team to the trash.
    pub fn trash_report(&self, id: &TeamId, file_name: &str) -> Result<(), TrashError> {
        check_name(file_name)?;
        let log = self.team(id).ok_or_else(|| not_in_history(id, file_name))?;
        let mut log = log.lock().expect("team lock poisoned");
        let position = log
            .entries
            .iter()
            .position(|e| &*e.file_name == file_name)
            .ok_or_else(|| not_in_history(id, file_name))?;
        self.move_to_trash(id, &log.dir, file_name)?;
        log.entries.remove(position);
        // The next report was judged against the trashed one.
        self.after_change(&mut log, position..position + 1)?;
        Ok(())
    }

    /// Moves every report of a team to the trash (a reset); returns how many.
    pub fn trash_team(&self, id: &TeamId) -> Result<usize, TrashError> {
        let Some(log) = self.team(id) else {
            return Ok(0);
        };
        let mut log = log.lock().expect("team lock poisoned");
        let names: Vec<Box<str>> = log.entries.iter().map(|e| e.file_name.clone()).collect();
        let mut moved = 0;
        let result = names.iter().try_for_each(|name| {
            self.move_to_trash(id, &log.dir, name)?;
            moved += 1;
            Ok::<_, TrashError>(())
        });
        log.entries.drain(..moved);
        self.after_change(&mut log, 0..1)?;
        result.map(|()| moved)
    }

    /// Moves a report back from the trash into the team's history.
    pub fn restore_report(&self, id: &TeamId, file_name: &str) -> Result<(), TrashError> {
        check_name(file_name)?;
        let from = self.trash_dir(id).join(file_name);
        if !from.is_file() {
            return Err(TrashError::NoSuchReport {
                team: id.to_string(),
                file: file_name.to_string(),
                place: "in the trash",
            });
        }
        let (entry, ..) = entry_from_file(&from, None)?;
        let log = self.team_or_create(id)?;
        let mut log = log.lock().expect("team lock poisoned");
        move_file(&from, &log.dir.join(file_name))?;
        let order = timefmt::parse_file_name(file_name);
        let at = log
            .entries
            .partition_point(|e| timefmt::parse_file_name(&e.file_name) < order);
        log.entries.insert(at, entry);
        // Names only grow: the next report is named after the newest one restored.
        let last = log
            .last_name
            .as_ref()
            .and_then(|(stem, seq)| timefmt::parse_file_name(&timefmt::file_name(stem, *seq)));
        if order > last {
            log.last_name = super::files::split_name(file_name);
        }
        // The restored report and the next one are judged against their new previous.
        self.after_change(&mut log, at..at + 2)?;
        Ok(())
    }

    fn move_to_trash(&self, id: &TeamId, dir: &Path, file_name: &str) -> Result<(), TrashError> {
        let trash = self.trash_dir(id);
        fs::create_dir_all(&trash).map_err(|e| StoreError::write(&trash, e))?;
        move_file(&dir.join(file_name), &trash.join(file_name))
    }

    /// Sets the runs, the plausibility warnings of the entries in `rejudge` (those
    /// whose previous report changed), the index, `latest.json` and the latest report
    /// right after the team's reports changed (under its lock): a trashed report
    /// counts for no run, best record or warning.
    fn after_change(&self, log: &mut TeamLog, rejudge: Range<usize>) -> Result<(), StoreError> {
        rejudge_warnings(log, rejudge);
        let mut runs = RunCounter::new();
        for entry in &mut log.entries {
            entry.run = runs.next(entry.run_point);
        }
        index::rewrite(&log.dir, &log.entries)?;
        log.latest_pending = None;
        match log.entries.last() {
            Some(newest) => {
                let name = newest.file_name.to_string();
                point_latest_at(&log.dir, &name)?;
                let mut latest = read_report_file(&log.dir.join(&name))?;
                latest.run = newest.run;
                latest.warnings = newest.warnings.to_vec();
                log.latest_fields = Report::fields_of(&latest.stats).ok();
                log.latest = Some(Arc::new(latest));
            }
            None => {
                // Only another name of a report that is now in the trash.
                let latest = log.dir.join(LATEST_FILE);
                match fs::remove_file(&latest) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::write(&latest, e)),
                }
                log.latest = None;
                log.latest_fields = None;
            }
        }
        Ok(())
    }
}

/// Judges the plausibility of the entries in `range` again, each against the report
/// now just before it (a file that cannot be read keeps its warnings).
fn rejudge_warnings(log: &mut TeamLog, range: Range<usize>) {
    let end = range.end.min(log.entries.len());
    let fields_at = |log: &TeamLog, i: usize| {
        read_report_file(&log.dir.join(&*log.entries[i].file_name))
            .ok()
            .and_then(|stored| Report::fields_of(&stored.stats).ok())
    };
    let mut previous = range.start.checked_sub(1).and_then(|i| fields_at(log, i));
    for i in range.start..end {
        let path = log.dir.join(&*log.entries[i].file_name);
        match entry_from_file(&path, previous.as_ref()) {
            Ok((entry, _, _, fields)) => {
                log.entries[i].warnings = entry.warnings;
                previous = fields;
            }
            Err(_) => previous = None,
        }
    }
}

/// The reports under a trash directory, by team and time.
fn list(root: &Path) -> Result<Vec<TrashedReport>, StoreError> {
    let mut list = Vec::new();
    let teams = match fs::read_dir(root) {
        Ok(teams) => teams,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(list),
        Err(e) => return Err(StoreError::read(root, e)),
    };
    for team in teams {
        let team = team.map_err(|e| StoreError::read(root, e))?;
        let Some(id) = team
            .file_name()
            .to_str()
            .and_then(|n| TeamId::parse(n).ok())
        else {
            continue;
        };
        let dir = team.path();
        for file in fs::read_dir(&dir).map_err(|e| StoreError::read(&dir, e))? {
            let file = file.map_err(|e| StoreError::read(&dir, e))?;
            let name = file.file_name().to_string_lossy().into_owned();
            if timefmt::parse_file_name(&name).is_none() {
                continue;
            }
            let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
            list.push(TrashedReport {
                team_id: id.to_string(),
                file_name: name,
                bytes,
            });
        }
    }
    list.sort_by(|a, b| {
        (&a.team_id, timefmt::parse_file_name(&a.file_name))
            .cmp(&(&b.team_id, timefmt::parse_file_name(&b.file_name)))
    });
    Ok(list)
}

/// Refuses a name that is not a report file name (`YYYYMMDD_HHMMSS_fff[_n].json`).
pub(crate) fn check_name(file_name: &str) -> Result<(), TrashError> {
    match timefmt::parse_file_name(file_name) {
        Some(_) if !file_name.contains('/') => Ok(()),
        _ => Err(TrashError::BadName(file_name.to_string())),
    }
}

fn not_in_history(id: &TeamId, file_name: &str) -> TrashError {
    TrashError::NoSuchReport {
        team: id.to_string(),
        file: file_name.to_string(),
        place: "in its history",
    }
}

/// Gives `from` the name `to` (never replacing a file there), then removes `from`.
fn move_file(from: &Path, to: &Path) -> Result<(), TrashError> {
    match fs::hard_link(from, to) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(TrashError::AlreadyThere(to.to_path_buf()));
        }
        Err(e) => return Err(StoreError::write(to, e).into()),
    }
    fs::remove_file(from).map_err(|e| StoreError::write(from, e).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    fn store_with_reports(dir: &Path, qps: &[f64]) -> (WritableStore, TeamId) {
        let store = WritableStore::open(dir, false).unwrap();
        let id = TeamId::parse("team1").unwrap();
        let base = chrono::Local::now();
        for (i, q) in qps.iter().enumerate() {
            let metrics = crate::metrics::Metrics {
                qps: *q,
                ..Default::default()
            };
            let mut value: serde_json::Value = serde_json::from_str(include_str!(
                "../../tests/fixtures/valid/minimal-12-buckets.json"
            ))
            .unwrap();
            value["n"] = i.into();
            let body = serde_json::to_string(&value).unwrap();
            let report = crate::report::Report::parse(body.as_bytes()).unwrap();
            store
                .append_at(
                    &id,
                    "T",
                    body.as_bytes(),
                    report,
                    &metrics,
                    base + chrono::Duration::milliseconds(i as i64 * 10),
                )
                .unwrap();
        }
        (store, id)
    }

    /// The team's report file names in the index, oldest first.
    fn names_of(store: &Store, id: &TeamId) -> Vec<String> {
        store
            .entries(id)
            .iter()
            .map(|e| e.file_name.to_string())
            .collect()
    }

    #[test]
    fn trash_and_restore_keep_the_bytes_and_the_index() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, id) = store_with_reports(tmp.path(), &[1.0, 2.0, 3.0]);
        let names = names_of(&store, &id);
        let newest = names[2].clone();
        let before = fs::read(store.team_dir(&id).join(&newest)).unwrap();

        store.trash_report(&id, &newest).unwrap();
        assert_eq!(store.report_count(&id), 2);
        assert_eq!(
            fs::read(store.trash_dir(&id).join(&newest)).unwrap(),
            before
        );
        assert!(!store.team_dir(&id).join(&newest).exists());
        assert_eq!(store.latest(&id).unwrap().file_name, names[1]);
        assert_eq!(
            fs::read(store.team_dir(&id).join(LATEST_FILE)).unwrap(),
            fs::read(store.team_dir(&id).join(&names[1])).unwrap()
        );
        assert_eq!(store.trash_list().unwrap().len(), 1);

        store.restore_report(&id, &newest).unwrap();
        assert_eq!(fs::read(store.team_dir(&id).join(&newest)).unwrap(), before);
        assert_eq!(store.report_count(&id), 3);
        assert_eq!(store.latest(&id).unwrap().file_name, newest);
        assert!(store.trash_list().unwrap().is_empty());
        drop(store);
        // The rewritten index is what a restart reads.
        let reopened = Store::open(tmp.path()).unwrap();
        let reread = names_of(&reopened, &id);
        assert_eq!(reread, names);
    }

    #[test]
    fn restoring_an_older_report_puts_it_back_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, id) = store_with_reports(tmp.path(), &[1.0, 2.0, 3.0]);
        let names = names_of(&store, &id);
        store.trash_report(&id, &names[0]).unwrap();
        store.restore_report(&id, &names[0]).unwrap();
        let now = names_of(&store, &id);
        assert_eq!(now, names);
        assert_eq!(store.latest(&id).unwrap().file_name, names[2]);
    }

    #[test]
    fn a_reset_trashes_every_report_and_the_team_leaves_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, id) = store_with_reports(tmp.path(), &[1.0, 2.0]);
        assert_eq!(store.trash_team(&id).unwrap(), 2);
        assert_eq!(store.report_count(&id), 0);
        assert!(store.latest(&id).is_none());
        assert!(store.team_ids().is_empty());
        assert!(!store.team_dir(&id).join(LATEST_FILE).exists());
        assert_eq!(store.trash_list().unwrap().len(), 2);
        // The team reports again: the store takes it as before.
        let store2 = store;
        let metrics = crate::metrics::Metrics::default();
        let body = include_bytes!("../../tests/fixtures/valid/minimal-12-buckets.json");
        store2
            .append(
                &id,
                "T",
                body,
                crate::report::Report::parse(body).unwrap(),
                &metrics,
            )
            .unwrap();
        assert_eq!(store2.report_count(&id), 1);
        drop(store2);
        let reopened = Store::open(tmp.path()).unwrap();
        assert_eq!(reopened.team_ids(), vec![id.clone()]);
        assert_eq!(reopened.report_count(&id), 1);
    }

    #[test]
    fn bad_names_and_unknown_reports_are_refused_and_touch_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, id) = store_with_reports(tmp.path(), &[1.0]);
        for name in [
            "../x.json",
            "latest.json",
            ".benchboard-index",
            "20240101_000000_000.json/..",
        ] {
            assert!(
                matches!(store.trash_report(&id, name), Err(TrashError::BadName(_))),
                "{name}"
            );
        }
        assert!(matches!(
            store.trash_report(&id, "20000101_000000_000.json"),
            Err(TrashError::NoSuchReport { .. })
        ));
        assert!(matches!(
            store.restore_report(&id, "20000101_000000_000.json"),
            Err(TrashError::NoSuchReport { .. })
        ));
        let other = TeamId::parse("nobody").unwrap();
        assert!(
            store
                .trash_report(&other, "20000101_000000_000.json")
                .is_err()
        );
        assert_eq!(store.report_count(&id), 1);
        assert!(!tmp.path().join(TRASH_DIR).join("nobody").exists());
    }
}
