//! wrk: its text summary (run with `--latency`), and the JSON line that
//! `scripts/wrk-json.lua` prints from wrk's `done()` hook (times in µs).
//!
//! wrk counts a response as a request (`requests`, wrk's `complete`); `status` errors
//! are responses with a status > 399 and `timeout` errors responses slower than
//! `--timeout`, both among those requests. `connect`, `read` and `write` errors are
//! attempts that got no response: BenchBoard counts them as failed requests too. wrk
//! reports nothing in flight (`pending` 0). The text summary gives avg, max and the
//! 50/75/90/99th percentiles but no minimum, so its buckets are approximate: the
//! distribution is taken to start at `p50 - 2 × (p75 - p50)` (at least 0), which is
//! reported as the minimum. The JSON line carries the share of samples at each of BenchBoard's
//! bounds, read off wrk's own per-µs histogram, so its buckets are not guesses.

use super::json::Node;
use super::latency::{BOUNDS_MS, CdfPoint, Distribution, Summary};
use super::{KindMap, Problem, ToolRun, microseconds_to_ms};

/// Request counts of a wrk run.
struct Counts {
    requests: u64,
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
}

impl Counts {
    fn into_run(self, elapsed_s: f64, latency: &Summary, map: &KindMap) -> ToolRun {
        let mut run = ToolRun {
            elapsed_s,
            ..ToolRun::default()
        };
        let unanswered = self.connect + self.read + self.write;
        let kind = map.default_kind();
        run.tally.count(
            kind,
            self.requests + unanswered,
            self.status + self.timeout + unanswered,
        );
        run.tally
            .latency(kind, &Distribution::from_summary(latency));
        run
    }
}

/// The JSON line of `scripts/wrk-json.lua` (the last such line of the input, which
/// may also hold wrk's text summary before it).
pub fn from_json_line(text: &str, map: &KindMap) -> Result<ToolRun, Problem> {
    let line = text
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .ok_or_else(|| Problem::new("no JSON line: run wrk with -s scripts/wrk-json.lua"))?;
    let value = super::run::parse_json(line)?;
    let root = Node::root(&value);
    if root.get("tool").map(|t| t.value.as_str() == Some("wrk")) != Some(true) {
        return Err(Problem::new(
            "tool: expected \"wrk\" (the line scripts/wrk-json.lua prints)",
        ));
    }
    let errors = root.req("errors")?;
    let counts = Counts {
        requests: root.req_count("requests")?,
        connect: errors.req_count("connect")?,
        read: errors.req_count("read")?,
        write: errors.req_count("write")?,
        status: errors.req_count("status")?,
        timeout: errors.req_count("timeout")?,
    };
    let latency = root.req("latency_us")?;
    let us = |key: &str| -> Result<Option<f64>, Problem> {
        Ok(latency.opt_number(key)?.map(microseconds_to_ms))
    };
    let mut summary = Summary {
        count: counts.requests.saturating_sub(counts.timeout),
        min_ms: us("min")?,
        max_ms: us("max")?,
        avg_ms: us("mean")?,
        points: Vec::new(),
    };
    if let Some(shares) = root.get("latency_fraction_le") {
        for (bound_us, share) in shares.entries()? {
            let value_ms = bound_us
                .parse::<f64>()
                .map(microseconds_to_ms)
                .map_err(|_| {
                    Problem(format!(
                        "{}: key {bound_us:?} is not a time in µs",
                        shares.path()
                    ))
                })?;
            summary.points.push(CdfPoint {
                value_ms,
                share: share.number()?.clamp(0.0, 1.0),
                exact: BOUNDS_MS.contains(&value_ms),
            });
        }
    }
    let elapsed_s = root.req_number("duration_us")? / 1e6;
    Ok(counts.into_run(elapsed_s, &summary, map))
}

/// wrk's text summary; `--latency` adds the percentiles.
pub fn from_text(text: &str, map: &KindMap) -> Result<ToolRun, Problem> {
    if !text.trim_start().starts_with("Running ") {
        return Err(Problem::new(
            "does not start with wrk's \"Running …s test @ URL\" line",
        ));
    }
    let mut counts = Counts {
        requests: 0,
        connect: 0,
        read: 0,
        write: 0,
        status: 0,
        timeout: 0,
    };
    let (mut duration_s, mut per_second, mut seen_requests) = (None, None, false);
    let mut summary = Summary::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", avg, _stdev, max, ..] => {
                summary.avg_ms = Some(duration_ms(avg)?);
                summary.max_ms = Some(duration_ms(max)?);
            }
            [percent, value] if percent.ends_with('%') => {
                let percent: f64 = percent
                    .trim_end_matches('%')
                    .parse()
                    .map_err(|_| Problem(format!("{line:?}: {percent:?} is not a percentage")))?;
                summary.percentile(percent / 100.0, duration_ms(value)?);
            }
            [requests, "requests", "in", duration, ..] => {
                counts.requests = parse_count(requests, line)?;
                duration_s = Some(duration_ms(duration.trim_end_matches(','))? / 1000.0);
                seen_requests = true;
            }
            ["Socket", "errors:", ..] => read_socket_errors(line, &mut counts)?,
            ["Non-2xx", "or", "3xx", "responses:", n] => counts.status = parse_count(n, line)?,
            ["Requests/sec:", rate] => per_second = rate.parse::<f64>().ok(),
            _ => {}
        }
    }
    if !seen_requests {
        return Err(Problem::new(
            "no \"N requests in T\" line: the summary is cut short",
        ));
    }
    if summary.avg_ms.is_none() {
        return Err(Problem::new(
            "no \"Latency\" line: the summary is cut short",
        ));
    }
    summary.count = counts.requests.saturating_sub(counts.timeout);
    summary.min_ms = estimated_minimum(&summary);
    // "Requests/sec" has more digits than "in 10.01s": the run's length is their ratio.
    let elapsed_s = match per_second {
        Some(rate) if rate > 0.0 && counts.requests > 0 => counts.requests as f64 / rate,
        _ => duration_s.unwrap_or(0.0),
    };
    Ok(counts.into_run(elapsed_s, &summary, map))
}

/// Where the distribution of a text summary starts: twice the p50–p75 spread below
/// the median (a spread as wide below the median as above, and as much again).
fn estimated_minimum(summary: &Summary) -> Option<f64> {
    let at = |quantile: f64| {
        summary
            .points
            .iter()
            .find(|p| p.share == quantile)
            .map(|p| p.value_ms)
    };
    let (p50, p75) = (at(0.5)?, at(0.75)?);
    Some((p50 - 2.0 * (p75 - p50)).max(0.0))
}

fn read_socket_errors(line: &str, counts: &mut Counts) -> Result<(), Problem> {
    let fields = line.trim_start_matches("Socket errors:");
    for part in fields.split(',') {
        let mut words = part.split_whitespace();
        let (Some(name), Some(n)) = (words.next(), words.next()) else {
            continue;
        };
        let n = parse_count(n, line)?;
        match name {
            "connect" => counts.connect = n,
            "read" => counts.read = n,
            "write" => counts.write = n,
            "timeout" => counts.timeout = n,
            _ => {}
        }
    }
    Ok(())
}

fn parse_count(text: &str, line: &str) -> Result<u64, Problem> {
    text.parse()
        .map_err(|_| Problem(format!("{line:?}: {text:?} is not a count")))
}

/// A wrk duration (`635.91us`, `12.92ms`, `1.50s`, `2.00m`, `1.00h`) in ms.
pub fn duration_ms(text: &str) -> Result<f64, Problem> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| Problem(format!("{text:?} is not a wrk duration (no unit)")))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| Problem(format!("{text:?} is not a wrk duration")))?;
    let ms_per_unit = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => {
            return Err(Problem(format!(
                "{text:?}: unknown unit {unit:?} (wrk prints us, ms, s, m, h)"
            )));
        }
    };
    Ok(number * ms_per_unit)
}
