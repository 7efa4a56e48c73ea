//! The report a team's load-test tool sends (DESIGN §2): parsing and validation.
//!
//! A report is checked field by field; the first rule it breaks becomes a
//! [`ValidationError`] whose message starts with the field path, e.g.
//! `latencyAnalysis.sensorData.buckets[3]: expected an integer, found "x"`.
//! The body's bytes are kept as sent, so unknown extra fields are stored verbatim.
//!
//! Like the original tool, a report whose shape is right is accepted even when its
//! numbers are implausible (a negative count, a count beyond 2^53): those are judged
//! afterwards, as warnings, by [`plausibility`]. Booleans and numbers sent as
//! strings are refused on purpose (the original took them as they came).

use serde_json::{Map, Value};

pub mod plausibility;

/// Deepest JSON nesting a report may have; deeper bodies are refused before parsing.
pub const MAX_DEPTH: usize = 64;

/// Number of latency buckets: 12 bounded ones plus one overflow bucket (> 5000 ms).
pub const BUCKET_COUNT: usize = 13;

/// Operation kinds a report may carry, in display order; `sensorData` is required.
pub const OPERATION_KINDS: [&str; 4] = ["sensorData", "sensorRW", "batchRW", "query"];

/// An operation kind in snake case, as CSV columns and rule metrics name it:
/// `sensorData` → `sensor_data`, `batchRW` → `batch_rw`.
pub fn kind_snake_name(kind: &str) -> String {
    let mut out = String::new();
    for c in kind.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out.replace("_r_w", "_rw")
}

/// Why a report body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// The body is empty.
    #[error("empty body: expected a JSON object with the report")]
    Empty,
    /// The body is not UTF-8.
    #[error("body is not valid UTF-8 (invalid byte at offset {0}); send the report as UTF-8 JSON")]
    NotUtf8(usize),
    /// The body nests arrays/objects deeper than [`MAX_DEPTH`].
    #[error("JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The body is not JSON, or has a number that overflows (`1e400`), `NaN`, ...
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A field breaks the schema; `path` names it.
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

impl ValidationError {
    fn field(path: &str, message: impl Into<String>) -> Self {
        ValidationError::Field {
            path: if path.is_empty() {
                "body".to_string()
            } else {
                path.to_string()
            },
            message: message.into(),
        }
    }
}

/// A count as sent: any integer from `i64::MIN` to `u64::MAX` (the original stored
/// whatever integer it got). An `i128` holds the whole range, and sums of a handful
/// of them cannot overflow.
pub type Count = i128;

/// Counts of one operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OperationCounts {
    pub operations: Count,
    pub errors: Count,
}

/// The high-priority block (`highPriorityStats`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HighPriorityStats {
    pub sensor_data_count: Count,
    pub total_count: Count,
    /// Share of high-priority requests, in %.
    pub percentage: f64,
    /// The optional counts, as sent: `sensorRWCount`, `batchRWCount`, `queryCount`.
    pub other_counts: [Option<Count>; 3],
}

/// Names of [`HighPriorityStats::other_counts`], in order.
pub const HIGH_PRIORITY_OTHER_COUNTS: [&str; 3] = ["sensorRWCount", "batchRWCount", "queryCount"];

/// `performanceMetrics`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Performance {
    pub avg_sent_qps: f64,
    pub avg_completed_qps: f64,
    /// Error rate in %.
    pub error_rate_pct: f64,
}

/// A latency distribution of one operation kind (`latencyAnalysis.<kind>`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LatencyDistribution {
    pub avg_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Counts per bucket, always [`BUCKET_COUNT`] long (missing trailing buckets are 0).
    pub buckets: [Count; BUCKET_COUNT],
    pub high_priority_count: Option<Count>,
    pub high_priority_avg_ms: Option<f64>,
    /// `highPriorityBuckets` when sent: the counts and how many were sent.
    pub high_priority_buckets: Option<([Count; BUCKET_COUNT], usize)>,
}

/// A validated report: the typed fields the metrics need, plus the body as sent.
#[derive(Debug, Clone)]
pub struct Report {
    pub total_elapsed_s: f64,
    pub total_sent: Count,
    pub total_ops: Count,
    pub total_errors: Count,
    pub total_save_delay_errors: Count,
    pub pending: Count,
    pub total_avg_latency_ms: Option<f64>,
    pub high_priority_avg_delay_latency_ms: Option<f64>,
    /// % of completed writes not found on disk 3 s later.
    pub total_verify_error_rate: Option<f64>,
    /// Known operation kinds present, in [`OPERATION_KINDS`] order.
    pub operations: Vec<(&'static str, OperationCounts)>,
    pub high_priority: Option<HighPriorityStats>,
    pub performance: Performance,
    /// Latency distributions of the known kinds present, in [`OPERATION_KINDS`] order.
    pub latency: Vec<(&'static str, LatencyDistribution)>,
    /// The parsed body, every field as sent (key order kept).
    pub value: Value,
}

impl Report {
    /// Parses and validates a request body; on success the report keeps the value as sent.
    pub fn parse(body: &[u8]) -> Result<Report, ValidationError> {
        let text =
            std::str::from_utf8(body).map_err(|e| ValidationError::NotUtf8(e.valid_up_to()))?;
        if text.trim().is_empty() {
            return Err(ValidationError::Empty);
        }
        if nesting_depth_exceeds(text.as_bytes(), MAX_DEPTH) {
            return Err(ValidationError::TooDeep);
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| ValidationError::Json(e.to_string()))?;
        Report::from_value(value)
    }

    /// Validates an already parsed JSON value (for instance the `stats` of a stored file).
    pub fn from_value(value: Value) -> Result<Report, ValidationError> {
        let report = Report::fields_of(&value)?;
        Ok(Report { value, ..report })
    }

    /// Validates a JSON value without taking it: the typed fields only (the returned
    /// report's `value` is null), which is all [`crate::metrics::Metrics::of`] needs.
    pub fn fields_of(value: &Value) -> Result<Report, ValidationError> {
        let root = Obj::root(value)?;
        let operations = root.req_object("operations")?;
        let latency = root.req_object("latencyAnalysis")?;
        let performance = root.req_object("performanceMetrics")?;
        let report = Report {
            total_elapsed_s: root.req_number("totalElapsed")?,
            total_sent: root.req_count("totalSent")?,
            total_ops: root.req_count("totalOps")?,
            total_errors: root.req_count("totalErrors")?,
            total_save_delay_errors: root.req_count("totalSaveDelayErrors")?,
            pending: root.req_count("pending")?,
            total_avg_latency_ms: root.opt_number("totalAvgLatency")?,
            high_priority_avg_delay_latency_ms: root.opt_number("highPriorityAvgDelayLatency")?,
            total_verify_error_rate: root.opt_number("totalVerifyErrorRate")?,
            operations: per_kind(&operations, parse_counts)?,
            high_priority: root
                .opt_object("highPriorityStats")?
                .map(|o| parse_high_priority(&o))
                .transpose()?,
            performance: Performance {
                avg_sent_qps: performance.req_number("avgSentQPS")?,
                avg_completed_qps: performance.req_number("avgCompletedQPS")?,
                error_rate_pct: performance.req_number("errorRate")?,
            },
            latency: per_kind(&latency, parse_distribution)?,
            value: Value::Null,
        };
        Ok(report)
    }

    /// The `sensorData` latency distribution (always present in a valid report).
    pub fn sensor_data_latency(&self) -> &LatencyDistribution {
        &self
            .latency
            .iter()
            .find(|(kind, _)| *kind == "sensorData")
            .expect("validation requires latencyAnalysis.sensorData")
            .1
    }
}

/// Reads each known kind of an object, requiring `sensorData`; unknown kinds stay unread.
fn per_kind<T>(
    object: &Obj<'_>,
    parse: fn(&Obj<'_>) -> Result<T, ValidationError>,
) -> Result<Vec<(&'static str, T)>, ValidationError> {
    let mut out = Vec::new();
    for kind in OPERATION_KINDS {
        let entry = if kind == "sensorData" {
            Some(object.req_object(kind)?)
        } else {
            object.opt_object(kind)?
        };
        if let Some(entry) = entry {
            out.push((kind, parse(&entry)?));
        }
    }
    Ok(out)
}

fn parse_counts(o: &Obj<'_>) -> Result<OperationCounts, ValidationError> {
    Ok(OperationCounts {
        operations: o.req_count("operations")?,
        errors: o.req_count("errors")?,
    })
}

fn parse_high_priority(o: &Obj<'_>) -> Result<HighPriorityStats, ValidationError> {
    let mut other_counts = [None; 3];
    for (count, name) in other_counts.iter_mut().zip(HIGH_PRIORITY_OTHER_COUNTS) {
        *count = o.opt_count(name)?;
    }
    Ok(HighPriorityStats {
        sensor_data_count: o.req_count("sensorDataCount")?,
        total_count: o.req_count("totalCount")?,
        percentage: o.req_number("percentage")?,
        other_counts,
    })
}

fn parse_distribution(o: &Obj<'_>) -> Result<LatencyDistribution, ValidationError> {
    o.opt_number("highPriorityMin")?;
    o.opt_number("highPriorityMax")?;
    let high_priority_buckets = o.opt_buckets("highPriorityBuckets")?.map(|buckets| {
        let sent = o
            .get("highPriorityBuckets")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        (buckets, sent)
    });
    Ok(LatencyDistribution {
        avg_ms: o.req_number("avg")?,
        min_ms: o.req_number("min")?,
        max_ms: o.req_number("max")?,
        buckets: o
            .opt_buckets("buckets")?
            .ok_or_else(|| o.missing("buckets"))?,
        high_priority_count: o.opt_count("highPriorityCount")?,
        high_priority_avg_ms: o.opt_number("highPriorityAvg")?,
        high_priority_buckets,
    })
}

/// A JSON object being validated, with the path that leads to it.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn root(value: &'a Value) -> Result<Obj<'a>, ValidationError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                path: String::new(),
            }),
            other => Err(ValidationError::field(
                "",
                format!("expected a JSON object, found {}", describe(other)),
            )),
        }
    }

    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.path, name)
        }
    }

    fn missing(&self, name: &str) -> ValidationError {
        ValidationError::field(&self.path_of(name), "required field is missing")
    }

    /// The field's value; `None` when absent or null.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn opt_object(&self, name: &str) -> Result<Option<Obj<'a>>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                path: self.path_of(name),
            })),
            Some(other) => Err(ValidationError::field(
                &self.path_of(name),
                format!("expected an object, found {}", describe(other)),
            )),
        }
    }

    fn req_object(&self, name: &str) -> Result<Obj<'a>, ValidationError> {
        self.opt_object(name)?.ok_or_else(|| self.missing(name))
    }

    fn opt_number(&self, name: &str) -> Result<Option<f64>, ValidationError> {
        self.get(name)
            .map(|v| {
                as_number(v).ok_or_else(|| type_error(&self.path_of(name), "a finite number", v))
            })
            .transpose()
    }

    fn req_number(&self, name: &str) -> Result<f64, ValidationError> {
        self.opt_number(name)?.ok_or_else(|| self.missing(name))
    }

    fn opt_count(&self, name: &str) -> Result<Option<Count>, ValidationError> {
        self.get(name)
            .map(|v| as_count(v).ok_or_else(|| type_error(&self.path_of(name), AN_INTEGER, v)))
            .transpose()
    }

    fn req_count(&self, name: &str) -> Result<Count, ValidationError> {
        self.opt_count(name)?.ok_or_else(|| self.missing(name))
    }

    fn opt_buckets(&self, name: &str) -> Result<Option<[Count; BUCKET_COUNT]>, ValidationError> {
        let path = self.path_of(name);
        let items = match self.get(name) {
            None => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(type_error(&path, "an array of counts", other)),
        };
        if items.len() > BUCKET_COUNT {
            return Err(ValidationError::field(
                &path,
                format!(
                    "expected at most {BUCKET_COUNT} buckets, found {}",
                    items.len()
                ),
            ));
        }
        let mut buckets = [0; BUCKET_COUNT];
        for (i, item) in items.iter().enumerate() {
            buckets[i] = as_count(item)
                .ok_or_else(|| type_error(&format!("{path}[{i}]"), AN_INTEGER, item))?;
        }
        Ok(Some(buckets))
    }
}

/// A finite number (serde_json never yields NaN or infinity from text).
fn as_number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite())
}

/// What a count must be, in error messages.
const AN_INTEGER: &str = "an integer of at most 64 bits";

/// An integer from `i64::MIN` to `u64::MAX`, kept exactly; an integral float such as
/// `980.0` counts too, as JavaScript tools send them. Booleans and numeric strings
/// are not counts (the original took them; we refuse them on purpose).
fn as_count(value: &Value) -> Option<Count> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(n) = n.as_u64() {
        return Some(Count::from(n));
    }
    if let Some(n) = n.as_i64() {
        return Some(Count::from(n));
    }
    let f = n.as_f64()?;
    // Both bounds are powers of two, exact in an f64; `as` is exact for integral
    // floats in this range.
    let in_range = f >= i64::MIN as f64 && f < 18_446_744_073_709_551_616.0;
    (f.fract() == 0.0 && in_range).then_some(f as Count)
}

fn type_error(path: &str, expected: &str, found: &Value) -> ValidationError {
    ValidationError::field(
        path,
        format!("expected {expected}, found {}", describe(found)),
    )
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// True when arrays/objects nest deeper than `limit`; strings are skipped, so
/// brackets inside them do not count. Runs before parsing so deep input costs O(n).
fn nesting_depth_exceeds(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests;
