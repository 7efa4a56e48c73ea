//! Timestamps and report file names, compatible with the original tool.
//!
//! The original names each report `YYYYMMDD_HHMMSS_fff.json` in local time and
//! writes `timestamp` as a naive ISO 8601 string (no UTC offset). We write the
//! same names and an RFC 3339 timestamp with its offset; naive timestamps are read
//! as local time. A second report of one team in the same millisecond is named
//! `YYYYMMDD_HHMMSS_fff_N.json` (N = 1, 2, ...), which the original never did: it
//! overwrote the first.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, SecondsFormat, TimeZone};

/// The part of a report's file name before the optional `_N` and `.json`.
pub fn file_stem(at: &DateTime<Local>) -> String {
    at.format("%Y%m%d_%H%M%S_%3f").to_string()
}

/// The file name of a report: `<stem>.json`, or `<stem>_<seq>.json` when `seq` > 0.
pub fn file_name(stem: &str, seq: u32) -> String {
    if seq == 0 {
        format!("{stem}.json")
    } else {
        format!("{stem}_{seq}.json")
    }
}

/// Where a report file sorts: its time (from the name) and its same-millisecond sequence.
pub type FileOrder = (NaiveDateTime, u32);

/// Parses a report file name (`20250801_100005_138.json` or `..._138_2.json`).
pub fn parse_file_name(name: &str) -> Option<FileOrder> {
    let stem = name.strip_suffix(".json")?;
    if stem.len() < 19 || !stem.is_char_boundary(19) {
        return None;
    }
    let (time_part, rest) = stem.split_at(19);
    let seq = match rest {
        "" => 0,
        _ => rest.strip_prefix('_')?.parse().ok().filter(|n| *n > 0)?,
    };
    let at = NaiveDateTime::parse_from_str(time_part, "%Y%m%d_%H%M%S_%3f").ok()?;
    Some((at, seq))
}

/// Formats a timestamp as RFC 3339 with milliseconds and offset.
pub fn format_timestamp(at: &DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// Parses a stored or user-given timestamp: RFC 3339, or naive ISO 8601 read as local time.
pub fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at);
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .ok()?;
    local_to_fixed(naive)
}

/// A naive local time with the local offset it had then (the earlier one in a DST fold).
pub fn local_to_fixed(naive: NaiveDateTime) -> Option<DateTime<FixedOffset>> {
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|at| at.fixed_offset())
}

/// Now, in local time with its offset.
pub fn now() -> DateTime<Local> {
    Local::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Offset, Timelike};

    #[test]
    fn parses_original_and_suffixed_names() {
        let (at, seq) = parse_file_name("20250801_100005_138.json").unwrap();
        assert_eq!(at.to_string(), "2025-08-01 10:00:05.138");
        assert_eq!(seq, 0);
        assert_eq!(
            parse_file_name("20250801_100005_138_12.json").unwrap().1,
            12
        );
        for bad in [
            "latest.json",
            "20250801_100005_138_0.json",
            "x.json",
            "20250801_100005_138.txt",
            "20250801_100005_138_.json",
        ] {
            assert!(parse_file_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn suffixed_names_sort_after_their_stem() {
        let a = parse_file_name(&file_name("20250801_100005_138", 0)).unwrap();
        let b = parse_file_name(&file_name("20250801_100005_138", 2)).unwrap();
        let c = parse_file_name(&file_name("20250801_100005_138", 10)).unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn reads_naive_timestamps_as_local_and_keeps_offsets() {
        let naive = parse_timestamp("2025-08-01T10:00:05.138000").unwrap();
        // The wall-clock reading is kept, and the offset is the one the local zone has
        // at that instant (looked up from the UTC side, not by the code under test).
        let wall = chrono::NaiveDate::from_ymd_opt(2025, 8, 1)
            .unwrap()
            .and_hms_milli_opt(10, 0, 5, 138)
            .unwrap();
        assert_eq!(naive.naive_local(), wall);
        let zone_then = Local
            .timestamp_millis_opt(naive.timestamp_millis())
            .unwrap()
            .offset()
            .fix();
        assert_eq!(*naive.offset(), zone_then);
        assert_eq!(
            parse_timestamp("2025-08-01 10:00").unwrap().naive_local(),
            wall.with_second(0).unwrap().with_nanosecond(0).unwrap()
        );
        let with_offset = parse_timestamp("2025-08-01T10:00:05.138+08:00").unwrap();
        assert_eq!(
            format_timestamp(&with_offset),
            "2025-08-01T10:00:05.138+08:00"
        );
        assert!(parse_timestamp("yesterday").is_none());
    }
}
