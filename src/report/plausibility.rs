//! Plausibility checks: what a well-formed report says that cannot be quite true.
//!
//! The original tool stored every report whose shape was right, and its users' tools
//! and tests rely on that (its own system test posts `totalErrors: -5`). So nothing
//! here refuses a report: each finding is a [`Warning`] with a code, the field path
//! it concerns and a sentence, returned in the POST answer and kept with the report.
//!
//! Only the typed fields are read (a report of `Report::fields_of` will do).
//! Two checks need the team's previous report ("a cumulative counter went down"
//! and, through [`crate::runs`], whether a new run started): [`check`] takes it.

use serde::{Deserialize, Serialize};

use super::{Count, HIGH_PRIORITY_OTHER_COUNTS, LatencyDistribution, Report};
use crate::metrics::percentile_ms;
use crate::runs::{RunPoint, starts_new_run};

/// Most warnings one report keeps; past it, the last one says how many were left out.
/// A report has about 130 counts at most, so a hostile one stays bounded anyway,
/// but an index entry should stay small.
pub const MAX_WARNINGS: usize = 16;

/// Largest integer JavaScript (and so the dashboard) shows exactly: 2^53.
pub const JS_EXACT_LIMIT: Count = 1 << 53;

/// A latency distribution's buckets and its kind's operation count are "far" apart
/// when one is more than this many times the other. The original tool's own data
/// (tests/fixtures/original-data) has bucket sums from 0.5 to 1.9 times the
/// operations, since its buckets cover a recent window: only beyond that is it news.
pub const BUCKETS_FACTOR: f64 = 3.0;

/// ... and only once the larger of the two reaches this, so a run's first seconds
/// (a handful of requests) say nothing.
pub const BUCKETS_MIN_COUNT: Count = 100;

/// `avgCompletedQPS` is "far" from `totalOps / totalElapsed` when they differ by
/// more than this share of the larger (real tools agree within 3 %)...
pub const QPS_TOLERANCE: f64 = 0.25;

/// ... and by more than this many requests per second.
pub const QPS_MIN_DIFFERENCE: f64 = 1.0;

/// What a warning is about; serialized in snake_case (`negative_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// A count below zero.
    NegativeCount,
    /// A count whose magnitude is beyond 2^53: JavaScript shows it rounded.
    BeyondJsPrecision,
    /// `totalOps + pending` exceeds `totalSent`.
    MoreDoneThanSent,
    /// A cumulative counter is lower than in the team's previous report of the run.
    CounterWentDown,
    /// A kind's buckets sum far from its operation count.
    BucketsDisagree,
    /// `avgCompletedQPS` is far from `totalOps / totalElapsed`.
    QpsDisagrees,
    /// A distribution's `avg` lies outside `[min, max]`.
    AvgOutsideRange,
    /// The P99 derived from the buckets is below the distribution's average.
    P99BelowAverage,
    /// More warnings than [`MAX_WARNINGS`]; this one says how many were left out.
    MoreWarnings,
}

impl WarningCode {
    /// The code as serialized (`negative_count`).
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::NegativeCount => "negative_count",
            WarningCode::BeyondJsPrecision => "beyond_js_precision",
            WarningCode::MoreDoneThanSent => "more_done_than_sent",
            WarningCode::CounterWentDown => "counter_went_down",
            WarningCode::BucketsDisagree => "buckets_disagree",
            WarningCode::QpsDisagrees => "qps_disagrees",
            WarningCode::AvgOutsideRange => "avg_outside_range",
            WarningCode::P99BelowAverage => "p99_below_average",
            WarningCode::MoreWarnings => "more_warnings",
        }
    }
}

/// One finding about one field of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub code: WarningCode,
    /// Path of the field concerned, as in validation errors (`totalErrors`,
    /// `latencyAnalysis.sensorData.buckets[1]`).
    pub field: String,
    /// One English sentence saying what is implausible, with the numbers.
    pub message: String,
}

impl Warning {
    fn new(code: WarningCode, field: impl Into<String>, message: impl Into<String>) -> Warning {
        Warning {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every plausibility warning of `report`, given the team's previous report (of any
/// run; the counter comparison is skipped when `report` starts a new run).
/// At most [`MAX_WARNINGS`], in a fixed order: counts, totals, counters, kinds.
pub fn check(report: &Report, previous: Option<&Report>) -> Vec<Warning> {
    let mut out = Vec::new();
    count_ranges(report, &mut out);
    totals(report, &mut out);
    if let Some(previous) = previous
        && !starts_new_run(RunPoint::of(previous), RunPoint::of(report))
    {
        counters_went_down(report, previous, &mut out);
    }
    qps_agrees(report, &mut out);
    for (kind, dist) in &report.latency {
        distribution(report, kind, dist, &mut out);
    }
    truncate(out)
}

fn truncate(mut out: Vec<Warning>) -> Vec<Warning> {
    if out.len() > MAX_WARNINGS {
        let left_out = out.len() - (MAX_WARNINGS - 1);
        out.truncate(MAX_WARNINGS - 1);
        out.push(Warning::new(
            WarningCode::MoreWarnings,
            "",
            if left_out == 1 {
                "1 more warning about this report is not listed".to_string()
            } else {
                format!("{left_out} more warnings about this report are not listed")
            },
        ));
    }
    out
}

/// Negative counts and counts JavaScript cannot show exactly, field by field.
fn count_ranges(report: &Report, out: &mut Vec<Warning>) {
    for (field, count) in count_fields(report) {
        if count < 0 {
            out.push(Warning::new(
                WarningCode::NegativeCount,
                &field,
                format!("{field} is {count}: a count cannot be negative"),
            ));
        }
        if count.abs() > JS_EXACT_LIMIT {
            out.push(Warning::new(
                WarningCode::BeyondJsPrecision,
                &field,
                format!(
                    "{field} is {count}, beyond 2^53: JavaScript (the dashboard) shows it rounded"
                ),
            ));
        }
    }
}

/// Every count of the report with its path, the optional ones included.
fn count_fields(report: &Report) -> Vec<(String, Count)> {
    let mut fields: Vec<(String, Count)> = vec![
        ("totalSent".into(), report.total_sent),
        ("totalOps".into(), report.total_ops),
        ("totalErrors".into(), report.total_errors),
        (
            "totalSaveDelayErrors".into(),
            report.total_save_delay_errors,
        ),
        ("pending".into(), report.pending),
    ];
    for (kind, counts) in &report.operations {
        fields.push((format!("operations.{kind}.operations"), counts.operations));
        fields.push((format!("operations.{kind}.errors"), counts.errors));
    }
    if let Some(high) = &report.high_priority {
        fields.push((
            "highPriorityStats.sensorDataCount".into(),
            high.sensor_data_count,
        ));
        fields.push(("highPriorityStats.totalCount".into(), high.total_count));
        for (name, count) in HIGH_PRIORITY_OTHER_COUNTS.iter().zip(high.other_counts) {
            if let Some(count) = count {
                fields.push((format!("highPriorityStats.{name}"), count));
            }
        }
    }
    for (kind, dist) in &report.latency {
        let path = format!("latencyAnalysis.{kind}");
        for (i, &count) in dist.buckets.iter().enumerate() {
            fields.push((format!("{path}.buckets[{i}]"), count));
        }
        if let Some(count) = dist.high_priority_count {
            fields.push((format!("{path}.highPriorityCount"), count));
        }
        if let Some((buckets, sent)) = &dist.high_priority_buckets {
            for (i, &count) in buckets.iter().take(*sent).enumerate() {
                fields.push((format!("{path}.highPriorityBuckets[{i}]"), count));
            }
        }
    }
    fields
}

fn totals(report: &Report, out: &mut Vec<Warning>) {
    let done = report.total_ops + report.pending;
    if done > report.total_sent {
        out.push(Warning::new(
            WarningCode::MoreDoneThanSent,
            "totalOps",
            format!(
                "totalOps + pending = {done} exceeds totalSent = {}: more requests finished or in flight than were sent",
                report.total_sent
            ),
        ));
    }
}

/// The counters a tool only ever adds to within one run. (Not the buckets: the
/// original tool's buckets cover a recent window and go down between reports.)
fn cumulative_counters(report: &Report) -> Vec<(String, Count)> {
    let mut fields: Vec<(String, Count)> = vec![
        ("totalSent".into(), report.total_sent),
        ("totalOps".into(), report.total_ops),
        ("totalErrors".into(), report.total_errors),
        (
            "totalSaveDelayErrors".into(),
            report.total_save_delay_errors,
        ),
    ];
    for (kind, counts) in &report.operations {
        fields.push((format!("operations.{kind}.operations"), counts.operations));
        fields.push((format!("operations.{kind}.errors"), counts.errors));
    }
    fields
}

fn counters_went_down(report: &Report, previous: &Report, out: &mut Vec<Warning>) {
    let before = cumulative_counters(previous);
    for (field, now) in cumulative_counters(report) {
        let Some((_, was)) = before.iter().find(|(f, _)| *f == field) else {
            continue;
        };
        if now < *was {
            out.push(Warning::new(
                WarningCode::CounterWentDown,
                &field,
                format!("{field} went down from {was} to {now} since the team's previous report of this run"),
            ));
        }
    }
}

fn qps_agrees(report: &Report, out: &mut Vec<Warning>) {
    // Under a second the ratio says little; the first report often comes earlier.
    if report.total_elapsed_s < 1.0 {
        return;
    }
    let expected = report.total_ops as f64 / report.total_elapsed_s;
    let sent = report.performance.avg_completed_qps;
    let difference = (sent - expected).abs();
    if difference > QPS_MIN_DIFFERENCE
        && difference > QPS_TOLERANCE * sent.abs().max(expected.abs())
    {
        out.push(Warning::new(
            WarningCode::QpsDisagrees,
            "performanceMetrics.avgCompletedQPS",
            format!("avgCompletedQPS is {sent}, far from totalOps / totalElapsed = {expected:.3}"),
        ));
    }
}

fn distribution(report: &Report, kind: &str, dist: &LatencyDistribution, out: &mut Vec<Warning>) {
    let path = format!("latencyAnalysis.{kind}");
    let bucket_sum: Count = dist.buckets.iter().sum();
    if let Some((_, counts)) = report.operations.iter().find(|(k, _)| *k == kind) {
        let (small, large) = if bucket_sum < counts.operations {
            (bucket_sum, counts.operations)
        } else {
            (counts.operations, bucket_sum)
        };
        if large >= BUCKETS_MIN_COUNT && (small as f64) * BUCKETS_FACTOR < large as f64 {
            out.push(Warning::new(
                WarningCode::BucketsDisagree,
                format!("{path}.buckets"),
                format!(
                    "the buckets of {kind} sum to {bucket_sum}, far from its {} operations (operations.{kind}.operations)",
                    counts.operations
                ),
            ));
        }
    }
    // Rounding in the tool's own arithmetic is not news.
    let slack = 1e-6 * dist.max_ms.abs().max(1.0);
    if dist.avg_ms < dist.min_ms - slack || dist.avg_ms > dist.max_ms + slack {
        out.push(Warning::new(
            WarningCode::AvgOutsideRange,
            format!("{path}.avg"),
            format!(
                "avg {} ms of {kind} lies outside [min {}, max {}]",
                dist.avg_ms, dist.min_ms, dist.max_ms
            ),
        ));
    }
    let p99 = percentile_ms(&dist.buckets, 0.99);
    if bucket_sum > 0 && p99 + slack < dist.avg_ms {
        out.push(Warning::new(
            WarningCode::P99BelowAverage,
            format!("{path}.buckets"),
            format!(
                "the P99 of {kind} from its buckets ({p99:.3} ms) is below its average ({} ms)",
                dist.avg_ms
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = include_str!("../../tests/fixtures/valid/minimal-12-buckets.json");

    fn report(replacements: &[(&str, &str)]) -> Report {
        let mut body = MINIMAL.to_string();
        for (from, to) in replacements {
            assert!(body.contains(from), "{from} not in the fixture");
            body = body.replacen(from, to, 1);
        }
        Report::parse(body.as_bytes()).unwrap()
    }

    fn codes(warnings: &[Warning]) -> Vec<(WarningCode, &str)> {
        warnings
            .iter()
            .map(|w| (w.code, w.field.as_str()))
            .collect()
    }

    #[test]
    fn codes_print_as_they_serialize() {
        for code in [
            WarningCode::NegativeCount,
            WarningCode::P99BelowAverage,
            WarningCode::MoreWarnings,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn plausible_fixtures_get_no_warning() {
        for body in [
            MINIMAL,
            include_str!("../../tests/fixtures/valid/full-13-buckets.json"),
            include_str!("../../tests/fixtures/valid/nulls-and-extras.json"),
            include_str!("../../tests/fixtures/valid/empty-buckets.json"),
        ] {
            let report = Report::parse(body.as_bytes()).unwrap();
            assert_eq!(check(&report, None), vec![], "{body}");
        }
    }

    /// The original tool's own data directory: the only finding is that its error
    /// counts go down between two reports of one run (real, and worth a warning).
    #[test]
    fn original_data_warns_only_of_error_counts_going_down() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/original-data");
        let mut found = Vec::new();
        for team in ["team1", "team2"] {
            let mut names: Vec<_> = std::fs::read_dir(format!("{dir}/{team}"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| !p.ends_with("latest.json"))
                .collect();
            names.sort();
            let mut previous: Option<Report> = None;
            for path in names {
                let file: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                let report = Report::from_value(file["stats"].clone()).unwrap();
                for w in check(&report, previous.as_ref()) {
                    let name = path.file_name().unwrap().to_string_lossy().to_string();
                    found.push((team, name, w.code, w.field));
                }
                previous = Some(report);
            }
        }
        for (_, _, code, field) in &found {
            assert_eq!(*code, WarningCode::CounterWentDown, "{found:?}");
            assert!(field.to_lowercase().contains("errors"), "{found:?}");
        }
        assert!(
            found.contains(&(
                "team1",
                "20250801_100015_153.json".into(),
                WarningCode::CounterWentDown,
                "totalErrors".into()
            )),
            "{found:?}"
        );
    }

    #[test]
    fn negative_total_errors_of_the_original_suite_is_a_warning_on_its_field() {
        let body = include_str!("../../tests/fixtures/valid/negative-errors.json");
        let warnings = check(&Report::parse(body.as_bytes()).unwrap(), None);
        assert_eq!(
            codes(&warnings),
            [(WarningCode::NegativeCount, "totalErrors")]
        );
        assert_eq!(
            warnings[0].message,
            "totalErrors is -5: a count cannot be negative"
        );
    }

    #[test]
    fn negative_and_huge_buckets_are_named_by_index() {
        let r = report(&[("[100, 200, 150", "[100, -200, 9007199254740993")]);
        assert_eq!(
            codes(&check(&r, None)),
            [
                (
                    WarningCode::NegativeCount,
                    "latencyAnalysis.sensorData.buckets[1]"
                ),
                (
                    WarningCode::BeyondJsPrecision,
                    "latencyAnalysis.sensorData.buckets[2]"
                ),
                (
                    WarningCode::BucketsDisagree,
                    "latencyAnalysis.sensorData.buckets"
                ),
                // Nearly all requests now sit in the 2-5 ms bucket.
                (
                    WarningCode::P99BelowAverage,
                    "latencyAnalysis.sensorData.buckets"
                ),
            ]
        );
    }

    #[test]
    fn optional_high_priority_counts_are_checked_too() {
        let body = include_str!("../../tests/fixtures/valid/full-13-buckets.json");
        let r = Report::parse(
            body.replacen(
                "\"highPriorityBuckets\": [80",
                "\"highPriorityBuckets\": [-7",
                1,
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(
            codes(&check(&r, None)).contains(&(
                WarningCode::NegativeCount,
                "latencyAnalysis.sensorData.highPriorityBuckets[0]"
            )),
            "{:?}",
            check(&r, None)
        );
    }

    #[test]
    fn exactly_2_pow_53_is_still_exact() {
        let r = report(&[("\"totalSent\": 1000", "\"totalSent\": 9007199254740992")]);
        assert_eq!(check(&r, None), vec![]);
    }

    #[test]
    fn more_completed_and_pending_than_sent() {
        let r = report(&[("\"pending\": 15", "\"pending\": 21")]);
        assert_eq!(
            codes(&check(&r, None)),
            [(WarningCode::MoreDoneThanSent, "totalOps")]
        );
    }

    #[test]
    fn a_counter_that_went_down_within_a_run_is_named() {
        let previous = report(&[]);
        let now = report(&[
            ("\"totalElapsed\": 60", "\"totalElapsed\": 61"),
            ("\"totalErrors\": 20", "\"totalErrors\": 19"),
            ("\"errors\": 10", "\"errors\": 9"),
        ]);
        assert_eq!(
            codes(&check(&now, Some(&previous))),
            [
                (WarningCode::CounterWentDown, "totalErrors"),
                (WarningCode::CounterWentDown, "operations.sensorData.errors"),
            ]
        );
        assert!(
            check(&now, Some(&previous))[0]
                .message
                .contains("from 20 to 19")
        );
    }

    #[test]
    fn counters_that_drop_with_a_new_run_are_no_warning() {
        let previous = report(&[]);
        let restarted = report(&[
            ("\"totalElapsed\": 60", "\"totalElapsed\": 5"),
            ("\"totalErrors\": 20", "\"totalErrors\": 1"),
            ("\"avgCompletedQPS\": 16.3", "\"avgCompletedQPS\": 196"),
        ]);
        assert_eq!(check(&restarted, Some(&previous)), vec![]);
    }

    #[test]
    fn qps_far_from_ops_over_elapsed() {
        let r = report(&[("\"avgCompletedQPS\": 16.3", "\"avgCompletedQPS\": 163")]);
        let warnings = check(&r, None);
        assert_eq!(
            codes(&warnings),
            [(
                WarningCode::QpsDisagrees,
                "performanceMetrics.avgCompletedQPS"
            )]
        );
        assert!(
            warnings[0].message.contains("16.333"),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn avg_outside_min_max_and_p99_below_avg() {
        let r = report(&[("\"avg\": 45.2", "\"avg\": 300")]);
        assert_eq!(
            codes(&check(&r, None)),
            [
                (
                    WarningCode::AvgOutsideRange,
                    "latencyAnalysis.sensorData.avg"
                ),
                (
                    WarningCode::P99BelowAverage,
                    "latencyAnalysis.sensorData.buckets"
                ),
            ]
        );
    }

    #[test]
    fn many_warnings_are_capped_with_a_count_of_the_rest() {
        let r = report(&[
            (
                "[100, 200, 150, 80, 50, 20, 10, 5, 2, 1, 0, 0]",
                "[-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]",
            ),
            ("\"totalErrors\": 20", "\"totalErrors\": -1"),
            ("\"pending\": 15", "\"pending\": -1"),
            (
                "\"totalSaveDelayErrors\": 5",
                "\"totalSaveDelayErrors\": -1",
            ),
        ]);
        let warnings = check(&r, None);
        assert_eq!(warnings.len(), MAX_WARNINGS);
        let last = warnings.last().unwrap();
        assert_eq!(last.code, WarningCode::MoreWarnings);
        // 16 negative counts + the buckets' sum: 15 listed, 2 left out.
        assert_eq!(
            last.message,
            "2 more warnings about this report are not listed"
        );
    }
}
