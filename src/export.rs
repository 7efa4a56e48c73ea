//! A team's history as CSV, JSON or NDJSON: one module per format, each streaming
//! rows to any [`io::Write`] without holding more than one row.
//!
//! Rows come from anything that yields [`ExportRow`]s: [`StoreRows`] reads them from
//! a [`Store`] (the files in parallel, the order kept), `benchboard-history --server`
//! builds them from the history API. The server's CSV download calls the same writer:
//!
//! ```no_run
//! use benchboard::export::{self, StoreRows, TimeRange};
//! use benchboard::store::{OpenMode, Store};
//! use benchboard::team::TeamId;
//! let store = Store::open("data", OpenMode::ReadOnly).unwrap();
//! let team = TeamId::parse("team1").unwrap();
//! let rows = StoreRows::new(&store, &[team], &TimeRange::default(), false)
//!     .filter_map(|row| row.map_err(|e| eprintln!("warning: skipping {e}")).ok());
//! export::csv::write(std::io::stdout().lock(), rows).unwrap();
//! ```

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::thread::JoinHandle;

use chrono::{DateTime, FixedOffset};
use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Serialize;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::report::{Report, ValidationError};
use crate::store::{Store, StoreError, StoredReport, read_report_file};
use crate::team::TeamId;

/// The formats an export can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One row per report, flattened columns with units in their names.
    Csv,
    /// One JSON array of history entries.
    Json,
    /// One history entry (a JSON object) per line.
    Ndjson,
}

/// Writes `rows` in `format`; returns the number of rows written.
pub fn write(
    format: Format,
    w: impl io::Write,
    rows: impl Iterator<Item = ExportRow>,
) -> io::Result<usize> {
    match format {
        Format::Csv => csv::write(w, rows),
        Format::Json => json::write(w, rows),
        Format::Ndjson => ndjson::write(w, rows),
    }
}

/// One stored report with its derived numbers: what an export writes per report.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub team_id: String,
    pub team_name: String,
    /// The timestamp as stored (RFC 3339, or the original's naive local time).
    pub timestamp: String,
    /// The validated report; `report.value` is the stats object as sent (or `Null`
    /// when the source dropped it because only CSV is written).
    pub report: Report,
    pub metrics: Metrics,
}

impl ExportRow {
    /// Validates a stored report's `stats` and computes its metrics.
    pub fn new(
        team_id: String,
        team_name: String,
        timestamp: String,
        stats: Value,
    ) -> Result<ExportRow, ValidationError> {
        let report = Report::from_value(stats)?;
        let metrics = Metrics::of(&report);
        Ok(ExportRow {
            team_id,
            team_name,
            timestamp,
            report,
            metrics,
        })
    }

    /// A row from a report file as the store read it.
    pub fn from_stored(stored: StoredReport, path: PathBuf) -> Result<ExportRow, StoreError> {
        ExportRow::new(
            stored.team_id.as_str().to_string(),
            stored.team_name,
            stored.timestamp,
            stored.stats,
        )
        .map_err(|e| StoreError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// The row as the history API shows an entry.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.entry()).expect("history entries serialize")
    }

    fn entry(&self) -> Entry<'_> {
        Entry::new(
            &self.team_id,
            &self.team_name,
            &self.timestamp,
            &self.report.value,
            &self.metrics,
        )
    }
}

/// A history entry as the API shows it: `team_id, team_name, timestamp, stats, metrics`.
pub fn history_entry_json(
    team_id: &str,
    team_name: &str,
    timestamp: &str,
    stats: &Value,
    metrics: &Metrics,
) -> Value {
    serde_json::to_value(Entry::new(team_id, team_name, timestamp, stats, metrics))
        .expect("history entries serialize")
}

/// A history entry, borrowed from its parts (serialized without copying the stats first).
#[derive(Serialize)]
struct Entry<'a> {
    team_id: &'a str,
    team_name: &'a str,
    timestamp: &'a str,
    stats: &'a Value,
    metrics: Value,
}

impl<'a> Entry<'a> {
    fn new(
        team_id: &'a str,
        team_name: &'a str,
        timestamp: &'a str,
        stats: &'a Value,
        metrics: &Metrics,
    ) -> Entry<'a> {
        Entry {
            team_id,
            team_name,
            timestamp,
            stats,
            metrics: metrics.to_json(),
        }
    }
}

/// An inclusive time range; an open end is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeRange {
    pub since: Option<DateTime<FixedOffset>>,
    pub until: Option<DateTime<FixedOffset>>,
}

impl TimeRange {
    /// True when `at` lies within the range (both ends included).
    pub fn contains(&self, at: &DateTime<FixedOffset>) -> bool {
        self.since.is_none_or(|since| *at >= since) && self.until.is_none_or(|until| *at <= until)
    }

    /// True when neither end is set.
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }
}

/// CSV: a header, then one record per report.
pub mod csv {
    use std::io;

    use super::ExportRow;
    use crate::report::{BUCKET_COUNT, LatencyDistribution, OPERATION_KINDS};

    /// One cell of a row.
    enum Cell<'a> {
        Text(&'a str),
        Count(crate::report::Count),
        Number(f64),
        Empty,
    }

    impl<'a> From<Option<f64>> for Cell<'a> {
        fn from(value: Option<f64>) -> Cell<'a> {
            value.map_or(Cell::Empty, Cell::Number)
        }
    }

    type Getter = Box<dyn for<'r> Fn(&'r ExportRow) -> Cell<'r> + Send + Sync>;

    struct Column {
        name: String,
        get: Getter,
    }

    fn column(
        name: impl Into<String>,
        get: impl for<'r> Fn(&'r ExportRow) -> Cell<'r> + Send + Sync + 'static,
    ) -> Column {
        Column {
            name: name.into(),
            get: Box::new(get),
        }
    }

    /// Column names of an operation kind: `sensorData` -> `sensor_data`.
    fn snake(kind: &str) -> String {
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

    /// Names of the latency bucket columns, from the bucket bounds (ms).
    fn bucket_names() -> [String; BUCKET_COUNT] {
        let bounds = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
        std::array::from_fn(|i| match bounds.get(i) {
            Some(bound) => format!("le_{bound}ms"),
            None => "gt_5000ms".to_string(),
        })
    }

    /// Every column, in order. Names are stable: a column is there even when no row
    /// has its operation kind (its cells are empty then).
    fn columns() -> Vec<Column> {
        let mut cols = vec![
            column("team_id", |r| Cell::Text(&r.team_id)),
            column("team_name", |r| Cell::Text(&r.team_name)),
            column("timestamp", |r| Cell::Text(&r.timestamp)),
            column("elapsed_s", |r| Cell::Number(r.report.total_elapsed_s)),
            column("sent", |r| Cell::Count(r.report.total_sent)),
            column("completed", |r| Cell::Count(r.report.total_ops)),
            column("errors", |r| Cell::Count(r.report.total_errors)),
            column("save_delay_errors", |r| {
                Cell::Count(r.report.total_save_delay_errors)
            }),
            column("pending", |r| Cell::Count(r.report.pending)),
            column("completed_qps", |r| Cell::Number(r.metrics.qps)),
            column("sent_qps", |r| {
                Cell::Number(r.report.performance.avg_sent_qps)
            }),
            column("error_rate_pct", |r| {
                Cell::Number(r.report.performance.error_rate_pct)
            }),
            column("failure_rate_pct", |r| {
                Cell::Number(r.metrics.data_loss_rate)
            }),
            column("avg_latency_ms", |r| Cell::Number(r.metrics.avg_latency)),
            column("p99_latency_ms", |r| Cell::Number(r.metrics.p99_latency)),
            column("high_priority_latency_ms", |r| {
                Cell::Number(r.metrics.high_priority_latency)
            }),
            column("total_avg_latency_ms", |r| {
                r.report.total_avg_latency_ms.into()
            }),
            column("high_priority_avg_delay_latency_ms", |r| {
                r.report.high_priority_avg_delay_latency_ms.into()
            }),
            column("verify_error_rate_pct", |r| {
                r.report.total_verify_error_rate.into()
            }),
            column("high_priority_sensor_data_count", |r| {
                r.report
                    .high_priority
                    .map_or(Cell::Empty, |h| Cell::Count(h.sensor_data_count))
            }),
            column("high_priority_total_count", |r| {
                r.report
                    .high_priority
                    .map_or(Cell::Empty, |h| Cell::Count(h.total_count))
            }),
            column("high_priority_pct", |r| {
                r.report
                    .high_priority
                    .map_or(Cell::Empty, |h| Cell::Number(h.percentage))
            }),
        ];
        for kind in OPERATION_KINDS {
            let name = snake(kind);
            let ops = move |r: &ExportRow| {
                r.report
                    .operations
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, c)| *c)
            };
            cols.push(column(format!("{name}_operations"), move |r| {
                ops(r).map_or(Cell::Empty, |c| Cell::Count(c.operations))
            }));
            cols.push(column(format!("{name}_errors"), move |r| {
                ops(r).map_or(Cell::Empty, |c| Cell::Count(c.errors))
            }));
        }
        for kind in OPERATION_KINDS {
            latency_columns(&mut cols, kind);
        }
        cols
    }

    fn dist_of<'r>(r: &'r ExportRow, kind: &str) -> Option<&'r LatencyDistribution> {
        r.report
            .latency
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| d)
    }

    fn latency_columns(cols: &mut Vec<Column>, kind: &'static str) {
        let name = snake(kind);
        let pct = move |r: &ExportRow| {
            r.metrics
                .percentiles
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, p)| *p)
        };
        cols.push(column(format!("{name}_avg_ms"), move |r| {
            dist_of(r, kind).map(|d| d.avg_ms).into()
        }));
        cols.push(column(format!("{name}_min_ms"), move |r| {
            dist_of(r, kind).map(|d| d.min_ms).into()
        }));
        cols.push(column(format!("{name}_max_ms"), move |r| {
            dist_of(r, kind).map(|d| d.max_ms).into()
        }));
        cols.push(column(format!("{name}_p50_ms"), move |r| {
            pct(r).map(|p| p.p50).into()
        }));
        cols.push(column(format!("{name}_p90_ms"), move |r| {
            pct(r).map(|p| p.p90).into()
        }));
        cols.push(column(format!("{name}_p99_ms"), move |r| {
            pct(r).map(|p| p.p99).into()
        }));
        cols.push(column(format!("{name}_p999_ms"), move |r| {
            pct(r).map(|p| p.p999).into()
        }));
        cols.push(column(format!("{name}_high_priority_count"), move |r| {
            dist_of(r, kind)
                .and_then(|d| d.high_priority_count)
                .map_or(Cell::Empty, Cell::Count)
        }));
        cols.push(column(format!("{name}_high_priority_avg_ms"), move |r| {
            dist_of(r, kind).and_then(|d| d.high_priority_avg_ms).into()
        }));
        for (i, bucket) in bucket_names().into_iter().enumerate() {
            cols.push(column(format!("{name}_bucket_{bucket}"), move |r| {
                dist_of(r, kind).map_or(Cell::Empty, |d| Cell::Count(d.buckets[i]))
            }));
        }
    }

    /// The header: every column name, in order.
    pub fn header() -> Vec<String> {
        columns().into_iter().map(|c| c.name).collect()
    }

    /// Writes a header and one record per row; returns the number of rows.
    ///
    /// Columns: `team_id, team_name, timestamp`, the report's counts and rates
    /// (`elapsed_s`, `sent`, `completed`, ..., `*_pct`, `*_ms`), the derived metrics
    /// (`completed_qps`, `failure_rate_pct`, `avg_latency_ms`, `p99_latency_ms`,
    /// `high_priority_latency_ms`), then per operation kind its counts, latency
    /// distribution, percentiles and buckets. Absent values are empty cells.
    pub fn write(w: impl io::Write, rows: impl Iterator<Item = ExportRow>) -> io::Result<usize> {
        let columns = columns();
        let mut out = ::csv::WriterBuilder::new()
            .buffer_capacity(256 * 1024)
            .from_writer(w);
        out.write_record(columns.iter().map(|c| c.name.as_str()))
            .map_err(into_io)?;
        // ryu / itoa: number formatting is a good part of the writer's time.
        let mut float_text = ryu::Buffer::new();
        let mut int_text = itoa::Buffer::new();
        let mut count = 0;
        for row in rows {
            for col in &columns {
                match (col.get)(&row) {
                    Cell::Text(t) => out.write_field(spreadsheet_safe(t).as_ref()),
                    Cell::Count(n) => out.write_field(int_text.format(n)),
                    Cell::Number(x) => out.write_field(float_text.format(x)),
                    Cell::Empty => out.write_field(""),
                }
                .map_err(into_io)?;
            }
            out.write_record(None::<&[u8]>).map_err(into_io)?;
            count += 1;
        }
        out.flush()?;
        Ok(count)
    }

    /// Streams the CSV of `rows` through a pipe written by a thread of its own, so a
    /// server can send it while it is produced; rows that cannot be read are skipped
    /// with a warning. The thread ends when the reader is dropped.
    pub fn stream(rows: super::StoreRows) -> io::Result<io::PipeReader> {
        let (reader, writer) = io::pipe()?;
        std::thread::Builder::new()
            .name("csv-export".into())
            .spawn(move || {
                let rows =
                    rows.filter_map(|row| row.map_err(|e| log::warn!("export: skipping {e}")).ok());
                // An error here is the reader gone (download cancelled): nothing to do.
                let _ = write(writer, rows);
            })?;
        Ok(reader)
    }

    /// Text as a spreadsheet shows it: a cell that starts with `=`, `+`, `-` or `@`
    /// would be run as a formula (CSV injection), so it gets a leading `'`. Only team
    /// names can start so (ids and timestamps cannot).
    pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
        if text.starts_with(['=', '+', '-', '@']) {
            format!("'{text}").into()
        } else {
            text.into()
        }
    }

    fn into_io(e: ::csv::Error) -> io::Error {
        match e.into_kind() {
            ::csv::ErrorKind::Io(e) => e,
            other => io::Error::other(format!("{other:?}")),
        }
    }
}

/// JSON: one array of history entries (`team_id, team_name, timestamp, stats, metrics`).
pub mod json {
    use std::io::{self, Write};

    use super::ExportRow;

    /// Writes `[`, the entries separated by commas, one per line, and `]`; streamed.
    pub fn write(w: impl io::Write, rows: impl Iterator<Item = ExportRow>) -> io::Result<usize> {
        let mut out = io::BufWriter::with_capacity(256 * 1024, w);
        out.write_all(b"[")?;
        let mut count = 0;
        for row in rows {
            out.write_all(if count == 0 { b"\n" } else { b",\n" })?;
            serde_json::to_writer(&mut out, &row.entry())?;
            count += 1;
        }
        out.write_all(b"\n]\n")?;
        out.flush()?;
        Ok(count)
    }
}

/// NDJSON: one history entry per line.
pub mod ndjson {
    use std::io::{self, Write};

    use super::ExportRow;

    /// Writes each entry as one line of JSON.
    pub fn write(w: impl io::Write, rows: impl Iterator<Item = ExportRow>) -> io::Result<usize> {
        let mut out = io::BufWriter::with_capacity(256 * 1024, w);
        let mut count = 0;
        for row in rows {
            serde_json::to_writer(&mut out, &row.entry())?;
            out.write_all(b"\n")?;
            count += 1;
        }
        out.flush()?;
        Ok(count)
    }
}

/// Report files read per job of a [`StoreRows`] worker.
const CHUNK_FILES: usize = 64;

/// One job: a run of report files of one team, oldest first.
struct Chunk {
    dir: PathBuf,
    names: Vec<Box<str>>,
    keep_stats: bool,
}

type ChunkRows = Vec<Result<ExportRow, StoreError>>;

/// The reports of some teams within a time range, read from a [`Store`]: team by
/// team (in the order given), each team's oldest first.
///
/// The files are read and checked by worker threads (one per core), a few chunks
/// ahead of the consumer: memory stays bounded whatever the history's size, and the
/// order is the index's. A file that vanished or is corrupt yields an `Err` in its
/// place; the caller decides whether to warn and skip.
pub struct StoreRows {
    /// Replies in job order; `None` once dropped (stops the threads).
    order: Option<Receiver<Receiver<ChunkRows>>>,
    current: VecDeque<Result<ExportRow, StoreError>>,
    threads: Vec<JoinHandle<()>>,
    total: usize,
}

impl StoreRows {
    /// Starts reading the reports of `teams` within `range` (unknown teams have none).
    ///
    /// With `keep_stats` false each row's `report.value` (the stats as sent) is
    /// dropped by the worker that parsed it: the CSV writer does not need it, and
    /// freeing it where it was allocated is much cheaper.
    pub fn new(store: &Store, teams: &[TeamId], range: &TimeRange, keep_stats: bool) -> StoreRows {
        let mut chunks = Vec::new();
        let mut total = 0;
        for id in teams {
            let dir = store.team_dir(id);
            let names: Vec<Box<str>> = store.with_entries(id, |entries| {
                entries
                    .iter()
                    .filter(|e| range.contains(&e.at))
                    .map(|e| e.file_name.clone())
                    .collect()
            });
            total += names.len();
            for names in names.chunks(CHUNK_FILES) {
                chunks.push(Chunk {
                    dir: dir.clone(),
                    names: names.to_vec(),
                    keep_stats,
                });
            }
        }
        StoreRows::start(chunks, total)
    }

    /// Number of reports this source yields (rows plus skipped files).
    pub fn total(&self) -> usize {
        self.total
    }

    fn start(chunks: Vec<Chunk>, total: usize) -> StoreRows {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (job_tx, job_rx) = bounded::<(Chunk, Sender<ChunkRows>)>(workers * 2);
        let (order_tx, order_rx) = bounded::<Receiver<ChunkRows>>(workers * 4);
        let mut threads = Vec::with_capacity(workers + 1);
        for _ in 0..workers {
            let job_rx = job_rx.clone();
            threads.push(std::thread::spawn(move || {
                for (chunk, reply) in job_rx {
                    // The consumer may have gone (a closed pipe): nothing to do then.
                    let _ = reply.send(read_chunk(chunk));
                }
            }));
        }
        threads.push(std::thread::spawn(move || {
            for chunk in chunks {
                let (reply_tx, reply_rx) = bounded(1);
                if order_tx.send(reply_rx).is_err() || job_tx.send((chunk, reply_tx)).is_err() {
                    return;
                }
            }
        }));
        StoreRows {
            order: Some(order_rx),
            current: VecDeque::new(),
            threads,
            total,
        }
    }
}

fn read_chunk(chunk: Chunk) -> ChunkRows {
    chunk
        .names
        .iter()
        .map(|name| {
            let path = chunk.dir.join(&**name);
            let mut row =
                read_report_file(&path).and_then(|stored| ExportRow::from_stored(stored, path))?;
            if !chunk.keep_stats {
                row.report.value = Value::Null;
            }
            Ok(row)
        })
        .collect()
}

impl Iterator for StoreRows {
    type Item = Result<ExportRow, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.current.pop_front() {
                return Some(row);
            }
            let reply = self.order.as_ref()?.recv().ok()?;
            self.current = reply
                .recv()
                .expect("a StoreRows worker ended without answering its job")
                .into();
        }
    }
}

impl Drop for StoreRows {
    fn drop(&mut self) {
        // Closing the order channel stops the dispatcher, which closes the job
        // channel, which stops the workers.
        self.order = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate;
    use crate::store::OpenMode;

    fn minimal_row() -> ExportRow {
        let body = include_str!("../tests/fixtures/valid/minimal-12-buckets.json");
        let stats: Value = serde_json::from_str(body).unwrap();
        ExportRow::new("t1".into(), "A, \"quoted\" team".into(), "ts".into(), stats).unwrap()
    }

    #[test]
    fn csv_names_that_look_like_formulas_are_defused() {
        let body = include_str!("../tests/fixtures/valid/minimal-12-buckets.json");
        let stats: Value = serde_json::from_str(body).unwrap();
        let row =
            ExportRow::new("t1".into(), "=HYPERLINK(\"x\")".into(), "ts".into(), stats).unwrap();
        let mut out = Vec::new();
        csv::write(&mut out, std::iter::once(row)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let second_line = text.lines().nth(1).unwrap();
        assert!(
            second_line.starts_with("t1,\"'=HYPERLINK(\"\"x\"\")\","),
            "{second_line}"
        );
        assert_eq!(csv::spreadsheet_safe("第一小组"), "第一小组");
    }

    #[test]
    fn csv_header_is_stable_and_absent_kinds_are_empty_cells() {
        let header = csv::header();
        assert_eq!(&header[..3], ["team_id", "team_name", "timestamp"]);
        assert_eq!(header.len(), 22 + 4 * 2 + 4 * (9 + 13));
        let mut out = Vec::new();
        assert_eq!(
            csv::write(&mut out, std::iter::once(minimal_row())).unwrap(),
            1
        );
        let mut reader = ::csv::Reader::from_reader(out.as_slice());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), header);
        let record = reader.records().next().unwrap().unwrap();
        let cell = |name: &str| &record[header.iter().position(|h| h == name).unwrap()];
        assert_eq!(cell("team_name"), "A, \"quoted\" team");
        assert_eq!(cell("sent"), "1000");
        assert_eq!(cell("completed_qps"), "16.3");
        assert_eq!(cell("sensor_data_bucket_le_1ms"), "100");
        assert_eq!(
            cell("sensor_data_bucket_gt_5000ms"),
            "0",
            "missing trailing bucket"
        );
        assert_eq!(cell("query_avg_ms"), "", "kind not sent");
        assert_eq!(cell("total_avg_latency_ms"), "", "optional field not sent");
    }

    #[test]
    fn json_formats_write_history_entries() {
        let mut out = Vec::new();
        json::write(&mut out, [minimal_row(), minimal_row()].into_iter()).unwrap();
        let array: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(array.as_array().unwrap().len(), 2);
        assert_eq!(array[0], minimal_row().to_json());
        let mut out = Vec::new();
        json::write(&mut out, std::iter::empty()).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            Value::Array(vec![])
        );
        let mut out = Vec::new();
        ndjson::write(&mut out, std::iter::once(minimal_row())).unwrap();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    #[test]
    fn store_rows_follow_the_index_order_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let per_team = CHUNK_FILES * 2 + 5;
        generate::write_history(dir.path(), 2, per_team).unwrap();
        let store = Store::open(dir.path(), OpenMode::ReadOnly).unwrap();
        let teams = [generate::team_id(2), generate::team_id(1)];
        let rows = StoreRows::new(&store, &teams, &TimeRange::default(), true);
        assert_eq!(rows.total(), 2 * per_team);
        let got: Vec<(String, String)> = rows
            .map(|r| r.unwrap())
            .map(|r| (r.team_id, r.timestamp))
            .collect();
        let mut want = Vec::new();
        for id in &teams {
            for e in store.entries(id) {
                want.push((id.to_string(), e.timestamp.to_string()));
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn dropping_store_rows_early_stops_its_threads() {
        let dir = tempfile::tempdir().unwrap();
        generate::write_history(dir.path(), 1, CHUNK_FILES * 20).unwrap();
        let store = Store::open(dir.path(), OpenMode::ReadOnly).unwrap();
        let mut rows = StoreRows::new(
            &store,
            &[generate::team_id(1)],
            &TimeRange::default(),
            false,
        );
        assert!(rows.next().unwrap().unwrap().report.value.is_null());
        drop(rows); // joins the workers; a hang here fails the test run
    }

    #[test]
    fn time_range_includes_both_ends() {
        let at = |t: &str| crate::timefmt::parse_timestamp(t).unwrap();
        let range = TimeRange {
            since: Some(at("2025-08-01T10:00:00+00:00")),
            until: Some(at("2025-08-01T11:00:00+00:00")),
        };
        assert!(range.contains(&at("2025-08-01T10:00:00+00:00")));
        assert!(
            range.contains(&at("2025-08-01T12:00:00+01:00")),
            "same instant"
        );
        assert!(!range.contains(&at("2025-08-01T11:00:00.001+00:00")));
        assert!(TimeRange::default().is_all());
    }
}
