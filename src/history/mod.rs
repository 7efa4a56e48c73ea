//! `benchboard-history`: query and export a contest's history from a data directory
//! (read-only) or a running server, with the same output either way.
//!
//! Commands: `teams`, `show TEAM`, `summary TEAM`, `best`, `export`; each prints a
//! table, or JSON with `--json`. Exit codes ([`ExitStatus`]): 0 ok, 1 nothing found,
//! 2 bad usage or unreadable data. Output to a closed pipe ends quietly with 0.

pub mod cli;
pub mod source;
pub mod table;

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Local};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

pub use cli::HistoryArgs;
use cli::{BestArgs, Command, ExportArgs, RangeArgs, RankBy, ShowArgs, SummaryArgs};
use source::{RowError, Source, SummaryInfo, TeamOverview};
use table::{Align, Table};

use crate::export::{self, ExportRow, Format, TimeRange};
use crate::store::StoreError;
use crate::team::TeamId;
use crate::timefmt;

/// Default data directory, as the server's.
pub const DEFAULT_DATA_DIR: &str = "data";
/// Exports running longer than this show a progress bar (on a terminal).
const PROGRESS_AFTER: Duration = Duration::from_millis(500);

/// The process exit status of `benchboard-history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (also when the reader of stdout went away).
    Ok = 0,
    /// Nothing found: an unknown team, an empty range.
    NothingFound = 1,
    /// Bad usage (arguments, dates) or an unreadable data directory or server.
    BadUsage = 2,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A bad argument; the message names it and what to write instead.
    #[error("{0}")]
    Usage(String),
    /// The data directory cannot be read.
    #[error("{0} (give the server's data directory with --data-dir, or --server URL)")]
    DataDir(#[from] StoreError),
    /// The server cannot be reached or gave an unexpected answer.
    #[error("cannot query {url}: {reason}")]
    Server { url: String, reason: String },
    /// The team or the range holds no report.
    #[error("{0}")]
    NothingFound(String),
    /// The output file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Output { path: PathBuf, source: io::Error },
    /// Standard output cannot be written (a closed pipe counts as success).
    #[error("cannot write to standard output: {0}")]
    Stdout(#[source] io::Error),
}

impl HistoryError {
    /// The exit status this error ends the process with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            HistoryError::NothingFound(_) => ExitStatus::NothingFound,
            HistoryError::Stdout(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitStatus::Ok,
            _ => ExitStatus::BadUsage,
        }
    }
}

/// Runs one command, writing to stdout; prints a one-line error on stderr.
pub fn run(args: &HistoryArgs) -> ExitStatus {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = execute(args, &mut out).and_then(|()| out.flush().map_err(HistoryError::Stdout));
    match result {
        Ok(()) => ExitStatus::Ok,
        Err(e) => {
            let status = e.exit_status();
            if status != ExitStatus::Ok {
                eprintln!("error: {e}");
            }
            status
        }
    }
}

/// Handles an argument error of clap: `--help` and `--version` print and succeed;
/// anything else becomes a one-line message on stderr and [`ExitStatus::BadUsage`].
pub fn usage_error(error: &clap::Error) -> ExitStatus {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // A closed stdout is no reason to complain.
            let _ = error.print();
            ExitStatus::Ok
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            eprintln!(
                "error: a command is required: teams, show, summary, best or export (see --help)"
            );
            ExitStatus::BadUsage
        }
        _ => {
            eprintln!("{}", one_line(&error.render().to_string()));
            ExitStatus::BadUsage
        }
    }
}

/// Clap's multi-line message as one line, without the "try --help" hint.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs one command, writing its output to `out`.
pub fn execute(args: &HistoryArgs, out: &mut impl Write) -> Result<(), HistoryError> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    // Arguments are checked before the data is touched.
    match &args.command {
        Command::Teams => {
            let source = Source::open(&data_dir, args.server.as_deref())?;
            teams(&source, args.json, out)
        }
        Command::Show(a) => {
            let (id, range) = (parse_team(&a.team)?, parse_range(&a.range)?);
            let source = Source::open(&data_dir, args.server.as_deref())?;
            show(&source, &id, &range, a, args.json, out)
        }
        Command::Summary(a) => {
            let (id, range) = (parse_team(&a.team)?, parse_range(&a.range)?);
            let source = Source::open(&data_dir, args.server.as_deref())?;
            summary(&source, &id, &range, a, args.json, out)
        }
        Command::Best(a) => {
            let source = Source::open(&data_dir, args.server.as_deref())?;
            best(&source, a, args.json, out)
        }
        Command::Export(a) => {
            let range = parse_range(&a.range)?;
            let ids = a
                .teams
                .iter()
                .map(|t| parse_team(t))
                .collect::<Result<Vec<_>, _>>()?;
            let source = Source::open(&data_dir, args.server.as_deref())?;
            export_cmd(&source, &ids, &range, a, args.json, out)
        }
    }
}

// ---------------------------------------------------------------- arguments

fn parse_team(text: &str) -> Result<TeamId, HistoryError> {
    TeamId::parse(text).map_err(|_| {
        HistoryError::Usage(format!(
            "bad team id {text:?}: team ids are 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
        ))
    })
}

/// Parses `--since` / `--until`: RFC 3339, or local `YYYY-MM-DD HH:MM[:SS]`.
pub fn parse_time(flag: &str, text: &str) -> Result<DateTime<FixedOffset>, HistoryError> {
    timefmt::parse_timestamp(text.trim()).ok_or_else(|| {
        HistoryError::Usage(format!(
            "{flag} {text:?}: not a time; write RFC 3339 (2025-08-01T10:00:00+08:00) or local time 'YYYY-MM-DD HH:MM[:SS]'"
        ))
    })
}

fn parse_range(args: &RangeArgs) -> Result<TimeRange, HistoryError> {
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time("--since", t))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time("--until", t))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(HistoryError::Usage(format!(
            "--since {} is after --until {}: swap them",
            timefmt::format_timestamp(&s),
            timefmt::format_timestamp(&u)
        )));
    }
    Ok(TimeRange { since, until })
}

/// " between A and B", " since A", " until B" or "" (for messages).
fn describe_range(range: &TimeRange) -> String {
    let show = |at: &DateTime<FixedOffset>| timefmt::format_timestamp(at);
    match (&range.since, &range.until) {
        (Some(s), Some(u)) => format!(" between {} and {}", show(s), show(u)),
        (Some(s), None) => format!(" since {}", show(s)),
        (None, Some(u)) => format!(" until {}", show(u)),
        (None, None) => String::new(),
    }
}

/// The team's summary; an unknown team (no report) is "nothing found".
fn known_team(source: &Source, id: &TeamId) -> Result<SummaryInfo, HistoryError> {
    let info = source.summary(id)?;
    if info.total_reports == 0 {
        return Err(HistoryError::NothingFound(format!(
            "unknown team {id}: it has no reports (see the `teams` command)"
        )));
    }
    Ok(info)
}

// ---------------------------------------------------------------- output helpers

fn write_json(out: &mut impl Write, value: &impl Serialize) -> Result<(), HistoryError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| HistoryError::Stdout(e.into()))?;
    writeln!(out).map_err(HistoryError::Stdout)
}

fn write_table(out: &mut impl Write, table: &Table) -> Result<(), HistoryError> {
    table.write(out).map_err(HistoryError::Stdout)
}

/// A stored timestamp as local `YYYY-MM-DD HH:MM:SS` for a table.
fn show_time(timestamp: &str) -> String {
    match timefmt::parse_timestamp(timestamp) {
        Some(at) => at
            .with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => timestamp.to_string(),
    }
}

fn show_opt_time(timestamp: &Option<String>) -> String {
    timestamp
        .as_deref()
        .map(show_time)
        .unwrap_or_else(|| "-".into())
}

fn fixed(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

fn opt_fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| fixed(v, decimals))
}

// ---------------------------------------------------------------- teams

fn teams(source: &Source, json: bool, out: &mut impl Write) -> Result<(), HistoryError> {
    let teams = source.teams()?;
    if teams.is_empty() {
        return Err(HistoryError::NothingFound(
            "no team has any report yet".into(),
        ));
    }
    if json {
        return write_json(out, &teams);
    }
    let mut table = Table::new(&[
        ("TEAM", Align::Left),
        ("NAME", Align::Left),
        ("REPORTS", Align::Right),
        ("FIRST", Align::Left),
        ("LAST", Align::Left),
        ("QPS", Align::Right),
        ("AVG ms", Align::Right),
        ("P99 ms", Align::Right),
        ("FAIL %", Align::Right),
        ("BEST QPS", Align::Right),
        ("AT", Align::Left),
        ("BEST AVG ms", Align::Right),
        ("AT", Align::Left),
    ]);
    for t in &teams {
        table.row(vec![
            t.team_id.clone(),
            t.team_name.clone(),
            t.reports.to_string(),
            show_opt_time(&t.first_report),
            show_opt_time(&t.last_report),
            fixed(t.qps, 1),
            fixed(t.avg_latency, 2),
            fixed(t.p99_latency, 2),
            fixed(t.data_loss_rate, 2),
            opt_fixed(t.best_qps, 1),
            show_opt_time(&t.best_qps_time),
            opt_fixed(t.best_latency, 2),
            show_opt_time(&t.best_latency_time),
        ]);
    }
    write_table(out, &table)
}

// ---------------------------------------------------------------- show

fn show(
    source: &Source,
    id: &TeamId,
    range: &TimeRange,
    args: &ShowArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    if args.limit == 0 {
        return Err(HistoryError::Usage("--limit must be at least 1".into()));
    }
    known_team(source, id)?;
    let (total, rows) = source.page(id, range, args.offset, args.limit)?;
    if total == 0 {
        return Err(HistoryError::NothingFound(format!(
            "team {id} has no reports{}",
            describe_range(range)
        )));
    }
    if rows.is_empty() {
        return Err(HistoryError::NothingFound(format!(
            "team {id} has {total} reports{}; --offset {} skips them all",
            describe_range(range),
            args.offset
        )));
    }
    if json {
        let history: Vec<Value> = rows.iter().map(ExportRow::to_json).collect();
        return write_json(
            out,
            &json!({
                "team_id": id.as_str(),
                "total": total,
                "offset": args.offset,
                "limit": args.limit,
                "history": history,
            }),
        );
    }
    write_table(out, &reports_table(&rows))?;
    writeln!(
        out,
        "reports {}-{} of {total}{}, newest first",
        args.offset + 1,
        args.offset + rows.len(),
        describe_range(range)
    )
    .map_err(HistoryError::Stdout)
}

fn reports_table(rows: &[ExportRow]) -> Table {
    let mut table = Table::new(&[
        ("TIME", Align::Left),
        ("QPS", Align::Right),
        ("AVG ms", Align::Right),
        ("P99 ms", Align::Right),
        ("FAIL %", Align::Right),
        ("ELAPSED s", Align::Right),
        ("SENT", Align::Right),
        ("COMPLETED", Align::Right),
        ("ERRORS", Align::Right),
        ("PENDING", Align::Right),
    ]);
    for row in rows {
        let r = &row.report;
        table.row(vec![
            show_time(&row.timestamp),
            fixed(row.metrics.qps, 1),
            fixed(row.metrics.avg_latency, 2),
            fixed(row.metrics.p99_latency, 2),
            fixed(row.metrics.data_loss_rate, 2),
            fixed(r.total_elapsed_s, 1),
            r.total_sent.to_string(),
            r.total_ops.to_string(),
            r.total_errors.to_string(),
            r.pending.to_string(),
        ]);
    }
    table
}

// ---------------------------------------------------------------- summary

/// Min, median and max of some numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (the median of an even count is the mean of the middle two).
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Spread {
            min: values[0],
            median,
            max: values[n - 1],
        })
    }
}

fn summary(
    source: &Source,
    id: &TeamId,
    range: &TimeRange,
    _args: &SummaryArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let info = known_team(source, id)?;
    let headlines = source.headlines(id, range)?;
    let spread = |get: fn(&crate::store::Headline) -> f64| {
        Spread::of(headlines.iter().map(|(_, h)| get(h)).collect())
    };
    let (Some(qps), Some(avg), Some(p99)) = (
        spread(|h| h.qps),
        spread(|h| h.avg_latency),
        spread(|h| h.p99_latency),
    ) else {
        return Err(HistoryError::NothingFound(format!(
            "team {id} has no reports{}",
            describe_range(range)
        )));
    };
    let format_end =
        |at: &Option<DateTime<FixedOffset>>| at.as_ref().map(timefmt::format_timestamp);
    let in_range = json!({
        "since": format_end(&range.since),
        "until": format_end(&range.until),
        "reports": headlines.len(),
        "first_report": headlines.first().map(|(t, _)| t),
        "last_report": headlines.last().map(|(t, _)| t),
        "qps": qps,
        "avg_latency": avg,
        "p99_latency": p99,
    });
    if json {
        let mut value = serde_json::to_value(&info).expect("summaries serialize");
        value["range"] = in_range;
        return write_json(out, &value);
    }
    let line = |out: &mut dyn Write, key: &str, value: &str| -> io::Result<()> {
        writeln!(out, "{key:<16}{}", table::sanitize(value))
    };
    let mut lines = || -> io::Result<()> {
        line(out, "team", id.as_str())?;
        line(out, "reports", &info.total_reports.to_string())?;
        line(out, "first report", &show_opt_time(&info.first_report))?;
        line(out, "last report", &show_opt_time(&info.last_report))?;
        line(out, "data directory", &info.data_directory)?;
        line(out, "recent files", &info.recent_files.join(", "))?;
        let range_text = describe_range(range);
        line(
            out,
            "range",
            if range_text.is_empty() {
                "all"
            } else {
                range_text.trim()
            },
        )?;
        line(out, "in range", &format!("{} reports", headlines.len()))?;
        writeln!(out)
    };
    lines().map_err(HistoryError::Stdout)?;
    let mut table = Table::new(&[
        ("", Align::Left),
        ("MIN", Align::Right),
        ("MEDIAN", Align::Right),
        ("MAX", Align::Right),
    ]);
    for (name, s, decimals) in [("QPS", qps, 1), ("AVG ms", avg, 2), ("P99 ms", p99, 2)] {
        table.row(vec![
            name.to_string(),
            fixed(s.min, decimals),
            fixed(s.median, decimals),
            fixed(s.max, decimals),
        ]);
    }
    write_table(out, &table)
}

// ---------------------------------------------------------------- best

/// One place of the `best` ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placing {
    pub rank: usize,
    pub team_id: String,
    pub team_name: String,
    /// The value ranked by (QPS, ms or %); `None` when the team has none (ranked last).
    pub value: Option<f64>,
    /// When the team got there.
    pub time: Option<String>,
    pub reports: usize,
}

/// Ranks teams: best value first, ties to whoever got there first, then by id.
pub fn rank(teams: &[TeamOverview], by: RankBy) -> Vec<Placing> {
    let mut placings: Vec<Placing> = teams
        .iter()
        .map(|t| {
            let (value, time) = match by {
                RankBy::Qps => (t.best_qps, t.best_qps_time.clone()),
                RankBy::Latency => (t.best_latency, t.best_latency_time.clone()),
                RankBy::FailureRate => (Some(t.data_loss_rate), t.last_report.clone()),
            };
            Placing {
                rank: 0,
                team_id: t.team_id.clone(),
                team_name: t.team_name.clone(),
                value,
                time,
                reports: t.reports,
            }
        })
        .collect();
    let higher_is_better = by == RankBy::Qps;
    let when = |p: &Placing| p.time.as_deref().and_then(timefmt::parse_timestamp);
    placings.sort_by(|a, b| {
        let by_value = match (a.value, b.value) {
            (Some(x), Some(y)) if higher_is_better => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_value
            .then_with(|| when(a).cmp(&when(b)))
            .then_with(|| a.team_id.cmp(&b.team_id))
    });
    for (i, p) in placings.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    placings
}

fn best(
    source: &Source,
    args: &BestArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let teams = source.teams()?;
    if teams.is_empty() {
        return Err(HistoryError::NothingFound(
            "no team has any report yet".into(),
        ));
    }
    let placings = rank(&teams, args.by);
    let (by_name, heading, decimals) = match args.by {
        RankBy::Qps => ("qps", "BEST QPS", 1),
        RankBy::Latency => ("latency", "BEST AVG ms", 2),
        RankBy::FailureRate => ("failure-rate", "FAIL %", 2),
    };
    if json {
        return write_json(out, &json!({"by": by_name, "ranking": placings}));
    }
    let mut table = Table::new(&[
        ("RANK", Align::Right),
        ("TEAM", Align::Left),
        ("NAME", Align::Left),
        (heading, Align::Right),
        ("AT", Align::Left),
        ("REPORTS", Align::Right),
    ]);
    for p in &placings {
        table.row(vec![
            p.rank.to_string(),
            p.team_id.clone(),
            p.team_name.clone(),
            opt_fixed(p.value, decimals),
            show_opt_time(&p.time),
            p.reports.to_string(),
        ]);
    }
    write_table(out, &table)
}

// ---------------------------------------------------------------- export

fn export_cmd(
    source: &Source,
    ids: &[TeamId],
    range: &TimeRange,
    args: &ExportArgs,
    json: bool,
    out: &mut impl Write,
) -> Result<(), HistoryError> {
    let format = match (args.format, json) {
        (Some(format), _) => format,
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
                eprintln!("{warning}");
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
        let skipped_note = if skipped > 0 {
            format!(" ({skipped} skipped)")
        } else {
            String::new()
        };
        eprintln!(
            "exported {written} reports{skipped_note} to {}",
            path.display()
        );
    }
    Ok(())
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
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    done: u64,
}

impl Progress {
    fn new(total: u64, enabled: bool) -> Progress {
        Progress {
            bar: None,
            total: if enabled { total } else { 0 },
            started: Instant::now(),
            done: 0,
        }
    }

    fn tick(&mut self) {
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

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_time_forms() {
        for text in [
            "2025-08-01T10:00:05+08:00",
            "2025-08-01T10:00:05.138Z",
            "2025-08-01 10:00",
            "2025-08-01 10:00:05",
        ] {
            assert!(parse_time("--since", text).is_ok(), "{text}");
        }
        for text in ["yesterday", "2025-13-01 10:00", "10:00", ""] {
            let e = parse_time("--since", text).unwrap_err();
            assert_eq!(e.exit_status(), ExitStatus::BadUsage);
            assert!(e.to_string().starts_with("--since"), "{e}");
        }
    }

    #[test]
    fn refuses_reversed_range() {
        let range = RangeArgs {
            since: Some("2025-08-01 11:00".into()),
            until: Some("2025-08-01 10:00".into()),
        };
        assert!(
            parse_range(&range)
                .unwrap_err()
                .to_string()
                .contains("swap")
        );
    }

    #[test]
    fn median_of_even_count_is_mean_of_middle_two() {
        let s = Spread::of(vec![4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 4.0));
        assert_eq!(Spread::of(vec![5.0, 1.0, 3.0]).unwrap().median, 3.0);
        assert!(Spread::of(vec![]).is_none());
    }

    fn overview(id: &str, best_qps: Option<f64>, at: &str) -> TeamOverview {
        TeamOverview {
            team_id: id.into(),
            team_name: id.into(),
            reports: 1,
            first_report: Some(at.into()),
            last_report: Some(at.into()),
            qps: 0.0,
            avg_latency: 0.0,
            p99_latency: 0.0,
            data_loss_rate: 0.0,
            best_qps,
            best_qps_time: best_qps.map(|_| at.to_string()),
            best_latency: None,
            best_latency_time: None,
        }
    }

    #[test]
    fn ranking_ties_go_to_who_got_there_first() {
        let teams = [
            overview("a", Some(100.0), "2025-08-01T10:00:10+00:00"),
            overview("b", Some(100.0), "2025-08-01T10:00:05+00:00"),
            overview("c", Some(150.0), "2025-08-01T11:00:00+00:00"),
            overview("d", None, "2025-08-01T09:00:00+00:00"),
        ];
        let order: Vec<_> = rank(&teams, RankBy::Qps)
            .into_iter()
            .map(|p| (p.rank, p.team_id))
            .collect();
        assert_eq!(
            order,
            [
                (1, "c".into()),
                (2, "b".into()),
                (3, "a".into()),
                (4, "d".to_string())
            ]
        );
    }
}
