//! The sidecar index (`.benchboard-index`): a header line with the format's version
//! ([`INDEX_VERSION`]), then one JSON line per report with its file name, timestamp
//! and headline numbers. Only a cache: at start-up it is checked against the
//! directory listing and rebuilt for whatever it lacks; a sidecar of another version
//! (or none: the first format had no header) is rebuilt whole, never read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{process_id, write_file};
use super::regular;
use super::{Headline, INDEX_FILE, IndexEntry, StoreError, TMP_PREFIX};
use crate::report::Count;
use crate::report::plausibility::Warning;
use crate::runs::RunPoint;
use crate::timefmt;

/// Version of the sidecar format; change it whenever a line's meaning changes.
/// 1 had no header line.
pub const INDEX_VERSION: u32 = 2;

/// The first line of a sidecar of [`INDEX_VERSION`], newline included.
fn header() -> String {
    format!("{{\"benchboard_index\":{INDEX_VERSION}}}\n")
}

/// The sidecar line of one report (short keys: a history has millions of lines).
/// `e` and `s` are `totalElapsed` and `totalSent` (the runs are numbered from them);
/// `w`, the plausibility warnings, is left out when there are none. A line without
/// `e` and `s` (written before runs existed) counts as another version: the report
/// is read again from its file.
#[derive(Serialize, Deserialize)]
struct IndexLine<'a> {
    f: Cow<'a, str>,
    t: Cow<'a, str>,
    #[serde(flatten)]
    h: Headline,
    e: f64,
    s: Count,
    #[serde(default, skip_serializing_if = "<[Warning]>::is_empty")]
    w: Cow<'a, [Warning]>,
}

impl IndexLine<'_> {
    /// The line of an entry, newline included.
    fn encode(entry: &IndexEntry) -> Vec<u8> {
        let line = IndexLine {
            f: Cow::Borrowed(&entry.file_name),
            t: Cow::Borrowed(&entry.timestamp),
            h: entry.headline,
            e: entry.run_point.total_elapsed_s,
            s: entry.run_point.total_sent,
            w: Cow::Borrowed(&entry.warnings),
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
            run_point: RunPoint {
                total_elapsed_s: line.e,
                total_sent: line.s,
            },
            run: 0,
            warnings: line.w.into_owned().into_boxed_slice(),
        })
    }
}

/// The longest sidecar line of one report (a real one is about 150 bytes).
const MAX_LINE_BYTES: u64 = 1024;

/// The sidecar of a team directory.
pub(super) fn path(dir: &Path) -> PathBuf {
    dir.join(INDEX_FILE)
}

/// Appends the line of `entry` to the team's sidecar (created if missing). The file is
/// opened for this one line and closed again, so a team costs no file descriptor
/// between reports; it is never a symbolic link, a FIFO or a device.
pub(super) fn append(dir: &Path, entry: &IndexEntry) -> Result<(), StoreError> {
    let path = path(dir);
    let (mut file, len) = regular::open_append(&path).map_err(|e| StoreError::write(&path, e))?;
    let mut bytes = Vec::with_capacity(160);
    if len == 0 {
        bytes.extend_from_slice(header().as_bytes());
    }
    bytes.extend_from_slice(&IndexLine::encode(entry));
    file.write_all(&bytes)
        .map_err(|e| StoreError::write(&path, e))
}

/// Reads the sidecar, keeping only lines whose report file exists. Returns the
/// entries by file name and whether the sidecar matched the directory exactly.
pub(super) fn read(
    dir: &Path,
    report_names: &HashMap<String, timefmt::FileOrder>,
) -> (HashMap<String, IndexEntry>, bool) {
    let mut by_name = HashMap::with_capacity(report_names.len());
    // A sidecar longer than its reports' lines can be is not ours: rebuilt, not read.
    let cap_bytes = (report_names.len() as u64 + 1) * MAX_LINE_BYTES;
    let Ok(bytes) = regular::read(&path(dir), cap_bytes) else {
        return (by_name, false);
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return (by_name, false);
    };
    // Another version's lines may look alike and mean something else: none is read.
    let Some(lines) = text.strip_prefix(&header()) else {
        return (by_name, false);
    };
    let mut clean = true;
    for line in lines.lines() {
        let entry = IndexLine::decode(line);
        match entry {
            Some(entry) if report_names.contains_key(&*entry.file_name) => {
                if by_name.insert(entry.file_name.to_string(), entry).is_some() {
                    clean = false;
                }
            }
            // A torn last line, a deleted report.
            _ => clean = false,
        }
    }
    (by_name, clean)
}

/// Writes the sidecar anew, atomically.
pub(super) fn rewrite(dir: &Path, entries: &[IndexEntry]) -> Result<(), StoreError> {
    let mut text = Vec::with_capacity(entries.len() * 96 + 32);
    text.extend_from_slice(header().as_bytes());
    for entry in entries {
        text.extend_from_slice(&IndexLine::encode(entry));
    }
    let tmp = dir.join(format!("{TMP_PREFIX}index-{}", process_id()));
    write_file(&tmp, &text, false)?;
    let path = path(dir);
    fs::rename(&tmp, &path).map_err(|e| StoreError::write(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_without_the_high_priority_latency_is_of_another_version() {
        let old = r#"{"f":"20250801_100005_138.json","t":"2025-08-01T10:00:05.138","q":10.0,"a":2.0,"p":5.0,"l":0.0}"#;
        assert!(IndexLine::decode(old).is_none(), "read again from the file");
        let new = r#"{"f":"20250801_100005_138.json","t":"2025-08-01T10:00:05.138","q":10.0,"a":2.0,"p":5.0,"l":0.0,"h":3.5,"v":0.25,"e":5.0,"s":50}"#;
        let entry = IndexLine::decode(new).unwrap();
        assert_eq!(entry.headline.high_priority_latency, 3.5);
        assert_eq!(entry.headline.verify_error_rate, Some(0.25));
        let line = String::from_utf8(IndexLine::encode(&entry)).unwrap();
        assert!(line.contains("\"h\":3.5,\"v\":0.25,"), "{line}");
    }
}
