//! The rows of one batch's transaction: [`Rows`] gathers the columns of the teams
//! and reports as arrays, and [`Rows::store`] sends them in one statement.

use chrono::{DateTime, FixedOffset};
use postgres::Statement;

use super::announce;
use super::batch::{Numbered, TeamBatch};
use super::runs::{Placed, sent_column};
use super::writer::NewReport;
use crate::query::Record;
use crate::report::plausibility::Warning;

/// Updates the teams, inserts the reports and announces the batch, in one statement.
pub(super) const STORE: &str = "
    WITH updated AS (
        UPDATE teams SET team_name = u.team_name, reports = u.reports,
               first_timestamp = coalesce(teams.first_timestamp, u.first_timestamp),
               last_timestamp = u.last_timestamp, last_at = u.last_at,
               last_file_name = u.last_file_name,
               best_qps = u.best_qps, best_qps_time = u.best_qps_time,
               best_latency = u.best_latency, best_latency_time = u.best_latency_time,
               visible = u.visible, latest_seq = u.reports, run = u.run,
               run_reports = u.run_reports, run_best_qps = u.run_best_qps,
               run_best_qps_time = u.run_best_qps_time, run_best_latency = u.run_best_latency,
               run_best_latency_time = u.run_best_latency_time,
               last_elapsed = u.last_elapsed, last_sent = u.last_sent,
               updated_at = statement_timestamp()
        FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[],
                    $6::timestamptz[], $7::text[], $8::float8[], $9::text[],
                    $10::float8[], $11::text[], $28::int8[], $29::int4[], $30::int8[],
                    $31::float8[], $32::text[], $33::float8[], $34::text[],
                    $35::float8[], $36::int8[])
             AS u(team_id, team_name, reports, first_timestamp, last_timestamp, last_at,
                  last_file_name, best_qps, best_qps_time, best_latency, best_latency_time,
                  visible, run, run_reports, run_best_qps, run_best_qps_time,
                  run_best_latency, run_best_latency_time, last_elapsed, last_sent)
        WHERE teams.team_id = u.team_id
    ), stored AS (
        INSERT INTO reports (team_id, seq, team_name, file_name, timestamp, at,
                             qps, avg_latency, p99_latency, data_loss_rate, warnings, stats,
                             source, run, total_elapsed, total_sent)
        SELECT r.team_id, r.seq, r.team_name, r.file_name, r.ts, r.at,
               r.qps, r.avg, r.p99, r.loss, r.warnings::jsonb, r.stats::json,
               r.source::json, r.run, r.elapsed, r.sent
        FROM unnest($12::text[], $13::int8[], $14::text[], $15::text[], $16::text[],
                    $17::timestamptz[], $18::float8[], $19::float8[], $20::float8[],
                    $21::float8[], $22::text[], $23::text[], $24::text[],
                    $25::int4[], $26::float8[], $27::int8[])
             AS r(team_id, seq, team_name, file_name, ts, at, qps, avg, p99, loss,
                  warnings, stats, source, run, elapsed, sent)
    )
    SELECT count(pg_notify('benchboard', p)) FROM unnest($37::text[]) AS p";

/// A report numbered and named, ready to insert.
pub(super) struct ReportRow<'a> {
    pub report: &'a NewReport,
    pub seq: i64,
    pub timestamp: String,
    pub at: DateTime<FixedOffset>,
    pub file_name: String,
    pub placed: Placed,
    pub warnings: Vec<Warning>,
}

/// The columns of [`STORE`]'s arrays.
#[derive(Default)]
pub(super) struct Rows<'a> {
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
    stats: Vec<&'a str>,
    sources: Vec<Option<&'a str>>,
    runs: Vec<i32>,
    elapsed: Vec<f64>,
    sent: Vec<i64>,
    team_runs: TeamRuns,
    /// Per team of the batch: its id and the seqs of its first and last report.
    announced: Vec<(String, i64, i64)>,
}

/// The run columns of the teams' rows.
#[derive(Default)]
struct TeamRuns {
    visible: Vec<i64>,
    run: Vec<i32>,
    run_reports: Vec<i64>,
    best_qps: Vec<Option<f64>>,
    best_qps_times: Vec<Option<String>>,
    best_latency: Vec<Option<f64>>,
    best_latency_times: Vec<Option<String>>,
    last_elapsed: Vec<Option<f64>>,
    last_sent: Vec<Option<i64>>,
}

impl<'a> Rows<'a> {
    pub fn push(&mut self, row: ReportRow<'a>) -> Numbered {
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
            .push(serde_json::to_string(&row.warnings).expect("warnings serialize"));
        self.stats.push(&report.body);
        self.sources.push(report.source.as_deref());
        self.runs.push(row.placed.run);
        self.elapsed.push(row.placed.point.total_elapsed_s);
        self.sent.push(sent_column(&row.placed.point));
        Numbered {
            seq: row.seq,
            timestamp: row.timestamp,
            at: row.at,
            file_name: row.file_name,
            run: row.placed.run as u32,
            warnings: row.warnings,
        }
    }

    pub fn push_team(&mut self, id: &str, team: &TeamBatch<'_>) {
        self.announced
            .push((id.to_string(), team.first_seq, team.reports));
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
        let runs = &team.runs;
        let t = &mut self.team_runs;
        t.visible.push(runs.visible);
        t.run.push(runs.run());
        t.run_reports.push(runs.run_reports);
        let record = |r: &Option<Record>| r.as_ref().map(|r| (r.value, r.timestamp.clone()));
        let (qps, qps_time) = record(&runs.run_best.qps).unzip();
        t.best_qps.push(qps);
        t.best_qps_times.push(qps_time);
        let (latency, latency_time) = record(&runs.run_best.latency).unzip();
        t.best_latency.push(latency);
        t.best_latency_times.push(latency_time);
        let (elapsed, sent) = runs
            .last_point
            .map(|p| (p.total_elapsed_s, sent_column(&p)))
            .unzip();
        t.last_elapsed.push(elapsed);
        t.last_sent.push(sent);
    }

    /// Runs [`STORE`] (prepared as `statement`), announced as `instance`'s.
    pub fn store(
        &self,
        tx: &mut postgres::Transaction<'_>,
        statement: &Statement,
        instance: u64,
    ) -> Result<(), postgres::Error> {
        let payloads = announce::payloads(
            instance,
            self.announced
                .iter()
                .map(|(id, first, last)| (id.as_str(), *first, *last)),
        );
        tx.query_one(
            statement,
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
                &self.sources,
                &self.runs,
                &self.elapsed,
                &self.sent,
                &self.team_runs.visible,
                &self.team_runs.run,
                &self.team_runs.run_reports,
                &self.team_runs.best_qps,
                &self.team_runs.best_qps_times,
                &self.team_runs.best_latency,
                &self.team_runs.best_latency_times,
                &self.team_runs.last_elapsed,
                &self.team_runs.last_sent,
                &payloads,
            ],
        )
        .map(|_| ())
    }
}
