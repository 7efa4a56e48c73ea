//! The alert state file, `<data-dir>/.benchboard-alerts.json`, so a restart keeps
//! which alerts are firing and the recent changes; with a database store the same
//! state lives in its tables instead ([`AlertTable`], one row per team and rule).
//!
//! It is written whole, atomically: to a temporary file in the same directory,
//! synced, then renamed over the old one, so a crash leaves the old or the new file,
//! never half of one. Its name is not a team id, so the store never reads it.
//! A file that cannot be parsed is moved aside (`.corrupt`) with a warning and the
//! alerts start afresh; it is never a reason not to serve.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::engine::{Change, Phase};

/// The state file's name inside the data directory.
pub const FILE_NAME: &str = ".benchboard-alerts.json";

/// The format's version; a file of another version is set aside.
pub const VERSION: u32 = 1;

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading failed for another reason than the file being absent.
    #[error("cannot read the alert state {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing or renaming failed (disk full, permissions).
    #[error(
        "cannot write the alert state {path}: {source} (alerts keep working; the state is written again at the next change)"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The database keeping the state (PostgreSQL store) failed.
    #[error(
        "cannot keep the alert state in the database: {0} (alerts keep working; the state is written again at the next change)"
    )]
    Database(String),
}

/// One (rule, team) whose state changed since the last save: its state now, `None`
/// when it is back to ok.
pub type AlertUpdate = (String, String, Option<SavedAlert>);

/// A store that keeps the alert state in its tables and tells the other instances
/// sharing it of each change (the PostgreSQL store).
pub trait AlertTable: Send + Sync {
    /// The state kept: every (rule, team) that is not ok, and the newest changes.
    fn load(&self) -> Result<AlertFile, PersistError>;
    /// Keeps `updates` and appends `changes` (oldest first), in one transaction that
    /// announces each change to the other instances.
    fn save(&self, updates: &[AlertUpdate], changes: &[Change]) -> Result<(), PersistError>;
}

/// What another instance announced: one change and the state it left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announced {
    pub change: Change,
    pub alert: Option<SavedAlert>,
}

/// One (rule, team) that is not ok.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedAlert {
    pub rule: String,
    pub team_id: String,
    pub team_name: String,
    pub phase: Phase,
    pub since: String,
    pub holding_since: Option<String>,
    pub value: Option<f64>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertFile {
    pub version: u32,
    pub alerts: Vec<SavedAlert>,
    /// Oldest first.
    pub changes: Vec<Change>,
}

/// The state file of a data directory.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Reads the state file; `None` when there is none (or it was unreadable and was
/// moved aside).
pub fn load(path: &Path) -> Result<Option<AlertFile>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    match serde_json::from_slice::<AlertFile>(&bytes) {
        Ok(file) if file.version == VERSION => Ok(Some(file)),
        Ok(file) => {
            set_aside(path, &format!("version {} is not {VERSION}", file.version));
            Ok(None)
        }
        Err(e) => {
            set_aside(path, &e.to_string());
            Ok(None)
        }
    }
}

fn set_aside(path: &Path, reason: &str) {
    let aside = path.with_extension("json.corrupt");
    match std::fs::rename(path, &aside) {
        Ok(()) => log::warn!(
            "alert state {} is unreadable ({reason}); moved to {}, alerts start afresh",
            path.display(),
            aside.display()
        ),
        Err(e) => log::warn!(
            "alert state {} is unreadable ({reason}) and cannot be moved aside ({e}); alerts start afresh",
            path.display()
        ),
    }
}

/// Writes the state file atomically.
pub fn save(path: &Path, file: &AlertFile) -> Result<(), PersistError> {
    let write_error = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec(file).expect("the alert state is plain data");
    crate::contest::state::write_atomically(path, &bytes).map_err(write_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AlertFile {
        AlertFile {
            version: VERSION,
            alerts: vec![SavedAlert {
                rule: "r".into(),
                team_id: "t".into(),
                team_name: "第一小组".into(),
                phase: Phase::Firing,
                since: "2025-08-01T10:00:00.000+08:00".into(),
                holding_since: None,
                value: Some(3.5),
            }],
            changes: vec![],
        }
    }

    #[test]
    fn saves_and_loads_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        assert_eq!(load(&path).unwrap(), None);
        save(&path, &sample()).unwrap();
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), Some(sample()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME], "no temporary file is left");
    }

    #[test]
    fn an_unreadable_file_is_moved_aside_and_alerts_start_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        std::fs::write(&path, b"{\"version\": 1, \"alerts\": [tru").unwrap();
        assert_eq!(load(&path).unwrap(), None);
        assert!(!path.exists());
        assert!(dir.path().join(".benchboard-alerts.json.corrupt").exists());
    }

    #[test]
    fn a_write_into_a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone").join(FILE_NAME);
        let error = save(&path, &sample()).unwrap_err().to_string();
        assert!(
            error.contains("cannot write the alert state") && error.contains("gone"),
            "{error}"
        );
    }
}
