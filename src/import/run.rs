//! The common model of a tool's run and the counting rules that make it a report.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::json::Node;
use super::latency::Distribution;
use super::{Converted, Format, ImportError, Problem};
use crate::report::OPERATION_KINDS;

/// Which BenchBoard operation kind each of the tool's request names counts as.
///
/// Built from `NAME=KIND` entries (`--map`): `NAME` is a request name exactly as the
/// tool writes it (k6's `name` tag, Locust's Name, JMeter's label), or `*` for every
/// name not listed; `KIND` is one of [`OPERATION_KINDS`]. Without entries, every
/// request is `sensorData`.
#[derive(Debug, Clone, Default)]
pub struct KindMap {
    names: HashMap<String, usize>,
    default_kind: usize,
}

impl KindMap {
    /// Parses `NAME=KIND` entries.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<KindMap, ImportError> {
        let mut map = KindMap::default();
        for entry in entries {
            let entry = entry.as_ref();
            let (name, kind) = entry.rsplit_once('=').ok_or_else(|| {
                ImportError::BadMap(format!(
                    "{entry:?}: expected NAME=KIND, e.g. \"GET /api/query=query\""
                ))
            })?;
            let index = OPERATION_KINDS
                .iter()
                .position(|k| *k == kind)
                .ok_or_else(|| {
                    ImportError::BadMap(format!(
                        "{entry:?}: unknown kind {kind:?}; the kinds are {}",
                        OPERATION_KINDS.join(", ")
                    ))
                })?;
            if name == "*" {
                map.default_kind = index;
            } else if name.is_empty() {
                return Err(ImportError::BadMap(format!(
                    "{entry:?}: the request name is empty"
                )));
            } else {
                map.names.insert(name.to_string(), index);
            }
        }
        Ok(map)
    }

    /// Index in [`OPERATION_KINDS`] of the kind a request name counts as.
    pub fn kind_of(&self, name: &str) -> usize {
        self.names.get(name).copied().unwrap_or(self.default_kind)
    }

    /// The kind of requests that carry no name (oha, vegeta, wrk, Gatling's totals).
    pub fn default_kind(&self) -> usize {
        self.default_kind
    }
}

/// Requests, failures and latencies per operation kind.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    kinds: [KindTally; OPERATION_KINDS.len()],
}

#[derive(Debug, Clone, Default)]
struct KindTally {
    seen: bool,
    requests: u64,
    errors: u64,
    latency: Distribution,
}

impl Tally {
    /// Adds requests (answered or failed) and failures of one kind, without latencies.
    pub fn count(&mut self, kind: usize, requests: u64, errors: u64) {
        let tally = &mut self.kinds[kind];
        tally.seen = true;
        tally.requests = tally.requests.saturating_add(requests);
        tally.errors = tally.errors.saturating_add(errors);
    }

    /// Adds a latency distribution of one kind.
    pub fn latency(&mut self, kind: usize, latency: &Distribution) {
        self.kinds[kind].seen = true;
        self.kinds[kind].latency.merge(latency);
    }

    /// Adds one latency sample of one kind, in ms.
    pub fn record(&mut self, kind: usize, latency_ms: f64) {
        self.kinds[kind].seen = true;
        self.kinds[kind].latency.record(latency_ms);
    }

    /// Requests of every kind.
    pub fn requests(&self) -> u64 {
        self.kinds
            .iter()
            .map(|k| k.requests)
            .fold(0, u64::saturating_add)
    }

    /// Failures of every kind (never more than the requests of their kind).
    pub fn errors(&self) -> u64 {
        self.kinds
            .iter()
            .map(|k| k.errors.min(k.requests))
            .fold(0, u64::saturating_add)
    }

    /// True when some kind's buckets were estimated.
    pub fn approximate(&self) -> bool {
        self.kinds.iter().any(|k| k.latency.approximate)
    }

    /// `operations` and `latencyAnalysis`: every kind seen, and `sensorData` always.
    fn per_kind_json(&self) -> (Value, Value) {
        let mut operations = Map::new();
        let mut latency = Map::new();
        for (index, kind) in self.kinds.iter().enumerate() {
            if !kind.seen && index != 0 {
                continue;
            }
            let name = OPERATION_KINDS[index].to_string();
            operations.insert(
                name.clone(),
                json!({"operations": kind.requests, "errors": kind.errors.min(kind.requests)}),
            );
            latency.insert(name, distribution_json(&kind.latency));
        }
        (Value::Object(operations), Value::Object(latency))
    }

    fn overall_latency(&self) -> Distribution {
        let mut all = Distribution::default();
        for kind in &self.kinds {
            all.merge(&kind.latency);
        }
        all
    }
}

/// What a tool says about one run, before the counting rules.
#[derive(Debug, Clone, Default)]
pub struct ToolRun {
    /// Seconds the run lasted.
    pub elapsed_s: f64,
    /// Requests the tool reports as still in flight at the end.
    pub pending: u64,
    pub tally: Tally,
    pub tool_version: Option<String>,
}

impl ToolRun {
    /// The BenchBoard report of this run (see the module documentation of
    /// [`crate::import`] for the counting rules).
    pub fn to_report(&self, format: Format) -> Value {
        let ops = self.tally.requests();
        let errors = self.tally.errors();
        let sent = ops
            .saturating_add(self.pending)
            .min(crate::import::IMPORTED_COUNT_LIMIT);
        let elapsed_s = if self.elapsed_s.is_finite() {
            self.elapsed_s.max(0.0)
        } else {
            0.0
        };
        let per_second = |n: u64| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        };
        let (operations, latency) = self.tally.per_kind_json();
        let overall = self.tally.overall_latency();
        let mut report = Map::new();
        report.insert("totalElapsed".into(), json!(elapsed_s));
        report.insert("totalSent".into(), json!(sent));
        report.insert("totalOps".into(), json!(ops));
        report.insert("totalErrors".into(), json!(errors));
        report.insert("totalSaveDelayErrors".into(), json!(0));
        report.insert("pending".into(), json!(self.pending.min(sent)));
        if overall.count > 0 {
            report.insert("totalAvgLatency".into(), json!(overall.avg_ms()));
        }
        report.insert("operations".into(), operations);
        report.insert(
            "performanceMetrics".into(),
            json!({
                "avgSentQPS": per_second(sent),
                "avgCompletedQPS": per_second(ops),
                "errorRate": if ops > 0 { errors as f64 * 100.0 / ops as f64 } else { 0.0 },
            }),
        );
        report.insert("latencyAnalysis".into(), latency);
        report.insert("source".into(), self.source_json(format));
        Value::Object(report)
    }

    /// `{"format", "tool_version" (when known), "approximate"}`.
    fn source_json(&self, format: Format) -> Value {
        let mut source = Map::new();
        source.insert("format".into(), json!(format.name()));
        if let Some(version) = &self.tool_version {
            source.insert("tool_version".into(), json!(version));
        }
        source.insert("approximate".into(), json!(self.tally.approximate()));
        Value::Object(source)
    }

    /// The converted form: the report plus what the caller stores beside it.
    pub fn converted(&self, format: Format) -> Converted {
        Converted {
            format,
            tool_version: self.tool_version.clone(),
            approximate: self.tally.approximate(),
            report: self.to_report(format),
        }
    }
}

fn distribution_json(latency: &Distribution) -> Value {
    json!({
        "avg": finite(latency.avg_ms()),
        "min": finite(latency.min_or_zero()),
        "max": finite(latency.max_or_zero()),
        "buckets": latency.buckets,
    })
}

fn finite(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

/// Reads a summary format held in memory.
pub(super) fn document(format: Format, input: &[u8], map: &KindMap) -> Result<ToolRun, Problem> {
    let text = std::str::from_utf8(input).map_err(|e| {
        Problem(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let text = text.trim_start_matches('\u{feff}');
    match format {
        Format::Wrk => return super::wrk::from_text(text, map),
        Format::WrkJson => return super::wrk::from_json_line(text, map),
        Format::LocustStats => return super::locust::from_stats_csv(text, map),
        Format::Gatling => return super::gatling::from_text(text, map),
        _ => {}
    }
    let value = parse_json(text)?;
    let root = Node::root(&value);
    match format {
        Format::K6Summary => super::k6::from_summary_export(&root, map),
        Format::K6HandleSummary => super::k6::from_handle_summary(&root, map),
        Format::K6MachineSummary => super::k6::from_machine_summary(&root, map),
        Format::LocustJson => super::locust::from_json_file(&root, map),
        Format::LocustWeb => super::locust::from_web_stats(&root, map),
        Format::Oha => super::oha::from_json(&root, map),
        Format::Vegeta => super::vegeta::from_json(&root, map),
        _ => unreachable!("live and text formats are read above or by the live aggregator"),
    }
}

/// Parses a JSON document; an input that ends early is called truncated.
pub(super) fn parse_json(text: &str) -> Result<Value, Problem> {
    if text.trim().is_empty() {
        return Err(Problem::new("the input is empty"));
    }
    serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            Problem(format!(
                "the JSON ends early (line {}, column {}): the file looks truncated",
                e.line(),
                e.column()
            ))
        } else {
            Problem(format!("not valid JSON: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_entries_route_names_and_the_default() {
        let map = KindMap::parse(&["GET /q=query", "*=sensorRW", "a=b=batchRW"]).unwrap();
        assert_eq!(map.kind_of("GET /q"), 3);
        assert_eq!(map.kind_of("a=b"), 2);
        assert_eq!(map.kind_of("other"), 1);
        assert_eq!(map.default_kind(), 1);
        let error = KindMap::parse(&["x=writes"]).unwrap_err().to_string();
        assert!(error.contains("unknown kind \"writes\""), "{error}");
        assert!(
            KindMap::parse(&["nothing"])
                .unwrap_err()
                .to_string()
                .contains("NAME=KIND")
        );
    }

    #[test]
    fn counting_rules_make_a_valid_report() {
        let mut run = ToolRun {
            elapsed_s: 4.0,
            pending: 2,
            ..ToolRun::default()
        };
        run.tally.count(3, 10, 1);
        run.tally.record(3, 4.0);
        run.tally.record(3, 6.0);
        let report = run.to_report(Format::Oha);
        assert_eq!(report["totalSent"], 12);
        assert_eq!(report["totalOps"], 10);
        assert_eq!(report["totalErrors"], 1);
        assert_eq!(report["pending"], 2);
        assert_eq!(report["performanceMetrics"]["avgSentQPS"], 3.0);
        assert_eq!(report["performanceMetrics"]["avgCompletedQPS"], 2.5);
        assert_eq!(report["performanceMetrics"]["errorRate"], 10.0);
        assert_eq!(report["operations"]["sensorData"]["operations"], 0);
        assert_eq!(report["latencyAnalysis"]["query"]["avg"], 5.0);
        assert_eq!(report["totalAvgLatency"], 5.0);
        assert_eq!(
            report["source"],
            json!({"format": "oha", "approximate": false})
        );
        crate::report::Report::from_value(report).unwrap();
    }

    #[test]
    fn truncated_json_is_named_truncated() {
        let problem = parse_json("{\"summary\": {\"total\": 1").unwrap_err();
        assert!(problem.0.contains("looks truncated"), "{problem:?}");
        assert!(
            parse_json("{\"a\": x}")
                .unwrap_err()
                .0
                .starts_with("not valid JSON")
        );
    }
}
