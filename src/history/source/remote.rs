//! A running server as a history source: its HTTP API, through ureq.

use std::time::Duration;

use super::{RowError, Rows, TeamOverview};
use crate::api::{self, HistoryEntry, HistoryPage, MAX_PAGE};
use crate::history::HistoryError;
use crate::query::{ReportRow, TimeRange};
use crate::team::TeamId;
use crate::timefmt;

/// Longest wait for one answer of the server.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read from the server, in bytes.
const MAX_ANSWER_BYTES: u64 = 1 << 30;

/// An entry or a page of the history API as read back (owned).
type Entry = HistoryEntry<'static>;
type Page = HistoryPage<'static>;

/// A running server, asked through its HTTP API.
#[derive(Clone)]
pub struct Remote {
    base: String,
    agent: ureq::Agent,
    /// A private board's viewer token.
    token: Option<String>,
}

impl Remote {
    /// Checks the URL as every BenchBoard client does ([`crate::client::normalize_server`]:
    /// `http://` or `https://host:port`, `host:port` alone means http, a trailing `/`
    /// is dropped). `token` is a private board's viewer token.
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

    /// The history summary of a team.
    pub(super) fn summary(&self, id: &TeamId) -> Result<api::Summary, HistoryError> {
        self.get(&format!("/api/teams/{id}/history/summary"))
    }

    /// `/api/teams`, the teams with a report.
    pub(super) fn team_entries(&self) -> Result<Vec<api::Team<'static>>, HistoryError> {
        let mut teams: Vec<api::Team<'static>> = self.get("/api/teams")?;
        teams.retain(|t| t.report_count > 0);
        teams.sort_by(|a, b| a.team_id.cmp(&b.team_id));
        Ok(teams)
    }

    /// `/api/teams/{id}/history/series`.
    pub(super) fn series(
        &self,
        id: &TeamId,
        since_ms: i64,
        points: usize,
    ) -> Result<api::Series, HistoryError> {
        self.get(&format!(
            "/api/teams/{id}/history/series?points={points}&since={since_ms}"
        ))
    }

    /// The server's contest and ranking rule; `None` from a server without them
    /// (an older one answers 404).
    pub(crate) fn contest(&self) -> Option<crate::contest::live::ContestAnswer> {
        self.get("/api/contest").ok()
    }

    pub(super) fn teams(&self) -> Result<Vec<TeamOverview>, HistoryError> {
        let teams: Vec<api::Team<'static>> = self.get("/api/teams")?;
        let mut out = Vec::with_capacity(teams.len());
        for t in teams.into_iter().filter(|t| t.report_count > 0) {
            let id = TeamId::parse(&t.team_id).map_err(|e| HistoryError::Server {
                url: format!("{}/api/teams", self.base),
                reason: format!("listed a bad team id {:?}: {e}", t.team_id),
            })?;
            let summary = self.summary(&id)?;
            out.push(TeamOverview {
                team_id: t.team_id.into_owned(),
                team_name: t.team_name.into_owned(),
                reports: t.report_count,
                first_report: summary.first_report,
                last_report: summary.last_report,
                qps: t.qps,
                avg_latency: t.avg_latency,
                p99_latency: t.p99_latency,
                data_loss_rate: t.data_loss_rate,
                best: t.best,
                run: t.run,
                run_best: t.run_best,
            });
        }
        out.sort_by(|a, b| a.team_id.cmp(&b.team_id));
        Ok(out)
    }

    /// The reports of `teams` within `range`, team by team, oldest first.
    pub(super) fn rows(&self, teams: &[TeamId], range: &TimeRange) -> Rows {
        Box::new(RemoteRows {
            remote: self.clone(),
            teams: teams.to_vec(),
            next_team: 0,
            range: *range,
            cursor: None,
            page: Vec::new(),
        })
    }

    /// One API page, newest first: `(total, entries)`; `limit` ≤ [`MAX_PAGE`].
    pub(super) fn api_page(
        &self,
        id: &TeamId,
        offset: usize,
        limit: usize,
    ) -> Result<Page, HistoryError> {
        self.get(&format!(
            "/api/teams/{id}/history?limit={limit}&offset={offset}"
        ))
    }

    /// Newest-first page of any length, fetched [`MAX_PAGE`] reports at a time.
    pub(super) fn page(
        &self,
        id: &TeamId,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ReportRow>), HistoryError> {
        let mut rows = Vec::new();
        let mut total;
        let mut at = offset;
        let end = offset.saturating_add(limit);
        loop {
            let want = (end - at).clamp(1, MAX_PAGE);
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
    pub(super) fn page_in_range(
        &self,
        id: &TeamId,
        range: &TimeRange,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<ReportRow>), HistoryError> {
        let mut matched = 0;
        let mut rows = Vec::new();
        let mut at = 0;
        loop {
            let page = self.api_page(id, at, MAX_PAGE)?;
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
            at += MAX_PAGE;
            if got == 0 || at >= page.total {
                break;
            }
        }
        Ok((matched, rows))
    }
}

fn entry_in_range(entry: &Entry, range: &TimeRange) -> bool {
    timefmt::parse_timestamp(&entry.timestamp).is_some_and(|at| range.contains(&at))
}

/// The row of an API entry; a report that fails validation is skipped with a warning.
fn checked_row(entry: Entry) -> Result<ReportRow, RowError> {
    let what = format!("report of {} at {}", entry.team_id, entry.timestamp);
    let (run, warnings) = (entry.run, entry.warnings.into_owned());
    let row = ReportRow::new(
        entry.team_id.into_owned(),
        entry.team_name.into_owned(),
        entry.timestamp.into_owned(),
        entry.stats.into_owned(),
    )
    .map_err(|e| RowError::Skip(format!("warning: skipping {what}: {e}")))?;
    Ok(ReportRow {
        run,
        warnings,
        ..row
    })
}

fn to_row(entry: Entry) -> Option<ReportRow> {
    checked_row(entry)
        .map_err(|e| crate::logging::eprint_line(&e.to_string()))
        .ok()
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
    page: Vec<Entry>,
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
            let want = (cursor.target - cursor.done).min(MAX_PAGE);
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
) -> Result<Vec<Entry>, HistoryError> {
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
    type Item = Result<ReportRow, RowError>;

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
