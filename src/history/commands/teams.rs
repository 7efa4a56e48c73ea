//! `teams`: one row per team with its latest numbers and best records, overall and
//! in its current run.

use std::io::Write;

use crate::history::source::Source;
use crate::history::table::{Align, Table};
use crate::history::{HistoryError, fixed, opt_fixed, show_opt_time, write_json, write_table};

/// Runs the command, writing to `out`.
pub fn run(source: &Source, json: bool, out: &mut impl Write) -> Result<(), HistoryError> {
    let teams = source.teams()?;
    if teams.is_empty() {
        return Err(HistoryError::NothingFound(
            "no team has any report yet".into(),
        ));
    }
    if json {
        return write_json(out, &teams);
    }
    let mut table = Table::new(&[
        ("TEAM", Align::Left),
        ("NAME", Align::Left),
        ("REPORTS", Align::Right),
        ("FIRST", Align::Left),
        ("LAST", Align::Left),
        ("QPS", Align::Right),
        ("AVG ms", Align::Right),
        ("P99 ms", Align::Right),
        ("FAIL %", Align::Right),
        ("BEST QPS", Align::Right),
        ("AT", Align::Left),
        ("BEST AVG ms", Align::Right),
        ("AT", Align::Left),
        ("RUN", Align::Right),
        ("RUN BEST QPS", Align::Right),
        ("RUN BEST AVG ms", Align::Right),
    ]);
    for t in &teams {
        table.row(vec![
            t.team_id.clone(),
            t.team_name.clone(),
            t.reports.to_string(),
            show_opt_time(&t.first_report),
            show_opt_time(&t.last_report),
            fixed(t.qps, 1),
            fixed(t.avg_latency, 2),
            fixed(t.p99_latency, 2),
            fixed(t.data_loss_rate, 2),
            opt_fixed(t.best.best_qps, 1),
            show_opt_time(&t.best.best_qps_time),
            opt_fixed(t.best.best_latency, 2),
            show_opt_time(&t.best.best_latency_time),
            t.run.to_string(),
            opt_fixed(t.run_best.best_qps, 1),
            opt_fixed(t.run_best.best_latency, 2),
        ]);
    }
    write_table(out, &table)
}
