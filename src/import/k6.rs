//! k6: the three summary shapes and the `--out json` NDJSON.
//!
//! - `--summary-export` (legacy, k6 `summary-wrapper.js` `oldJSONSummary`): each metric
//!   is its values; a Rate's `rate` is renamed `value`. No run duration: it is
//!   `http_reqs.count / http_reqs.rate`.
//! - `handleSummary(data)`: each metric is `{type, contains, values}`; the duration is
//!   `state.testRunDurationMs`.
//! - k6 >= 1.5 `--new-machine-readable-summary` (schema `grafana/k6-summary` 1.0.0):
//!   `results.metrics[]` with `name` and `values`; the duration is `config.duration` (s);
//!   k6 writes Rates as `{matches, total, rate}` and trend keys `p90`, `p95`.
//! - `--out json`: one `Metric` or `Point` object per line; a `Point` is one sample.
//!
//! Counting: `http_reqs` are the requests; `http_req_failed` is a Rate that tracks
//! failed requests, so its *non-zero* samples (`passes` in the summaries, `matches` in
//! the new summary, Points of value 1) are the failures. Latencies are
//! `http_req_duration`, in ms. The summaries give percentiles only (keys as set by
//! `summaryTrendStats`, e.g. `med`, `p(90)`, `p(99.99)`), so their buckets are
//! approximated; the NDJSON gives every sample, so its buckets are exact. k6 reports
//! no requests in flight: `pending` is 0.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;

use super::json::Node;
use super::latency::{Distribution, Summary};
use super::{KindMap, Problem, ToolRun};

/// `--summary-export` JSON: each metric is its values.
pub fn from_summary_export(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    from_metrics(root, map, |metric| Ok(metric.clone()), None)
}

/// `handleSummary(data)` JSON: each metric has its `values`; the run lasts
/// `state.testRunDurationMs`.
pub fn from_handle_summary(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    let duration_ms = root.get("state").and_then(|s| s.get("testRunDurationMs"));
    let elapsed_s = duration_ms
        .map(|ms| ms.number())
        .transpose()?
        .map(|ms| ms / 1000.0);
    from_metrics(root, map, |metric| metric.req("values"), elapsed_s)
}

/// The two summaries with a `metrics` map; without a duration, the run lasted
/// `http_reqs.count / http_reqs.rate`.
fn from_metrics<'a>(
    root: &Node<'a>,
    map: &KindMap,
    values_of: impl Fn(&Node<'a>) -> Result<Node<'a>, Problem>,
    elapsed_s: Option<f64>,
) -> Result<ToolRun, Problem> {
    let metrics = root.req("metrics")?;
    let requests = values_of(&metrics.req("http_reqs")?)?;
    let count = requests.req_count("count")?;
    let failed_values = metrics
        .get("http_req_failed")
        .map(|m| values_of(&m))
        .transpose()?;
    let failed = failures_of_rate(failed_values.as_ref(), "passes", count)?;
    let duration = values_of(&metrics.req("http_req_duration")?)?;
    let elapsed_s = match elapsed_s {
        Some(seconds) => seconds,
        None => elapsed_from_rate(&requests, count)?,
    };
    run_of(
        elapsed_s,
        count,
        failed,
        trend_summary(&duration, count)?,
        None,
        map,
    )
}

/// The k6 >= 1.5 machine-readable summary.
pub fn from_machine_summary(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    let results = root.req("results")?;
    let metrics = results.req("metrics")?.items()?;
    let find = |name: &str| -> Result<Node<'_>, Problem> {
        metrics
            .iter()
            .find(|m| m.value.get("name").and_then(|n| n.as_str()) == Some(name))
            .map(|m| m.req("values"))
            .transpose()?
            .ok_or_else(|| {
                Problem(format!(
                    "results.metrics: has no {name:?} metric (did the test make HTTP requests?)"
                ))
            })
    };
    let count = find("http_reqs")?.req_count("count")?;
    let failed = failures_of_rate(find("http_req_failed").ok().as_ref(), "matches", count)?;
    let duration = find("http_req_duration")?;
    let elapsed_s = root.req("config")?.req_number("duration")?;
    let metadata = root.get("metadata");
    let version = metadata
        .as_ref()
        .and_then(|m| m.get("k6_version").or_else(|| m.get("k6Version")))
        .map(|v| v.str().map(str::to_string))
        .transpose()?;
    run_of(
        elapsed_s,
        count,
        failed,
        trend_summary(&duration, count)?,
        version,
        map,
    )
}

fn run_of(
    elapsed_s: f64,
    count: u64,
    failed: u64,
    latency: Summary,
    tool_version: Option<String>,
    map: &KindMap,
) -> Result<ToolRun, Problem> {
    let mut run = ToolRun {
        elapsed_s,
        tool_version,
        ..ToolRun::default()
    };
    let kind = map.default_kind();
    run.tally.count(kind, count, failed);
    run.tally
        .latency(kind, &Distribution::from_summary(&latency));
    Ok(run)
}

fn elapsed_from_rate(values: &Node<'_>, count: u64) -> Result<f64, Problem> {
    let rate = values.opt_number("rate")?.unwrap_or(0.0);
    Ok(if rate > 0.0 { count as f64 / rate } else { 0.0 })
}

/// Failed requests from `http_req_failed`: its non-zero samples (`key`), else
/// `rate × requests`; 0 when k6 did not report the metric (k6 < 0.31).
fn failures_of_rate(values: Option<&Node<'_>>, key: &str, requests: u64) -> Result<u64, Problem> {
    let Some(values) = values else { return Ok(0) };
    if let Some(n) = values.get(key) {
        return n.count();
    }
    let rate = match values.get("rate") {
        Some(rate) => rate.number()?,
        None => values.req_number("value")?,
    };
    Ok((rate.clamp(0.0, 1.0) * requests as f64).round() as u64)
}

/// A Trend's values as a distribution summary: `min`, `max`, `avg`, `med` and every
/// `p(N)` (or `pN`) key, in ms.
fn trend_summary(values: &Node<'_>, count: u64) -> Result<Summary, Problem> {
    let mut summary = Summary {
        count,
        min_ms: values.opt_number("min")?,
        max_ms: values.opt_number("max")?,
        avg_ms: values.opt_number("avg")?,
        points: Vec::new(),
    };
    for (key, value) in values.entries()? {
        let percent = match key {
            "med" => Some(50.0),
            _ => key
                .strip_prefix("p(")
                .and_then(|k| k.strip_suffix(')'))
                .or_else(|| key.strip_prefix('p'))
                .and_then(|n| n.parse::<f64>().ok()),
        };
        if let Some(percent) = percent.filter(|p| (0.0..=100.0).contains(p)) {
            summary.percentile(percent / 100.0, value.number()?);
        }
    }
    Ok(summary)
}

/// The running totals of a k6 NDJSON stream.
pub struct NdjsonTally {
    map: KindMap,
    run: ToolRun,
    kinds: HashMap<String, usize>,
    first: Option<i64>,
    last: Option<i64>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    metric: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    value: Option<f64>,
    #[serde(borrow)]
    tags: Option<Tags<'a>>,
}

#[derive(Deserialize)]
struct Tags<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

/// The metrics BenchBoard reads from k6's NDJSON.
const COUNTED_METRICS: [&[u8]; 3] = [b"http_reqs", b"http_req_duration", b"http_req_failed"];

/// The metric's name as k6's encoder writes it (`"metric":"NAME"`), when it is there.
fn metric_name(line: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"metric\":\"";
    let start = memchr::memmem::find(line, KEY)? + KEY.len();
    let length = memchr::memchr(b'"', &line[start..])?;
    Some(&line[start..start + length])
}

/// Distinct request names remembered for their kind; beyond, names are looked up each time.
const MAX_CACHED_NAMES: usize = 10_000;

impl NdjsonTally {
    /// An empty tally.
    pub fn new(map: KindMap) -> NdjsonTally {
        NdjsonTally {
            map,
            run: ToolRun::default(),
            kinds: HashMap::new(),
            first: None,
            last: None,
        }
    }

    /// Reads one line of k6's JSON output.
    pub fn line(&mut self, number: u64, line: &[u8]) -> Result<(), Problem> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Ok(());
        }
        // Most lines are samples of metrics BenchBoard does not read (the request's
        // phases, data, iterations): their shape is checked, their JSON not parsed.
        let skipped = metric_name(trimmed).is_some_and(|metric| !COUNTED_METRICS.contains(&metric));
        if skipped {
            if trimmed.starts_with(b"{") && trimmed.ends_with(b"}") {
                return Ok(());
            }
            return Err(Problem(format!(
                "line {number}: not a k6 JSON output line (it does not end with }}: cut short?)"
            )));
        }
        let envelope: Envelope<'_> = serde_json::from_slice(line).map_err(|e| {
            Problem(format!("line {number}: not a k6 JSON output line ({e}); expected {{\"type\":\"Point\",\"metric\":…,\"data\":…}}"))
        })?;
        match envelope.kind.as_ref() {
            "Metric" => Ok(()),
            "Point" => self.point(number, envelope),
            other => Err(Problem(format!(
                "line {number}: unknown type {other:?}; k6 writes \"Metric\" and \"Point\""
            ))),
        }
    }

    fn point(&mut self, number: u64, envelope: Envelope<'_>) -> Result<(), Problem> {
        let metric = envelope.metric.unwrap_or_default();
        if !matches!(
            metric.as_ref(),
            "http_reqs" | "http_req_duration" | "http_req_failed"
        ) {
            return Ok(());
        }
        let data = envelope
            .data
            .ok_or_else(|| Problem(format!("line {number}: a Point without \"data\"")))?;
        let value = data
            .value
            .filter(|v| v.is_finite())
            .ok_or_else(|| Problem(format!("line {number}: data.value: expected a number")))?;
        let name = data
            .tags
            .as_ref()
            .and_then(|t| t.name.as_deref())
            .unwrap_or("");
        let kind = self.kind_of(name);
        match metric.as_ref() {
            "http_reqs" => {
                self.run.tally.count(
                    kind,
                    super::count_from_f64(value)
                        .map_err(|m| Problem(format!("line {number}: {m}")))?,
                    0,
                );
                if let Some(time) = data.time.as_deref() {
                    self.saw_time(number, time)?;
                }
            }
            "http_req_duration" => self.run.tally.record(kind, value.max(0.0)),
            _ => self.run.tally.count(kind, 0, u64::from(value != 0.0)),
        }
        Ok(())
    }

    fn kind_of(&mut self, name: &str) -> usize {
        if let Some(&kind) = self.kinds.get(name) {
            return kind;
        }
        let kind = self.map.kind_of(name);
        if self.kinds.len() < MAX_CACHED_NAMES {
            self.kinds.insert(name.to_string(), kind);
        }
        kind
    }

    fn saw_time(&mut self, number: u64, time: &str) -> Result<(), Problem> {
        let at = chrono::DateTime::parse_from_rfc3339(time)
            .map_err(|e| {
                Problem(format!(
                    "line {number}: data.time {time:?} is not an RFC 3339 time ({e})"
                ))
            })?
            .timestamp_nanos_opt()
            .unwrap_or(0);
        self.first = Some(self.first.map_or(at, |t| t.min(at)));
        self.last = Some(self.last.map_or(at, |t| t.max(at)));
        Ok(())
    }

    /// The run so far; it lasts from the first request's time stamp to the last one's.
    pub fn run(&self) -> ToolRun {
        let mut run = self.run.clone();
        if let (Some(first), Some(last)) = (self.first, self.last) {
            run.elapsed_s = (last - first) as f64 / 1e9;
        }
        run
    }
}
