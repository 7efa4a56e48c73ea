//! The store's operations as traits, so that the server, the board, the history
//! tool and the exports work the same on every backend: the file store (a data
//! directory, the default) and PostgreSQL ([`super::postgres::PgStore`]).
//!
//! [`ReadStore`] is what is asked of a history: the teams, a page, the summary, the
//! chart's series, the headline numbers, every report in a range. [`WriteStore`] adds
//! appending (the server's). Every answer is a `Result`: a data directory answers
//! from its in-memory index and rarely fails, a database may be away (then the error
//! [`StoreError::is_unavailable`] and the API answers 503).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::{DiskState, Headline, Store, StoreError, StoredReport, WritableStore};
use crate::api;
use crate::metrics::Metrics;
use crate::query::{self, ReportRow, StoreRows, TeamRecords, TimeRange};
use crate::report::Report;
use crate::team::TeamId;

/// A team as a store knows it: its newest report, that report's metrics and the
/// records of its whole history.
#[derive(Debug, Clone)]
pub struct TeamEntry {
    pub latest: Arc<StoredReport>,
    pub metrics: Metrics,
    pub records: TeamRecords,
}

/// A stored report with its stats exactly as the team sent them (the bytes of the
/// original's file layout): what exports to a directory and migrations copy.
#[derive(Debug, Clone)]
pub struct RawReport {
    pub team_id: TeamId,
    pub team_name: String,
    /// The timestamp as stored.
    pub timestamp: String,
    pub at: DateTime<FixedOffset>,
    /// Its name in the original's file layout.
    pub file_name: String,
    /// The stats, byte for byte as sent.
    pub stats: String,
    /// Where an imported report came from (JSON text, as in its file).
    pub source: Option<String>,
    /// Its plausibility warnings as the store has them (none from a file alone).
    pub warnings: Vec<crate::report::plausibility::Warning>,
    /// Its run as the store has it (0 from a file alone).
    pub run: u32,
}

/// Rows of every report of some teams in a range, team by team, oldest first.
pub type Rows = Box<dyn Iterator<Item = Result<ReportRow, StoreError>> + Send>;
/// Raw reports of some teams, team by team, oldest first.
pub type RawReports = Box<dyn Iterator<Item = Result<RawReport, StoreError>> + Send>;

/// The questions asked of a stored history (see the module docs).
pub trait ReadStore: Send + Sync {
    /// Where the reports live, for messages: `data directory: data`, `PostgreSQL: db/board`.
    fn describe(&self) -> String;

    /// Where a team's report is, for messages (a file's path, or the report's name).
    fn locate(&self, id: &TeamId, file_name: &str) -> PathBuf {
        PathBuf::from(id.as_str()).join(file_name)
    }

    /// Every team with at least one report, by id.
    fn teams(&self) -> Result<Vec<TeamEntry>, StoreError>;

    /// One team, or `None` when it never reported.
    fn team(&self, id: &TeamId) -> Result<Option<TeamEntry>, StoreError>;

    /// Reports of a team in all (0 for an unknown team).
    fn report_count(&self, id: &TeamId) -> Result<usize, StoreError>;

    /// One page of a team's reports within `range`, newest first, and how many the
    /// range holds; a report that cannot be read is an `Err` in its place.
    fn page(
        &self,
        id: &TeamId,
        range: &TimeRange,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Result<StoredReport, StoreError>>), StoreError>;

    /// The history summary of a team (0 reports for an unknown team).
    fn summary(&self, id: &TeamId) -> Result<api::Summary, StoreError>;

    /// The team's history from `since_ms` on, folded into at most `points` points.
    fn series(&self, id: &TeamId, since_ms: i64, points: usize) -> Result<api::Series, StoreError>;

    /// Timestamp and headline numbers of each report within `range`, oldest first.
    fn headlines(
        &self,
        id: &TeamId,
        range: &TimeRange,
    ) -> Result<Vec<(String, Headline)>, StoreError>;

    /// The time (ms since the Unix epoch) and headline numbers of each report of a
    /// team, oldest first: what a replay is made of (the file store answers from its
    /// index, reading no report file).
    fn timeline(&self, id: &TeamId) -> Result<Vec<(i64, Headline)>, StoreError> {
        Ok(self
            .headlines(id, &TimeRange::default())?
            .into_iter()
            .filter_map(|(timestamp, headline)| {
                let at = crate::timefmt::parse_timestamp(&timestamp)?;
                Some((at.timestamp_millis(), headline))
            })
            .collect())
    }

    /// Every report of `teams` within `range` as rows, and how many there are. With
    /// `keep_stats` false a row may lack `report.value` (enough for CSV).
    fn rows(
        &self,
        teams: &[TeamId],
        range: &TimeRange,
        keep_stats: bool,
    ) -> Result<(Rows, usize), StoreError>;

    /// Every report of `teams` with its stats as sent, and how many there are.
    fn raw_reports(&self, teams: &[TeamId]) -> Result<(RawReports, usize), StoreError>;
}

/// A store that also takes new reports (the server's).
pub trait WriteStore: ReadStore {
    /// Stores a validated report; on return it is durable (its file complete, or
    /// committed). `body` is kept verbatim, `report` is the same report parsed;
    /// `source` says where an imported report came from (a load tool's output).
    fn append(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        metrics: &Metrics,
        source: Option<&Value>,
    ) -> Result<Arc<StoredReport>, StoreError>;

    /// The file store itself, for what only it has: its data directory, where the
    /// trash, the organiser's saved presentation and the audit log are files.
    fn files(&self) -> Option<&WritableStore> {
        None
    }

    /// The PostgreSQL store itself, whose database keeps the trash, the saved
    /// presentation, the audit log and the alert state in tables.
    fn postgres(&self) -> Option<&super::postgres::PgStore> {
        None
    }

    /// Catches up work left for later (the file store's `latest.json`); the server
    /// calls it about twice a second and at shutdown.
    fn flush(&self) {}

    /// `error` as it may be shown to anyone: paths relative to the data directory's
    /// parent (a database's messages name no path).
    fn shown_error(&self, error: StoreError) -> StoreError {
        error
    }

    /// The free space of the data directory against `--min-free-space`; a database
    /// has none to watch (free space unknown, the check off).
    fn disk_state(&self) -> DiskState {
        DiskState {
            free_bytes: None,
            min_free_bytes: 0,
            full: false,
        }
    }

    /// True when the store itself passes every stored report to the board (PostgreSQL:
    /// the reports of every instance); the file store leaves that to the caller.
    fn feeds_board(&self) -> bool {
        false
    }
}

fn file_entry(store: &Store, id: &TeamId) -> Option<TeamEntry> {
    let latest = store.latest(id)?;
    // A latest report the original accepted but we would refuse still shows.
    let metrics = Metrics::of_stored(&latest.stats).0;
    Some(TeamEntry {
        latest,
        metrics,
        records: query::records(store, id),
    })
}

impl ReadStore for Store {
    fn describe(&self) -> String {
        format!("data directory: {}", self.root().display())
    }

    fn locate(&self, id: &TeamId, file_name: &str) -> PathBuf {
        self.team_dir(id).join(file_name)
    }

    fn teams(&self) -> Result<Vec<TeamEntry>, StoreError> {
        Ok(self
            .team_ids()
            .iter()
            .filter_map(|id| file_entry(self, id))
            .collect())
    }

    fn team(&self, id: &TeamId) -> Result<Option<TeamEntry>, StoreError> {
        Ok(file_entry(self, id))
    }

    fn report_count(&self, id: &TeamId) -> Result<usize, StoreError> {
        Ok(Store::report_count(self, id))
    }

    fn page(
        &self,
        id: &TeamId,
        range: &TimeRange,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Result<StoredReport, StoreError>>), StoreError> {
        Ok(query::page(self, id, range, offset, limit))
    }

    fn summary(&self, id: &TeamId) -> Result<api::Summary, StoreError> {
        Ok(query::summary(self, id))
    }

    fn series(&self, id: &TeamId, since_ms: i64, points: usize) -> Result<api::Series, StoreError> {
        Ok(query::series(self, id, since_ms, points))
    }

    fn headlines(
        &self,
        id: &TeamId,
        range: &TimeRange,
    ) -> Result<Vec<(String, Headline)>, StoreError> {
        Ok(query::headlines(self, id, range))
    }

    fn timeline(&self, id: &TeamId) -> Result<Vec<(i64, Headline)>, StoreError> {
        Ok(self.with_entries(id, |entries| {
            entries
                .iter()
                .map(|e| (e.at.timestamp_millis(), e.headline))
                .collect()
        }))
    }

    fn rows(
        &self,
        teams: &[TeamId],
        range: &TimeRange,
        keep_stats: bool,
    ) -> Result<(Rows, usize), StoreError> {
        let rows = StoreRows::new(self, teams, range, keep_stats);
        let total = rows.total();
        Ok((Box::new(rows), total))
    }

    fn raw_reports(&self, teams: &[TeamId]) -> Result<(RawReports, usize), StoreError> {
        let mut files = Vec::new();
        for id in teams {
            let dir = self.team_dir(id);
            self.with_entries(id, |entries| {
                files.extend(
                    entries
                        .iter()
                        .map(|e| (dir.join(&*e.file_name), e.warnings.to_vec(), e.run)),
                );
            });
        }
        let total = files.len();
        let raw = files.into_iter().map(|(path, warnings, run)| {
            read_raw(&path).map(|raw| RawReport {
                warnings,
                run,
                ..raw
            })
        });
        Ok((Box::new(raw), total))
    }
}

fn read_raw(path: &Path) -> Result<RawReport, StoreError> {
    let (stored, stats, source) = super::files::read_report_file_raw(path)?;
    Ok(RawReport {
        team_id: stored.team_id,
        team_name: stored.team_name,
        timestamp: stored.timestamp,
        at: stored.at,
        file_name: stored.file_name,
        stats,
        source,
        warnings: Vec::new(),
        run: 0,
    })
}

/// A store that derefs to a reading half answers every question through it (the
/// server's file store through its `Store`, PostgreSQL through its `PgReader`).
macro_rules! read_through_deref {
    ($store:ty) => {
        const _: () = {
            use $crate::query::TimeRange;
            use $crate::store::backend::{RawReports, ReadStore, Rows, TeamEntry};
            use $crate::store::{Headline, StoreError, StoredReport};
            use $crate::team::TeamId;

            impl ReadStore for $store {
                fn describe(&self) -> String {
                    (**self).describe()
                }
                fn locate(&self, id: &TeamId, file_name: &str) -> std::path::PathBuf {
                    ReadStore::locate(&**self, id, file_name)
                }
                fn teams(&self) -> Result<Vec<TeamEntry>, StoreError> {
                    ReadStore::teams(&**self)
                }
                fn team(&self, id: &TeamId) -> Result<Option<TeamEntry>, StoreError> {
                    ReadStore::team(&**self, id)
                }
                fn report_count(&self, id: &TeamId) -> Result<usize, StoreError> {
                    ReadStore::report_count(&**self, id)
                }
                fn page(
                    &self,
                    id: &TeamId,
                    range: &TimeRange,
                    offset: usize,
                    limit: usize,
                ) -> Result<(usize, Vec<Result<StoredReport, StoreError>>), StoreError> {
                    ReadStore::page(&**self, id, range, offset, limit)
                }
                fn summary(&self, id: &TeamId) -> Result<$crate::api::Summary, StoreError> {
                    ReadStore::summary(&**self, id)
                }
                fn series(
                    &self,
                    id: &TeamId,
                    since_ms: i64,
                    points: usize,
                ) -> Result<$crate::api::Series, StoreError> {
                    ReadStore::series(&**self, id, since_ms, points)
                }
                fn headlines(
                    &self,
                    id: &TeamId,
                    range: &TimeRange,
                ) -> Result<Vec<(String, Headline)>, StoreError> {
                    ReadStore::headlines(&**self, id, range)
                }
                fn timeline(&self, id: &TeamId) -> Result<Vec<(i64, Headline)>, StoreError> {
                    ReadStore::timeline(&**self, id)
                }
                fn rows(
                    &self,
                    teams: &[TeamId],
                    range: &TimeRange,
                    keep_stats: bool,
                ) -> Result<(Rows, usize), StoreError> {
                    ReadStore::rows(&**self, teams, range, keep_stats)
                }
                fn raw_reports(&self, teams: &[TeamId]) -> Result<(RawReports, usize), StoreError> {
                    ReadStore::raw_reports(&**self, teams)
                }
            }
        };
    };
}
pub(crate) use read_through_deref;

read_through_deref!(WritableStore);

impl WriteStore for WritableStore {
    fn append(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        metrics: &Metrics,
        source: Option<&Value>,
    ) -> Result<Arc<StoredReport>, StoreError> {
        match source {
            None => WritableStore::append(self, id, team_name, body, report, metrics),
            Some(source) => self.append_imported(id, team_name, body, report, metrics, source),
        }
    }

    fn files(&self) -> Option<&WritableStore> {
        Some(self)
    }

    fn flush(&self) {
        self.flush_latest();
    }

    fn shown_error(&self, error: StoreError) -> StoreError {
        Store::shown_error(self, error)
    }

    fn disk_state(&self) -> DiskState {
        WritableStore::disk_state(self)
    }
}
