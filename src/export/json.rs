//! JSON: one array of history entries (`team_id, team_name, timestamp, stats, metrics`).

use std::io::{self, Write};

use crate::query::ReportRow;

/// Writes `[`, the entries separated by commas, one per line, and `]`; streamed.
pub fn write(w: impl io::Write, rows: impl Iterator<Item = ReportRow>) -> io::Result<usize> {
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
