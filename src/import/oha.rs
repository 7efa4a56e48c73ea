//! oha `--output-format json` (`-j` before oha 1.9); times in seconds (`printer.rs`).
//!
//! oha keeps each response it got (`statusCodeDistribution`) and counts requests that
//! got none by error message (`errorDistribution`). Requests cut off when `-z`'s time
//! ran out are "aborted due to deadline": they were in flight, so they are `pending`.
//! Any other error is a failed request; so is a response with status >= 400, as every
//! other tool counts it (oha's own `successRate` counts any response as a success).
//! Latencies are those of the responses: the buckets come from
//! `responseTimeHistogram` (equal-width bins, each key its upper bound in s) together
//! with `latencyPercentiles`; as the bins rarely fall on BenchBoard's bounds, the
//! buckets are approximate. The run lasts `summary.total` seconds.

use super::json::Node;
use super::latency::{CdfPoint, Distribution, Summary};
use super::{KindMap, Problem, ToolRun, seconds_to_ms};

/// oha's message for requests cut off by `-z` (`ClientError::Deadline`).
pub const DEADLINE_ERROR: &str = "aborted due to deadline";

/// oha's JSON output.
pub fn from_json(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    let summary = root.req("summary")?;
    let mut responses = 0u64;
    let mut failed_responses = 0u64;
    for (status, count) in root.req("statusCodeDistribution")?.entries()? {
        let count = count.count()?;
        responses += count;
        if status.parse::<u16>().map_or(true, |code| code >= 400) {
            failed_responses += count;
        }
    }
    let (mut pending, mut errors) = (0u64, 0u64);
    if let Some(distribution) = root.get("errorDistribution") {
        for (message, count) in distribution.entries()? {
            if message == DEADLINE_ERROR {
                pending += count.count()?;
            } else {
                errors += count.count()?;
            }
        }
    }
    let mut run = ToolRun {
        elapsed_s: summary.req_number("total")?,
        pending,
        ..ToolRun::default()
    };
    let kind = map.default_kind();
    run.tally
        .count(kind, responses + errors, failed_responses + errors);
    run.tally.latency(
        kind,
        &Distribution::from_summary(&latency_summary(root, &summary, responses)?),
    );
    Ok(run)
}

fn latency_summary(
    root: &Node<'_>,
    summary: &Node<'_>,
    responses: u64,
) -> Result<Summary, Problem> {
    let ms = |node: Option<f64>| node.map(seconds_to_ms);
    let mut latency = Summary {
        count: responses,
        min_ms: ms(summary.opt_number("fastest")?),
        max_ms: ms(summary.opt_number("slowest")?),
        avg_ms: ms(summary.opt_number("average")?),
        points: Vec::new(),
    };
    if let Some(histogram) = root.get("responseTimeHistogram") {
        let mut bins = Vec::new();
        for (upper, count) in histogram.entries()? {
            let upper_s: f64 = upper.parse().map_err(|_| {
                Problem(format!(
                    "{}: key {upper:?} is not a time in seconds",
                    histogram.path()
                ))
            })?;
            bins.push((upper_s, count.count()?));
        }
        bins.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = bins.iter().map(|b| b.1).sum();
        let mut below = 0u64;
        for (upper_s, count) in bins {
            below += count;
            if total > 0 {
                latency.points.push(CdfPoint {
                    value_ms: seconds_to_ms(upper_s),
                    share: below as f64 / total as f64,
                    exact: true,
                });
            }
        }
    }
    if let Some(percentiles) = root.get("latencyPercentiles") {
        for (key, value) in percentiles.entries()? {
            let Some(percent) = key.strip_prefix('p').and_then(|p| p.parse::<f64>().ok()) else {
                continue;
            };
            if !value.value.is_null() {
                latency.percentile(percent / 100.0, seconds_to_ms(value.number()?));
            }
        }
    }
    Ok(latency)
}
