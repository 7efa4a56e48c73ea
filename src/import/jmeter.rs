//! Apache JMeter JTL files in CSV (`-l results.jtl`), read as JMeter appends them.
//!
//! One row per sample: `timeStamp` (start, epoch ms by default, or
//! `yyyy/MM/dd HH:mm:ss[.SSS]`), `elapsed` (ms), `label` (the sampler's name, the
//! request name for `--map`), `success` (`true`/`false`). The header line names the
//! columns (JMeter >= 3.0 writes one by default); without it (JMeter 2.13's default,
//! `print_field_names=false`) the columns are JMeter's default order, whose first
//! eight are the same in every version: `timeStamp, elapsed, label, responseCode,
//! responseMessage, threadName, dataType, success`. The delimiter is read off the
//! first line. With `sample_count` saved, `SampleCount`/`ErrorCount` weigh each row.
//! Transaction controllers' own rows ("Number of samples in transaction …") repeat
//! their children and are skipped. Each sample is counted into the buckets, so they
//! are exact; JMeter reports nothing in flight (`pending` 0).

use super::live::{CsvStream, MAX_RECORD_BYTES, Record};
use super::{KindMap, Problem, ToolRun};

/// Delimiters JMeter users set (`jmeter.save.saveservice.default_delimiter`).
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// True when a first line is a JTL header, or a JTL row of JMeter's default layout.
pub fn looks_like_jtl(first_line: &str) -> bool {
    if first_line.starts_with("timeStamp") && first_line.contains("elapsed") {
        return true;
    }
    let Some(delimiter) = delimiter_of(first_line.as_bytes()) else {
        return false;
    };
    let d = delimiter as char;
    let mut fields = first_line.split(d);
    let timestamp_ok = fields
        .next()
        .is_some_and(|t| parse_timestamp_ms(t).is_some());
    let elapsed_ok = fields.next().is_some_and(|e| e.parse::<u64>().is_ok());
    timestamp_ok
        && elapsed_ok
        && (first_line.contains(&format!("{d}true{d}"))
            || first_line.contains(&format!("{d}false{d}")))
}

fn delimiter_of(line: &[u8]) -> Option<u8> {
    line.iter().copied().find(|b| DELIMITERS.contains(b))
}

/// Milliseconds since the epoch (or since year 0 for a formatted local time; only
/// differences matter) of a `timeStamp` field.
fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let text = text.trim().trim_matches('"');
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    [
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
    .map(|t| t.and_utc().timestamp_millis())
}

/// Column positions of the fields BenchBoard reads.
#[derive(Debug, Clone)]
struct Layout {
    timestamp: usize,
    elapsed: usize,
    label: usize,
    success: usize,
    response_message: Option<usize>,
    sample_count: Option<usize>,
    error_count: Option<usize>,
}

impl Layout {
    /// JMeter's default order, for a file without a header.
    const DEFAULT: Layout = Layout {
        timestamp: 0,
        elapsed: 1,
        label: 2,
        success: 7,
        response_message: Some(4),
        sample_count: None,
        error_count: None,
    };

    fn from_header(record: &Record<'_>) -> Result<Layout, Problem> {
        let find = |name: &str| (0..record.len()).find(|&i| record.get(i).trim() == name);
        let need = |name: &str| {
            find(name).ok_or_else(|| Problem(format!("the header line has no {name:?} column; JMeter saves it unless jmeter.save.saveservice.{} is false", name.to_lowercase())))
        };
        Ok(Layout {
            timestamp: need("timeStamp")?,
            elapsed: need("elapsed")?,
            label: need("label")?,
            success: need("success")?,
            response_message: find("responseMessage"),
            sample_count: find("SampleCount"),
            error_count: find("ErrorCount"),
        })
    }
}

/// The running state of a JTL file being read.
pub struct JtlTally {
    map: KindMap,
    first_line: Vec<u8>,
    csv: Option<CsvStream>,
    layout: Option<Layout>,
    /// Fields of the header (or of the first row without one): a row with fewer is cut short.
    fields: usize,
    run: ToolRun,
    first_start_ms: Option<i64>,
    last_end_ms: Option<i64>,
}

impl JtlTally {
    /// An empty tally.
    pub fn new(map: KindMap) -> JtlTally {
        JtlTally {
            map,
            first_line: Vec::new(),
            csv: None,
            layout: None,
            fields: 0,
            run: ToolRun::default(),
            first_start_ms: None,
            last_end_ms: None,
        }
    }

    /// Reads more of the file.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Problem> {
        if self.csv.is_none() {
            // The delimiter is known once the first line is complete.
            self.first_line.extend_from_slice(bytes);
            let Some(end) = memchr::memchr(b'\n', &self.first_line) else {
                if self.first_line.len() > MAX_RECORD_BYTES {
                    return Err(Problem::new(
                        "the first line is longer than 1 MiB: not a JTL file",
                    ));
                }
                return Ok(());
            };
            let delimiter = delimiter_of(&self.first_line[..end]).ok_or_else(|| {
                Problem::new("the first line has no delimiter (, tab ; |): not a JTL file")
            })?;
            self.csv = Some(CsvStream::new(delimiter));
            let buffered = std::mem::take(&mut self.first_line);
            return self.feed_csv(&buffered);
        }
        self.feed_csv(bytes)
    }

    fn feed_csv(&mut self, bytes: &[u8]) -> Result<(), Problem> {
        let mut csv = self.csv.take().expect("set before");
        let result = csv.feed(bytes, &mut |n, record| self.record(n, record));
        self.csv = Some(csv);
        result
    }

    /// Ends the file: a last row without a newline counts too.
    pub fn finish(&mut self) -> Result<(), Problem> {
        if self.csv.is_none() && !self.first_line.is_empty() {
            self.first_line.push(b'\n');
            let line = std::mem::take(&mut self.first_line);
            self.feed(&line)?;
        }
        let Some(mut csv) = self.csv.take() else {
            return Ok(());
        };
        let result = csv.finish(&mut |n, record| self.record(n, record));
        self.csv = Some(csv);
        result
    }

    /// The file starts over (rotated or truncated): its first line is read anew.
    pub fn restart_file(&mut self) {
        self.csv = None;
        self.first_line.clear();
        self.layout = None;
    }

    fn record(&mut self, number: u64, record: &Record<'_>) -> Result<(), Problem> {
        if record.len() == 1 && record.get(0).trim().is_empty() {
            return Ok(());
        }
        if self.layout.is_none() {
            if record.get(0).trim() == "timeStamp"
                || (0..record.len()).any(|i| record.get(i) == "elapsed")
            {
                self.layout = Some(Layout::from_header(record)?);
                self.fields = record.len();
                return Ok(());
            }
            self.layout = Some(Layout::DEFAULT);
            self.fields = record.len();
        }
        if record.len() < self.fields {
            return Err(Problem(format!(
                "row {number}: has {} fields where the first line has {}: the row is cut short",
                record.len(),
                self.fields
            )));
        }
        let layout = self.layout.clone().expect("set above");
        self.sample(number, record, &layout)
    }

    fn sample(&mut self, number: u64, record: &Record<'_>, layout: &Layout) -> Result<(), Problem> {
        let field = |i: usize, name: &str| -> Result<&str, Problem> {
            if i >= record.len() {
                return Err(Problem(format!(
                    "row {number}: has {} fields, no {name} (field {}); a file without a header line must have JMeter's default columns",
                    record.len(),
                    i + 1
                )));
            }
            Ok(record.get(i))
        };
        let start_ms =
            parse_timestamp_ms(field(layout.timestamp, "timeStamp")?).ok_or_else(|| {
                Problem(format!(
                    "row {number}: timeStamp {:?} is not a time",
                    record.get(layout.timestamp)
                ))
            })?;
        let elapsed_text = field(layout.elapsed, "elapsed")?;
        let elapsed_ms: u64 = elapsed_text.trim().parse().map_err(|_| {
            Problem(format!(
                "row {number}: elapsed {elapsed_text:?} is not a duration in ms"
            ))
        })?;
        let success = match field(layout.success, "success")?.trim() {
            "true" => true,
            "false" => false,
            other => {
                return Err(Problem(format!(
                    "row {number}: success {other:?} is not true or false"
                )));
            }
        };
        let message = layout.response_message.map_or("", |i| record.get(i));
        if message.starts_with("Number of samples in transaction") {
            return Ok(());
        }
        let weight = |column: Option<usize>, default: u64| -> u64 {
            column
                .and_then(|i| record.get(i).trim().parse().ok())
                .unwrap_or(default)
        };
        let samples = weight(layout.sample_count, 1);
        let errors = weight(layout.error_count, u64::from(!success));
        let kind = self.map.kind_of(record.get(layout.label));
        self.run.tally.count(kind, samples, errors);
        self.run.tally.record(kind, elapsed_ms as f64);
        self.first_start_ms = Some(self.first_start_ms.map_or(start_ms, |t| t.min(start_ms)));
        let end_ms = start_ms.saturating_add(elapsed_ms as i64);
        self.last_end_ms = Some(self.last_end_ms.map_or(end_ms, |t| t.max(end_ms)));
        Ok(())
    }

    /// The run so far: from the first sample's start to the last one's end.
    pub fn run(&self) -> ToolRun {
        let mut run = self.run.clone();
        if let (Some(start), Some(end)) = (self.first_start_ms, self.last_end_ms) {
            run.elapsed_s = (end - start).max(0) as f64 / 1000.0;
        }
        run
    }
}
