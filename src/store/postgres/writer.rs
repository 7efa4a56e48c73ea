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

use super::admit::Admission;
use super::feed::Feed;
use super::rows::{ReportRow, Rows};
use super::runs::RunState;
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
    pub warnings: Vec<crate::report::plausibility::Warning>,
    /// When and under which name; `None`: now, by the database's clock.
    pub arrival: Option<Arrival>,
    /// Where an imported report came from (JSON text), as its file says.
    pub source: Option<String>,
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
    /// Starts the writer; reports of new teams are refused once the database holds
    /// `max_teams` teams (`usize::MAX`: never).
    pub fn start(target: Target, feed: Arc<Feed>, max_teams: usize) -> Writer {
        let (jobs, queue) = bounded(QUEUE);
        let shown = target.shown.clone();
        let thread = std::thread::Builder::new()
            .name("pg-writer".into())
            .spawn(move || run(&target, &queue, &feed, max_teams))
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

fn run(target: &Target, queue: &Receiver<Job>, feed: &Feed, max_teams: usize) {
    let mut client: Option<Client> = None;
    let mut admission = Admission::new(max_teams);
    while let Ok(first) = queue.recv() {
        let batch = gather(first, queue);
        let reports: Vec<&NewReport> = batch.iter().map(|job| &job.report).collect();
        let results = store_batch(target, &mut client, &mut admission, &reports);
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
    admission: &mut Admission,
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
        match transaction(&mut c, admission, batch) {
            Ok(done) => {
                *client = Some(c);
                let refused = || admission.refusal();
                return done.into_iter().map(|a| a.ok_or_else(refused)).collect();
            }
            Err(Failure::BeforeCommit(e)) if e.code().is_none() && attempts == 1 => continue,
            Err(Failure::BeforeCommit(e)) if e.code().is_some() && batch.len() > 1 => {
                *client = Some(c);
                return batch
                    .iter()
                    .map(|report| store_batch(target, client, admission, &[*report]).remove(0))
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
              statement_timestamp(), visible, run, run_reports, run_best_qps,
              run_best_qps_time, run_best_latency, run_best_latency_time,
              last_elapsed, last_sent";

/// Stores the reports of `batch` that [`Admission`] lets in, in one transaction;
/// `None` for a report of a team refused.
fn transaction(
    client: &mut Client,
    admission: &mut Admission,
    batch: &[&NewReport],
) -> Result<Vec<Option<Appended>>, Failure> {
    let mut tx = client.transaction().map_err(Failure::BeforeCommit)?;
    let admitted = admission
        .check(&mut tx, batch)
        .map_err(Failure::BeforeCommit)?;
    let taken: Vec<&NewReport> = batch
        .iter()
        .zip(&admitted)
        .filter_map(|(report, ok)| ok.then_some(*report))
        .collect();
    let appended = if taken.is_empty() {
        Vec::new()
    } else {
        store_rows(&mut tx, &taken).map_err(Failure::BeforeCommit)?
    };
    tx.commit().map_err(Failure::Commit)?;
    admission.committed(taken.iter().map(|r| r.team_id.as_str()));
    let mut appended = appended.into_iter();
    Ok(admitted
        .iter()
        .map(|ok| if *ok { appended.next() } else { None })
        .collect())
}

/// Locks the batch's teams, numbers its reports and stores them (not committed).
fn store_rows(
    tx: &mut postgres::Transaction<'_>,
    batch: &[&NewReport],
) -> Result<Vec<Appended>, postgres::Error> {
    let mut teams: BTreeMap<&str, TeamBatch> = BTreeMap::new();
    for report in batch {
        teams
            .entry(report.team_id.as_str())
            .or_default()
            .newest_name = report.team_name.clone();
    }
    let ids: Vec<&str> = teams.keys().copied().collect();
    let names: Vec<&str> = teams.values().map(|t| t.newest_name.as_str()).collect();
    let rows = tx.query(LOCK_TEAMS, &[&ids, &names])?;
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
    rows.store(tx)?;
    Ok(appended)
}

/// One team's state while its reports of a batch are numbered.
#[derive(Default)]
pub(super) struct TeamBatch {
    pub newest_name: String,
    pub reports: i64,
    pub last_name: Option<(String, u32)>,
    pub first_timestamp: Option<String>,
    pub last_timestamp: String,
    pub last_at: Option<DateTime<FixedOffset>>,
    pub last_file_name: String,
    pub best_qps: Option<(f64, String)>,
    pub best_latency: Option<(f64, String)>,
    /// Rank, run and current-run records.
    pub runs: RunState,
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
        self.runs = RunState::load(row, 9);
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
        let placed = self.runs.next(&report.stats, qps, avg, &timestamp);
        ReportRow {
            report,
            seq: self.reports,
            placed,
            timestamp,
            at,
            file_name,
        }
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
