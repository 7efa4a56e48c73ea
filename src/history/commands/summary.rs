//! `summary TEAM`: the summary endpoint's numbers plus min / median / max over a range.

use std::io::{self, Write};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::json;

use crate::history::cli::SummaryArgs;
use crate::history::source::Source;
use crate::history::table::{self, Align, Table};
use crate::history::{
    HistoryError, describe_range, fixed, known_team, show_opt_time, write_json, write_table,
};
use crate::query::TimeRange;
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
    let headlines = source.headlines(id, range)?;
    let spread = |get: fn(&crate::store::Headline) -> f64| {
        Spread::of(headlines.iter().map(|(_, h)| get(h)).collect())
    };
    let (Some(qps), Some(avg), Some(p99)) = (
        spread(|h| h.qps),
        spread(|h| h.avg_latency),
        spread(|h| h.p99_latency),
    ) else {
        return Err(HistoryError::NothingFound(format!(
            "team {id} has no reports{}",
            describe_range(range)
        )));
    };
    let format_end =
        |at: &Option<DateTime<FixedOffset>>| at.as_ref().map(timefmt::format_timestamp);
    let in_range = json!({
        "since": format_end(&range.since),
        "until": format_end(&range.until),
        "reports": headlines.len(),
        "first_report": headlines.first().map(|(t, _)| t),
        "last_report": headlines.last().map(|(t, _)| t),
        "qps": qps,
        "avg_latency": avg,
        "p99_latency": p99,
    });
    if json {
        let mut value = serde_json::to_value(&info).expect("summaries serialize");
        value["range"] = in_range;
        return write_json(out, &value);
    }
    let line = |out: &mut dyn Write, key: &str, value: &str| -> io::Result<()> {
        writeln!(out, "{key:<16}{}", table::sanitize(value))
    };
    let mut lines = || -> io::Result<()> {
        line(out, "team", id.as_str())?;
        line(out, "reports", &info.total_reports.to_string())?;
        line(out, "first report", &show_opt_time(&info.first_report))?;
        line(out, "last report", &show_opt_time(&info.last_report))?;
        line(out, "data directory", &info.data_directory)?;
        line(out, "recent files", &info.recent_files.join(", "))?;
        let range_text = describe_range(range);
        line(
            out,
            "range",
            if range_text.is_empty() {
                "all"
            } else {
                range_text.trim()
            },
        )?;
        line(out, "in range", &format!("{} reports", headlines.len()))?;
        writeln!(out)
    };
    lines().map_err(HistoryError::Stdout)?;
    let mut table = Table::new(&[
        ("", Align::Left),
        ("MIN", Align::Right),
        ("MEDIAN", Align::Right),
        ("MAX", Align::Right),
    ]);
    for (name, s, decimals) in [("QPS", qps, 1), ("AVG ms", avg, 2), ("P99 ms", p99, 2)] {
        table.row(vec![
            name.to_string(),
            fixed(s.min, decimals),
            fixed(s.median, decimals),
            fixed(s.max, decimals),
        ]);
    }
    write_table(out, &table)
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
