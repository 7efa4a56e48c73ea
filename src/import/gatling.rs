//! Gatling's report data: `js/global_stats.json` (Gatling up to 3.13.4), or the
//! root `stats` of `js/stats.js` (up to 3.13.5; values there are quoted strings and
//! `"-"` stands for none). Gatling 3.14 writes its statistics into the HTML only, and
//! its `simulation.log` is binary since 3.12: neither is read.
//!
//! `numberOfRequests` gives `total`, `ok` and `ko` (failed) requests; times are ms.
//! The run lasts `numberOfRequests.total / meanNumberOfRequestsPerSecond.total`.
//! `percentiles1..4` are positional: Gatling's defaults (`charting.indicators`) are
//! the 50th, 75th, 95th and 99th, and they are read as such. With no failed request,
//! the response-time groups (`t < 800 ms`, … with the bounds in their names) add two
//! more points. Buckets are approximate; Gatling reports nothing in flight.

use serde_json::Value;

use super::json::Node;
use super::latency::{Distribution, Summary};
use super::{KindMap, Problem, ToolRun};

/// Gatling's default `charting.indicators.percentile1..4`.
const DEFAULT_PERCENTILES: [f64; 4] = [50.0, 75.0, 95.0, 99.0];

/// `global_stats.json`, or `stats.js`.
pub fn from_text(text: &str, map: &KindMap) -> Result<ToolRun, Problem> {
    let value = if text.starts_with("var stats = {") {
        root_stats_of_js(text)?
    } else {
        super::run::parse_json(text)?
    };
    from_stats(&Node::root(&value), map)
}

/// The root group's `stats: {…}` object of `stats.js`, which is JSON.
fn root_stats_of_js(text: &str) -> Result<Value, Problem> {
    let start = text
        .find("stats: {")
        .ok_or_else(|| Problem::new("stats.js has no \"stats: {\" object"))?;
    let json = &text[start + "stats: ".len()..];
    let mut values = serde_json::Deserializer::from_str(json).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) => Ok(value),
        Some(Err(e)) if e.is_eof() => Err(Problem::new(
            "stats.js ends inside its stats object: the file looks truncated",
        )),
        Some(Err(e)) => Err(Problem(format!(
            "stats.js: the stats object is not JSON ({e})"
        ))),
        None => Err(Problem::new("stats.js: the stats object is empty")),
    }
}

/// A number Gatling may quote, or write as `"-"` for none.
fn maybe_number(node: Option<Node<'_>>) -> Result<Option<f64>, Problem> {
    match node {
        Some(n) if n.value.as_str() == Some("-") => Ok(None),
        Some(n) => n.number().map(Some),
        None => Ok(None),
    }
}

fn total_of(root: &Node<'_>, key: &str) -> Result<Option<f64>, Problem> {
    maybe_number(root.req(key)?.get("total"))
}

fn from_stats(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    let requests = root.req("numberOfRequests")?;
    let total = requests.req_count("total")?;
    let failed = match maybe_number(requests.get("ko"))? {
        Some(ko) => {
            super::count_from_f64(ko).map_err(|m| Problem(format!("numberOfRequests.ko: {m}")))?
        }
        None => 0,
    };
    let rate = total_of(root, "meanNumberOfRequestsPerSecond")?.unwrap_or(0.0);
    let mut summary = Summary {
        count: total,
        min_ms: total_of(root, "minResponseTime")?,
        max_ms: total_of(root, "maxResponseTime")?,
        avg_ms: total_of(root, "meanResponseTime")?,
        points: Vec::new(),
    };
    for (i, percent) in DEFAULT_PERCENTILES.iter().enumerate() {
        if let Some(value) = maybe_number(
            root.get(&format!("percentiles{}", i + 1))
                .and_then(|p| p.get("total")),
        )? {
            summary.percentile(percent / 100.0, value);
        }
    }
    if failed == 0 && total > 0 {
        add_group_points(root, total, &mut summary)?;
    }
    let mut run = ToolRun {
        elapsed_s: if rate > 0.0 { total as f64 / rate } else { 0.0 },
        ..ToolRun::default()
    };
    let kind = map.default_kind();
    run.tally.count(kind, total, failed);
    run.tally
        .latency(kind, &Distribution::from_summary(&summary));
    Ok(run)
}

/// `group1` counts `t < lower` and `group2` `lower <= t < higher`; the bounds are the
/// numbers in their names (800 and 1200 ms by default).
fn add_group_points(root: &Node<'_>, total: u64, summary: &mut Summary) -> Result<(), Problem> {
    let group = |key: &str| -> Result<Option<(Vec<f64>, u64)>, Problem> {
        let Some(node) = root.get(key) else {
            return Ok(None);
        };
        let name = node.req("name")?.str()?;
        let numbers = name
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter_map(|n| n.parse::<f64>().ok())
            .collect();
        Ok(Some((numbers, node.req_count("count")?)))
    };
    let (Some((low, low_count)), Some((middle, middle_count))) =
        (group("group1")?, group("group2")?)
    else {
        return Ok(());
    };
    // Times are whole ms: "t < 800" is "t <= 799".
    if let (Some(&lower), Some(&higher)) = (low.first(), middle.last()) {
        summary.percentile(low_count as f64 / total as f64, lower - 1.0);
        summary.percentile(
            (low_count + middle_count) as f64 / total as f64,
            higher - 1.0,
        );
    }
    Ok(())
}
