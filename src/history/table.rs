//! Plain text tables for a terminal: columns padded to their display width (Chinese
//! team names take two cells per character), control characters made harmless.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table being filled row by row.
pub struct Table {
    headers: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(headers: &[(&'static str, Align)]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column; text from files is sanitized).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| sanitize(c)).collect());
    }

    /// Writes the headings and the rows, two spaces between columns.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|(h, _)| h.width()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.width());
            }
        }
        let headers: Vec<String> = self.headers.iter().map(|(h, _)| h.to_string()).collect();
        self.write_line(out, &headers, &widths)?;
        for row in &self.rows {
            self.write_line(out, row, &widths)?;
        }
        Ok(())
    }

    fn write_line(
        &self,
        out: &mut impl Write,
        cells: &[String],
        widths: &[usize],
    ) -> io::Result<()> {
        let mut line = String::new();
        for (i, ((cell, width), (_, align))) in
            cells.iter().zip(widths).zip(&self.headers).enumerate()
        {
            let pad = " ".repeat(width.saturating_sub(cell.width()));
            let last = i + 1 == widths.len();
            match align {
                Align::Left if last => line.push_str(cell),
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())
    }
}

/// Replaces control characters (which could move the cursor or change colours on a
/// terminal) with `?`: names come from files and clients.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_wide_characters_by_display_width() {
        let mut table = Table::new(&[("NAME", Align::Left), ("QPS", Align::Right)]);
        table.row(vec!["第一小组".into(), "1.5".into()]);
        table.row(vec!["ab\x1b[31m".into(), "100.0".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "NAME        QPS\n第一小组    1.5\nab?[31m   100.0\n");
    }
}
