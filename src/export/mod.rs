//! A team's history as CSV, JSON or NDJSON: one module per format, each streaming
//! rows to any [`io::Write`] without holding more than one row.
//!
//! Rows come from anything that yields [`ReportRow`]s: [`StoreRows`](crate::query::StoreRows)
//! reads them from a store (the files in parallel, the order kept),
//! `benchboard-history --server` builds them from the history API. The server's CSV
//! download calls the same writer:
//!
//! ```no_run
//! use benchboard::export;
//! use benchboard::query::{StoreRows, TimeRange};
//! use benchboard::store::Store;
//! use benchboard::team::TeamId;
//! let store = Store::open("data").unwrap();
//! let team = TeamId::parse("team1").unwrap();
//! let rows = StoreRows::new(&store, &[team], &TimeRange::default(), false)
//!     .filter_map(|row| row.map_err(|e| eprintln!("warning: skipping {e}")).ok());
//! export::csv::write(std::io::stdout().lock(), rows).unwrap();
//! ```

use std::io;

use crate::query::ReportRow;

pub mod csv;
pub mod dir;
pub mod json;
pub mod ndjson;

/// The formats an export can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    rows: impl Iterator<Item = ReportRow>,
) -> io::Result<usize> {
    match format {
        Format::Csv => csv::write(w, rows),
        Format::Json => json::write(w, rows),
        Format::Ndjson => ndjson::write(w, rows),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// A row of the minimal valid report, of a team whose name needs CSV quoting.
    pub(crate) fn minimal_row() -> ReportRow {
        let body = include_str!("../../tests/fixtures/valid/minimal-12-buckets.json");
        let stats: Value = serde_json::from_str(body).unwrap();
        ReportRow::new("t1".into(), "A, \"quoted\" team".into(), "ts".into(), stats).unwrap()
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
}
