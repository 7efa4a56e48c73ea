//! CSV: a header, then one record per report, the columns flattened with their
//! units in their names.

use std::io;

use crate::metrics::BUCKET_UPPER_MS;
use crate::query::{ReportRow, StoreRows};
use crate::report::{BUCKET_COUNT, LatencyDistribution, OPERATION_KINDS};

/// One cell of a row.
enum Cell<'a> {
    Text(&'a str),
    Owned(String),
    Count(crate::report::Count),
    Number(f64),
    Empty,
}

impl<'a> From<Option<f64>> for Cell<'a> {
    fn from(value: Option<f64>) -> Cell<'a> {
        value.map_or(Cell::Empty, Cell::Number)
    }
}

type Getter = Box<dyn for<'r> Fn(&'r ReportRow) -> Cell<'r> + Send + Sync>;

struct Column {
    name: String,
    get: Getter,
}

fn column(
    name: impl Into<String>,
    get: impl for<'r> Fn(&'r ReportRow) -> Cell<'r> + Send + Sync + 'static,
) -> Column {
    Column {
        name: name.into(),
        get: Box::new(get),
    }
}

/// Names of the latency bucket columns, from the bucket bounds: `le_1ms` ..
/// `le_5000ms`, then `gt_5000ms` for the overflow bucket.
fn bucket_names() -> [String; BUCKET_COUNT] {
    let last_bound = BUCKET_UPPER_MS[BUCKET_COUNT - 2];
    std::array::from_fn(|i| match i {
        i if i < BUCKET_COUNT - 1 => format!("le_{}ms", BUCKET_UPPER_MS[i]),
        _ => format!("gt_{last_bound}ms"),
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
        let name = crate::report::kind_snake_name(kind);
        let ops = move |r: &ReportRow| {
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
    run_columns(&mut cols);
    cols
}

fn dist_of<'r>(r: &'r ReportRow, kind: &str) -> Option<&'r LatencyDistribution> {
    r.report
        .latency
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, d)| d)
}

fn latency_columns(cols: &mut Vec<Column>, kind: &'static str) {
    let name = crate::report::kind_snake_name(kind);
    let pct = move |r: &ReportRow| {
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

/// The last two columns: the report's run, and its plausibility warnings as
/// `code:field` pairs separated by `; ` (empty without any).
fn run_columns(cols: &mut Vec<Column>) {
    cols.push(column("run", |r| Cell::Count(r.run.into())));
    cols.push(column("warnings", |r| {
        let pairs: Vec<String> = r
            .warnings
            .iter()
            .map(|w| format!("{}:{}", w.code.as_str(), w.field))
            .collect();
        Cell::Owned(pairs.join("; "))
    }));
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
/// distribution, percentiles and buckets, and last the `run` and the `warnings`.
/// Absent values are empty cells.
pub fn write(w: impl io::Write, rows: impl Iterator<Item = ReportRow>) -> io::Result<usize> {
    let mut out = CsvWriter::new(w)?;
    for row in rows {
        out.write(&row)?;
    }
    out.finish()
}

/// The CSV of [`write`], a row at a time: for a writer fed from several places, such
/// as the archive's CSV of every team beside each team's own.
pub struct CsvWriter<W: io::Write> {
    out: ::csv::Writer<W>,
    columns: Vec<Column>,
    numbers: Numbers,
    rows: usize,
}

impl<W: io::Write> CsvWriter<W> {
    /// Writes the header.
    pub fn new(w: W) -> io::Result<CsvWriter<W>> {
        let columns = columns();
        let mut out = ::csv::WriterBuilder::new()
            .buffer_capacity(256 * 1024)
            .from_writer(w);
        out.write_record(columns.iter().map(|c| c.name.as_str()))
            .map_err(into_io)?;
        Ok(CsvWriter {
            out,
            columns,
            numbers: Numbers::default(),
            rows: 0,
        })
    }

    /// Writes one record.
    pub fn write(&mut self, row: &ReportRow) -> io::Result<()> {
        write_row(&mut self.out, &self.columns, row, &mut self.numbers)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes; returns the number of rows written.
    pub fn finish(mut self) -> io::Result<usize> {
        self.out.flush()?;
        Ok(self.rows)
    }
}

/// Streams the CSV of `rows` through a pipe written by a thread of its own, so a
/// server can send it while it is produced; rows that cannot be read are skipped
/// with a warning. The thread ends when the reader is dropped.
pub fn stream(rows: crate::store::backend::Rows) -> io::Result<io::PipeReader> {
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

/// ryu / itoa buffers: number formatting is a good part of the writer's time.
#[derive(Default)]
struct Numbers {
    float_text: ryu::Buffer,
    int_text: itoa::Buffer,
}

fn write_row<W: io::Write>(
    out: &mut ::csv::Writer<W>,
    columns: &[Column],
    row: &ReportRow,
    numbers: &mut Numbers,
) -> io::Result<()> {
    for col in columns {
        match (col.get)(row) {
            Cell::Text(t) => out.write_field(spreadsheet_safe(t).as_ref()),
            Cell::Owned(t) => out.write_field(spreadsheet_safe(&t).as_ref()),
            Cell::Count(n) => out.write_field(numbers.int_text.format(n)),
            Cell::Number(x) => out.write_field(numbers.float_text.format(x)),
            Cell::Empty => out.write_field(""),
        }
        .map_err(into_io)?;
    }
    out.write_record(None::<&[u8]>).map_err(into_io)
}

/// Bytes of CSV a [`CsvReader`] formats ahead at most (a row is 1–2 KiB).
const READ_AHEAD: usize = 16 * 1024;

/// The CSV of `rows` (header included) as a [`io::Read`] that formats the next rows
/// only when asked: a server sends it at the pace its client takes it, with no thread
/// of its own and at most [`READ_AHEAD`] bytes in memory. Rows that cannot be read
/// are skipped with a warning.
pub struct CsvReader {
    rows: StoreRows,
    columns: Vec<Column>,
    numbers: Numbers,
    buffer: Vec<u8>,
    at: usize,
}

impl CsvReader {
    /// The CSV of `rows` (best read one file at a time: [`StoreRows::one_by_one`]).
    pub fn new(rows: StoreRows) -> CsvReader {
        let columns = columns();
        let mut buffer = Vec::new();
        {
            let mut out = ::csv::Writer::from_writer(&mut buffer);
            out.write_record(columns.iter().map(|c| c.name.as_str()))
                .expect("writing to memory cannot fail");
        }
        CsvReader {
            rows,
            columns,
            numbers: Numbers::default(),
            buffer,
            at: 0,
        }
    }

    /// Formats rows until [`READ_AHEAD`] bytes wait or the rows end.
    fn refill(&mut self) -> io::Result<()> {
        self.buffer.clear();
        self.at = 0;
        let mut out = ::csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(&mut self.buffer);
        while out.get_ref().len() < READ_AHEAD {
            match self.rows.next() {
                Some(Ok(row)) => write_row(&mut out, &self.columns, &row, &mut self.numbers)?,
                Some(Err(e)) => log::warn!("export: skipping {e}"),
                None => break,
            }
            out.flush()?;
        }
        out.flush()
    }
}

impl io::Read for CsvReader {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        if self.at == self.buffer.len() {
            self.refill()?;
        }
        let n = into.len().min(self.buffer.len() - self.at);
        into[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Text as a spreadsheet shows it: a cell that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would be run as a formula (CSV injection, OWASP), so it gets
/// a leading `'`. Team names and team ids (`-x` is a valid id) can start so.
pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::minimal_row;

    #[test]
    fn csv_names_that_look_like_formulas_are_defused() {
        let row = ReportRow {
            team_name: "=HYPERLINK(\"x\")".into(),
            ..minimal_row()
        };
        let mut out = Vec::new();
        write(&mut out, std::iter::once(row)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let second_line = text.lines().nth(1).unwrap();
        assert!(
            second_line.starts_with("t1,\"'=HYPERLINK(\"\"x\"\")\","),
            "{second_line}"
        );
        assert_eq!(spreadsheet_safe("第一小组"), "第一小组");
        for risky in ["+1", "-x", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(risky), format!("'{risky}"));
        }
    }

    #[test]
    fn csv_header_is_stable_and_absent_kinds_are_empty_cells() {
        let header = header();
        assert_eq!(&header[..3], ["team_id", "team_name", "timestamp"]);
        assert_eq!(header.len(), 22 + 4 * 2 + 4 * (9 + 13) + 2);
        assert_eq!(&header[header.len() - 2..], ["run", "warnings"]);
        let mut out = Vec::new();
        assert_eq!(write(&mut out, std::iter::once(minimal_row())).unwrap(), 1);
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
}
