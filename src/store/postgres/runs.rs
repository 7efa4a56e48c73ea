//! Runs on PostgreSQL, the same as the file store's (src/runs.rs): each
//! report's run is computed at insert under its team's row lock from the newest
//! report's run point, and the current run's count and best records are kept in the
//! team's row like the overall best. After the trash changed a team's reports,
//! [`recompute`] numbers its runs again and rebuilds the row's records.

use chrono::{DateTime, FixedOffset};
use postgres::Transaction;
use postgres::fallible_iterator::FallibleIterator;

use crate::query::{BestRecords, Record};
use crate::runs::{RunCounter, RunPoint};

/// Most rows changed per `UPDATE` while renumbering.
const UPDATE_CHUNK: usize = 10_000;

/// A team's run state while the reports of a batch are numbered.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    /// Reports outside the trash.
    pub visible: i64,
    counter: RunCounter,
    pub run_reports: i64,
    pub run_best: BestRecords,
    pub last_point: Option<RunPoint>,
}

/// A report's place: its run and run point.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub run: i32,
    pub point: RunPoint,
}

impl RunState {
    /// Reads `visible, run, run_reports, run_best_qps, run_best_qps_time,
    /// run_best_latency, run_best_latency_time, last_elapsed, last_sent` of the
    /// team's row, starting at column `first`.
    pub fn load(row: &postgres::Row, first: usize) -> RunState {
        let run: i32 = row.get(first + 1);
        let last_point = match (row.get(first + 7), row.get(first + 8)) {
            (Some(elapsed), Some(sent)) => Some(point(elapsed, sent)),
            _ => None,
        };
        RunState {
            visible: row.get(first),
            counter: RunCounter::resume(last_point, run.max(0) as u32),
            run_reports: row.get(first + 2),
            run_best: BestRecords {
                qps: record(row.get(first + 3), row.get(first + 4)),
                latency: record(row.get(first + 5), row.get(first + 6)),
            },
            last_point,
        }
    }

    /// Places the next report of the team (stats as parsed, headline numbers).
    pub fn next(
        &mut self,
        stats: &serde_json::Value,
        qps: f64,
        avg_latency: f64,
        timestamp: &str,
    ) -> Placed {
        self.next_point(
            clamped(RunPoint::loosely(stats)),
            qps,
            avg_latency,
            timestamp,
        )
    }

    fn next_point(&mut self, p: RunPoint, qps: f64, avg_latency: f64, timestamp: &str) -> Placed {
        let before = self.counter.current();
        let run = self.counter.next(p);
        if run != before {
            self.run_reports = 0;
            self.run_best = BestRecords::default();
        }
        self.run_reports += 1;
        self.run_best.update(qps, avg_latency, timestamp);
        self.visible += 1;
        self.last_point = Some(p);
        Placed {
            run: run as i32,
            point: p,
        }
    }

    /// The run of the newest report (0 before any).
    pub fn run(&self) -> i32 {
        self.counter.current() as i32
    }
}

fn record(value: Option<f64>, timestamp: Option<String>) -> Option<Record> {
    value
        .zip(timestamp)
        .map(|(value, timestamp)| Record { value, timestamp })
}

fn point(elapsed: f64, sent: i64) -> RunPoint {
    RunPoint {
        total_elapsed_s: elapsed,
        total_sent: sent.into(),
    }
}

/// The run point as the database keeps it (`total_sent` within int8).
fn clamped(p: RunPoint) -> RunPoint {
    point(p.total_elapsed_s, sent_column(&p))
}

/// `total_sent` of a run point as its `int8` column.
pub fn sent_column(p: &RunPoint) -> i64 {
    p.total_sent.clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

/// After the team's reports changed (trash, restore, reset): numbers runs again in
/// seq order, and rebuilds the team's count, newest report, first and last
/// timestamps, best and current-run records (under the team's row lock, which the
/// caller holds). Reads the team's headline columns once, a row at a time.
pub fn recompute(tx: &mut Transaction<'_>, team: &str) -> Result<(), postgres::Error> {
    let numbered = number(tx, team)?;
    let changed = &numbered.changed;
    for start in (0..changed.0.len()).step_by(UPDATE_CHUNK) {
        let end = (start + UPDATE_CHUNK).min(changed.0.len());
        tx.execute(
            "UPDATE reports SET run = u.run \
             FROM unnest($2::int8[], $3::int4[]) AS u(seq, run) \
             WHERE reports.team_id = $1 AND reports.seq = u.seq",
            &[&team, &&changed.0[start..end], &&changed.1[start..end]],
        )?;
    }
    update_team(tx, team, &numbered)
}

/// A team's reports numbered again: what changed, and what the team's row says.
struct Numbered {
    state: RunState,
    best: BestRecords,
    /// Seqs whose run changed, with the new runs.
    changed: (Vec<i64>, Vec<i32>),
    /// First and last timestamp, newest seq and its time.
    ends: Option<(String, String, i64, DateTime<FixedOffset>)>,
}

/// Reads the team's headline columns in seq order, a row at a time.
fn number(tx: &mut Transaction<'_>, team: &str) -> Result<Numbered, postgres::Error> {
    let mut rows = tx.query_raw(
        "SELECT seq, run, timestamp, qps, avg_latency, total_elapsed, total_sent, at \
         FROM reports WHERE team_id = $1 ORDER BY seq",
        [team],
    )?;
    let mut n = Numbered {
        state: RunState::default(),
        best: BestRecords::default(),
        changed: Default::default(),
        ends: None,
    };
    while let Some(row) = rows.next()? {
        let (seq, run): (i64, i32) = (row.get(0), row.get(1));
        let timestamp: String = row.get(2);
        let (qps, avg): (f64, f64) = (row.get(3), row.get(4));
        let placed = n
            .state
            .next_point(point(row.get(5), row.get(6)), qps, avg, &timestamp);
        n.best.update(qps, avg, &timestamp);
        if placed.run != run {
            n.changed.0.push(seq);
            n.changed.1.push(placed.run);
        }
        let first = n.ends.take().map_or_else(|| timestamp.clone(), |e| e.0);
        n.ends = Some((first, timestamp, seq, row.get(7)));
    }
    Ok(n)
}

/// Writes the team's row from its reports numbered again.
fn update_team(tx: &mut Transaction<'_>, team: &str, n: &Numbered) -> Result<(), postgres::Error> {
    let (first, last, latest_seq, last_at) = match n.ends.clone() {
        Some((first, last, seq, at)) => (Some(first), Some(last), Some(seq), Some(at)),
        None => (None, None, None, None),
    };
    let record = |r: &Option<Record>| r.as_ref().map(|r| (r.value, r.timestamp.clone())).unzip();
    let (best_qps, best_qps_time) = record(&n.best.qps);
    let (best_latency, best_latency_time) = record(&n.best.latency);
    let (run_qps, run_qps_time) = record(&n.state.run_best.qps);
    let (run_latency, run_latency_time) = record(&n.state.run_best.latency);
    let (last_elapsed, last_sent) = n
        .state
        .last_point
        .map(|p| (p.total_elapsed_s, sent_column(&p)))
        .unzip();
    tx.execute(
        "UPDATE teams SET visible = $2, latest_seq = $3, first_timestamp = $4, \
         last_timestamp = $5, last_at = coalesce($6, last_at), \
         best_qps = $7, best_qps_time = $8, best_latency = $9, best_latency_time = $10, \
         run = $11, run_reports = $12, run_best_qps = $13, run_best_qps_time = $14, \
         run_best_latency = $15, run_best_latency_time = $16, \
         last_elapsed = $17, last_sent = $18 WHERE team_id = $1",
        &[
            &team,
            &n.state.visible,
            &latest_seq,
            &first,
            &last,
            &last_at,
            &best_qps,
            &best_qps_time,
            &best_latency,
            &best_latency_time,
            &n.state.run(),
            &n.state.run_reports,
            &run_qps,
            &run_qps_time,
            &run_latency,
            &run_latency_time,
            &last_elapsed,
            &last_sent,
        ],
    )?;
    Ok(())
}
