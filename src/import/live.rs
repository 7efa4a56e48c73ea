//! Aggregating the live formats as they are written: k6's `--out json` NDJSON,
//! Locust's `_stats_history.csv` and JMeter's JTL.
//!
//! A [`Live`] is fed bytes in any pieces (a tool flushes mid-line); it parses each
//! complete line or CSV record at once and keeps only running totals and one
//! 13-bucket histogram per operation kind, never the samples, so a 10 GB file costs
//! the same memory as a small one. [`Live::run`] gives the cumulative [`ToolRun`] at
//! any moment; `benchboard-client watch` pushes it every interval.

use super::{Format, ImportError, Options, Problem, ToolRun, jmeter, k6, locust};

/// Longest line or CSV record accepted, in bytes (a k6 line is about 500).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// A running aggregation of one live format.
pub struct Live {
    format: Format,
    state: State,
}

enum State {
    K6(Lines, Box<k6::NdjsonTally>),
    Locust(Box<CsvStream>, Box<locust::HistoryTally>),
    Jtl(Box<jmeter::JtlTally>),
}

impl Live {
    /// Starts an aggregation of `format`, which must be live ([`Format::is_live`]).
    pub fn new(format: Format, options: Options) -> Result<Live, ImportError> {
        let state = match format {
            Format::K6Ndjson => State::K6(
                Lines::default(),
                Box::new(k6::NdjsonTally::new(options.map)),
            ),
            Format::LocustHistory => State::Locust(
                Box::new(CsvStream::new(b',')),
                Box::new(locust::HistoryTally::new(options.map)),
            ),
            Format::Jtl => State::Jtl(Box::new(jmeter::JtlTally::new(options.map))),
            other => return Err(ImportError::NotLive(other)),
        };
        Ok(Live { format, state })
    }

    /// The format being aggregated.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Parses the complete lines or records in `bytes` (with what was left over from
    /// the previous call); an incomplete last one waits for the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ImportError> {
        let format = self.format;
        let result = match &mut self.state {
            State::K6(lines, tally) => lines.feed(bytes, &mut |n, line| tally.line(n, line)),
            State::Locust(csv, tally) => csv.feed(bytes, &mut |n, record| tally.record(n, record)),
            State::Jtl(tally) => tally.feed(bytes),
        };
        result.map_err(|p| ImportError::invalid(format, p))
    }

    /// Ends the input: a last line without a newline is parsed as complete.
    pub fn finish(&mut self) -> Result<(), ImportError> {
        let format = self.format;
        let result = match &mut self.state {
            State::K6(lines, tally) => lines.finish(&mut |n, line| tally.line(n, line)),
            State::Locust(csv, tally) => csv.finish(&mut |n, record| tally.record(n, record)),
            State::Jtl(tally) => tally.finish(),
        };
        result.map_err(|p| ImportError::invalid(format, p))
    }

    /// A file being followed starts over (rotated or truncated): what was counted
    /// stays, and the new file is read from its first line (a CSV header again).
    pub fn restart_file(&mut self) {
        match &mut self.state {
            State::K6(lines, _) => lines.pending.clear(),
            State::Locust(csv, _) => **csv = CsvStream::new(b','),
            State::Jtl(tally) => tally.restart_file(),
        }
    }

    /// The cumulative run so far.
    pub fn run(&self) -> ToolRun {
        match &self.state {
            State::K6(_, tally) => tally.run(),
            State::Locust(_, tally) => tally.run(),
            State::Jtl(tally) => tally.run(),
        }
    }
}

/// Splits bytes into lines, keeping an incomplete last line for the next call.
#[derive(Default)]
pub struct Lines {
    pending: Vec<u8>,
    number: u64,
}

type LineFn<'a> = dyn FnMut(u64, &[u8]) -> Result<(), Problem> + 'a;

impl Lines {
    /// Calls `each` with every complete line (without its `\n` or `\r\n`) and its number.
    pub fn feed(&mut self, mut bytes: &[u8], each: &mut LineFn<'_>) -> Result<(), Problem> {
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            let (line, rest) = (&bytes[..end], &bytes[end + 1..]);
            self.number += 1;
            if self.pending.is_empty() {
                each(self.number, strip_cr(line))?;
            } else {
                self.pending.extend_from_slice(line);
                let whole = std::mem::take(&mut self.pending);
                each(self.number, strip_cr(&whole))?;
                self.pending = whole;
                self.pending.clear();
            }
            bytes = rest;
        }
        if self.pending.len() + bytes.len() > MAX_RECORD_BYTES {
            return Err(Problem(format!(
                "line {} is longer than {MAX_RECORD_BYTES} bytes: this is not a line-by-line output",
                self.number + 1
            )));
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    /// Passes a last line that has no newline.
    pub fn finish(&mut self, each: &mut LineFn<'_>) -> Result<(), Problem> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.number += 1;
        let last = std::mem::take(&mut self.pending);
        each(self.number, strip_cr(&last))
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits bytes into CSV records (quoted fields may hold newlines), with csv-core.
pub struct CsvStream {
    reader: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
    output_len: usize,
    ends_len: usize,
    number: u64,
}

/// The fields of one CSV record.
pub struct Record<'a> {
    output: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True for a record without fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i` as text (invalid UTF-8 replaced), empty when absent.
    pub fn get(&self, i: usize) -> &'a str {
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        std::str::from_utf8(&self.output[start..end]).unwrap_or("")
    }
}

type RecordFn<'a> = dyn FnMut(u64, &Record<'_>) -> Result<(), Problem> + 'a;

impl CsvStream {
    /// A CSV reader with the given field delimiter.
    pub fn new(delimiter: u8) -> CsvStream {
        CsvStream {
            reader: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            output: vec![0; 4096],
            ends: vec![0; 64],
            output_len: 0,
            ends_len: 0,
            number: 0,
        }
    }

    /// Calls `each` with every complete record in `bytes` and its number.
    pub fn feed(&mut self, bytes: &[u8], each: &mut RecordFn<'_>) -> Result<(), Problem> {
        if bytes.is_empty() {
            return Ok(()); // csv-core takes empty input as the end of the data
        }
        self.read(bytes, each)
    }

    /// Ends the data: a last record without a newline is passed too.
    pub fn finish(&mut self, each: &mut RecordFn<'_>) -> Result<(), Problem> {
        self.read(&[], each)
    }

    fn read(&mut self, mut input: &[u8], each: &mut RecordFn<'_>) -> Result<(), Problem> {
        use csv_core::ReadRecordResult::*;
        let at_end = input.is_empty();
        loop {
            let (result, read, written, ended) = self.reader.read_record(
                input,
                &mut self.output[self.output_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[read..];
            self.output_len += written;
            self.ends_len += ended;
            match result {
                InputEmpty if input.is_empty() && !at_end => return Ok(()),
                InputEmpty => {}
                OutputFull => self.grow_output()?,
                OutputEndsFull => self.grow_ends()?,
                Record => {
                    self.number += 1;
                    let record = self::Record {
                        output: &self.output[..self.output_len],
                        ends: &self.ends[..self.ends_len],
                    };
                    let outcome = each(self.number, &record);
                    self.output_len = 0;
                    self.ends_len = 0;
                    outcome?;
                }
                End => return Ok(()),
            }
        }
    }

    fn grow_output(&mut self) -> Result<(), Problem> {
        if self.output.len() >= MAX_RECORD_BYTES {
            return Err(Problem(format!(
                "record {} is longer than {MAX_RECORD_BYTES} bytes",
                self.number + 1
            )));
        }
        self.output.resize(self.output.len() * 2, 0);
        Ok(())
    }

    fn grow_ends(&mut self) -> Result<(), Problem> {
        if self.ends.len() >= 4096 {
            return Err(Problem(format!(
                "record {} has more than 4096 fields",
                self.number + 1
            )));
        }
        self.ends.resize(self.ends.len() * 2, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(pieces: &[&[u8]]) -> Vec<(u64, String)> {
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        let mut each = |n: u64, line: &[u8]| {
            seen.push((n, String::from_utf8_lossy(line).into_owned()));
            Ok(())
        };
        for piece in pieces {
            lines.feed(piece, &mut each).unwrap();
        }
        lines.finish(&mut each).unwrap();
        seen
    }

    #[test]
    fn lines_split_across_pieces_come_out_whole() {
        let seen = lines_of(&[b"ab", b"c\r\nd", b"", b"e\n\nf"]);
        let expected = [(1, "abc"), (2, "de"), (3, ""), (4, "f")];
        assert_eq!(seen, expected.map(|(n, s)| (n, s.to_string())));
    }

    #[test]
    fn csv_records_may_span_pieces_and_hold_newlines() {
        let mut csv = CsvStream::new(b',');
        let mut seen = Vec::new();
        let mut each = |n: u64, r: &Record<'_>| {
            seen.push((
                n,
                (0..r.len())
                    .map(|i| r.get(i).to_string())
                    .collect::<Vec<_>>(),
            ));
            Ok(())
        };
        for piece in [&b"a,\"b"[..], b"\nc\",d\n1,", b"2"] {
            csv.feed(piece, &mut each).unwrap();
        }
        csv.finish(&mut each).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].1, ["a", "b\nc", "d"]);
        assert_eq!(seen[1].1, ["1", "2"]);
    }

    #[test]
    fn an_endless_line_is_refused_not_buffered() {
        let mut lines = Lines::default();
        let big = vec![b'x'; MAX_RECORD_BYTES / 2 + 1];
        let mut each = |_: u64, _: &[u8]| Ok(());
        lines.feed(&big, &mut each).unwrap();
        let error = lines.feed(&big, &mut each).unwrap_err();
        assert!(error.0.contains("longer than"), "{error:?}");
    }
}
