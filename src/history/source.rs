//! Where the history comes from: a data directory (the library's [`Store`], opened
//! read-only) or a running server (its HTTP API, through ureq). Both answer the same
//! questions with the same numbers: the server's come from the same store and the
//! same metrics functions, and here every row's metrics are computed from its stats.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::HistoryError;
use crate::board::{BestRecords, Record};
use crate::export::{ExportRow, StoreRows, TimeRange};
use crate::store::{Headline, OpenMode, Store};
use crate::team::{self, TeamId};
use crate::timefmt;

/// Largest page the history API serves (`limit`).
pub const API_PAGE: usize = 1000;
/// Longest wait for one answer of the server.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read from the server, in bytes.
const MAX_ANSWER_BYTES: u64 = 1 << 30;

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
    pub best_qps: Option<f64>,
    pub best_qps_time: Option<String>,
    /// Lowest positive average latency, ms.
    pub best_latency: Option<f64>,
    pub best_latency_time: Option<String>,
}

/// The numbers of the history summary endpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct SummaryInfo {
    pub team_id: String,
    pub total_reports: usize,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
    pub data_directory: String,
    pub recent_files: Vec<String>,
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
pub type Rows = Box<dyn Iterator<Item = Result<ExportRow, RowError>>>;

/// A data directory or a running server.
pub enum Source {
    Local(Store),
    Remote(Remote),
}

impl Source {
    /// Opens the data directory, or checks the server's URL (it is asked nothing yet).
    /// `token` is a private board's viewer token, for a server.
    pub fn open(
        data_dir: &Path,
        server: Option<&str>,
        token: Option<&str>,
    ) -> Result<Source, HistoryError> {
        match server {
            Some(url) => Ok(Source::Remote(Remote::new(url, token)?)),
            None => {
                let store = Store::open(data_dir, OpenMode::ReadOnly)?;
                for warning in store.warnings() {
                    eprintln!("{warning}");
                }
                Ok(Source::Local(store))
            }
        }
    }

    /// Every team with at least one report, by id.
    pub fn teams(&self) -> Result<Vec<TeamOverview>, HistoryError> {
        match self {
            Source::Local(store) => Ok(store
                .team_ids()
                .iter()
                .map(|id| local_overview(store, id))
                .collect()),
            Source::Remote(remote) => remote.teams(),
        }
    }

    /// The summary endpoint's numbers (0 reports for an unknown team).
    pub fn summary(&self, id: &TeamId) -> Result<SummaryInfo, HistoryError> {
        match self {
            Source::Local(store) => {
                let info = store.history_info(id);
                Ok(SummaryInfo {
                    team_id: id.to_string(),
                    total_reports: info.total_reports,
                    first_report: info.first_report,
                    last_report: info.last_report,
                    data_directory: store.team_dir(id).display().to_string(),
                    recent_files: info.recent_files,
                })
            }
            Source::Remote(remote) => remote.get(&format!("/api/teams/{id}/history/summary")),
        }
    }

    /// Timestamp and headline numbers of each report within `range`, oldest first.
    pub fn headlines(
        &self,
        id: &TeamId,
        range: &TimeRange,
    ) -> Result<Vec<(String, Headline)>, HistoryError> {
        match self {
            Source::Local(store) => Ok(store.with_entries(id, |entries| {
                entries
                    .iter()
                    .filter(|e| range.contains(&e.at))
                    .map(|e| (e.timestamp.to_string(), e.headline))
                    .collect()
            })),
            Source::Remote(_) => {
                let mut out = Vec::new();
                for row in self.rows(std::slice::from_ref(id), range)? {
                    match row {
                        Ok(row) => out.push((row.timestamp.clone(), Headline::from(&row.metrics))),
                        Err(RowError::Skip(warning)) => eprintln!("{warning}"),
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
    ) -> Result<(usize, Vec<ExportRow>), HistoryError> {
        match self {
            Source::Local(store) => Ok(local_page(store, id, range, offset, limit)),
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
                let rows = StoreRows::new(store, teams, range, keep_stats);
                let total = rows.total();
                let rows = rows
                    .map(|row| row.map_err(|e| RowError::Skip(format!("warning: skipping {e}"))));
                Ok((Box::new(rows), total))
            }
            Source::Remote(remote) => {
                let mut total = 0;
                for id in teams {
                    total += remote.page(id, 0, 1)?.0;
                }
                let rows = RemoteRows {
                    remote: remote.clone(),
                    teams: teams.to_vec(),
                    next_team: 0,
                    range: *range,
                    cursor: None,
                    page: Vec::new(),
                };
                Ok((Box::new(rows), total))
            }
        }
    }
}

fn local_overview(store: &Store, id: &TeamId) -> TeamOverview {
    let team_name = store
        .latest(id)
        .map(|latest| latest.team_name.clone())
        .unwrap_or_else(|| team::default_team_name(id));
    store.with_entries(id, |entries| {
        let best = BestRecords::from_entries(entries);
        let latest = entries.last().map(|e| e.headline).unwrap_or_default();
        let (best_qps, best_qps_time) = split_record(best.qps);
        let (best_latency, best_latency_time) = split_record(best.latency);
        TeamOverview {
            team_id: id.to_string(),
            team_name,
            reports: entries.len(),
            first_report: entries.first().map(|e| e.timestamp.to_string()),
            last_report: entries.last().map(|e| e.timestamp.to_string()),
            qps: latest.qps,
            avg_latency: latest.avg_latency,
            p99_latency: latest.p99_latency,
            data_loss_rate: latest.data_loss_rate,
            best_qps,
            best_qps_time,
            best_latency,
            best_latency_time,
        }
    })
}

fn split_record(record: Option<Record>) -> (Option<f64>, Option<String>) {
    record.map(|r| (r.value, r.timestamp)).unzip()
}

fn local_page(
    store: &Store,
    id: &TeamId,
    range: &TimeRange,
    offset: usize,
    limit: usize,
) -> (usize, Vec<ExportRow>) {
    let (total, names) = store.with_entries(id, |entries| {
        let in_range = || entries.iter().rev().filter(|e| range.contains(&e.at));
        let names: Vec<Box<str>> = in_range()
            .skip(offset)
            .take(limit)
            .map(|e| e.file_name.clone())
            .collect();
        (in_range().count(), names)
    });
    let dir = store.team_dir(id);
    let mut page = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&*name);
        let row = crate::store::read_report_file(&path)
            .and_then(|stored| ExportRow::from_stored(stored, path));
        match row {
            Ok(row) => page.push(row),
            Err(e) => eprintln!("warning: skipping {e}"),
        }
    }
    (total, page)
}

/// A running server, asked through its HTTP API.
#[derive(Clone)]
pub struct Remote {
    base: String,
    agent: ureq::Agent,
    /// A private board's viewer token.
    token: Option<String>,
}

/// One page of `/api/teams/{id}/history`.
#[derive(Deserialize)]
struct HistoryPage {
    history: Vec<HistoryEntry>,
    total: usize,
}

/// An entry of the history API (its `metrics` are recomputed from `stats`).
#[derive(Deserialize)]
struct HistoryEntry {
    team_id: String,
    team_name: String,
    timestamp: String,
    stats: Value,
}

/// A team as `/api/teams` lists it (the fields `teams` needs).
#[derive(Deserialize)]
struct ApiTeam {
    team_id: String,
    team_name: String,
    report_count: usize,
    qps: f64,
    avg_latency: f64,
    p99_latency: f64,
    data_loss_rate: f64,
    best_qps: Option<f64>,
    best_qps_time: Option<String>,
    best_latency: Option<f64>,
    best_latency_time: Option<String>,
}

impl Remote {
    /// Checks the URL as every BenchBoard client does ([`crate::client::normalize_server`]:
    /// `http://` or `https://host:port`, `host:port` alone means http, a trailing `/`
    /// is dropped).
    pub fn new(url: &str, token: Option<&str>) -> Result<Remote, HistoryError> {
        let base = crate::client::normalize_server(url).map_err(|_| {
            HistoryError::Usage(format!(
                "--server {url:?}: expected a URL like http://127.0.0.1:8080"
            ))
        })?;
        let agent = crate::client::http_agent(HTTP_TIMEOUT);
        let token = token.map(|t| t.trim().to_string());
        Ok(Remote { base, agent, token })
    }

    /// `GET path`, answered with 200 and JSON of type `T`.
    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, HistoryError> {
        let url = format!("{}{}", self.base, path);
        let failed = |reason: String| HistoryError::Server {
            url: url.clone(),
            reason,
        };
        let mut request = self.agent.get(&url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.call().map_err(|e| failed(e.to_string()))?;
        let answer = crate::client::http::read_answer(&mut response, MAX_ANSWER_BYTES)
            .map_err(|e| failed(e.to_string()))?;
        let (status, body) = (answer.status, answer.body);
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            return Err(failed(format!("status {status}: {}", text.trim())));
        }
        serde_json::from_slice(&body).map_err(|e| failed(format!("unexpected answer: {e}")))
    }

    fn teams(&self) -> Result<Vec<TeamOverview>, HistoryError> {
        let teams: Vec<ApiTeam> = self.get("/api/teams")?;
        let mut out = Vec::with_capacity(teams.len());
        for t in teams.into_iter().filter(|t| t.report_count > 0) {
            let id = TeamId::parse(&t.team_id).map_err(|e| HistoryError::Server {
                url: format!("{}/api/teams", self.base),
                reason: format!("listed a bad team id {:?}: {e}", t.team_id),
            })?;
            let summary: SummaryInfo = self.get(&format!("/api/teams/{id}/history/summary"))?;
            out.push(TeamOverview {
                team_id: t.team_id,
                team_name: t.team_name,
                reports: t.report_count,
                first_report: summary.first_report,
                last_report: summary.last_report,
                qps: t.qps,
                avg_latency: t.avg_latency,
                p99_latency: t.p99_latency,
                data_loss_rate: t.data_loss_rate,
                best_qps: t.best_qps,
                best_qps_time: t.best_qps_time,
                best_latency: t.best_latency,
                best_latency_time: t.best_latency_time,
            });
        }
        out.sort_by(|a, b| a.team_id.cmp(&b.team_id));
        Ok(out)
    }

    /// One API page, newest first: `(total, entries)`; `limit` ≤ [`API_PAGE`].
    fn api_page(
        &self,
        id: &TeamId,
        offset: usize,
        limit: usize,
    ) -> Result<HistoryPage, HistoryError> {
        self.get(&format!(
            "/api/teams/{id}/history?limit={limit}&offset={offset}"
        ))
    }

    /// Newest-first page of any length, fetched [`API_PAGE`] reports at a time.
    fn page(
        &self,
        id: &TeamId,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ExportRow>), HistoryError> {
        let mut rows = Vec::new();
        let mut total;
        let mut at = offset;
        let end = offset.saturating_add(limit);
        loop {
            let want = (end - at).clamp(1, API_PAGE);
            let page = self.api_page(id, at, want)?;
            total = page.total;
            let got = page.history.len();
            rows.extend(page.history.into_iter().filter_map(to_row));
            at += want;
            if got == 0 || at >= end || at >= total {
                break;
            }
        }
        rows.truncate(limit);
        Ok((total, rows))
    }

    /// Newest-first page of the reports within `range`: the history API has no time
    /// filter, so the whole history is read, a page at a time.
    fn page_in_range(
        &self,
        id: &TeamId,
        range: &TimeRange,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ExportRow>), HistoryError> {
        let mut matched = 0;
        let mut rows = Vec::new();
        let mut at = 0;
        loop {
            let page = self.api_page(id, at, API_PAGE)?;
            let got = page.history.len();
            for entry in page.history {
                if !entry_in_range(&entry, range) {
                    continue;
                }
                if matched >= offset && rows.len() < limit {
                    rows.extend(to_row(entry));
                }
                matched += 1;
            }
            at += API_PAGE;
            if got == 0 || at >= page.total {
                break;
            }
        }
        Ok((matched, rows))
    }
}

fn entry_in_range(entry: &HistoryEntry, range: &TimeRange) -> bool {
    timefmt::parse_timestamp(&entry.timestamp).is_some_and(|at| range.contains(&at))
}

/// The row of an API entry; a report that fails validation is skipped with a warning.
fn checked_row(entry: HistoryEntry) -> Result<ExportRow, RowError> {
    let HistoryEntry {
        team_id,
        team_name,
        timestamp,
        stats,
    } = entry;
    let what = format!("report of {team_id} at {timestamp}");
    ExportRow::new(team_id, team_name, timestamp, stats)
        .map_err(|e| RowError::Skip(format!("warning: skipping {what}: {e}")))
}

fn to_row(entry: HistoryEntry) -> Option<ExportRow> {
    checked_row(entry).map_err(|e| eprintln!("{e}")).ok()
}

/// Where a [`RemoteRows`] is in one team's history.
struct Cursor {
    id: TeamId,
    /// Reports to read: those the server had when the team's reading started.
    target: usize,
    /// The total the server had when last asked.
    total: usize,
    /// Oldest reports already read.
    done: usize,
}

/// A server's reports of some teams, oldest first, read a page at a time.
struct RemoteRows {
    remote: Remote,
    teams: Vec<TeamId>,
    next_team: usize,
    range: TimeRange,
    cursor: Option<Cursor>,
    /// The page being handed out, newest first (popped from the end).
    page: Vec<HistoryEntry>,
}

impl RemoteRows {
    /// Fetches the next page of oldest reports; `false` when every team is done.
    fn fetch(&mut self) -> Result<bool, HistoryError> {
        loop {
            if self.cursor.as_ref().is_none_or(|c| c.done >= c.target) {
                let Some(id) = self.teams.get(self.next_team).cloned() else {
                    return Ok(false);
                };
                self.next_team += 1;
                let total = self.remote.api_page(&id, 0, 1)?.total;
                self.cursor = Some(Cursor {
                    id,
                    target: total,
                    total,
                    done: 0,
                });
                continue;
            }
            let cursor = self.cursor.as_mut().expect("checked just above");
            let want = (cursor.target - cursor.done).min(API_PAGE);
            self.page = fetch_oldest(&self.remote, cursor, want)?;
            cursor.done += want;
            if !self.page.is_empty() {
                return Ok(true);
            }
        }
    }
}

/// The `want` oldest reports after `cursor.done`, newest first. New reports only
/// arrive at the newest end, so the offset is counted from there with the total the
/// server has now; when it changed under us, ask again (a few times).
fn fetch_oldest(
    remote: &Remote,
    cursor: &mut Cursor,
    want: usize,
) -> Result<Vec<HistoryEntry>, HistoryError> {
    for _ in 0..5 {
        let changed = || HistoryError::Server {
            url: remote.base.clone(),
            reason: format!("the history of {} shrank while it was read", cursor.id),
        };
        let offset = cursor
            .total
            .checked_sub(cursor.done + want)
            .ok_or_else(changed)?;
        let answer = remote.api_page(&cursor.id, offset, want)?;
        if answer.total == cursor.total {
            return Ok(answer.history);
        }
        cursor.total = answer.total;
    }
    Err(HistoryError::Server {
        url: remote.base.clone(),
        reason: format!(
            "the history of {} kept changing while it was read",
            cursor.id
        ),
    })
}

impl Iterator for RemoteRows {
    type Item = Result<ExportRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.page.pop() {
                if entry_in_range(&entry, &self.range) {
                    return Some(checked_row(entry));
                }
                continue;
            }
            match self.fetch() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    // Stop after a failure: the rest would fail the same way.
                    self.next_team = self.teams.len();
                    self.cursor = None;
                    return Some(Err(RowError::Fatal(e)));
                }
            }
        }
    }
}
