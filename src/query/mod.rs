//! Questions asked of a stored history: a page of reports, the summary, the chart's
//! series, the best records, every report in a time range. The server, the live board,
//! `benchboard-history` and the exports all ask here, so each answer is computed once.
//!
//! Everything is read from the store's in-memory index ([`Store::with_entries`]) and,
//! where a report itself is needed, from its file ([`Store::reader`]); nothing here
//! knows the layout on disk.

mod best;
mod rows;

use chrono::{DateTime, FixedOffset};

pub use best::{BestRecords, Record, TeamRecords, records};
pub use rows::{ReportRow, StoreRows, history_entry};

use crate::api::{self, SeriesPoint};
use crate::report::plausibility::Warning;
use crate::store::{Headline, IndexEntry, ReportReader, Store, StoreError, StoredReport};
use crate::team::TeamId;

/// How many of the newest report file names the summary lists.
pub const RECENT_FILES: usize = 5;

/// An inclusive time range; an open end is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeRange {
    pub since: Option<DateTime<FixedOffset>>,
    pub until: Option<DateTime<FixedOffset>>,
}

impl TimeRange {
    /// True when `at` lies within the range (both ends included).
    pub fn contains(&self, at: &DateTime<FixedOffset>) -> bool {
        self.since.is_none_or(|since| *at >= since) && self.until.is_none_or(|until| *at <= until)
    }

    /// True when neither end is set.
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }
}

/// One page of a team's reports within `range`, newest first: the number of reports
/// in the range and the page. Reads only the files of the page; a file that vanished
/// or is corrupt is an `Err` in its place (the caller skips it, with a warning or not).
pub fn page(
    store: &Store,
    id: &TeamId,
    range: &TimeRange,
    offset: usize,
    limit: usize,
) -> (usize, Vec<Result<StoredReport, StoreError>>) {
    let (total, names) = page_names(store, id, range, offset, limit);
    let reader = store.reader();
    let page = names.iter().map(|named| named.read(&reader, id)).collect();
    (total, page)
}

/// A report's file name with what the index knows of it beyond the file: its run
/// and plausibility warnings.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: Box<str>,
    pub run: u32,
    pub warnings: Box<[Warning]>,
}

impl Named {
    /// The name and the index's judgement of one entry.
    pub fn of(entry: &IndexEntry) -> Named {
        Named {
            name: entry.file_name.clone(),
            run: entry.run,
            warnings: entry.warnings.clone(),
        }
    }

    /// Reads the report, with its run and warnings from the index.
    pub fn read(&self, reader: &ReportReader, id: &TeamId) -> Result<StoredReport, StoreError> {
        let mut stored = reader.read(id, &self.name)?;
        stored.run = self.run;
        stored.warnings = self.warnings.to_vec();
        Ok(stored)
    }
}

/// The file names of one page (see [`page`]), newest first, without reading a file:
/// for an answer that reads them one at a time as it is sent.
pub fn page_names(
    store: &Store,
    id: &TeamId,
    range: &TimeRange,
    offset: usize,
    limit: usize,
) -> (usize, Vec<Named>) {
    store.with_entries(id, |entries| {
        let names = |newest_first: &mut dyn Iterator<Item = &IndexEntry>| -> Vec<Named> {
            newest_first
                .skip(offset)
                .take(limit)
                .map(Named::of)
                .collect()
        };
        if range.is_all() {
            // The whole history: no filter, so skipping is free however deep the page.
            (entries.len(), names(&mut entries.iter().rev()))
        } else {
            let in_range = || entries.iter().rev().filter(|e| range.contains(&e.at));
            (in_range().count(), names(&mut in_range()))
        }
    })
}

/// The history summary of a team, from the index alone (0 reports for an unknown team).
pub fn summary(store: &Store, id: &TeamId) -> api::Summary {
    store.with_entries(id, |entries| api::Summary {
        team_id: id.to_string(),
        total_reports: entries.len(),
        first_report: entries.first().map(|e| e.timestamp.to_string()),
        last_report: entries.last().map(|e| e.timestamp.to_string()),
        data_directory: store.shown_team_dir(id),
        recent_files: entries
            .iter()
            .rev()
            .take(RECENT_FILES)
            .map(|e| e.file_name.to_string())
            .collect(),
    })
}

/// The team's history from `since_ms` (ms since the Unix epoch) on, folded into at
/// most `points` points, from the index alone.
pub fn series(store: &Store, id: &TeamId, since_ms: i64, points: usize) -> api::Series {
    let (total, series, run_starts) = store.with_entries(id, |entries| {
        // Entries are oldest first, so the ones since `since_ms` are a tail.
        let first = entries.partition_point(|e| e.at.timestamp_millis() < since_ms);
        let tail = &entries[first..];
        (entries.len(), downsample(tail, points), run_starts(tail))
    });
    api::Series {
        team_id: id.to_string(),
        total,
        points: series.len(),
        series,
        run_starts,
    }
}

/// The first report of each run among `entries` (oldest first).
pub fn run_starts(entries: &[IndexEntry]) -> Vec<api::RunStart> {
    let mut starts = Vec::new();
    let mut previous = None;
    for entry in entries {
        if previous != Some(entry.run) {
            starts.push(api::RunStart {
                run: entry.run,
                t: entry.at.timestamp_millis(),
            });
            previous = Some(entry.run);
        }
    }
    starts
}

/// Timestamp and headline numbers of each report within `range`, oldest first.
pub fn headlines(store: &Store, id: &TeamId, range: &TimeRange) -> Vec<(String, Headline)> {
    store.with_entries(id, |entries| {
        entries
            .iter()
            .filter(|e| range.contains(&e.at))
            .map(|e| (e.timestamp.to_string(), e.headline))
            .collect()
    })
}

/// Folds a history (oldest first) into at most `points` points of consecutive,
/// equally many reports; a history no longer than `points` gives one point per report.
pub fn downsample(entries: &[IndexEntry], points: usize) -> Vec<SeriesPoint> {
    let points = points.max(1).min(entries.len());
    (0..points)
        .map(|i| {
            let start = i * entries.len() / points;
            let end = (i + 1) * entries.len() / points;
            fold_stretch(&entries[start..end])
        })
        .collect()
}

fn fold_stretch(stretch: &[IndexEntry]) -> SeriesPoint {
    let count = stretch.len();
    let heads = stretch.iter().map(|e| &e.headline);
    let mean = |value: fn(&Headline) -> f64| {
        stretch.iter().map(|e| value(&e.headline)).sum::<f64>() / count as f64
    };
    SeriesPoint {
        t: stretch.last().map_or(0, |e| e.at.timestamp_millis()),
        t_first: stretch.first().map_or(0, |e| e.at.timestamp_millis()),
        count,
        qps: mean(|h| h.qps),
        qps_min: heads.clone().map(|h| h.qps).fold(f64::INFINITY, f64::min),
        qps_max: heads.clone().map(|h| h.qps).fold(0.0, f64::max),
        avg_latency: mean(|h| h.avg_latency),
        p99_latency: heads.clone().map(|h| h.p99_latency).fold(0.0, f64::max),
        data_loss_rate: heads.map(|h| h.data_loss_rate).fold(0.0, f64::max),
        run: stretch.last().map_or(0, |e| e.run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn entry(second: i64, qps: f64, p99: f64) -> IndexEntry {
        let at = chrono::DateTime::from_timestamp(second, 0)
            .unwrap()
            .fixed_offset();
        IndexEntry {
            file_name: format!("{second}.json").into(),
            timestamp: at.to_rfc3339().into(),
            at,
            headline: Headline {
                qps,
                avg_latency: qps / 10.0,
                p99_latency: p99,
                data_loss_rate: 0.0,
                high_priority_latency: 0.0,
                verify_error_rate: None,
            },
            run_point: crate::runs::RunPoint {
                total_elapsed_s: second as f64,
                total_sent: second.into(),
            },
            run: 1,
            warnings: Box::default(),
        }
    }

    #[test]
    fn downsample_folds_stretches_and_keeps_spikes() {
        let entries: Vec<IndexEntry> = (0..10)
            .map(|i| entry(i, i as f64, if i == 3 { 900.0 } else { 10.0 }))
            .collect();
        let series = downsample(&entries, 5);
        assert_eq!(series.len(), 5);
        assert_eq!(series.iter().map(|p| p.count).sum::<usize>(), 10);
        assert_eq!(series[1].qps, 2.5);
        assert_eq!((series[1].qps_min, series[1].qps_max), (2.0, 3.0));
        assert_eq!(series[1].p99_latency, 900.0);
        assert_eq!((series[4].t_first, series[4].t), (8000, 9000));
    }

    #[test]
    fn downsample_keeps_short_histories_whole() {
        let entries: Vec<IndexEntry> = (0..3).map(|i| entry(i, 1.0, 1.0)).collect();
        assert_eq!(downsample(&entries, 500).len(), 3);
        assert!(downsample(&[], 500).is_empty());
    }

    #[test]
    fn time_range_includes_both_ends() {
        let at = |t: &str| crate::timefmt::parse_timestamp(t).unwrap();
        let range = TimeRange {
            since: Some(at("2025-08-01T10:00:00+00:00")),
            until: Some(at("2025-08-01T11:00:00+00:00")),
        };
        assert!(range.contains(&at("2025-08-01T10:00:00+00:00")));
        assert!(
            range.contains(&at("2025-08-01T12:00:00+01:00")),
            "same instant"
        );
        assert!(!range.contains(&at("2025-08-01T11:00:00.001+00:00")));
        assert!(TimeRange::default().is_all());
    }
}
