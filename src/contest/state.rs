//! The contest state file, `<data-dir>/.benchboard-contest.json`: the reveal (its
//! plan and the step shown) and the alerts as the public saw them at the freeze, so
//! a restart during the freeze or the reveal shows the public what it showed before.
//!
//! Written whole and atomically (a temporary file in the same directory, synced,
//! renamed over the old one), as the alert state is. A file that cannot be parsed
//! is moved aside (`.corrupt`) with a warning; the reveal then starts afresh. Its
//! name is not a team id, so the store never reads it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::reveal::Reveal;

/// The state file's name inside the data directory.
pub const FILE_NAME: &str = ".benchboard-contest.json";

/// The format's version; a file of another version is set aside.
pub const VERSION: u32 = 1;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SavedContest {
    pub version: u32,
    /// The reveal, once the organiser started it.
    #[serde(default)]
    pub reveal: Option<Reveal>,
    /// `/api/alerts` as the public saw it when the first alert change during the
    /// freeze was held back (the public keeps seeing it until the thaw).
    #[serde(default)]
    pub held_alerts: Option<serde_json::Value>,
}

/// The state file of a data directory.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Reads the state file: the default state when there is none (or it was
/// unreadable and moved aside).
pub fn load(path: &Path) -> std::io::Result<SavedContest> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SavedContest::default()),
        Err(e) => return Err(e),
    };
    match serde_json::from_slice::<SavedContest>(&bytes) {
        Ok(state) if state.version == VERSION => Ok(state),
        Ok(state) => Ok(set_aside(
            path,
            &format!("version {} is not {VERSION}", state.version),
        )),
        Err(e) => Ok(set_aside(path, &e.to_string())),
    }
}

fn set_aside(path: &Path, reason: &str) -> SavedContest {
    let aside = path.with_extension("json.corrupt");
    match std::fs::rename(path, &aside) {
        Ok(()) => log::warn!(
            "contest state {} is unreadable ({reason}); moved to {}, the reveal starts afresh",
            path.display(),
            aside.display()
        ),
        Err(e) => log::warn!(
            "contest state {} is unreadable ({reason}) and cannot be moved aside ({e})",
            path.display()
        ),
    }
    SavedContest::default()
}

/// Writes the state file atomically.
pub fn save(path: &Path, state: &SavedContest) -> std::io::Result<()> {
    let state = SavedContest {
        version: VERSION,
        ..state.clone()
    };
    let bytes = serde_json::to_vec(&state).expect("the contest state is plain data");
    write_atomically(path, &bytes)
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, synced,
/// then renamed over it (the alert state file is written the same way).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".benchboard-state-")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_data()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_sets_a_corrupt_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        assert_eq!(load(&path).unwrap(), SavedContest::default());
        let state = SavedContest {
            version: VERSION,
            reveal: None,
            held_alerts: Some(serde_json::json!({"firing": []})),
        };
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), state);
        std::fs::write(&path, b"{\"version\": 1, \"reveal\": tr").unwrap();
        assert_eq!(load(&path).unwrap(), SavedContest::default());
        assert!(dir.path().join(".benchboard-contest.json.corrupt").exists());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
    }
}
