//! A store written back out as a data directory in the original's file layout:
//! `<dir>/<team_id>/<file_name>` per report, with the stats byte for byte as the team
//! sent them, and `latest.json` per team (another name of its newest report). The
//! file store and the original tool read it as it is, so nobody is locked in.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::store::{LATEST_FILE, RawReport, report_contents};
use crate::timefmt;

/// Why a directory export stopped.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The target exists and holds files: an export never mixes with other data.
    #[error("{} is not empty; export into a new or empty directory", .0.display())]
    NotEmpty(PathBuf),
    /// A stored name is not a report file name of the layout (it would not be read
    /// back, or could point outside the directory).
    #[error("report {name:?} of team {team}: not a report file name; not exported")]
    BadName { team: String, name: String },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Writes `reports` (team by team, oldest first, as stores list them) under `dir`,
/// which must be new or empty; returns how many were written.
pub fn write(dir: &Path, reports: impl Iterator<Item = RawReport>) -> Result<usize, DirError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DirError::Write { path, source }
    };
    if fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(DirError::NotEmpty(dir.to_path_buf()));
    }
    fs::create_dir_all(dir).map_err(failed(dir))?;
    let mut written = 0;
    let mut newest: Option<PathBuf> = None;
    for report in reports {
        if timefmt::parse_file_name(&report.file_name).is_none() {
            return Err(DirError::BadName {
                team: report.team_id.to_string(),
                name: report.file_name,
            });
        }
        // Team ids are checked names ([A-Za-z0-9_-]), safe as directory names.
        let team_dir = dir.join(report.team_id.as_str());
        if newest
            .as_ref()
            .is_none_or(|n| n.parent() != Some(&team_dir))
        {
            if let Some(previous) = newest.take() {
                point_latest_at(&previous)?;
            }
            fs::create_dir_all(&team_dir).map_err(failed(&team_dir))?;
        }
        let path = team_dir.join(&report.file_name);
        // A source is JSON the store wrote (compact, in its order): it reads back as written.
        let source = report
            .source
            .as_deref()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
        let contents = report_contents(
            &report.team_id,
            &report.team_name,
            &report.timestamp,
            source.as_ref(),
            report.stats.as_bytes(),
        );
        fs::File::create_new(&path)
            .and_then(|mut file| file.write_all(&contents))
            .map_err(failed(&path))?;
        newest = Some(path);
        written += 1;
    }
    if let Some(previous) = newest {
        point_latest_at(&previous)?;
    }
    Ok(written)
}

/// `latest.json` beside `newest`, as a second name of it (a copy where links fail).
fn point_latest_at(newest: &Path) -> Result<(), DirError> {
    let latest = newest.with_file_name(LATEST_FILE);
    fs::hard_link(newest, &latest)
        .or_else(|_| fs::copy(newest, &latest).map(|_| ()))
        .map_err(|source| DirError::Write {
            path: latest,
            source,
        })
}
