//! One batch's transaction: lock (and create) the batch's team rows in id order,
//! which also reads what the new rows depend on (each team's seq counter, newest
//! file name, records, run state and newest report) with the database's clock;
//! number, name and judge the reports; store them and announce the batch in one
//! statement ([`Rows::store`]); COMMIT. Locking a team's row orders its reports: seqs
//! of one team commit in increasing order, across instances too.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Local};
use postgres::{Client, Statement};

use super::admit::Admission;
use super::judge::{self, Newest, NewestCache};
use super::rows::{ReportRow, Rows};
use super::runs::RunState;
use super::writer::NewReport;
use crate::report::plausibility::{self, Warning};
use crate::timefmt;

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
              last_elapsed, last_sent, latest_seq";

/// The statements of a batch, prepared once per connection (parsed and planned
/// once, and one round trip each instead of two).
pub struct Statements {
    lock_teams: Statement,
    store: Statement,
    read_newest: Statement,
}

impl Statements {
    pub fn prepare(client: &mut Client) -> Result<Statements, postgres::Error> {
        Ok(Statements {
            lock_teams: client.prepare(LOCK_TEAMS)?,
            store: client.prepare(super::rows::STORE)?,
            read_newest: client.prepare(judge::READ_NEWEST)?,
        })
    }
}

/// What a committed report was given.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub seq: i64,
    pub timestamp: String,
    pub at: DateTime<FixedOffset>,
    pub file_name: String,
    pub run: u32,
    pub warnings: Vec<Warning>,
}

/// Why a transaction failed: before COMMIT (nothing stored) or at COMMIT (unknown).
pub enum Failure {
    BeforeCommit(postgres::Error),
    Commit(postgres::Error),
}

/// Stores the reports of `batch` that [`Admission`] lets in, in one transaction;
/// `None` for a report of a team refused.
pub fn transaction(
    client: &mut Client,
    statements: &Statements,
    (admission, newest): (&mut Admission, &mut NewestCache),
    instance: u64,
    batch: &[&NewReport],
) -> Result<Vec<Option<Numbered>>, Failure> {
    let mut tx = client.transaction().map_err(Failure::BeforeCommit)?;
    let admitted = admission
        .check(&mut tx, batch)
        .map_err(Failure::BeforeCommit)?;
    let taken: Vec<&NewReport> = batch
        .iter()
        .zip(&admitted)
        .filter_map(|(report, ok)| ok.then_some(*report))
        .collect();
    let (numbered, teams) = if taken.is_empty() {
        (Vec::new(), BTreeMap::new())
    } else {
        store_rows(&mut tx, statements, newest, instance, &taken).map_err(Failure::BeforeCommit)?
    };
    tx.commit().map_err(Failure::Commit)?;
    admission.committed(taken.iter().map(|r| r.team_id.as_str()));
    for (id, team) in teams {
        newest.committed(id, team.reports, team.newest);
    }
    let mut numbered = numbered.into_iter();
    Ok(admitted
        .iter()
        .map(|ok| if *ok { numbered.next() } else { None })
        .collect())
}

type Teams<'a> = BTreeMap<&'a str, TeamBatch<'a>>;

/// Locks the batch's teams, numbers and judges its reports and stores them (not
/// committed), announced as `instance`'s; the teams' states after the batch.
fn store_rows<'a>(
    tx: &mut postgres::Transaction<'_>,
    statements: &Statements,
    cache: &mut NewestCache,
    instance: u64,
    batch: &[&'a NewReport],
) -> Result<(Vec<Numbered>, Teams<'a>), postgres::Error> {
    let mut teams: Teams<'a> = BTreeMap::new();
    for report in batch {
        let team = teams.entry(report.team_id.as_str()).or_default();
        team.newest_name = report.team_name.clone();
        team.judges |= report.fields.is_some();
    }
    let ids: Vec<&str> = teams.keys().copied().collect();
    let names: Vec<&str> = teams.values().map(|t| t.newest_name.as_str()).collect();
    let rows = tx.query(&statements.lock_teams, &[&ids, &names])?;
    let mut now: Option<DateTime<FixedOffset>> = None;
    for row in &rows {
        let id: &str = row.get(0);
        let team = teams
            .get_mut(id)
            .expect("a locked row is a team of the batch");
        team.load(row, cache, id);
        now = Some(row.get(8));
    }
    read_newest(tx, statements, &mut teams)?;
    let now = now
        .expect("a batch has at least one team")
        .with_timezone(&Local);
    let mut rows = Rows::default();
    let numbered: Vec<Numbered> = batch
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
    rows.store(tx, &statements.store, instance)?;
    Ok((numbered, teams))
}

/// Reads the newest reports the cache did not hold, for the teams with reports to judge.
fn read_newest(
    tx: &mut postgres::Transaction<'_>,
    statements: &Statements,
    teams: &mut Teams<'_>,
) -> Result<(), postgres::Error> {
    let wanted: Vec<(&str, i64)> = teams
        .iter()
        .filter(|(_, team)| team.judges && matches!(team.newest, Newest::Unread))
        .filter_map(|(id, team)| Some((*id, team.latest_seq?)))
        .collect();
    let mut read = judge::read(tx, &statements.read_newest, &wanted)?;
    for (id, team) in teams.iter_mut() {
        if matches!(team.newest, Newest::Unread) && team.judges {
            team.newest = Newest::Fields(read.remove(*id).flatten().map(Cow::Owned));
        }
    }
    Ok(())
}

/// One team's state while its reports of a batch are numbered.
#[derive(Default)]
pub(super) struct TeamBatch<'a> {
    pub newest_name: String,
    /// The team's seq counter: the seq of the last report numbered.
    pub reports: i64,
    /// The seq of the batch's first report of the team.
    pub first_seq: i64,
    pub last_name: Option<(String, u32)>,
    pub first_timestamp: Option<String>,
    pub last_timestamp: String,
    pub last_at: Option<DateTime<FixedOffset>>,
    pub last_file_name: String,
    pub best_qps: Option<(f64, String)>,
    pub best_latency: Option<(f64, String)>,
    /// Rank, run and current-run records.
    pub runs: RunState,
    /// Whether a report of the batch is to be judged against the one before it.
    judges: bool,
    /// The seq of the newest report outside the trash, as locked.
    latest_seq: Option<i64>,
    newest: Newest<'a>,
}

impl<'a> TeamBatch<'a> {
    fn load(&mut self, row: &postgres::Row, cache: &mut NewestCache, id: &str) {
        self.reports = row.get(1);
        self.first_seq = self.reports + 1;
        let last_file: Option<String> = row.get(2);
        self.last_name = last_file.as_deref().and_then(split_name);
        self.first_timestamp = row.get(3);
        let pair = |value: Option<f64>, time: Option<String>| value.zip(time);
        self.best_qps = pair(row.get(4), row.get(5));
        self.best_latency = pair(row.get(6), row.get(7));
        self.runs = RunState::load(row, 9);
        self.latest_seq = row.get(18);
        self.newest = match self.latest_seq {
            None => Newest::Fields(None),
            Some(seq) => cache.take(id, seq).unwrap_or(Newest::Unread),
        };
    }

    /// Numbers, names and judges the next report of the team; its row in the batch.
    fn next(&mut self, report: &'a NewReport, now: &DateTime<Local>) -> ReportRow<'a> {
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
            warnings: self.judge(report),
            timestamp,
            at,
            file_name,
        }
    }

    /// The report's warnings: as given, or judged against the team's newest report
    /// (which it then becomes).
    fn judge(&mut self, report: &'a NewReport) -> Vec<Warning> {
        let Some(fields) = &report.fields else {
            self.newest = Newest::Stats(&report.stats);
            return report.warnings.clone();
        };
        let mut warnings = report.warnings.clone();
        warnings.extend(plausibility::check(fields, self.newest.fields().as_deref()));
        self.newest = Newest::Fields(Some(Cow::Borrowed(&**fields)));
        warnings
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
