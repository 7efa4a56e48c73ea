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
/// sidecar lacks, and (writable) repairs what a crash may have left behind.
fn load_team(dir: &Path, writable: bool) -> LoadResult {
    let mut warnings = Vec::new();
    let report_names = list_team_dir(dir, writable, &mut warnings)?;
    let (mut by_name, index_clean) = index::read(dir, &report_names);
    let missing = missing_names(&report_names, &by_name);
    let newest_read = read_missing(dir, &missing, &mut by_name, &mut warnings);
    let mut entries = in_file_order(by_name, &report_names);
    let listed = entries.len();
    let latest = latest_report(dir, &mut entries, newest_read, &mut warnings);
    if writable {
        if !index_clean || !missing.is_empty() || entries.len() < listed {
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

/// The report files the sidecar lacks, oldest first.
fn missing_names(
    report_names: &HashMap<String, FileOrder>,
    by_name: &HashMap<String, IndexEntry>,
) -> Vec<String> {
    let mut missing: Vec<String> = report_names
        .keys()
        .filter(|n| !by_name.contains_key(*n))
        .cloned()
        .collect();
    missing.sort_by_key(|n| report_names[n]);
    missing
}

/// Parses the report files the sidecar lacks into `by_name`; returns the newest of
/// them (read anyway, and maybe the team's latest).
fn read_missing(
    dir: &Path,
    missing: &[String],
    by_name: &mut HashMap<String, IndexEntry>,
    warnings: &mut Vec<String>,
) -> Option<StoredReport> {
    let mut newest_read = None;
    for name in missing {
        match entry_from_file(&dir.join(name)) {
            Ok((entry, stored, warning)) => {
                warnings.extend(warning);
                newest_read = Some(stored);
                by_name.insert(name.clone(), entry);
            }
            Err(e) => warnings.push(format!("warning: skipping {e}")),
        }
    }
    newest_read
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

/// The index entry of a report file, computing its metrics (used to rebuild the index).
pub(super) fn entry_from_file(
    path: &Path,
) -> Result<(IndexEntry, StoredReport, Option<String>), StoreError> {
    let stored = read_report_file(path)?;
    let (metrics, broken) = Metrics::of_stored(&stored.stats);
    let warning = broken.map(|e| {
        format!(
            "warning: {}: its stats break the schema ({e}); listed with zero metrics",
            path.display()
        )
    });
    let entry = IndexEntry {
        file_name: stored.file_name.clone().into(),
        timestamp: stored.timestamp.clone().into(),
        at: stored.at,
        headline: Headline::from(&metrics),
    };
    Ok((entry, stored, warning))
}
