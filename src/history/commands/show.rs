//! `show TEAM`: a team's reports, newest first, a page at a time.

use std::io::Write;

use serde_json::{Value, json};

use crate::history::cli::ShowArgs;
use crate::history::contest::ContestRules;
use crate::history::source::Source;
use crate::history::table::{Align, Table};
use crate::history::{
    HistoryError, describe_range, fixed, known_team, show_time, write_json, write_table,
};
use crate::query::{ReportRow, TimeRange};
use crate::team::TeamId;

/// Runs the command, writing to `out`.
pub fn run(
    source: &Source,
    id: &TeamId,
    range: &TimeRange,
    args: &ShowArgs,
    (contest, json): (&ContestRules, bool),
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    if args.limit == 0 {
        return Err(HistoryError::Usage("--limit must be at least 1".into()));
    }
    known_team(source, id)?;
    let (total, rows) = source.page(id, range, args.offset, args.limit)?;
    if total == 0 {
        return Err(HistoryError::NothingFound(format!(
            "team {id} has no reports{}",
            describe_range(range)
        )));
    }
    if rows.is_empty() {
        return Err(HistoryError::NothingFound(format!(
            "team {id} has {total} reports{}; --offset {} skips them all",
            describe_range(range),
            args.offset
        )));
    }
    if json {
        let history: Vec<Value> = rows
            .iter()
            .map(|row| {
                let mut entry = row.to_json();
                if contest.after_end(&row.timestamp) {
                    entry["after_end"] = Value::Bool(true);
                }
                entry
            })
            .collect();
        return write_json(
            out,
            &json!({
                "team_id": id.as_str(),
                "total": total,
                "offset": args.offset,
                "limit": args.limit,
                "history": history,
            }),
        );
    }
    write_table(out, &reports_table(&rows, contest))?;
    writeln!(
        out,
        "reports {}-{} of {total}{}, newest first",
        args.offset + 1,
        args.offset + rows.len(),
        describe_range(range)
    )
    .map_err(HistoryError::Stdout)
}

/// The table; a report after the end of the contest has `(after the end)` after its time.
fn reports_table(rows: &[ReportRow], contest: &ContestRules) -> Table {
    let mut table = Table::new(&[
        ("TIME", Align::Left),
        ("RUN", Align::Right),
        ("QPS", Align::Right),
        ("AVG ms", Align::Right),
        ("P99 ms", Align::Right),
        ("FAIL %", Align::Right),
        ("ELAPSED s", Align::Right),
        ("SENT", Align::Right),
        ("COMPLETED", Align::Right),
        ("ERRORS", Align::Right),
        ("PENDING", Align::Right),
        ("WARNINGS", Align::Left),
    ]);
    for row in rows {
        let r = &row.report;
        table.row(vec![
            match contest.after_end(&row.timestamp) {
                true => format!("{} (after the end)", show_time(&row.timestamp)),
                false => show_time(&row.timestamp),
            },
            row.run.to_string(),
            fixed(row.metrics.qps, 1),
            fixed(row.metrics.avg_latency, 2),
            fixed(row.metrics.p99_latency, 2),
            fixed(row.metrics.data_loss_rate, 2),
            fixed(r.total_elapsed_s, 1),
            r.total_sent.to_string(),
            r.total_ops.to_string(),
            r.total_errors.to_string(),
            r.pending.to_string(),
            warnings(row),
        ]);
    }
    table
}

/// `code (field)` of each warning, comma-separated; `-` without any.
fn warnings(row: &ReportRow) -> String {
    if row.warnings.is_empty() {
        return "-".into();
    }
    let listed: Vec<String> = row
        .warnings
        .iter()
        .map(|w| format!("{} ({})", w.code.as_str(), w.field))
        .collect();
    listed.join(", ")
}
