//! Group commit: the HTTP workers hand their reports to one writer thread, which
//! stores everything that arrived together in one transaction ([`batch`]) and
//! answers each worker after COMMIT. While one transaction commits, the next reports
//! queue up, so a busy server pays one commit (one WAL flush) for many reports.
//!
//! How long a batch waits for company ([`gather`]): a lone report does not wait
//! beyond what is already queued; when the last batch answered many workers a
//! moment ago, their next reports are on their way, and the batch waits for as many
//! while they keep coming, up to [`BUSY_WINDOW`] (closed-loop clients then share one
//! commit instead of splitting into waves that each pay one).
//!
//! A batch is four round trips whatever its size, on statements prepared once per
//! connection: BEGIN; lock the batch's team rows; store the rows and announce the
//! batch (one `NOTIFY` for all its reports, [`announce`](super::announce)); COMMIT.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use crossbeam_channel::{Receiver, Sender, bounded};
use postgres::Client;
use postgres::error::SqlState;
use serde_json::Value;

use super::admit::Admission;
use super::batch::{self, Failure, Numbered, Statements};
use super::feed::Feed;
use super::judge::NewestCache;
use super::{PgError, Target};
use crate::metrics::Metrics;
use crate::report::Report;
use crate::store::StoredReport;
use crate::team::TeamId;

/// Longest wait of a batch for the reports of the workers the last batch answered.
pub const BUSY_WINDOW: Duration = Duration::from_millis(5);
/// A batch waiting for expected reports stops when none came for this long.
const GAP: Duration = Duration::from_millis(2);
/// A batch started this soon after the last one answered expects its workers back.
const BUSY_AFTER: Duration = Duration::from_millis(20);
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
    /// Plausibility warnings about the report, one line each, as already judged.
    pub warnings: Vec<crate::report::plausibility::Warning>,
    /// The report's typed fields (their `value` null): the writer judges the report
    /// against the team's newest stored report, under the team's row lock, and adds
    /// the warnings to `warnings`. `None` for a report judged already (a migrated one).
    pub fields: Option<Box<Report>>,
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
    answer: Answer,
}

/// Where the writer puts a report's outcome for the worker that waits for it. The
/// worker sleeps on a condition variable: a channel's receiver spins and yields
/// first, which dozens of waiting workers turn into context switches on a busy
/// machine. A job dropped unanswered (the writer stopped) says so.
struct Answer(Option<Arc<Slot>>);

#[derive(Default)]
struct Slot {
    /// `None` while waiting; `Some(None)`: dropped unanswered.
    outcome: Mutex<Option<Option<Result<Appended, PgError>>>>,
    ready: Condvar,
}

impl Answer {
    fn give(mut self, result: Result<Appended, PgError>) {
        self.put(Some(result));
    }

    fn put(&mut self, outcome: Option<Result<Appended, PgError>>) {
        if let Some(slot) = self.0.take() {
            *slot.outcome.lock().expect("answer lock poisoned") = Some(outcome);
            slot.ready.notify_one();
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.put(None);
    }
}

impl Slot {
    /// The outcome; `None` when the writer dropped the job.
    fn wait(&self) -> Option<Result<Appended, PgError>> {
        let mut slot = self.outcome.lock().expect("answer lock poisoned");
        loop {
            if let Some(outcome) = slot.take() {
                return outcome;
            }
            slot = self.ready.wait(slot).expect("answer lock poisoned");
        }
    }
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
        let answers: Vec<Arc<Slot>> = reports
            .into_iter()
            .map(|report| {
                let slot = Arc::new(Slot::default());
                let answer = Answer(Some(Arc::clone(&slot)));
                if let Some(jobs) = &self.jobs {
                    // A job that cannot be sent is dropped, and so answered.
                    let _ = jobs.send(Job { report, answer });
                }
                slot
            })
            .collect();
        answers
            .iter()
            .map(|slot| slot.wait().unwrap_or_else(|| Err(stopped())))
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

/// What the writer thread keeps between batches.
struct State {
    session: Option<Session>,
    admission: Admission,
    newest: NewestCache,
}

/// The writer's connection and its prepared statements.
struct Session {
    client: Client,
    statements: Statements,
}

impl Session {
    fn open(target: &Target) -> Result<Session, PgError> {
        let mut client = target.connect()?;
        let statements =
            Statements::prepare(&mut client).map_err(|e| PgError::from_driver(&target.shown, e))?;
        Ok(Session { client, statements })
    }
}

fn run(target: &Target, queue: &Receiver<Job>, feed: &Feed, max_teams: usize) {
    let mut state = State {
        session: None,
        admission: Admission::new(max_teams),
        newest: NewestCache::default(),
    };
    let mut last: Option<(Instant, usize)> = None;
    while let Ok(first) = queue.recv() {
        let expected = match last {
            Some((answered, count)) if answered.elapsed() < BUSY_AFTER => count,
            _ => 1,
        };
        let mut batch = gather(first, queue, expected);
        let reports: Vec<&NewReport> = batch.iter().map(|job| &job.report).collect();
        let results = store_batch(target, &mut state, feed, &reports);
        let results: Vec<Result<Appended, PgError>> = batch
            .iter_mut()
            .zip(results)
            .map(|(job, result)| result.map(|numbered| appended(&mut job.report, numbered)))
            .collect();
        // The board learns of the batch before any worker answers 200, so a client
        // that reads right after its POST sees its report.
        if let Some(session) = state.session.as_mut() {
            for (job, result) in batch.iter().zip(&results) {
                if let Ok(appended) = result {
                    let metrics = &job.report.metrics;
                    feed.offer_own(&mut session.client, &target.shown, appended, metrics);
                }
            }
        }
        let count = batch.len();
        for (job, result) in batch.into_iter().zip(results) {
            job.answer.give(result);
        }
        last = Some((Instant::now(), count));
    }
}

/// A committed report as the board and the worker get it (its stats moved, not copied).
fn appended(report: &mut NewReport, numbered: Numbered) -> Appended {
    Appended {
        seq: numbered.seq as u64,
        stored: Arc::new(StoredReport {
            team_id: report.team_id.clone(),
            team_name: report.team_name.clone(),
            timestamp: numbered.timestamp,
            at: numbered.at,
            file_name: numbered.file_name,
            stats: std::mem::take(&mut report.stats),
            run: numbered.run,
            warnings: numbered.warnings,
        }),
    }
}

/// The first job plus whatever is queued, up to [`MAX_BATCH`]; while fewer than
/// `expected` are in, it waits for more as long as they keep coming (none for
/// [`GAP`] ends it), up to [`BUSY_WINDOW`] after the first.
fn gather(first: Job, queue: &Receiver<Job>, expected: usize) -> Vec<Job> {
    let mut batch = vec![first];
    let deadline = Instant::now() + BUSY_WINDOW;
    while batch.len() < MAX_BATCH {
        let job = match queue.try_recv() {
            Ok(job) => job,
            Err(_) if batch.len() >= expected => break,
            Err(_) => match queue.recv_deadline(deadline.min(Instant::now() + GAP)) {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        batch.push(job);
    }
    batch
}

/// Stores a batch, one result per report. A broken connection (or statements that
/// a schema change outdated) is replaced and the batch tried once more (nothing of
/// it was committed unless COMMIT itself failed, which is answered as unavailable:
/// never a 200 for an unknown outcome). A report the database refuses does not sink
/// the others: the batch is then stored one report per transaction.
fn store_batch(
    target: &Target,
    state: &mut State,
    feed: &Feed,
    batch: &[&NewReport],
) -> Vec<Result<Numbered, PgError>> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let opened = match state.session.take() {
            Some(s) if !s.client.is_closed() => Ok(s),
            _ => Session::open(target),
        };
        let mut s = match opened {
            Ok(s) => s,
            Err(e) => return batch.iter().map(|_| Err(e.clone())).collect(),
        };
        let kept = (&mut state.admission, &mut state.newest);
        match batch::transaction(&mut s.client, &s.statements, kept, feed.instance(), batch) {
            Ok(done) => {
                state.session = Some(s);
                let refused = || state.admission.refusal();
                return done.into_iter().map(|a| a.ok_or_else(refused)).collect();
            }
            Err(Failure::BeforeCommit(e)) if retried(&e) && attempts == 1 => continue,
            Err(Failure::BeforeCommit(e)) if e.code().is_some() && batch.len() > 1 => {
                state.session = Some(s);
                return batch
                    .iter()
                    .map(|report| store_batch(target, state, feed, &[*report]).remove(0))
                    .collect();
            }
            Err(Failure::Commit(e)) => {
                // Stored or not: the listener finds out (it skips our own NOTIFY).
                feed.suspect(batch.iter().map(|r| &r.team_id));
                return failed(target, state, s, e, batch.len());
            }
            Err(Failure::BeforeCommit(e)) => return failed(target, state, s, e, batch.len()),
        }
    }
}

/// `n` answers of a failed batch; the session is kept unless it broke.
fn failed(
    target: &Target,
    state: &mut State,
    session: Session,
    e: postgres::Error,
    n: usize,
) -> Vec<Result<Numbered, PgError>> {
    let error = PgError::from_driver(&target.shown, e);
    if !session.client.is_closed() && !error.is_unavailable() {
        state.session = Some(session);
    }
    (0..n).map(|_| Err(error.clone())).collect()
}

/// Whether a failure before COMMIT is worth a second try on a new connection: the
/// connection broke, or a prepared statement no longer fits the schema ("cached plan
/// must not change result type", after another instance migrated).
fn retried(e: &postgres::Error) -> bool {
    e.code()
        .is_none_or(|code| *code == SqlState::FEATURE_NOT_SUPPORTED)
}
