//! The PostgreSQL store behind the store traits ([`ReadStore`], [`WriteStore`]): the
//! answers of [`read`](super::read) in the API's shapes, and the iterators that read
//! a history a chunk at a time.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use super::read::{Range, TeamRow};
use super::{NewReport, PgError, PgReader, PgStore};
use crate::api;
use crate::metrics::Metrics;
use crate::query::{BestRecords, RECENT_FILES, Record, ReportRow, TeamRecords, TimeRange};
use crate::report::Report;
use crate::store::backend::{RawReport, RawReports, ReadStore, Rows, TeamEntry, WriteStore};
use crate::store::{Headline, StoreError, StoredReport};
use crate::team::TeamId;

/// Reports read per query of an export.
const CHUNK: usize = 500;

fn range_of(range: &TimeRange) -> Range {
    (range.since, range.until)
}

impl From<TeamRow> for TeamEntry {
    fn from(row: TeamRow) -> TeamEntry {
        let metrics = Metrics::of_stored(&row.latest.stats).0;
        let record = |best: Option<(f64, String)>| {
            best.map(|(value, timestamp)| Record { value, timestamp })
        };
        let best = BestRecords {
            qps: record(row.best_qps),
            latency: record(row.best_latency),
        };
        let run_best = BestRecords {
            qps: record(row.run_best_qps),
            latency: record(row.run_best_latency),
        };
        TeamEntry {
            records: TeamRecords {
                reports: row.reports as usize,
                first_report: row.first_timestamp,
                last_report: Some(row.latest.timestamp.clone()),
                latest: Headline::from(&metrics),
                run: row.run,
                run_reports: row.run_reports as usize,
                run_best,
                best,
            },
            latest: Arc::new(row.latest),
            metrics,
        }
    }
}

impl ReadStore for PgReader {
    fn describe(&self) -> String {
        format!("PostgreSQL: {}", self.target())
    }

    fn teams(&self) -> Result<Vec<TeamEntry>, StoreError> {
        Ok(PgReader::teams(self)?
            .into_iter()
            .map(TeamEntry::from)
            .collect())
    }

    fn team(&self, id: &TeamId) -> Result<Option<TeamEntry>, StoreError> {
        Ok(PgReader::team(self, id)?.map(TeamEntry::from))
    }

    fn report_count(&self, id: &TeamId) -> Result<usize, StoreError> {
        Ok(PgReader::report_count(self, id)? as usize)
    }

    fn page(
        &self,
        id: &TeamId,
        range: &TimeRange,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Result<StoredReport, StoreError>>), StoreError> {
        let (total, page) = PgReader::page(self, id, &range_of(range), offset, limit)?;
        Ok((total, page.into_iter().map(Ok).collect()))
    }

    fn summary(&self, id: &TeamId) -> Result<api::Summary, StoreError> {
        let team = PgReader::team(self, id)?;
        let recent_files = match team {
            Some(_) => self.recent_files(id, RECENT_FILES)?,
            None => Vec::new(),
        };
        Ok(api::Summary {
            team_id: id.to_string(),
            total_reports: team.as_ref().map_or(0, |t| t.reports as usize),
            first_report: team.as_ref().and_then(|t| t.first_timestamp.clone()),
            last_report: team.map(|t| t.latest.timestamp),
            data_directory: self.describe(),
            recent_files,
        })
    }

    fn series(&self, id: &TeamId, since_ms: i64, points: usize) -> Result<api::Series, StoreError> {
        let (total, stretches, starts) = PgReader::series(self, id, since_ms, points)?;
        let series: Vec<api::SeriesPoint> = stretches
            .into_iter()
            .map(|s| api::SeriesPoint {
                t: s.t_last_ms,
                t_first: s.t_first_ms,
                count: s.count,
                qps: s.qps_mean,
                qps_min: s.qps_min,
                qps_max: s.qps_max,
                avg_latency: s.avg_latency_mean,
                p99_latency: s.p99_latency_max,
                data_loss_rate: s.data_loss_rate_max,
                run: s.run,
            })
            .collect();
        Ok(api::Series {
            team_id: id.to_string(),
            total,
            points: series.len(),
            series,
            run_starts: starts
                .into_iter()
                .map(|(run, t)| api::RunStart { run, t })
                .collect(),
        })
    }

    fn headlines(
        &self,
        id: &TeamId,
        range: &TimeRange,
    ) -> Result<Vec<(String, Headline)>, StoreError> {
        Ok(PgReader::headlines(self, id, &range_of(range))?)
    }

    fn rows(
        &self,
        teams: &[TeamId],
        range: &TimeRange,
        keep_stats: bool,
    ) -> Result<(Rows, usize), StoreError> {
        let (chunks, total) = self.chunks(teams, range)?;
        let rows = chunks.map(move |raw| {
            let raw = raw?;
            let stats: Value = serde_json::from_str(&raw.stats).map_err(|e| PgError::Corrupt {
                team: raw.team_id.to_string(),
                seq: 0,
                reason: e.to_string(),
            })?;
            let mut row =
                ReportRow::new(raw.team_id.to_string(), raw.team_name, raw.timestamp, stats)
                    .map(|row| ReportRow {
                        run: raw.run,
                        warnings: raw.warnings,
                        ..row
                    })
                    .map_err(|e| PgError::Corrupt {
                        team: raw.team_id.to_string(),
                        seq: 0,
                        reason: e.to_string(),
                    })?;
            if !keep_stats {
                row.report.value = Value::Null;
            }
            Ok(row)
        });
        Ok((Box::new(rows), total))
    }

    fn raw_reports(&self, teams: &[TeamId]) -> Result<(RawReports, usize), StoreError> {
        let (chunks, total) = self.chunks(teams, &TimeRange::default())?;
        Ok((Box::new(chunks), total))
    }
}

impl PgReader {
    /// Every report of `teams` in `range`, read [`CHUNK`] at a time, and how many.
    fn chunks(&self, teams: &[TeamId], range: &TimeRange) -> Result<(Chunks, usize), StoreError> {
        let mut total = 0;
        for id in teams {
            total += if range.is_all() {
                PgReader::report_count(self, id)? as usize
            } else {
                PgReader::page(self, id, &range_of(range), usize::MAX / 2, 1)?.0
            };
        }
        let chunks = Chunks {
            reader: self.clone(),
            teams: teams.iter().cloned().collect(),
            range: range_of(range),
            after: 0,
            buffered: VecDeque::new(),
        };
        Ok((chunks, total))
    }
}

/// Reads the reports of a list of teams in key order, a chunk per query.
struct Chunks {
    reader: PgReader,
    teams: VecDeque<TeamId>,
    range: Range,
    /// The seq of the last report read of the first team.
    after: i64,
    buffered: VecDeque<RawReport>,
}

impl Iterator for Chunks {
    type Item = Result<RawReport, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(raw) = self.buffered.pop_front() {
                return Some(Ok(raw));
            }
            let id = self.teams.front()?.clone();
            let chunk = match self.reader.chunk(&id, &self.range, self.after, CHUNK) {
                Ok(chunk) => chunk,
                Err(e) => {
                    self.teams.clear();
                    return Some(Err(e.into()));
                }
            };
            if chunk.len() < CHUNK {
                self.teams.pop_front();
                self.after = 0;
            } else {
                self.after = chunk.last().map_or(0, |(seq, ..)| *seq);
            }
            self.buffered.extend(
                chunk
                    .into_iter()
                    .map(|(_, stored, stats, source)| RawReport {
                        team_id: stored.team_id,
                        team_name: stored.team_name,
                        timestamp: stored.timestamp,
                        at: stored.at,
                        file_name: stored.file_name,
                        stats,
                        source,
                        warnings: stored.warnings,
                        run: stored.run,
                    }),
            );
        }
    }
}

crate::store::backend::read_through_deref!(PgStore);

impl WriteStore for PgStore {
    fn append(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        metrics: &Metrics,
        source: Option<&Value>,
    ) -> Result<Arc<StoredReport>, StoreError> {
        // A body that parsed as JSON is UTF-8 (serde_json checks it).
        let body = String::from_utf8_lossy(body).into_owned();
        let mut fields = report;
        let stats = std::mem::take(&mut fields.value);
        // The writer judges it against the team's newest stored report, as the file
        // store does, under the team's row lock (another instance's report included).
        let appended = PgStore::append(
            self,
            NewReport {
                team_id: id.clone(),
                team_name: team_name.to_string(),
                body,
                stats,
                metrics: metrics.clone(),
                warnings: Vec::new(),
                fields: Some(Box::new(fields)),
                arrival: None,
                source: source.map(Value::to_string),
            },
        )
        .map_err(|e| match e {
            PgError::TooManyTeams { limit } => StoreError::TooManyTeams { limit },
            other => StoreError::Postgres(other),
        })?;
        Ok(appended.stored)
    }

    fn feeds_board(&self) -> bool {
        true
    }

    fn postgres(&self) -> Option<&PgStore> {
        Some(self)
    }
}
