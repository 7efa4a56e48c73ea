//! Stored reports as rows (validated, with their metrics), and [`StoreRows`], the
//! reader (parallel, or one file at a time) of every report of some teams in a time
//! range.

use crate::contest::schedule::Schedule;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};
use serde_json::Value;

use super::{Named, TimeRange};
use crate::api;
use crate::metrics::Metrics;
use crate::report::plausibility::Warning;
use crate::report::{Report, ValidationError};
use crate::store::{ReportReader, Store, StoreError, StoredReport};
use crate::team::TeamId;

/// One stored report with its derived numbers: what an export writes per report and
/// `benchboard-history show` lists.
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub team_id: String,
    pub team_name: String,
    /// The timestamp as stored (RFC 3339, or the original's naive local time).
    pub timestamp: String,
    /// The validated report; `report.value` is the stats object as sent (or `Null`
    /// when the source dropped it because only CSV is written).
    pub report: Report,
    pub metrics: Metrics,
    /// The run (from 1) the report belongs to; 0 when the source does not know it.
    pub run: u32,
    /// Its plausibility warnings, as the store's index keeps them.
    pub warnings: Vec<Warning>,
}

impl ReportRow {
    /// Validates a stored report's `stats` and computes its metrics.
    pub fn new(
        team_id: String,
        team_name: String,
        timestamp: String,
        stats: Value,
    ) -> Result<ReportRow, ValidationError> {
        let report = Report::from_value(stats)?;
        let metrics = Metrics::of(&report);
        Ok(ReportRow {
            team_id,
            team_name,
            timestamp,
            report,
            metrics,
            run: 0,
            warnings: Vec::new(),
        })
    }

    /// A row from a report as the store read it from `path`; a report that breaks the
    /// schema is [`StoreError::Corrupt`] here.
    pub fn from_stored(stored: StoredReport, path: PathBuf) -> Result<ReportRow, StoreError> {
        let (run, warnings) = (stored.run, stored.warnings);
        let row = ReportRow::new(
            stored.team_id.as_str().to_string(),
            stored.team_name,
            stored.timestamp,
            stored.stats,
        )
        .map_err(|e| StoreError::Corrupt {
            path,
            reason: e.to_string(),
        })?;
        Ok(ReportRow {
            run,
            warnings,
            ..row
        })
    }

    /// The row as the history API shows an entry (serialized without copying the stats).
    pub fn entry(&self) -> api::HistoryEntry<'_> {
        api::HistoryEntry {
            team_id: Cow::Borrowed(&self.team_id),
            team_name: Cow::Borrowed(&self.team_name),
            timestamp: Cow::Borrowed(&self.timestamp),
            stats: Cow::Borrowed(&self.report.value),
            metrics: self.metrics.to_json(),
            run: self.run,
            warnings: Cow::Borrowed(&self.warnings),
            after_end: false,
        }
    }

    /// The row as the history API shows an entry, as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.entry()).expect("history entries serialize")
    }
}

/// A stored report as the history API shows it: the file plus its metrics (zero
/// metrics for a report today's schema refuses, see [`Metrics::of_stored`]), marked
/// `after_end` when it arrived after the end of the contest's `schedule`.
pub fn history_entry<'a>(
    stored: &'a StoredReport,
    schedule: Option<&Schedule>,
) -> api::HistoryEntry<'a> {
    api::HistoryEntry {
        team_id: Cow::Borrowed(stored.team_id.as_str()),
        team_name: Cow::Borrowed(&stored.team_name),
        timestamp: Cow::Borrowed(&stored.timestamp),
        stats: Cow::Borrowed(&stored.stats),
        metrics: Metrics::of_stored(&stored.stats).0.to_json(),
        run: stored.run,
        warnings: Cow::Borrowed(&stored.warnings),
        after_end: schedule.is_some_and(|s| s.after_end(stored.at)),
    }
}

/// Report files read per job of a [`StoreRows`] worker.
pub const CHUNK_FILES: usize = 64;

/// One job: a stretch of report files of one team, oldest first, with each report's
/// run and warnings from the index.
struct Chunk {
    team: TeamId,
    names: Vec<Named>,
    keep_stats: bool,
}

type ChunkRows = Vec<Result<ReportRow, StoreError>>;

/// The reports of some teams within a time range, read from a [`Store`]: team by
/// team (in the order given), each team's oldest first.
///
/// [`StoreRows::new`] reads the files with worker threads (one per core), a few
/// chunks ahead of the consumer: fast for one big export, and memory stays bounded
/// whatever the history's size. [`StoreRows::one_by_one`] reads each file when its
/// row is asked for, on the consumer's thread: no thread and nothing read ahead, for
/// a server that may have hundreds of slow downloads at once. Either way the order
/// is the index's, and a file that vanished or is corrupt yields an `Err` in its
/// place; the caller decides whether to warn and skip.
pub struct StoreRows {
    source: Source,
    current: VecDeque<Result<ReportRow, StoreError>>,
    total: usize,
}

enum Source {
    Workers {
        /// Replies in job order; `None` once dropped (stops the threads).
        order: Option<Receiver<Receiver<ChunkRows>>>,
        threads: Vec<JoinHandle<()>>,
    },
    Here {
        reader: ReportReader,
        chunks: VecDeque<Chunk>,
    },
}

impl StoreRows {
    /// Starts reading the reports of `teams` within `range` (unknown teams have none)
    /// with worker threads.
    ///
    /// With `keep_stats` false each row's `report.value` (the stats as sent) is
    /// dropped by the worker that parsed it: the CSV writer does not need it, and
    /// freeing it where it was allocated is much cheaper.
    pub fn new(store: &Store, teams: &[TeamId], range: &TimeRange, keep_stats: bool) -> StoreRows {
        let (chunks, total) = chunks(store, teams, range, keep_stats);
        StoreRows::start(store.reader(), chunks, total)
    }

    /// The same rows, each file read only when its row is asked for, on the
    /// caller's thread.
    pub fn one_by_one(
        store: &Store,
        teams: &[TeamId],
        range: &TimeRange,
        keep_stats: bool,
    ) -> StoreRows {
        let (mut chunks, total) = chunks(store, teams, range, keep_stats);
        // Each chunk's names are taken from its end (`pop`), so newest last.
        for chunk in &mut chunks {
            chunk.names.reverse();
        }
        StoreRows {
            source: Source::Here {
                reader: store.reader(),
                chunks: chunks.into(),
            },
            current: VecDeque::new(),
            total,
        }
    }

    /// Number of reports this source yields (rows plus skipped files).
    pub fn total(&self) -> usize {
        self.total
    }

    fn start(reader: ReportReader, chunks: Vec<Chunk>, total: usize) -> StoreRows {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (job_tx, job_rx) = bounded::<(Chunk, Sender<ChunkRows>)>(workers * 2);
        let (order_tx, order_rx) = bounded::<Receiver<ChunkRows>>(workers * 4);
        let mut threads = Vec::with_capacity(workers + 1);
        for _ in 0..workers {
            let job_rx = job_rx.clone();
            let reader = reader.clone();
            threads.push(std::thread::spawn(move || {
                for (chunk, reply) in job_rx {
                    // The consumer may have gone (a closed pipe): nothing to do then.
                    let _ = reply.send(read_chunk(&reader, chunk));
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
            source: Source::Workers {
                order: Some(order_rx),
                threads,
            },
            current: VecDeque::new(),
            total,
        }
    }
}

/// The jobs of reading `teams` within `range`, and how many files they hold.
fn chunks(
    store: &Store,
    teams: &[TeamId],
    range: &TimeRange,
    keep_stats: bool,
) -> (Vec<Chunk>, usize) {
    let mut chunks = Vec::new();
    let mut total = 0;
    for id in teams {
        let names: Vec<Named> = store.with_entries(id, |entries| {
            entries
                .iter()
                .filter(|e| range.contains(&e.at))
                .map(Named::of)
                .collect()
        });
        total += names.len();
        for names in names.chunks(CHUNK_FILES) {
            chunks.push(Chunk {
                team: id.clone(),
                names: names.to_vec(),
                keep_stats,
            });
        }
    }
    (chunks, total)
}

fn read_chunk(reader: &ReportReader, chunk: Chunk) -> ChunkRows {
    chunk
        .names
        .iter()
        .map(|named| read_row(reader, &chunk.team, named, chunk.keep_stats))
        .collect()
}

fn read_row(
    reader: &ReportReader,
    team: &TeamId,
    named: &Named,
    keep_stats: bool,
) -> Result<ReportRow, StoreError> {
    let stored = named.read(reader, team)?;
    let mut row = ReportRow::from_stored(stored, reader.path(team, &named.name))?;
    if !keep_stats {
        row.report.value = Value::Null;
    }
    Ok(row)
}

impl Iterator for StoreRows {
    type Item = Result<ReportRow, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.current.pop_front() {
                return Some(row);
            }
            match &mut self.source {
                Source::Workers { order, .. } => {
                    let reply = order.as_ref()?.recv().ok()?;
                    self.current = reply
                        .recv()
                        .expect("a StoreRows worker ended without answering its job")
                        .into();
                }
                Source::Here { reader, chunks } => {
                    let chunk = chunks.front_mut()?;
                    let Some(named) = chunk.names.pop() else {
                        chunks.pop_front();
                        continue;
                    };
                    return Some(read_row(reader, &chunk.team, &named, chunk.keep_stats));
                }
            }
        }
    }
}

impl Drop for StoreRows {
    fn drop(&mut self) {
        // Closing the order channel stops the dispatcher, which closes the job
        // channel, which stops the workers.
        if let Source::Workers { order, threads } = &mut self.source {
            *order = None;
            for thread in threads.drain(..) {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate;

    #[test]
    fn store_rows_follow_the_index_order_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let per_team = CHUNK_FILES * 2 + 5;
        generate::write_history(dir.path(), 2, per_team).unwrap();
        let store = Store::open(dir.path()).unwrap();
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
    fn rows_read_one_by_one_are_those_of_the_workers_in_the_same_order() {
        let dir = tempfile::tempdir().unwrap();
        generate::write_history(dir.path(), 2, CHUNK_FILES + 3).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let teams = [generate::team_id(2), generate::team_id(1)];
        let key = |r: Result<ReportRow, StoreError>| {
            let r = r.unwrap();
            (r.team_id, r.timestamp, r.report.total_sent)
        };
        let range = TimeRange::default();
        let here = StoreRows::one_by_one(&store, &teams, &range, false);
        assert_eq!(here.total(), 2 * (CHUNK_FILES + 3));
        let here: Vec<_> = here.map(key).collect();
        let workers: Vec<_> = StoreRows::new(&store, &teams, &range, false)
            .map(key)
            .collect();
        assert_eq!(here.len(), 2 * (CHUNK_FILES + 3));
        assert_eq!(here, workers);
    }

    #[test]
    fn dropping_store_rows_early_stops_its_threads() {
        let dir = tempfile::tempdir().unwrap();
        generate::write_history(dir.path(), 1, CHUNK_FILES * 20).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut rows = StoreRows::new(
            &store,
            &[generate::team_id(1)],
            &TimeRange::default(),
            false,
        );
        assert!(rows.next().unwrap().unwrap().report.value.is_null());
        drop(rows); // joins the workers; a hang here fails the test run
    }
}
