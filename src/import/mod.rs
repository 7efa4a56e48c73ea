//! Importing what load tools already write: k6, Locust, oha, vegeta, wrk, JMeter and
//! Gatling results become BenchBoard reports.
//!
//! Each [`Format`] has its module that reads the tool's output into a [`ToolRun`]:
//! requests and failures per operation kind, latency distributions, the run's
//! length. [`ToolRun::to_report`] then applies the same counting rules to every tool:
//!
//! - each request the tool made is sent (`totalSent`) and, answered or failed,
//!   completed (`totalOps`); requests the tool reports as still in flight are
//!   `pending` (and sent); the tool's own failures are `totalErrors` and
//!   `performanceMetrics.errorRate` (% of completed);
//! - latencies are converted to ms exactly (oha and hey give seconds, vegeta
//!   nanoseconds, wrk microseconds, the others ms) and counted into BenchBoard's 13
//!   buckets; where the tool gives only percentiles, or a histogram on other bounds,
//!   the buckets are approximated ([`latency`]) and the report says
//!   `"source": {"approximate": true}`;
//! - requests go to the kind `sensorData` unless `--map NAME=KIND` sends a request
//!   name (k6's `name` tag, Locust's Name, JMeter's label) elsewhere ([`KindMap`]).
//!
//! ```
//! use benchboard::import::{convert, Choice, Options};
//! let vegeta = br#"{"latencies":{"total":30000000,"mean":10000000,"50th":9000000,"90th":12000000,
//!   "95th":13000000,"99th":14000000,"max":15000000,"min":5000000},"bytes_in":{"total":0,"mean":0},
//!   "bytes_out":{"total":0,"mean":0},"earliest":"2024-01-01T00:00:00Z","latest":"2024-01-01T00:00:02Z",
//!   "end":"2024-01-01T00:00:02.015Z","duration":2000000000,"wait":15000000,"requests":3,"rate":1.5,
//!   "throughput":0.99,"success":0.6666666666666666,"status_codes":{"200":2,"500":1},"errors":["500"]}"#;
//! let converted = convert(Choice::Auto, vegeta, &Options::default()).unwrap();
//! assert_eq!(converted.format.name(), "vegeta");
//! assert_eq!(converted.report["totalOps"], 3);
//! assert_eq!(converted.report["totalErrors"], 1);
//! benchboard::report::Report::from_value(converted.report).unwrap();
//! ```

mod detect;
pub mod follow;
pub mod gatling;
pub mod jmeter;
mod json;
pub mod k6;
pub mod latency;
pub mod live;
pub mod locust;
pub mod oha;
mod run;
pub mod vegeta;
pub mod wrk;

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use serde_json::Value;

pub use detect::detect;
pub use live::Live;
pub use run::{KindMap, Tally, ToolRun};

/// Largest tool output read into memory at once (a summary, not a stream), in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;

/// A tool output format BenchBoard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    K6Summary,
    K6HandleSummary,
    K6MachineSummary,
    K6Ndjson,
    LocustJson,
    LocustStats,
    LocustHistory,
    LocustWeb,
    Oha,
    Vegeta,
    Wrk,
    WrkJson,
    Jtl,
    Gatling,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 14] = [
        Format::K6Summary,
        Format::K6HandleSummary,
        Format::K6MachineSummary,
        Format::K6Ndjson,
        Format::LocustJson,
        Format::LocustStats,
        Format::LocustHistory,
        Format::LocustWeb,
        Format::Oha,
        Format::Vegeta,
        Format::Wrk,
        Format::WrkJson,
        Format::Jtl,
        Format::Gatling,
    ];

    /// The name used by `--format` and `POST /api/import/<format>`.
    pub fn name(self) -> &'static str {
        match self {
            Format::K6Summary => "k6-summary",
            Format::K6HandleSummary => "k6-handle-summary",
            Format::K6MachineSummary => "k6-machine-summary",
            Format::K6Ndjson => "k6-ndjson",
            Format::LocustJson => "locust-json",
            Format::LocustStats => "locust-stats",
            Format::LocustHistory => "locust-history",
            Format::LocustWeb => "locust-web",
            Format::Oha => "oha",
            Format::Vegeta => "vegeta",
            Format::Wrk => "wrk",
            Format::WrkJson => "wrk-json",
            Format::Jtl => "jtl",
            Format::Gatling => "gatling",
        }
    }

    /// What the format is, as the tool's users know it.
    pub fn describe(self) -> &'static str {
        match self {
            Format::K6Summary => "k6 --summary-export JSON",
            Format::K6HandleSummary => "k6 handleSummary() data as JSON",
            Format::K6MachineSummary => "k6 >= 1.5 --new-machine-readable-summary JSON",
            Format::K6Ndjson => "k6 --out json NDJSON",
            Format::LocustJson => "Locust --json-file output",
            Format::LocustStats => "Locust --csv _stats.csv",
            Format::LocustHistory => "Locust --csv _stats_history.csv",
            Format::LocustWeb => "Locust web UI /stats/requests JSON",
            Format::Oha => "oha --output-format json",
            Format::Vegeta => "vegeta report -type=json",
            Format::Wrk => "wrk --latency text summary",
            Format::WrkJson => "wrk -s scripts/wrk-json.lua output",
            Format::Jtl => "JMeter JTL CSV",
            Format::Gatling => "Gatling js/global_stats.json or js/stats.js",
        }
    }

    /// True for the formats a tool appends to while it runs (`watch` follows them).
    pub fn is_live(self) -> bool {
        matches!(self, Format::K6Ndjson | Format::LocustHistory | Format::Jtl)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ImportError;

    fn from_str(name: &str) -> Result<Format, ImportError> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| ImportError::UnknownFormat(name.to_string()))
    }
}

/// A named format, or `auto`: recognise it by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Auto,
    Format(Format),
}

impl FromStr for Choice {
    type Err = ImportError;

    fn from_str(name: &str) -> Result<Choice, ImportError> {
        if name == "auto" {
            Ok(Choice::Auto)
        } else {
            name.parse().map(Choice::Format)
        }
    }
}

/// Names of every choice, for usage messages: `auto, k6-summary, …`.
pub fn choice_names() -> String {
    let mut names = vec!["auto"];
    names.extend(Format::ALL.iter().map(|f| f.name()));
    names.join(", ")
}

/// How to convert: which request names go to which kind.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub map: KindMap,
}

/// Why a tool's output cannot be converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// The input is not (or not all of) the named format.
    #[error("{format} ({}): {problem}", format.describe())]
    Invalid { format: Format, problem: String },
    /// `auto` recognised none of the formats.
    #[error("auto: {0}; name the format with --format ({names})", names = choice_names())]
    Unrecognised(String),
    /// No such format name.
    #[error("unknown format {0:?}; the formats are {names}", names = choice_names())]
    UnknownFormat(String),
    /// A `--map` entry is wrong.
    #[error("--map {0}")]
    BadMap(String),
    /// `watch` was asked to follow a format that tools do not append to.
    #[error(
        "{0} is not written while the tool runs; watch follows k6-ndjson, locust-history and jtl"
    )]
    NotLive(Format),
    /// The input could not be read.
    #[error("cannot read the input: {0}")]
    Read(String),
    /// A summary format larger than [`MAX_DOCUMENT_BYTES`].
    #[error("{format}: the input is larger than {limit} bytes, too large for a summary")]
    TooLarge { format: Format, limit: usize },
}

impl ImportError {
    fn invalid(format: Format, problem: Problem) -> ImportError {
        ImportError::Invalid {
            format,
            problem: problem.0,
        }
    }
}

/// What is wrong with an input, without the format's name (the caller adds it).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem(pub String);

impl Problem {
    fn new(message: impl Into<String>) -> Problem {
        Problem(message.into())
    }
}

/// A converted tool output.
#[derive(Debug, Clone)]
pub struct Converted {
    pub format: Format,
    /// The tool's version, when its output says it.
    pub tool_version: Option<String>,
    /// True when some latency buckets were estimated from percentiles.
    pub approximate: bool,
    /// The BenchBoard report; it passes [`crate::report::Report::from_value`].
    pub report: Value,
}

/// Converts a whole tool output held in memory.
pub fn convert(choice: Choice, input: &[u8], options: &Options) -> Result<Converted, ImportError> {
    let format = match choice {
        Choice::Format(format) => format,
        Choice::Auto => detect(input)?,
    };
    let run = if format.is_live() {
        let mut live = Live::new(format, options.clone())?;
        live.feed(input)?;
        live.finish()?;
        live.run()
    } else {
        run::document(format, input, &options.map).map_err(|p| ImportError::invalid(format, p))?
    };
    Ok(run.converted(format))
}

/// Converts a tool output read from a stream: the live formats are aggregated as they
/// are read, in bounded memory; a summary format is read whole, up to
/// [`MAX_DOCUMENT_BYTES`].
pub fn convert_reader(
    choice: Choice,
    mut reader: impl Read,
    options: &Options,
) -> Result<Converted, ImportError> {
    let mut head = Vec::new();
    read_up_to(&mut reader, &mut head, detect::HEAD_BYTES)?;
    let complete = head.len() < detect::HEAD_BYTES;
    let format = match choice {
        Choice::Format(format) => format,
        Choice::Auto => match detect::detect_head(&head, complete) {
            Some(format) => format,
            // A JSON document is recognised by its structure: read it whole first.
            None => {
                if !read_up_to(&mut reader, &mut head, MAX_DOCUMENT_BYTES + 1)? {
                    return Err(ImportError::Unrecognised(format!(
                        "the input is larger than {MAX_DOCUMENT_BYTES} bytes and its start matches no format"
                    )));
                }
                detect(&head)?
            }
        },
    };
    if !format.is_live() {
        if !read_up_to(&mut reader, &mut head, MAX_DOCUMENT_BYTES + 1)? {
            return Err(ImportError::TooLarge {
                format,
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        return convert(Choice::Format(format), &head, options);
    }
    let mut live = Live::new(format, options.clone())?;
    live.feed(&head)?;
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| ImportError::Read(e.to_string()))?;
        if n == 0 {
            break;
        }
        live.feed(&chunk[..n])?;
    }
    live.finish()?;
    Ok(live.run().converted(format))
}

/// Reads until `buffer` holds `limit` bytes or the input ends; false when it reached
/// the limit (so there may be more).
fn read_up_to(
    reader: &mut impl Read,
    buffer: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ImportError> {
    let room = limit.saturating_sub(buffer.len()) as u64;
    reader
        .take(room)
        .read_to_end(buffer)
        .map_err(|e| ImportError::Read(e.to_string()))?;
    Ok(buffer.len() < limit)
}

/// The largest count taken from a tool's output: 2^53, the largest integer every
/// JSON reader (and the board's JavaScript) holds exactly.
pub const IMPORTED_COUNT_LIMIT: u64 = crate::report::plausibility::JS_EXACT_LIMIT as u64;

/// A count from a tool's number: a non-negative integer up to 2^53.
fn count_from_f64(number: f64) -> Result<u64, String> {
    if number >= 0.0 && number.fract() == 0.0 && number <= IMPORTED_COUNT_LIMIT as f64 {
        Ok(number as u64)
    } else {
        Err(format!(
            "expected a count (a non-negative integer up to 2^53), found {number}"
        ))
    }
}

/// Milliseconds from seconds, rounded to the picosecond (below any tool's
/// resolution), so that oha's 0.017514932 s is 17.514932 ms, not 17.514932000000002.
pub fn seconds_to_ms(seconds: f64) -> f64 {
    (seconds * 1e12).round() / 1e9
}

/// Milliseconds from nanoseconds (vegeta).
pub fn nanoseconds_to_ms(nanoseconds: f64) -> f64 {
    nanoseconds / 1e6
}

/// Milliseconds from microseconds (wrk).
pub fn microseconds_to_ms(microseconds: f64) -> f64 {
    microseconds / 1e3
}
