//! Opening a data directory: every team's directory listed and its sidecar read
//! (spread over the cores), the report files the sidecar lacks parsed, and — when
//! the store may write — what a crash left behind repaired.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::files::{read_report_file, repair_latest};
use super::{
    Headline, INDEX_FILE, IndexEntry, LATEST_FILE, Store, StoreError, StoredReport, TMP_PREFIX,
    TeamLog, index,
};
use crate::metrics::Metrics;
use crate::report::{Report, plausibility};
use crate::runs::{RunCounter, RunPoint};
use crate::team::TeamId;
use crate::timefmt::{self, FileOrder};

type LoadResult = Result<(TeamLog, Vec<String>), StoreError>;

/// Opens an existing data directory; `writable` also repairs it (see the module docs).
pub(super) fn open(root: PathBuf, writable: bool) -> Result<Store, StoreError> {
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
    let mut teams = BTreeMap::new();
    let mut warnings = Vec::new();
    for (id, result) in load_teams_in_parallel(team_dirs, writable) {
        let (log, team_warnings) = result?;
        warnings.extend(team_warnings);
        if !log.entries.is_empty() {
            teams.insert(id, Arc::new(Mutex::new(log)));
        }
    }
    Ok(Store {
        root,
        teams: RwLock::new(teams),
        warnings,
    })
}

/// Loads every team directory, spread over the available cores (start-up time).
fn load_teams_in_parallel(
    team_dirs: Vec<(TeamId, PathBuf)>,
    writable: bool,
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
                        .map(|(id, dir)| (id.clone(), load_team(dir, writable)))
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
/// sidecar lacks, numbers the runs, and (writable) repairs what a crash may have left behind.
fn load_team(dir: &Path, writable: bool) -> LoadResult {
    let mut warnings = Vec::new();
    let report_names = list_team_dir(dir, writable, &mut warnings)?;
    let (mut by_name, index_clean) = index::read(dir, &report_names);
    let (missing, newest_read) = read_missing(dir, &report_names, &mut by_name, &mut warnings);
    let mut entries = in_file_order(by_name, &report_names);
    let listed = entries.len();
    let mut runs = RunCounter::new();
    for entry in &mut entries {
        entry.run = runs.next(entry.run_point);
    }
    let mut latest = latest_report(dir, &mut entries, newest_read, &mut warnings);
    if let (Some(latest), Some(newest)) = (latest.as_mut(), entries.last()) {
        latest.run = newest.run;
        latest.warnings = newest.warnings.to_vec();
    }
    if writable {
        if !index_clean || missing > 0 || entries.len() < listed {
            index::rewrite(dir, &entries)?;
        }
        if let Some(newest) = entries.last() {
            repair_latest(dir, &newest.file_name)?;
        }
    }
    let log = TeamLog::new(dir.to_path_buf(), entries, latest, writable);
    Ok((log, warnings))
}

/// The report files of a team directory with their order. Leftover temporary files
/// are removed when `writable`; any other foreign file gets a warning.
fn list_team_dir(
    dir: &Path,
    writable: bool,
    warnings: &mut Vec<String>,
) -> Result<HashMap<String, FileOrder>, StoreError> {
    let mut report_names = HashMap::new();
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
    Ok(report_names)
}

/// Parses the report files the sidecar lacks into `by_name`, oldest first, each judged
/// against the report just before it (read again when the sidecar had that one).
/// Returns how many were missing and the newest of them (maybe the team's latest).
fn read_missing(
    dir: &Path,
    report_names: &HashMap<String, FileOrder>,
    by_name: &mut HashMap<String, IndexEntry>,
    warnings: &mut Vec<String>,
) -> (usize, Option<StoredReport>) {
    if by_name.len() == report_names.len() {
        return (0, None);
    }
    let mut ordered: Vec<(&FileOrder, &String)> =
        report_names.iter().map(|(n, o)| (o, n)).collect();
    ordered.sort_unstable();
    let (mut missing, mut newest_read) = (0, None);
    // The last good report before the current one, and its fields when parsed here.
    let mut before: Option<(&str, Option<Report>)> = None;
    for (_, name) in ordered {
        if by_name.contains_key(name) {
            before = Some((name, None));
            continue;
        }
        missing += 1;
        let previous = match before.take() {
            Some((_, Some(fields))) => Some(fields),
            Some((name, None)) => read_report_file(&dir.join(name))
                .ok()
                .and_then(|s| Report::fields_of(&s.stats).ok()),
            None => None,
        };
        match entry_from_file(&dir.join(name), previous.as_ref()) {
            Ok((entry, stored, warning, fields)) => {
                warnings.extend(warning);
                by_name.insert(name.clone(), entry);
                newest_read = Some(stored);
                before = Some((name, fields));
            }
            Err(e) => {
                warnings.push(format!("warning: skipping {e}"));
                before = previous.map(|fields| ("", Some(fields)));
            }
        }
    }
    (missing, newest_read)
}

/// The entries in the order of their file names (arrival order).
fn in_file_order(
    by_name: HashMap<String, IndexEntry>,
    report_names: &HashMap<String, FileOrder>,
) -> Vec<IndexEntry> {
    // Look each name's order up once, not in every comparison (start-up time).
    let mut ordered: Vec<(FileOrder, IndexEntry)> = by_name
        .into_values()
        .map(|e| (report_names[&*e.file_name], e))
        .collect();
    ordered.sort_unstable_by_key(|(order, _)| *order);
    ordered.into_iter().map(|(_, e)| e).collect()
}

/// The newest readable report, read from its file unless it is the one just parsed.
/// Newest entries whose file cannot be read (empty or torn after a power loss without
/// `--fsync`, or gone) leave the index, one warning each, so that the team still shows
/// with its newest readable report and its counts match the reports it can serve.
fn latest_report(
    dir: &Path,
    entries: &mut Vec<IndexEntry>,
    newest_read: Option<StoredReport>,
    warnings: &mut Vec<String>,
) -> Option<StoredReport> {
    let newest = entries.last()?;
    if let Some(stored) = newest_read.filter(|s| *s.file_name == *newest.file_name) {
        return Some(stored);
    }
    while let Some(newest) = entries.last() {
        match read_report_file(&dir.join(&*newest.file_name)) {
            Ok(stored) => return Some(stored),
            Err(e) => {
                warnings.push(format!(
                    "warning: skipping {e}; the team's newest readable report is shown instead"
                ));
                entries.pop();
            }
        }
    }
    None
}

pub(super) type FromFile = (IndexEntry, StoredReport, Option<String>, Option<Report>);

/// The index entry of a report file (to rebuild the index): its metrics, run point and
/// plausibility warnings against `previous`; also the report and its typed fields.
/// A report the original accepted but today's schema refuses still belongs to the
/// history ("loads unchanged"), with zero metrics and a warning line saying why.
pub(super) fn entry_from_file(
    path: &Path,
    previous: Option<&Report>,
) -> Result<FromFile, StoreError> {
    let stored = read_report_file(path)?;
    let (metrics, fields, warning) = match Report::fields_of(&stored.stats) {
        Ok(fields) => (Metrics::of(&fields), Some(fields), None),
        Err(e) => {
            let line = format!(
                "warning: {}: its stats break the schema ({e}); listed with zero metrics",
                path.display()
            );
            (Metrics::default(), None, Some(line))
        }
    };
    let (run_point, report_warnings) = match &fields {
        Some(fields) => (RunPoint::of(fields), plausibility::check(fields, previous)),
        None => (RunPoint::loosely(&stored.stats), Vec::new()),
    };
    let entry = IndexEntry {
        file_name: stored.file_name.clone().into(),
        timestamp: stored.timestamp.clone().into(),
        at: stored.at,
        headline: Headline::from(&metrics),
        run_point,
        run: 0,
        warnings: report_warnings.into_boxed_slice(),
    };
    Ok((entry, stored, warning, fields))
}
