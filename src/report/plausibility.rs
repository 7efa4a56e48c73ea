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
mod tests;
