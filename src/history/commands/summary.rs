//! `summary TEAM`: the summary endpoint's numbers plus min / median / max over a range.

use std::io::{self, Write};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api;
use crate::history::cli::SummaryArgs;
use crate::history::source::Source;
use crate::history::table::{self, Align, Table};
use crate::history::{
    HistoryError, describe_range, fixed, known_team, show_opt_time, write_json, write_table,
};
use crate::query::TimeRange;
use crate::store::Headline;
use crate::team::TeamId;
use crate::timefmt;

/// Min, median and max of some numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (the median of an even count is the mean of the middle two).
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Spread {
            min: values[0],
            median,
            max: values[n - 1],
        })
    }
}

/// Min / median / max of the headline numbers of the reports in a range.
struct InRange {
    headlines: Vec<(String, Headline)>,
    qps: Spread,
    avg: Spread,
    p99: Spread,
}

impl InRange {
    /// `None` when the range holds no report.
    fn of(headlines: Vec<(String, Headline)>) -> Option<InRange> {
        let spread =
            |get: fn(&Headline) -> f64| Spread::of(headlines.iter().map(|(_, h)| get(h)).collect());
        Some(InRange {
            qps: spread(|h| h.qps)?,
            avg: spread(|h| h.avg_latency)?,
            p99: spread(|h| h.p99_latency)?,
            headlines,
        })
    }

    fn to_json(&self, range: &TimeRange) -> Value {
        let format_end =
            |at: &Option<DateTime<FixedOffset>>| at.as_ref().map(timefmt::format_timestamp);
        json!({
            "since": format_end(&range.since),
            "until": format_end(&range.until),
            "reports": self.headlines.len(),
            "first_report": self.headlines.first().map(|(t, _)| t),
            "last_report": self.headlines.last().map(|(t, _)| t),
            "qps": self.qps,
            "avg_latency": self.avg,
            "p99_latency": self.p99,
        })
    }
}

/// Runs the command, writing to `out`.
pub fn run(
    source: &Source,
    id: &TeamId,
    range: &TimeRange,
    _args: &SummaryArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let info = known_team(source, id)?;
    let Some(in_range) = InRange::of(source.headlines(id, range)?) else {
        return Err(HistoryError::NothingFound(format!(
            "team {id} has no reports{}",
            describe_range(range)
        )));
    };
    if json {
        let mut value = serde_json::to_value(&info).expect("summaries serialize");
        value["range"] = in_range.to_json(range);
        return write_json(out, &value);
    }
    write_lines(out, &info, range, in_range.headlines.len()).map_err(HistoryError::Stdout)?;
    write_table(out, &spread_table(&in_range))
}

/// The summary as `key value` lines, then an empty line.
fn write_lines(
    out: &mut impl Write,
    info: &api::Summary,
    range: &TimeRange,
    in_range: usize,
) -> io::Result<()> {
    let mut line = |key: &str, value: &str| writeln!(out, "{key:<16}{}", table::sanitize(value));
    line("team", &info.team_id)?;
    line("reports", &info.total_reports.to_string())?;
    line("first report", &show_opt_time(&info.first_report))?;
    line("last report", &show_opt_time(&info.last_report))?;
    line("data directory", &info.data_directory)?;
    line("recent files", &info.recent_files.join(", "))?;
    let range_text = describe_range(range);
    let range_text = if range_text.is_empty() {
        "all"
    } else {
        range_text.trim()
    };
    line("range", range_text)?;
    line("in range", &format!("{in_range} reports"))?;
    writeln!(out)
}

/// Min / median / max of QPS, average and P99 latency.
fn spread_table(in_range: &InRange) -> Table {
    let mut table = Table::new(&[
        ("", Align::Left),
        ("MIN", Align::Right),
        ("MEDIAN", Align::Right),
        ("MAX", Align::Right),
    ]);
    let rows = [
        ("QPS", in_range.qps, 1),
        ("AVG ms", in_range.avg, 2),
        ("P99 ms", in_range.p99, 2),
    ];
    for (name, s, decimals) in rows {
        table.row(vec![
            name.to_string(),
            fixed(s.min, decimals),
            fixed(s.median, decimals),
            fixed(s.max, decimals),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_count_is_mean_of_middle_two() {
        let s = Spread::of(vec![4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 4.0));
        assert_eq!(Spread::of(vec![5.0, 1.0, 3.0]).unwrap().median, 3.0);
        assert!(Spread::of(vec![]).is_none());
    }
}
