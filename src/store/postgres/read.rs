//! The queries. Each is an index lookup of bounded size: a page of history is a range
//! of the `(team_id, seq)` key (seqs are dense across the reports and the trash, so
//! offset `k` from the newest is seq `newest - k` moved down by the trashed seqs above
//! it, which an index of the trash gives), the summary and best
//! records (overall and of the current run) are one row of `teams`, the chart's
//! series is folded in the database, and exports read in key order, a chunk at a time.

use chrono::{DateTime, FixedOffset};
use postgres::Client;
use postgres::types::ToSql;

use super::{PgError, PgReader, stored_from_row};
use crate::store::StoredReport;
use crate::team::TeamId;

/// The columns [`super::stored_from_row`] reads, in its order.
pub const REPORT_COLUMNS: &str =
    "team_id, team_name, timestamp, at, file_name, seq, stats::text, warnings::text, run";

/// A report of [`PgReader::chunk`]: its seq, the report, its stats as sent and its
/// `source` (an imported report's), both as JSON text.
pub type ChunkRow = (i64, StoredReport, String, Option<String>);

/// A team as the `teams` table holds it, with its newest report.
#[derive(Debug, Clone)]
pub struct TeamRow {
    /// Reports outside the trash.
    pub reports: u64,
    /// The newest seq handed out (trashed reports included): where the feed goes on.
    pub seq: u64,
    pub latest: StoredReport,
    pub first_timestamp: Option<String>,
    /// Highest completed QPS and when.
    pub best_qps: Option<(f64, String)>,
    /// Lowest positive average latency in ms and when.
    pub best_latency: Option<(f64, String)>,
    /// The newest report's run, the run's reports and its best QPS and latency.
    pub run: u32,
    pub run_reports: u64,
    pub run_best_qps: Option<(f64, String)>,
    pub run_best_latency: Option<(f64, String)>,
}

/// One point of the chart's series: the reports of one stretch folded together.
#[derive(Debug, Clone, PartialEq)]
pub struct Stretch {
    /// First and last report's time, ms since the Unix epoch.
    pub t_first_ms: i64,
    pub t_last_ms: i64,
    pub count: usize,
    pub qps_mean: f64,
    pub qps_min: f64,
    pub qps_max: f64,
    pub avg_latency_mean: f64,
    pub p99_latency_max: f64,
    pub data_loss_rate_max: f64,
    /// The run of the stretch's last report.
    pub run: u32,
}

/// An inclusive time range; an open end is `None`.
pub type Range = (Option<DateTime<FixedOffset>>, Option<DateTime<FixedOffset>>);

const TEAM_COLUMNS: &str = "t.visible, t.first_timestamp, t.best_qps, t.best_qps_time, \
     t.best_latency, t.best_latency_time, t.reports, t.run, t.run_reports, \
     t.run_best_qps, t.run_best_qps_time, t.run_best_latency, t.run_best_latency_time";

fn team_from_row(row: &postgres::Row) -> Result<TeamRow, PgError> {
    let (_, latest) = stored_from_row(row)?;
    let count = |i: usize| row.get::<_, i64>(i).max(0) as u64;
    let pair = |v: Option<f64>, t: Option<String>| v.zip(t);
    Ok(TeamRow {
        reports: count(9),
        seq: count(15),
        latest,
        first_timestamp: row.get(10),
        best_qps: pair(row.get(11), row.get(12)),
        best_latency: pair(row.get(13), row.get(14)),
        run: row.get::<_, i32>(16).max(0) as u32,
        run_reports: count(17),
        run_best_qps: pair(row.get(18), row.get(19)),
        run_best_latency: pair(row.get(20), row.get(21)),
    })
}

fn team_query(filter: &str) -> String {
    let columns = REPORT_COLUMNS
        .split(", ")
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, {TEAM_COLUMNS} FROM teams t \
         JOIN reports r ON r.team_id = t.team_id AND r.seq = t.latest_seq {filter} \
         ORDER BY t.team_id"
    )
}

/// Every team with at least one report, with its newest report.
pub fn teams(client: &mut Client, target: &str) -> Result<Vec<TeamRow>, PgError> {
    let rows = client
        .query(&team_query(""), &[])
        .map_err(|e| PgError::from_driver(target, e))?;
    rows.iter().map(team_from_row).collect()
}

/// One team with its newest report; `None` for a team without reports.
pub fn team(client: &mut Client, target: &str, id: &TeamId) -> Result<Option<TeamRow>, PgError> {
    let rows = client
        .query(&team_query("WHERE t.team_id = $1"), &[&id.as_str()])
        .map_err(|e| PgError::from_driver(target, e))?;
    rows.first().map(team_from_row).transpose()
}

/// The team's reports with seqs `first..=last`, oldest first.
pub fn reports_between(
    client: &mut Client,
    target: &str,
    id: &str,
    first: i64,
    last: i64,
) -> Result<Vec<(i64, StoredReport)>, PgError> {
    let rows = client
        .query(
            &format!(
                "SELECT {REPORT_COLUMNS} FROM reports \
                 WHERE team_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq"
            ),
            &[&id, &first, &last],
        )
        .map_err(|e| PgError::from_driver(target, e))?;
    rows.iter().map(stored_from_row).collect()
}

/// `AND at >= $n AND at <= $m` for the ends of `range` that are set, and their values.
fn range_filter(range: &Range, first_param: usize) -> (String, Vec<&(dyn ToSql + Sync)>) {
    let mut sql = String::new();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if let Some(since) = &range.0 {
        params.push(since);
        sql += &format!(" AND at >= ${}", first_param + params.len() - 1);
    }
    if let Some(until) = &range.1 {
        params.push(until);
        sql += &format!(" AND at <= ${}", first_param + params.len() - 1);
    }
    (sql, params)
}

impl PgReader {
    /// Runs `query` on a pooled connection; a connection that turns out dead (the
    /// database restarted since it was last used) is replaced once.
    pub(crate) fn with_conn<T>(
        &self,
        query: impl Fn(&mut Client, &str) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let mut conn = self.pool.get()?;
        match query(&mut conn, self.target()) {
            Err(e) if e.is_unavailable() => {
                conn.discard();
                self.pool.clear();
                let mut fresh = self.pool.get()?;
                query(&mut fresh, self.target())
            }
            other => other,
        }
    }

    /// Every team with at least one report, with its newest report and records.
    pub fn teams(&self) -> Result<Vec<TeamRow>, PgError> {
        self.with_conn(teams)
    }

    /// One team with its newest report and records.
    pub fn team(&self, id: &TeamId) -> Result<Option<TeamRow>, PgError> {
        self.with_conn(|c, target| team(c, target, id))
    }

    /// Reports of a team in all (0 for an unknown team).
    pub fn report_count(&self, id: &TeamId) -> Result<u64, PgError> {
        self.with_conn(|c, target| {
            let row = c
                .query_opt(
                    "SELECT visible FROM teams WHERE team_id = $1",
                    &[&id.as_str()],
                )
                .map_err(|e| PgError::from_driver(target, e))?;
            Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
        })
    }

    /// Each team's newest seq handed out: where the feed of a board built now goes on.
    pub fn seqs(&self) -> Result<Vec<(TeamId, u64)>, PgError> {
        self.with_conn(|c, target| {
            let rows = c
                .query("SELECT team_id, reports FROM teams", &[])
                .map_err(|e| PgError::from_driver(target, e))?;
            Ok(rows
                .iter()
                .filter_map(|r| Some((TeamId::parse(r.get(0)).ok()?, r.get::<_, i64>(1) as u64)))
                .collect())
        })
    }

    /// One page of a team's reports within `range`, newest first, and how many
    /// reports the range holds.
    pub fn page(
        &self,
        id: &TeamId,
        range: &Range,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<StoredReport>), PgError> {
        self.with_conn(|c, target| page(c, target, id, range, offset, limit))
    }

    /// Every file name of a team's reports (what a migration already copied).
    pub fn file_names(&self, id: &TeamId) -> Result<Vec<String>, PgError> {
        self.with_conn(|c, target| {
            let rows = c
                .query(
                    "SELECT file_name FROM reports WHERE team_id = $1",
                    &[&id.as_str()],
                )
                .map_err(|e| PgError::from_driver(target, e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// The `count` newest file names of a team, newest first.
    pub fn recent_files(&self, id: &TeamId, count: usize) -> Result<Vec<String>, PgError> {
        self.with_conn(|c, target| {
            let rows = c
                .query(
                    "SELECT file_name FROM reports WHERE team_id = $1 ORDER BY seq DESC LIMIT $2",
                    &[&id.as_str(), &(count as i64)],
                )
                .map_err(|e| PgError::from_driver(target, e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// The team's history from `since_ms` on, folded in the database into at most
    /// `points` stretches of consecutive reports (as the file store folds them), the
    /// number of reports in all, and where each run in the range begins.
    pub fn series(
        &self,
        id: &TeamId,
        since_ms: i64,
        points: usize,
    ) -> Result<(usize, Vec<Stretch>, Vec<RunStart>), PgError> {
        self.with_conn(|c, target| series(c, target, id, since_ms, points))
    }

    /// Timestamp and headline numbers of each report within `range`, oldest first.
    /// The high-priority latency and the verify error rate have no columns: they are
    /// taken from the stats as sent (a report that no longer parses counts 0 / none).
    pub fn headlines(
        &self,
        id: &TeamId,
        range: &Range,
    ) -> Result<Vec<(String, crate::store::Headline)>, PgError> {
        self.with_conn(|c, target| {
            let (filter, params) = range_filter(range, 2);
            let team = id.as_str();
            let mut all: Vec<&(dyn ToSql + Sync)> = vec![&team];
            all.extend(params);
            let rows = c
                .query(
                    &format!(
                        "SELECT timestamp, qps, avg_latency, p99_latency, data_loss_rate, \
                         stats::text FROM reports WHERE team_id = $1{filter} ORDER BY seq"
                    ),
                    &all,
                )
                .map_err(|e| PgError::from_driver(target, e))?;
            Ok(rows.iter().map(headline_of).collect())
        })
    }

    /// Up to `limit` reports of a team after seq `after` within `range`, oldest first,
    /// each with its seq and its stats exactly as sent (for exports, a chunk at a time).
    pub fn chunk(
        &self,
        id: &TeamId,
        range: &Range,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ChunkRow>, PgError> {
        self.with_conn(|c, target| {
            let (filter, params) = range_filter(range, 4);
            let limit = limit as i64;
            let team = id.as_str();
            let mut all: Vec<&(dyn ToSql + Sync)> = vec![&team, &after, &limit];
            all.extend(params);
            let rows = c
                .query(
                    &format!(
                        "SELECT {REPORT_COLUMNS}, source::text FROM reports \
                         WHERE team_id = $1 AND seq > $2{filter} ORDER BY seq LIMIT $3"
                    ),
                    &all,
                )
                .map_err(|e| PgError::from_driver(target, e))?;
            rows.iter()
                .map(|row| {
                    let (seq, stored) = stored_from_row(row)?;
                    Ok((seq, stored, row.get::<_, String>(6), row.get(9)))
                })
                .collect()
        })
    }
}

fn page(
    client: &mut Client,
    target: &str,
    id: &TeamId,
    range: &Range,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<StoredReport>), PgError> {
    let fail = |e| PgError::from_driver(target, e);
    let read = |rows: Vec<postgres::Row>| -> Result<Vec<StoredReport>, PgError> {
        rows.iter()
            .map(|r| stored_from_row(r).map(|(_, s)| s))
            .collect()
    };
    let (filter, params) = range_filter(range, 2);
    if filter.is_empty() {
        let (total, newest) = counts_of(client, target, id)?;
        if offset >= total {
            return Ok((total, Vec::new()));
        }
        let first = seq_at_offset(client, target, id, newest, offset as i64)?;
        let rows = client
            .query(
                &format!(
                    "SELECT {REPORT_COLUMNS} FROM reports \
                     WHERE team_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3"
                ),
                &[&id.as_str(), &first, &(limit.min(i64::MAX as usize) as i64)],
            )
            .map_err(fail)?;
        return Ok((total, read(rows)?));
    }
    let team = id.as_str();
    let mut all: Vec<&(dyn ToSql + Sync)> = vec![&team];
    all.extend(params);
    let total: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM reports WHERE team_id = $1{filter}"),
            &all,
        )
        .map_err(fail)?
        .get(0);
    let (offset, limit) = (offset as i64, limit as i64);
    all.push(&offset);
    all.push(&limit);
    let n = all.len();
    let rows = client
        .query(
            &format!(
                "SELECT {REPORT_COLUMNS} FROM reports WHERE team_id = $1{filter} \
                 ORDER BY seq DESC OFFSET ${} LIMIT ${n}",
                n - 1
            ),
            &all,
        )
        .map_err(fail)?;
    Ok((total as usize, read(rows)?))
}

/// Trashed seqs read per query while looking for a page's first report.
const TRASH_CHUNK: i64 = 1000;

/// The team's reports outside the trash, and its newest seq handed out.
fn counts_of(client: &mut Client, target: &str, id: &TeamId) -> Result<(usize, i64), PgError> {
    let row = client
        .query_opt(
            "SELECT visible, reports FROM teams WHERE team_id = $1",
            &[&id.as_str()],
        )
        .map_err(|e| PgError::from_driver(target, e))?;
    Ok(row.map_or((0, 0), |r| (r.get::<_, i64>(0).max(0) as usize, r.get(1))))
}

/// The seq of the report `offset` places below the team's newest outside the trash.
/// Every seq up to `newest` is a report or in the trash, so it is `newest - offset`
/// moved down by one for each trashed seq met on the way: only the trashed seqs above
/// the answer are read (an index range), newest first.
fn seq_at_offset(
    client: &mut Client,
    target: &str,
    id: &TeamId,
    newest: i64,
    offset: i64,
) -> Result<i64, PgError> {
    let mut seq = newest - offset;
    let mut below = newest;
    loop {
        let trashed = client
            .query(
                "SELECT seq FROM trash WHERE team_id = $1 AND seq <= $2 \
                 ORDER BY seq DESC LIMIT $3",
                &[&id.as_str(), &below, &TRASH_CHUNK],
            )
            .map_err(|e| PgError::from_driver(target, e))?;
        for row in &trashed {
            let t: i64 = row.get(0);
            if t < seq {
                return Ok(seq);
            }
            seq -= 1;
            below = t - 1;
        }
        if (trashed.len() as i64) < TRASH_CHUNK {
            return Ok(seq);
        }
    }
}

fn count_of(client: &mut Client, target: &str, id: &TeamId) -> Result<usize, PgError> {
    let row = client
        .query_opt(
            "SELECT visible FROM teams WHERE team_id = $1",
            &[&id.as_str()],
        )
        .map_err(|e| PgError::from_driver(target, e))?;
    Ok(row.map_or(0, |r| r.get::<_, i64>(0) as usize))
}

/// Stretch `i` of `points` over `len` reports holds rows `[i·len/points,
/// (i+1)·len/points)`; so row `r` (0-based) is in stretch `((r+1)·points − 1) / len`.
const SERIES: &str = "
    WITH picked AS (
        SELECT at, qps, avg_latency, p99_latency, data_loss_rate, run,
               row_number() OVER (ORDER BY seq) AS n, count(*) OVER () AS len
        FROM reports WHERE team_id = $1 AND at >= $2
    )
    SELECT (n * $3 - 1) / len AS stretch,
           (extract(epoch FROM min(at)) * 1000)::int8, (extract(epoch FROM max(at)) * 1000)::int8,
           count(*), avg(qps), min(qps), max(qps), avg(avg_latency),
           max(p99_latency), max(data_loss_rate), max(run)
    FROM picked GROUP BY stretch ORDER BY stretch";

/// The first report of each run from a time on: its run and time (ms).
const RUN_STARTS: &str = "
    SELECT DISTINCT ON (run) run, (extract(epoch FROM at) * 1000)::int8
    FROM reports WHERE team_id = $1 AND at >= $2 ORDER BY run, seq";

/// The first report of a run: its run and its time in ms since the Unix epoch.
pub type RunStart = (u32, i64);

fn series(
    client: &mut Client,
    target: &str,
    id: &TeamId,
    since_ms: i64,
    points: usize,
) -> Result<(usize, Vec<Stretch>, Vec<RunStart>), PgError> {
    let total = count_of(client, target, id)?;
    let since = DateTime::from_timestamp_millis(since_ms)
        .unwrap_or_default()
        .fixed_offset();
    let points = points.max(1) as i64;
    let rows = client
        .query(SERIES, &[&id.as_str(), &since, &points])
        .map_err(|e| PgError::from_driver(target, e))?;
    let stretches = rows
        .iter()
        .map(|r| Stretch {
            t_first_ms: r.get(1),
            t_last_ms: r.get(2),
            count: r.get::<_, i64>(3) as usize,
            qps_mean: r.get(4),
            qps_min: r.get(5),
            qps_max: r.get(6),
            avg_latency_mean: r.get(7),
            p99_latency_max: r.get(8),
            data_loss_rate_max: r.get(9),
            run: r.get::<_, i32>(10).max(0) as u32,
        })
        .collect();
    let starts = client
        .query(RUN_STARTS, &[&id.as_str(), &since])
        .map_err(|e| PgError::from_driver(target, e))?
        .iter()
        .map(|r| (r.get::<_, i32>(0).max(0) as u32, r.get(1)))
        .collect();
    Ok((total, stretches, starts))
}

/// A row of `timestamp, qps, avg_latency, p99_latency, data_loss_rate, stats`.
fn headline_of(row: &postgres::Row) -> (String, crate::store::Headline) {
    let stats: &str = row.get(5);
    let derived = crate::report::Report::parse(stats.as_bytes())
        .ok()
        .map(|report| crate::metrics::Metrics::of(&report));
    let headline = crate::store::Headline {
        qps: row.get(1),
        avg_latency: row.get(2),
        p99_latency: row.get(3),
        data_loss_rate: row.get(4),
        high_priority_latency: derived.as_ref().map_or(0.0, |m| m.high_priority_latency),
        verify_error_rate: derived.and_then(|m| m.verify_error_rate),
    };
    (row.get(0), headline)
}
