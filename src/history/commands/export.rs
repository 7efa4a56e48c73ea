//! `export`: every report of some teams as CSV, JSON or NDJSON, streamed to stdout
//! or written atomically to a file, or as a data directory in the original's layout;
//! with a progress bar when it takes a while.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::export::{self, Format};
use crate::history::cli::{ExportArgs, FormatArg};
use crate::history::source::{RowError, Source};
use crate::history::{HistoryError, describe_range, known_team};
use crate::query::TimeRange;
use crate::store::RawReport;
use crate::team::TeamId;

/// Exports running longer than this show a progress bar (on a terminal).
const PROGRESS_AFTER: Duration = Duration::from_millis(500);

/// Runs the command, writing to `out`.
pub fn run(
    source: &Source,
    ids: &[TeamId],
    range: &TimeRange,
    args: &ExportArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let format = match (args.format.map(FormatArg::rows), json) {
        (Some(Some(format)), _) => format,
        (Some(None), _) => return run_dir(source, ids, range, args),
        (None, true) => Format::Json,
        (None, false) => Format::Csv,
    };
    let ids = export_teams(source, ids)?;
    let (rows, total) = source.rows_counted(&ids, range, format != Format::Csv)?;
    let show_progress =
        args.output.is_some() && io::stdout().is_terminal() && io::stderr().is_terminal();
    let mut progress = Progress::new(total as u64, show_progress);
    let mut fatal = None;
    let mut skipped = 0usize;
    let rows = rows
        .map_while(|row| match row {
            Ok(row) => Some(Some(row)),
            Err(RowError::Skip(warning)) => {
                crate::logging::eprint_line(&warning);
                skipped += 1;
                Some(None)
            }
            Err(RowError::Fatal(e)) => {
                fatal = Some(e);
                None
            }
        })
        .flatten()
        .inspect(|_| progress.tick());
    let written = match &args.output {
        None => export::write(format, &mut *out, rows).map_err(HistoryError::Stdout)?,
        Some(path) => write_atomically(path, |file| export::write(format, file, rows), |n| *n > 0)?,
    };
    progress.finish();
    if let Some(e) = fatal {
        return Err(e);
    }
    if written == 0 {
        return Err(HistoryError::NothingFound(format!(
            "no reports to export{}",
            describe_range(range)
        )));
    }
    if let Some(path) = &args.output {
        eprintln!("{}", exported_note(written, skipped, path));
    }
    Ok(())
}

/// `--format dir -o DIR`: the reports with their stats as sent, in the original's
/// file layout (a data directory or a database only: a server's API gives parsed stats).
fn run_dir(
    source: &Source,
    ids: &[TeamId],
    range: &TimeRange,
    args: &ExportArgs,
) -> Result<(), HistoryError> {
    let Some(dir) = &args.output else {
        return Err(HistoryError::Usage(
            "--format dir needs -o DIR: the directory to create".into(),
        ));
    };
    let Some(store) = source.store() else {
        return Err(HistoryError::Usage(
            "--format dir reads a data directory (--data-dir) or a database (--store), not --server"
                .into(),
        ));
    };
    let ids = export_teams(source, ids)?;
    let (reports, total) = store.raw_reports(&ids)?;
    let mut progress = Progress::new(total as u64, io::stderr().is_terminal());
    let mut fatal = None;
    let mut skipped = 0usize;
    let reports = reports
        .map_while(|report| match report {
            Ok(report) => Some(Some(report)),
            Err(e) if e.is_unavailable() => {
                fatal = Some(e);
                None
            }
            Err(e) => {
                eprintln!("warning: skipping {e}");
                skipped += 1;
                Some(None)
            }
        })
        .flatten()
        .filter(|r: &RawReport| range.contains(&r.at))
        .inspect(|_| progress.tick());
    let written = export::dir::write(dir, reports).map_err(|e| HistoryError::Usage(e.to_string()));
    progress.finish();
    if let Some(e) = fatal {
        return Err(e.into());
    }
    let written = written?;
    if written == 0 {
        return Err(HistoryError::NothingFound(format!(
            "no reports to export{}",
            describe_range(range)
        )));
    }
    eprintln!("{}", exported_note(written, skipped, dir));
    Ok(())
}

/// `exported N reports (K skipped) to FILE`.
fn exported_note(written: usize, skipped: usize, path: &Path) -> String {
    let skipped_note = if skipped > 0 {
        format!(" ({skipped} skipped)")
    } else {
        String::new()
    };
    format!(
        "exported {written} reports{skipped_note} to {}",
        path.display()
    )
}

/// The teams to export: those asked for (each must exist, duplicates dropped), or
/// every team.
fn export_teams(source: &Source, asked: &[TeamId]) -> Result<Vec<TeamId>, HistoryError> {
    if asked.is_empty() {
        let all: Vec<TeamId> = source
            .teams()?
            .iter()
            .filter_map(|t| TeamId::parse(&t.team_id).ok())
            .collect();
        if all.is_empty() {
            return Err(HistoryError::NothingFound(
                "no team has any report yet".into(),
            ));
        }
        return Ok(all);
    }
    let mut ids: Vec<TeamId> = Vec::new();
    for id in asked {
        if !ids.contains(id) {
            known_team(source, id)?;
            ids.push(id.clone());
        }
    }
    Ok(ids)
}

/// Writes `path` through a temporary file in the same directory, renamed over it
/// only when `write` succeeded and `keep` accepts its result: readers see the old
/// file or the complete new one, never half of it.
fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut fs::File) -> io::Result<T>,
    keep: impl FnOnce(&T) -> bool,
) -> Result<T, HistoryError> {
    let failed = |source: io::Error| HistoryError::Output {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".benchboard-export-")
        .tempfile_in(dir)
        .map_err(failed)?;
    let result = write(tmp.as_file_mut()).map_err(failed)?;
    if keep(&result) {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600; an export is an ordinary file.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644)).map_err(failed)?;
        tmp.as_file().sync_all().map_err(failed)?;
        tmp.persist(path).map_err(|e| failed(e.error))?;
    }
    Ok(result)
}

/// A progress bar on stderr that appears only when an export takes a while.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    done: u64,
}

impl Progress {
    pub(crate) fn new(total: u64, enabled: bool) -> Progress {
        Progress {
            bar: None,
            total: if enabled { total } else { 0 },
            started: Instant::now(),
            done: 0,
        }
    }

    pub(crate) fn tick(&mut self) {
        self.done += 1;
        if self.total == 0 || !self.done.is_multiple_of(256) {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= PROGRESS_AFTER {
            let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} reports, {eta} left")
                    .expect("the template is valid"),
            );
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
