//! The sidecar index (`.benchboard-index`): one JSON line per report with its file
//! name, timestamp and headline numbers. Only a cache: at start-up it is checked
//! against the directory listing and rebuilt for whatever it lacks.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{process_id, write_file};
use super::{Headline, INDEX_FILE, IndexEntry, StoreError, TMP_PREFIX};
use crate::timefmt;

/// The sidecar line of one report (short keys: a history has millions of lines).
#[derive(Serialize, Deserialize)]
struct IndexLine<'a> {
    f: Cow<'a, str>,
    t: Cow<'a, str>,
    #[serde(flatten)]
    h: Headline,
}

impl IndexLine<'_> {
    /// The line of an entry, newline included.
    fn encode(entry: &IndexEntry) -> Vec<u8> {
        let line = IndexLine {
            f: Cow::Borrowed(&entry.file_name),
            t: Cow::Borrowed(&entry.timestamp),
            h: entry.headline,
        };
        let mut bytes = serde_json::to_vec(&line).expect("index line serializes");
        bytes.push(b'\n');
        bytes
    }

    /// The entry of a line; `None` for a torn line or one of another version.
    fn decode(line: &str) -> Option<IndexEntry> {
        let line: IndexLine = serde_json::from_str(line).ok()?;
        let at = timefmt::parse_timestamp(&line.t)?;
        Some(IndexEntry {
            file_name: line.f.into(),
            timestamp: line.t.into(),
            at,
            headline: line.h,
        })
    }
}

/// The sidecar of a team directory.
pub(super) fn path(dir: &Path) -> PathBuf {
    dir.join(INDEX_FILE)
}

/// Opens the sidecar to append lines to it (created if missing).
pub(super) fn open_for_append(dir: &Path) -> Result<File, StoreError> {
    let path = path(dir);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| StoreError::write(&path, e))
}

/// Appends the line of `entry` to an open sidecar.
pub(super) fn append_line(file: &mut File, entry: &IndexEntry) -> io::Result<()> {
    file.write_all(&IndexLine::encode(entry))
}

/// Reads the sidecar, keeping only lines whose report file exists. Returns the
/// entries by file name and whether the sidecar matched the directory exactly.
pub(super) fn read(
    dir: &Path,
    report_names: &HashMap<String, timefmt::FileOrder>,
) -> (HashMap<String, IndexEntry>, bool) {
    let mut by_name = HashMap::with_capacity(report_names.len());
    let Ok(text) = fs::read_to_string(path(dir)) else {
        return (by_name, false);
    };
    let mut clean = true;
    for line in text.lines() {
        let entry = IndexLine::decode(line);
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
pub(super) fn rewrite(dir: &Path, entries: &[IndexEntry]) -> Result<(), StoreError> {
    let mut text = Vec::with_capacity(entries.len() * 96);
    for entry in entries {
        text.extend_from_slice(&IndexLine::encode(entry));
    }
    let tmp = dir.join(format!("{TMP_PREFIX}index-{}", process_id()));
    write_file(&tmp, &text, false)?;
    let path = path(dir);
    fs::rename(&tmp, &path).map_err(|e| StoreError::write(&path, e))
}
