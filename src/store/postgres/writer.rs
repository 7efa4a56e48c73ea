//! Group commit: the HTTP workers hand their reports to one writer thread, which
//! stores everything that arrived together in one transaction and answers each
//! worker after COMMIT. While one transaction commits, the next reports queue up, so
//! a busy server pays one commit (one WAL flush) for many reports; a lone report
//! waits at most [`GROUP_WINDOW`] for company.
//!
//! A transaction of a batch is four round trips whatever its size: BEGIN; lock (and
//! create) the batch's team rows in id order, which also reads each team's count,
//! newest file name and best records; one statement that updates the teams, inserts
//! the reports and `NOTIFY`s each; COMMIT. Locking a team's row orders its reports:
//! seqs of one team commit in increasing order, across instances too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Local};
use crossbeam_channel::{Receiver, Sender, bounded};
use postgres::Client;
use serde_json::Value;

use super::feed::Feed;
use super::{PgError, Target};
use crate::metrics::Metrics;
use crate::store::StoredReport;
use crate::team::TeamId;
use crate::timefmt;

/// How long the writer waits for more reports after the first of a batch.
pub const GROUP_WINDOW: Duration = Duration::from_millis(1);
/// Most reports in one transaction.
pub const MAX_BATCH: usize = 512;
/// Reports waiting for the writer at most (the workers wait beyond that).
const QUEUE: usize = 4096;

/// A validated report to store.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub team_id: TeamId,
    pub team_name: String,
    /// The report as sent (valid JSON), stored verbatim.
    pub body: String,
    /// The same report, parsed.
    pub stats: Value,
    pub metrics: Metrics,
    /// Plausibility warnings about the report, one line each.
    pub warnings: Vec<String>,
    /// When and under which name; `None`: now, by the database's clock.
    pub arrival: Option<Arrival>,
}

/// The time and file name of a report that arrived earlier (a migrated one).
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The timestamp as written in its file.
    pub timestamp: String,
    pub at: DateTime<FixedOffset>,
    pub file_name: String,
}

/// A committed report and its number in the team's history (1, 2, 3, ...).
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: u64,
    pub stored: Arc<StoredReport>,
}

struct Job {
    report: NewReport,
    answer: Sender<Result<Appended, PgError>>,
}

/// The writer thread and its queue; the thread ends when this is dropped.
pub struct Writer {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    target: String,
}

impl Writer {
    pub fn start(target: Target, feed: Arc<Feed>) -> Writer {
        let (jobs, queue) = bounded(QUEUE);
        let shown = target.shown.clone();
        let thread = std::thread::Builder::new()
            .name("pg-writer".into())
            .spawn(move || run(&target, &queue, &feed))
            .expect("spawning the PostgreSQL writer thread");
        Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            target: shown,
        }
    }

    /// Queues a report and waits until it is committed (or failed).
    pub fn append(&self, report: NewReport) -> Result<Appended, PgError> {
        self.append_all(vec![report])
            .pop()
            .expect("one answer per report")
    }

    /// Queues reports (in this order) and waits until each is committed or failed;
    /// they share transactions, up to [`MAX_BATCH`] a commit.
    pub fn append_all(&self, reports: Vec<NewReport>) -> Vec<Result<Appended, PgError>> {
        let stopped = || PgError::Unavailable {
            target: self.target.clone(),
            reason: "the writer thread has stopped".into(),
        };
        let answers: Vec<_> = reports
            .into_iter()
            .map(|report| {
                let (answer, result) = bounded(1);
                let sent = self
                    .jobs
                    .as_ref()
                    .is_some_and(|jobs| jobs.send(Job { report, answer }).is_ok());
                sent.then_some(result)
            })
            .collect();
        answers
            .into_iter()
            .map(|result| match result {
                Some(result) => result.recv().map_err(|_| stopped())?,
                None => Err(stopped()),
            })
            .collect()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(target: &Target, queue: &Receiver<Job>, feed: &Feed) {
    let mut client: Option<Client> = None;
    while let Ok(first) = queue.recv() {
        let batch = gather(first, queue);
        let reports: Vec<&NewReport> = batch.iter().map(|job| &job.report).collect();
        let results = store_batch(target, &mut client, &reports);
        // The board learns of the batch before any worker answers 200, so a client
        // that reads right after its POST sees its report.
        if let Some(client) = client.as_mut() {
            for (job, result) in batch.iter().zip(&results) {
                if let Ok(appended) = result {
                    feed.offer_own(client, &target.shown, appended, &job.report.metrics);
                }
            }
        }
        for (job, result) in batch.into_iter().zip(results) {
            let _ = job.answer.send(result);
        }
    }
}

/// The first job plus whatever arrives within [`GROUP_WINDOW`], up to [`MAX_BATCH`].
fn gather(first: Job, queue: &Receiver<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    let deadline = Instant::now() + GROUP_WINDOW;
    while batch.len() < MAX_BATCH {
        let job = match queue.try_recv() {
            Ok(job) => job,
            Err(_) => match queue.recv_deadline(deadline) {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        batch.push(job);
    }
    batch
}

/// Stores a batch, one result per report. A broken connection is replaced and the
/// batch tried once more (nothing of it was committed unless COMMIT itself failed,
/// which is answered as unavailable: never a 200 for an unknown outcome). A report
/// the database refuses does not sink the others: the batch is then stored one
/// report per transaction.
fn store_batch(
    target: &Target,
    client: &mut Option<Client>,
    batch: &[&NewReport],
) -> Vec<Result<Appended, PgError>> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let connected = match client.take() {
            Some(c) if !c.is_closed() => Ok(c),
            _ => target.connect(),
        };
        let mut c = match connected {
            Ok(c) => c,
            Err(e) => return batch.iter().map(|_| Err(e.clone())).collect(),
        };
        match transaction(&mut c, batch) {
            Ok(done) => {
                *client = Some(c);
                return done.into_iter().map(Ok).collect();
            }
            Err(Failure::BeforeCommit(e)) if e.code().is_none() && attempts == 1 => continue,
            Err(Failure::BeforeCommit(e)) if e.code().is_some() && batch.len() > 1 => {
                *client = Some(c);
                return batch
                    .iter()
                    .map(|report| store_batch(target, client, &[*report]).remove(0))
                    .collect();
            }
            Err(Failure::BeforeCommit(e) | Failure::Commit(e)) => {
                let error = PgError::from_driver(&target.shown, e);
                if !c.is_closed() && !error.is_unavailable() {
                    *client = Some(c);
                }
                return batch.iter().map(|_| Err(error.clone())).collect();
            }
        }
    }
}

enum Failure {
    BeforeCommit(postgres::Error),
    Commit(postgres::Error),
}

/// Locks (creating them) the batch's team rows, in id order, and reads what the new
/// rows depend on, with the database's clock.
const LOCK_TEAMS: &str = "
    INSERT INTO teams (team_id, team_name)
    SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1
    ON CONFLICT (team_id) DO UPDATE SET team_id = EXCLUDED.team_id
    RETURNING team_id, reports, last_file_name, first_timestamp,
              best_qps, best_qps_time, best_latency, best_latency_time,
              statement_timestamp()";

/// Updates the teams, inserts the reports and announces each, in one statement.
const STORE: &str = "
    WITH updated AS (
        UPDATE teams SET team_name = u.team_name, reports = u.reports,
               first_timestamp = coalesce(teams.first_timestamp, u.first_timestamp),
               last_timestamp = u.last_timestamp, last_at = u.last_at,
               last_file_name = u.last_file_name,
               best_qps = u.best_qps, best_qps_time = u.best_qps_time,
               best_latency = u.best_latency, best_latency_time = u.best_latency_time,
               updated_at = statement_timestamp()
        FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[],
                    $6::timestamptz[], $7::text[], $8::float8[], $9::text[],
                    $10::float8[], $11::text[])
             AS u(team_id, team_name, reports, first_timestamp, last_timestamp, last_at,
                  last_file_name, best_qps, best_qps_time, best_latency, best_latency_time)
        WHERE teams.team_id = u.team_id
    ), stored AS (
        INSERT INTO reports (team_id, seq, team_name, file_name, timestamp, at,
                             qps, avg_latency, p99_latency, data_loss_rate, warnings, stats)
        SELECT r.team_id, r.seq, r.team_name, r.file_name, r.ts, r.at,
               r.qps, r.avg, r.p99, r.loss, r.warnings::jsonb, r.stats::json
        FROM unnest($12::text[], $13::int8[], $14::text[], $15::text[], $16::text[],
                    $17::timestamptz[], $18::float8[], $19::float8[], $20::float8[],
                    $21::float8[], $22::text[], $23::text[])
             AS r(team_id, seq, team_name, file_name, ts, at, qps, avg, p99, loss,
                  warnings, stats)
        RETURNING team_id, seq
    )
    SELECT count(pg_notify('benchboard', team_id || ' ' || seq)) FROM stored";

fn transaction(client: &mut Client, batch: &[&NewReport]) -> Result<Vec<Appended>, Failure> {
    let mut tx = client.transaction().map_err(Failure::BeforeCommit)?;
    let mut teams: BTreeMap<&str, TeamBatch> = BTreeMap::new();
    for report in batch {
        teams
            .entry(report.team_id.as_str())
            .or_default()
            .newest_name = report.team_name.clone();
    }
    let ids: Vec<&str> = teams.keys().copied().collect();
    let names: Vec<&str> = teams.values().map(|t| t.newest_name.as_str()).collect();
    let rows = tx
        .query(LOCK_TEAMS, &[&ids, &names])
        .map_err(Failure::BeforeCommit)?;
    let mut now: Option<DateTime<FixedOffset>> = None;
    for row in &rows {
        let id: &str = row.get(0);
        let team = teams
            .get_mut(id)
            .expect("a locked row is a team of the batch");
        team.load(row);
        now = Some(row.get(8));
    }
    let now = now
        .expect("a batch has at least one team")
        .with_timezone(&Local);
    let mut rows = Rows::default();
    let appended: Vec<Appended> = batch
        .iter()
        .map(|report| {
            let team = teams
                .get_mut(report.team_id.as_str())
                .expect("every team was locked");
            rows.push(team.next(report, &now))
        })
        .collect();
    for (id, team) in &teams {
        rows.push_team(id, team);
    }
    rows.store(&mut tx).map_err(Failure::BeforeCommit)?;
    tx.commit().map_err(Failure::Commit)?;
    Ok(appended)
}

/// One team's state while its reports of a batch are numbered.
#[derive(Default)]
struct TeamBatch {
    newest_name: String,
    reports: i64,
    last_name: Option<(String, u32)>,
    first_timestamp: Option<String>,
    last_timestamp: String,
    last_at: Option<DateTime<FixedOffset>>,
    last_file_name: String,
    best_qps: Option<(f64, String)>,
    best_latency: Option<(f64, String)>,
}

impl TeamBatch {
    fn load(&mut self, row: &postgres::Row) {
        self.reports = row.get(1);
        let last_file: Option<String> = row.get(2);
        self.last_name = last_file.as_deref().and_then(split_name);
        self.first_timestamp = row.get(3);
        let pair = |value: Option<f64>, time: Option<String>| value.zip(time);
        self.best_qps = pair(row.get(4), row.get(5));
        self.best_latency = pair(row.get(6), row.get(7));
    }

    /// Numbers and names the next report of the team; its row in the batch.
    fn next<'a>(&mut self, report: &'a NewReport, now: &DateTime<Local>) -> ReportRow<'a> {
        self.reports += 1;
        let (timestamp, at, file_name) = match &report.arrival {
            Some(arrival) => (
                arrival.timestamp.clone(),
                arrival.at,
                arrival.file_name.clone(),
            ),
            None => {
                let (stem, seq) = next_name(&self.last_name, &timefmt::file_stem(now));
                let name = timefmt::file_name(&stem, seq);
                self.last_name = Some((stem, seq));
                let at = now.fixed_offset();
                (timefmt::format_timestamp(&at), at, name)
            }
        };
        let (qps, avg) = (report.metrics.qps, report.metrics.avg_latency);
        if self.best_qps.as_ref().is_none_or(|(best, _)| qps > *best) {
            self.best_qps = Some((qps, timestamp.clone()));
        }
        if avg > 0.0
            && self
                .best_latency
                .as_ref()
                .is_none_or(|(best, _)| avg < *best)
        {
            self.best_latency = Some((avg, timestamp.clone()));
        }
        self.first_timestamp
            .get_or_insert_with(|| timestamp.clone());
        self.last_timestamp = timestamp.clone();
        self.last_at = Some(at);
        self.last_file_name = file_name.clone();
        if report.arrival.is_some() {
            self.last_name = split_name(&file_name).or(self.last_name.take());
        }
        ReportRow {
            report,
            seq: self.reports,
            timestamp,
            at,
            file_name,
        }
    }
}

/// A report numbered and named, ready to insert.
struct ReportRow<'a> {
    report: &'a NewReport,
    seq: i64,
    timestamp: String,
    at: DateTime<FixedOffset>,
    file_name: String,
}

/// The columns of [`STORE`]'s arrays.
#[derive(Default)]
struct Rows {
    team_ids: Vec<String>,
    team_names: Vec<String>,
    team_reports: Vec<i64>,
    first_timestamps: Vec<Option<String>>,
    last_timestamps: Vec<String>,
    last_ats: Vec<DateTime<FixedOffset>>,
    last_file_names: Vec<String>,
    best_qps: Vec<Option<f64>>,
    best_qps_times: Vec<Option<String>>,
    best_latency: Vec<Option<f64>>,
    best_latency_times: Vec<Option<String>>,
    report_teams: Vec<String>,
    seqs: Vec<i64>,
    names: Vec<String>,
    file_names: Vec<String>,
    timestamps: Vec<String>,
    ats: Vec<DateTime<FixedOffset>>,
    qps: Vec<f64>,
    avg: Vec<f64>,
    p99: Vec<f64>,
    loss: Vec<f64>,
    warnings: Vec<String>,
    stats: Vec<String>,
}

impl Rows {
    fn push(&mut self, row: ReportRow<'_>) -> Appended {
        let report = row.report;
        let m = &report.metrics;
        self.report_teams.push(report.team_id.as_str().to_string());
        self.seqs.push(row.seq);
        self.names.push(report.team_name.clone());
        self.file_names.push(row.file_name.clone());
        self.timestamps.push(row.timestamp.clone());
        self.ats.push(row.at);
        self.qps.push(m.qps);
        self.avg.push(m.avg_latency);
        self.p99.push(m.p99_latency);
        self.loss.push(m.data_loss_rate);
        self.warnings
            .push(serde_json::to_string(&report.warnings).expect("strings serialize"));
        self.stats.push(report.body.clone());
        Appended {
            seq: row.seq as u64,
            stored: Arc::new(StoredReport {
                team_id: report.team_id.clone(),
                team_name: report.team_name.clone(),
                timestamp: row.timestamp,
                at: row.at,
                file_name: row.file_name,
                stats: report.stats.clone(),
            }),
        }
    }

    fn push_team(&mut self, id: &str, team: &TeamBatch) {
        self.team_ids.push(id.to_string());
        self.team_names.push(team.newest_name.clone());
        self.team_reports.push(team.reports);
        self.first_timestamps.push(team.first_timestamp.clone());
        self.last_timestamps.push(team.last_timestamp.clone());
        self.last_ats
            .push(team.last_at.expect("a team of the batch has a report"));
        self.last_file_names.push(team.last_file_name.clone());
        let (qps, qps_time) = team.best_qps.clone().unzip();
        self.best_qps.push(qps);
        self.best_qps_times.push(qps_time);
        let (latency, latency_time) = team.best_latency.clone().unzip();
        self.best_latency.push(latency);
        self.best_latency_times.push(latency_time);
    }

    fn store(&self, tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
        tx.query_one(
            STORE,
            &[
                &self.team_ids,
                &self.team_names,
                &self.team_reports,
                &self.first_timestamps,
                &self.last_timestamps,
                &self.last_ats,
                &self.last_file_names,
                &self.best_qps,
                &self.best_qps_times,
                &self.best_latency,
                &self.best_latency_times,
                &self.report_teams,
                &self.seqs,
                &self.names,
                &self.file_names,
                &self.timestamps,
                &self.ats,
                &self.qps,
                &self.avg,
                &self.p99,
                &self.loss,
                &self.warnings,
                &self.stats,
            ],
        )
        .map(|_| ())
    }
}

/// `(stem, seq)` of a report file name.
fn split_name(name: &str) -> Option<(String, u32)> {
    let (_, seq) = timefmt::parse_file_name(name)?;
    Some((name[..19].to_string(), seq))
}

/// The next file name after `last`: the stem of now, or — when the clock has not
/// moved past the last name (same millisecond, a clock stepped back, or another
/// instance's name) — the last stem with the next sequence number.
fn next_name(last: &Option<(String, u32)>, now_stem: &str) -> (String, u32) {
    match last {
        Some((stem, seq)) if stem.as_str() >= now_stem => (stem.clone(), seq + 1),
        _ => (now_stem.to_string(), 0),
    }
}
