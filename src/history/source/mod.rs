//! Where the history comes from: a store (a data directory opened read-only, or a
//! PostgreSQL store, through [`ReadStore`]) or a running server (its HTTP API, through
//! ureq). All answer the same questions with the same numbers: the server's come from
//! the same store and the same metrics functions, and here every row's metrics are
//! computed from its stats.

mod remote;

use std::path::Path;

pub use remote::Remote;

use super::HistoryError;
use crate::api;
use crate::board::{TeamState, Timing};
use crate::query::{ReportRow, TimeRange};
use crate::store::postgres::PgReader;
use crate::store::{Headline, ReadStore, Store, StoreError, TeamEntry};
use crate::team::TeamId;

/// One team as `teams` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TeamOverview {
    pub team_id: String,
    pub team_name: String,
    pub reports: usize,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
    /// Completed QPS of the latest report.
    pub qps: f64,
    /// Average latency of the latest report, ms.
    pub avg_latency: f64,
    /// P99 latency of the latest report, ms.
    pub p99_latency: f64,
    /// Failure rate of the latest report, %.
    pub data_loss_rate: f64,
    #[serde(flatten)]
    pub best: api::Best,
    /// The current run (from 1) and its best records.
    pub run: u32,
    pub run_best: api::Best,
}

/// Why a row is missing from [`Rows`].
#[derive(Debug)]
pub enum RowError {
    /// A report was skipped (a vanished or corrupt file): the warning to print.
    Skip(String),
    /// The source failed (the server went away): the export cannot go on.
    Fatal(HistoryError),
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowError::Skip(warning) => f.write_str(warning),
            RowError::Fatal(e) => write!(f, "{e}"),
        }
    }
}

/// Rows of an export, oldest first per team.
pub type Rows = Box<dyn Iterator<Item = Result<ReportRow, RowError>>>;

/// A store (a data directory or PostgreSQL) or a running server.
pub enum Source {
    Local(Box<dyn ReadStore>),
    Remote(Remote),
}

impl Source {
    /// Opens the data directory or the database (both read-only), or checks the
    /// server's URL (it is asked nothing yet). `token` is a private board's viewer
    /// token, for a server.
    pub fn open(
        data_dir: &Path,
        server: Option<&str>,
        token: Option<&str>,
        store: Option<&str>,
    ) -> Result<Source, HistoryError> {
        if let Some(url) = server {
            return Ok(Source::Remote(Remote::new(url, token)?));
        }
        if let Some(url) = store {
            let reader = PgReader::open(url).map_err(StoreError::from)?;
            return Ok(Source::Local(Box::new(reader)));
        }
        let store = Store::open(data_dir)?;
        for warning in store.warnings() {
            crate::logging::eprint_line(warning);
        }
        Ok(Source::Local(Box::new(store)))
    }

    /// The store, unless this is a server.
    pub fn store(&self) -> Option<&dyn ReadStore> {
        match self {
            Source::Local(store) => Some(&**store),
            Source::Remote(_) => None,
        }
    }

    /// Every team with at least one report, by id.
    pub fn teams(&self) -> Result<Vec<TeamOverview>, HistoryError> {
        match self {
            Source::Local(store) => Ok(store.teams()?.into_iter().map(overview).collect()),
            Source::Remote(remote) => remote.teams(),
        }
    }

    /// Every team with a report as `/api/teams` shows it, by id; a store's teams
    /// are active or not as they were at the newest report of all.
    pub fn team_entries(&self) -> Result<Vec<api::Team<'static>>, HistoryError> {
        match self {
            Source::Local(store) => local_entries(&**store),
            Source::Remote(remote) => remote.team_entries(),
        }
    }

    /// The history series endpoint's answer: the team's reports from `since_ms` on,
    /// folded into at most `points` points.
    pub fn series(
        &self,
        id: &TeamId,
        since_ms: i64,
        points: usize,
    ) -> Result<api::Series, HistoryError> {
        match self {
            Source::Local(store) => Ok(store.series(id, since_ms, points)?),
            Source::Remote(remote) => remote.series(id, since_ms, points),
        }
    }

    /// The summary endpoint's numbers (0 reports for an unknown team).
    pub fn summary(&self, id: &TeamId) -> Result<api::Summary, HistoryError> {
        match self {
            Source::Local(store) => Ok(store.summary(id)?),
            Source::Remote(remote) => remote.summary(id),
        }
    }

    /// Timestamp and headline numbers of each report within `range`, oldest first.
    pub fn headlines(
        &self,
        id: &TeamId,
        range: &TimeRange,
    ) -> Result<Vec<(String, Headline)>, HistoryError> {
        match self {
            Source::Local(store) => Ok(store.headlines(id, range)?),
            Source::Remote(_) => {
                let mut out = Vec::new();
                for row in self.rows(std::slice::from_ref(id), range)? {
                    match row {
                        Ok(row) => out.push((row.timestamp.clone(), Headline::from(&row.metrics))),
                        Err(RowError::Skip(warning)) => crate::logging::eprint_line(&warning),
                        Err(RowError::Fatal(e)) => return Err(e),
                    }
                }
                Ok(out)
            }
        }
    }

    /// One page of the team's reports within `range`, newest first:
    /// `(reports in range, page)`.
    pub fn page(
        &self,
        id: &TeamId,
        range: &TimeRange,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ReportRow>), HistoryError> {
        match self {
            Source::Local(store) => local_page(&**store, id, range, offset, limit),
            Source::Remote(remote) if range.is_all() => remote.page(id, offset, limit),
            Source::Remote(remote) => remote.page_in_range(id, range, offset, limit),
        }
    }

    /// The reports of `teams` within `range`, team by team, oldest first; and how
    /// many reports that is at most (for a progress bar).
    pub fn rows(&self, teams: &[TeamId], range: &TimeRange) -> Result<Rows, HistoryError> {
        Ok(self.rows_counted(teams, range, true)?.0)
    }

    /// [`Source::rows`] with the number of reports it covers, at most; with
    /// `keep_stats` false the rows may lack `report.value` (enough for CSV).
    pub fn rows_counted(
        &self,
        teams: &[TeamId],
        range: &TimeRange,
        keep_stats: bool,
    ) -> Result<(Rows, usize), HistoryError> {
        match self {
            Source::Local(store) => {
                let (rows, total) = store.rows(teams, range, keep_stats)?;
                Ok((Box::new(rows.map(row_or_skip)), total))
            }
            Source::Remote(remote) => {
                let mut total = 0;
                for id in teams {
                    total += remote.page(id, 0, 1)?.0;
                }
                let rows = remote.rows(teams, range);
                Ok((Box::new(rows), total))
            }
        }
    }
}

/// A row, or the warning of a report that cannot be read; a database that went
/// away ends the export.
fn row_or_skip(row: Result<ReportRow, StoreError>) -> Result<ReportRow, RowError> {
    row.map_err(|e| match e {
        StoreError::Postgres(_) if e.is_unavailable() => RowError::Fatal(e.into()),
        _ => RowError::Skip(format!("warning: skipping {e}")),
    })
}

fn overview(entry: TeamEntry) -> TeamOverview {
    let records = entry.records;
    TeamOverview {
        team_id: entry.latest.team_id.to_string(),
        team_name: entry.latest.team_name.clone(),
        reports: records.reports,
        first_report: records.first_report,
        last_report: records.last_report,
        qps: records.latest.qps,
        avg_latency: records.latest.avg_latency,
        p99_latency: records.latest.p99_latency,
        data_loss_rate: records.latest.data_loss_rate,
        run: records.run,
        run_best: api::Best::from(&records.run_best),
        best: api::Best::from(&records.best),
    }
}

fn local_entries(store: &dyn ReadStore) -> Result<Vec<api::Team<'static>>, HistoryError> {
    let teams: Vec<TeamState> = store.teams()?.into_iter().map(TeamState::from).collect();
    let Some(now) = teams.iter().map(|t| t.latest.at).max() else {
        return Ok(Vec::new());
    };
    let mut entries: Vec<api::Team<'static>> = teams
        .iter()
        .map(|t| owned(t.to_api(now, &Timing::default())))
        .collect();
    entries.sort_by(|a, b| a.team_id.cmp(&b.team_id));
    Ok(entries)
}

/// A borrowed entry as an owned one (through JSON: as a server's reader gets it).
fn owned(team: api::Team<'_>) -> api::Team<'static> {
    let value = serde_json::to_value(&team).expect("team entries serialize");
    serde_json::from_value(value).expect("a team entry reads back as it was written")
}

fn local_page(
    store: &dyn ReadStore,
    id: &TeamId,
    range: &TimeRange,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<ReportRow>), HistoryError> {
    let (total, page) = store.page(id, range, offset, limit)?;
    let rows = page
        .into_iter()
        .filter_map(|stored| {
            stored
                .and_then(|s| {
                    let path = store.locate(id, &s.file_name);
                    ReportRow::from_stored(s, path)
                })
                .map_err(|e| eprintln!("warning: skipping {e}"))
                .ok()
        })
        .collect();
    Ok((total, rows))
}
