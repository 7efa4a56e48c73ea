//! NDJSON: one history entry per line.

use std::io::{self, Write};

use crate::query::ReportRow;

/// Writes each entry as one line of JSON.
pub fn write(w: impl io::Write, rows: impl Iterator<Item = ReportRow>) -> io::Result<usize> {
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
