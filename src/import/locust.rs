//! Locust: `--json-file`, `--csv` (`_stats.csv`, `_stats_history.csv`) and the web
//! UI's `/stats/requests`; all in ms (Locust's `stats.py`).
//!
//! - `--json-file` lists one entry per request name with its rounded response-time
//!   histogram (`response_times`, `{ms: count}`): the buckets come from it, exact up to
//!   Locust's own rounding (to 1 ms below 100 ms, 10 ms below 1 s, …).
//! - `_stats.csv` and `/stats/requests` give percentiles: buckets are approximated.
//!   Their duration is `Request Count / Requests/s` of the `Aggregated` row (Locust's
//!   `total_rps` is requests over the run's length).
//! - `_stats_history.csv` gets a row a second. Its `Total …` columns are cumulative;
//!   its percentiles are cumulative too, unless `--csv-full-history` added per-name
//!   rows, whose percentiles then cover Locust's current window (about 10 s): those
//!   are weighted by the requests each row adds.
//!
//! Locust counts a request as failed when the response or the user code says so
//! (`Failure Count`); it reports no requests in flight (`pending` 0).

use std::collections::HashMap;

use super::json::Node;
use super::latency::{Distribution, Summary};
use super::live::Record;
use super::{KindMap, Problem, ToolRun};

/// `--json-file` output: a list of per-name entries.
pub fn from_json_file(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    let mut run = ToolRun::default();
    let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
    for entry in root.items()? {
        let requests = entry.req_count("num_requests")?;
        if requests == 0 {
            continue;
        }
        let kind = map.kind_of(
            entry
                .get("name")
                .map(|n| n.str())
                .transpose()?
                .unwrap_or(""),
        );
        run.tally
            .count(kind, requests, entry.req_count("num_failures")?);
        let mut latency = Distribution::default();
        for (key, count) in entry.req("response_times")?.entries()? {
            let ms: f64 = key.parse().map_err(|_| {
                Problem(format!(
                    "{}: key {key:?} is not a response time in ms",
                    entry.path()
                ))
            })?;
            let count = count.count()?;
            latency.buckets[super::latency::bucket_of(ms)] += count;
            latency.count += count;
        }
        latency.sum_ms = entry.req_number("total_response_time")?;
        latency.min_ms = entry.opt_number("min_response_time")?.unwrap_or(0.0);
        latency.max_ms = entry.req_number("max_response_time")?;
        run.tally.latency(kind, &latency);
        start = start.min(entry.req_number("start_time")?);
        end = end.max(entry.req_number("last_request_timestamp")?);
    }
    if end > start {
        run.elapsed_s = end - start;
    }
    Ok(run)
}

/// The web UI's `/stats/requests` JSON.
pub fn from_web_stats(root: &Node<'_>, map: &KindMap) -> Result<ToolRun, Problem> {
    let mut run = ToolRun::default();
    for entry in root.req("stats")?.items()? {
        let name = entry.req("name")?.str()?;
        let requests = entry.req_count("num_requests")?;
        if name == "Aggregated" {
            let rps = entry.opt_number("total_rps")?.unwrap_or(0.0);
            run.elapsed_s = if rps > 0.0 {
                requests as f64 / rps
            } else {
                0.0
            };
            continue;
        }
        let kind = map.kind_of(name);
        run.tally
            .count(kind, requests, entry.req_count("num_failures")?);
        let mut summary = Summary {
            count: requests,
            min_ms: entry.opt_number("min_response_time")?,
            max_ms: entry.opt_number("max_response_time")?,
            avg_ms: entry.opt_number("avg_response_time")?,
            points: Vec::new(),
        };
        if let Some(median) = entry.opt_number("median_response_time")? {
            summary.percentile(0.5, median);
        }
        for (key, value) in entry.entries()? {
            if let Some(q) = key
                .strip_prefix("response_time_percentile_")
                .and_then(|q| q.parse().ok())
            {
                summary.percentile(q, value.number()?);
            }
        }
        run.tally
            .latency(kind, &Distribution::from_summary(&summary));
    }
    Ok(run)
}

/// `_stats.csv`: one row per request name, then `Aggregated`.
pub fn from_stats_csv(text: &str, map: &KindMap) -> Result<ToolRun, Problem> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = Columns::of(
        reader
            .headers()
            .map_err(|e| Problem(format!("not CSV: {e}")))?
            .iter(),
    )?;
    let mut run = ToolRun::default();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| Problem(format!("row {}: not CSV: {e}", i + 2)))?;
        let line = i as u64 + 2;
        let field = |name: &str| header.get(&row, name, line);
        let requests = count(field("Request Count")?, "Request Count", line)?;
        if field("Name")? == "Aggregated" {
            let rps = number(field("Requests/s")?, "Requests/s", line)?.unwrap_or(0.0);
            run.elapsed_s = if rps > 0.0 {
                requests as f64 / rps
            } else {
                0.0
            };
            continue;
        }
        let kind = map.kind_of(field("Name")?);
        run.tally.count(
            kind,
            requests,
            count(field("Failure Count")?, "Failure Count", line)?,
        );
        let mut summary = Summary {
            count: requests,
            min_ms: number(field("Min Response Time")?, "Min Response Time", line)?,
            max_ms: number(field("Max Response Time")?, "Max Response Time", line)?,
            avg_ms: number(
                field("Average Response Time")?,
                "Average Response Time",
                line,
            )?,
            points: Vec::new(),
        };
        header.add_percentiles(&mut summary, |i| row.get(i).unwrap_or(""), line)?;
        run.tally
            .latency(kind, &Distribution::from_summary(&summary));
    }
    Ok(run)
}

/// Column positions by header name, and the percentile columns (`50%`, `99.9%`, …).
struct Columns {
    names: HashMap<String, usize>,
    percentiles: Vec<(usize, f64)>,
}

impl Columns {
    fn of<'a>(header: impl Iterator<Item = &'a str>) -> Result<Columns, Problem> {
        let mut columns = Columns {
            names: HashMap::new(),
            percentiles: Vec::new(),
        };
        for (i, name) in header.enumerate() {
            let name = name.trim();
            if let Some(percent) = name.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
                columns.percentiles.push((i, percent / 100.0));
            }
            columns.names.insert(name.to_string(), i);
        }
        Ok(columns)
    }

    fn index(&self, name: &str) -> Result<usize, Problem> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| Problem(format!("the header has no {name:?} column")))
    }

    fn get<'r>(
        &self,
        row: &'r csv::StringRecord,
        name: &str,
        line: u64,
    ) -> Result<&'r str, Problem> {
        row.get(self.index(name)?).ok_or_else(|| {
            Problem(format!(
                "row {line}: has no {name:?} field (the row is cut short)"
            ))
        })
    }

    fn add_percentiles<'r>(
        &self,
        summary: &mut Summary,
        field: impl Fn(usize) -> &'r str,
        line: u64,
    ) -> Result<(), Problem> {
        for &(i, quantile) in &self.percentiles {
            if let Some(value) = number(field(i), "percentile", line)? {
                summary.percentile(quantile, value);
            }
        }
        Ok(())
    }
}

/// A number field; `N/A` and empty are none.
fn number(text: &str, column: &str, line: u64) -> Result<Option<f64>, Problem> {
    let text = text.trim();
    if text.is_empty() || text == "N/A" {
        return Ok(None);
    }
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(Some)
        .ok_or_else(|| Problem(format!("row {line}: {column} {text:?} is not a number")))
}

fn count(text: &str, column: &str, line: u64) -> Result<u64, Problem> {
    let value = number(text, column, line)?.unwrap_or(0.0);
    super::count_from_f64(value).map_err(|m| Problem(format!("row {line}: {column}: {m}")))
}

/// Most request names of a history file followed; further names count as the default kind.
const MAX_NAMES: usize = 1000;

/// The running state of a `_stats_history.csv` being read.
pub struct HistoryTally {
    map: KindMap,
    columns: Option<Columns>,
    entries: HashMap<String, Entry>,
    full_history: bool,
    first_timestamp: Option<f64>,
    last_timestamp: Option<f64>,
}

/// The latest cumulative numbers of one request name, and (with full history) the
/// distribution built from its windows.
#[derive(Default)]
struct Entry {
    requests: u64,
    failures: u64,
    avg_ms: Option<f64>,
    min_ms: Option<f64>,
    max_ms: Option<f64>,
    median_ms: Option<f64>,
    percentiles: Vec<(f64, f64)>,
    windows: Distribution,
}

impl HistoryTally {
    /// An empty tally.
    pub fn new(map: KindMap) -> HistoryTally {
        HistoryTally {
            map,
            columns: None,
            entries: HashMap::new(),
            full_history: false,
            first_timestamp: None,
            last_timestamp: None,
        }
    }

    /// Reads one CSV record: the header (at the start of each file), or a row.
    pub fn record(&mut self, number: u64, record: &Record<'_>) -> Result<(), Problem> {
        if number == 1 {
            if !record.get(0).starts_with("Timestamp") || record.get(3) != "Name" {
                return Err(Problem(format!(
                    "line 1 is not Locust's history header (Timestamp,User Count,Type,Name,…): {:?}",
                    record.get(0)
                )));
            }
            self.columns = Some(Columns::of((0..record.len()).map(|i| record.get(i)))?);
            return Ok(());
        }
        if record.len() == 1 && record.get(0).is_empty() {
            return Ok(());
        }
        self.row(number, record)
    }

    fn row(&mut self, line: u64, record: &Record<'_>) -> Result<(), Problem> {
        let columns = self.columns.as_ref().expect("the header comes first");
        let field = |name: &str| -> Result<&str, Problem> {
            let i = columns.index(name)?;
            if i >= record.len() {
                return Err(Problem(format!(
                    "row {line}: has no {name:?} field (the row is cut short)"
                )));
            }
            Ok(record.get(i))
        };
        let mut next = entry_of(columns, record, &field, line)?;
        if let Some(t) = number(field("Timestamp")?, "Timestamp", line)? {
            self.first_timestamp.get_or_insert(t);
            self.last_timestamp = Some(t);
        }
        self.full_history |= field("Name")? != "Aggregated";
        let name = format!("{}\u{0}{}", field("Type")?, field("Name")?);
        if !self.entries.contains_key(&name) && self.entries.len() >= MAX_NAMES {
            return Ok(());
        }
        let entry = self.entries.entry(name).or_default();
        next.windows = std::mem::take(&mut entry.windows);
        if next.requests < entry.requests {
            next.windows = Distribution::default(); // Locust started over
        }
        let added = next.requests - entry.requests.min(next.requests);
        next.windows.merge(&window_distribution(&next, added));
        *entry = next;
        Ok(())
    }

    /// The run so far: per-name rows with full history, else the `Aggregated` row.
    pub fn run(&self) -> ToolRun {
        let mut run = ToolRun::default();
        if let (Some(first), Some(last)) = (self.first_timestamp, self.last_timestamp) {
            run.elapsed_s = last - first;
        }
        for (key, entry) in &self.entries {
            let name = key.split('\u{0}').nth(1).unwrap_or("");
            if (name == "Aggregated") == self.full_history {
                continue;
            }
            let kind = self.map.kind_of(name);
            run.tally.count(kind, entry.requests, entry.failures);
            let mut latency = if self.full_history {
                entry.windows.clone()
            } else {
                window_distribution(entry, entry.requests)
            };
            if latency.count > 0 {
                latency.sum_ms = entry.avg_ms.unwrap_or(latency.avg_ms()) * latency.count as f64;
            }
            run.tally.latency(kind, &latency);
        }
        run
    }
}

/// The cumulative numbers and the percentiles of one history row.
fn entry_of<'r>(
    columns: &Columns,
    record: &Record<'r>,
    field: &dyn Fn(&str) -> Result<&'r str, Problem>,
    line: u64,
) -> Result<Entry, Problem> {
    let column = |name: &str| -> Result<Option<f64>, Problem> { number(field(name)?, name, line) };
    let mut entry = Entry {
        requests: count(field("Total Request Count")?, "Total Request Count", line)?,
        failures: count(field("Total Failure Count")?, "Total Failure Count", line)?,
        avg_ms: column("Total Average Response Time")?,
        min_ms: column("Total Min Response Time")?,
        max_ms: column("Total Max Response Time")?,
        median_ms: column("Total Median Response Time")?,
        ..Entry::default()
    };
    for &(i, quantile) in &columns.percentiles {
        if let Some(value) = number(record.get(i), "percentile", line)? {
            entry.percentiles.push((quantile, value));
        }
    }
    Ok(entry)
}

/// `count` requests distributed as a row's percentiles say; a row whose window has no
/// percentiles yet (all 0) falls back on its cumulative median.
fn window_distribution(entry: &Entry, count: u64) -> Distribution {
    let mut summary = Summary {
        count,
        min_ms: entry.min_ms,
        max_ms: entry.max_ms,
        avg_ms: entry.avg_ms,
        points: Vec::new(),
    };
    if entry.percentiles.iter().all(|&(_, v)| v == 0.0) {
        if let Some(median) = entry.median_ms {
            summary.percentile(0.5, median);
        }
    } else {
        for &(quantile, value) in &entry.percentiles {
            summary.percentile(quantile, value);
        }
    }
    Distribution::from_summary(&summary)
}
