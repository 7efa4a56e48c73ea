//! vegeta `report -type=json`; every duration in nanoseconds (`lib/metrics.go`).
//!
//! Every result is a request (`requests`); a success is a status code in 200..=399 and
//! anything else (including code 0, a request that got no response) a failure, as
//! vegeta's `success` ratio counts them, so failures come exactly from
//! `status_codes`. The run lasts `duration + wait` (attack, then waiting for the last
//! responses). Latencies: `min`, `mean`, `max` and the t-digest percentiles
//! `50th`…`99th` give approximate buckets; with `-buckets`, vegeta's histogram (keys
//! are lower bounds in ns, the last bucket open) is used as well, and the buckets are
//! exact when its bounds are BenchBoard's.

use super::json::Node;
use super::latency::{CdfPoint, Distribution, Summary};
use super::{KindMap, Problem, ToolRun, nanoseconds_to_ms};

/// vegeta's JSON report.
pub fn from_json(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    let requests = root.req_count("requests")?;
    let mut coded = 0u64;
    let mut failures = 0u64;
    for (code, count) in root.req("status_codes")?.entries()? {
        let count = count.count()?;
        coded += count;
        if !code.parse::<u16>().is_ok_and(|c| (200..400).contains(&c)) {
            failures += count;
        }
    }
    if coded != requests {
        // Not vegeta's own report: trust its success ratio instead.
        let success = root.req_number("success")?.clamp(0.0, 1.0);
        failures = requests - (success * requests as f64).round() as u64;
    }
    let duration_ns = root.req_number("duration")?;
    let wait_ns = root.opt_number("wait")?.unwrap_or(0.0);
    let mut run = ToolRun {
        elapsed_s: (duration_ns + wait_ns) / 1e9,
        ..ToolRun::default()
    };
    let kind = map.default_kind();
    run.tally.count(kind, requests, failures);
    run.tally.latency(
        kind,
        &Distribution::from_summary(&latency_summary(root, requests)?),
    );
    Ok(run)
}

fn latency_summary(root: &Node<'_>, requests: u64) -> Result<Summary, Problem> {
    let latencies = root.req("latencies")?;
    let ms = |key: &str| -> Result<Option<f64>, Problem> {
        Ok(latencies.opt_number(key)?.map(nanoseconds_to_ms))
    };
    let mut summary = Summary {
        count: requests,
        min_ms: ms("min")?,
        max_ms: ms("max")?,
        avg_ms: ms("mean")?,
        points: Vec::new(),
    };
    for (key, percent) in [
        ("50th", 50.0),
        ("90th", 90.0),
        ("95th", 95.0),
        ("99th", 99.0),
    ] {
        if let Some(value) = ms(key)? {
            summary.percentile(percent / 100.0, value);
        }
    }
    if let Some(buckets) = root.get("buckets") {
        summary.points.extend(histogram_points(&buckets, requests)?);
    }
    Ok(summary)
}

/// Points of the cumulative distribution at each bucket's upper bound (the next
/// bucket's lower bound); none when the counts do not add up to the requests.
fn histogram_points(buckets: &Node<'_>, requests: u64) -> Result<Vec<CdfPoint>, Problem> {
    let mut lower_bounds = Vec::new();
    for (lower, count) in buckets.entries()? {
        let lower_ns: f64 = lower.parse().map_err(|_| {
            Problem(format!(
                "{}: key {lower:?} is not a duration in ns",
                buckets.path()
            ))
        })?;
        lower_bounds.push((lower_ns, count.count()?));
    }
    lower_bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: u64 = lower_bounds.iter().map(|b| b.1).sum();
    if total != requests || total == 0 {
        return Ok(Vec::new());
    }
    let mut points = Vec::new();
    let mut below = 0u64;
    for pair in lower_bounds.windows(2) {
        below += pair[0].1;
        points.push(CdfPoint {
            value_ms: nanoseconds_to_ms(pair[1].0),
            share: below as f64 / total as f64,
            exact: true,
        });
    }
    Ok(points)
}
