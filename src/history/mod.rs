//! `benchboard-history`: query and export a contest's history from a data directory
//! (read-only) or a running server, with the same output either way.
//!
//! Commands: `teams`, `show TEAM`, `summary TEAM`, `best`, `export`; each prints a
//! table, or JSON with `--json`. `migrate` copies a data directory into PostgreSQL;
//! `archive -o DIR` writes the contest as a static site ([`crate::archive`]). Exit codes ([`ExitStatus`]): 0 ok, 1 nothing found,
//! 2 bad usage or unreadable data. Output to a closed pipe ends quietly with 0.

pub mod cli;
pub mod commands;
pub mod contest;
pub mod source;
pub mod table;

use std::io::{self, Write};
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, Local};
use serde::Serialize;

pub use cli::HistoryArgs;
use cli::{Command, RangeArgs};
use contest::ContestRules;
use source::Source;
use table::Table;

use crate::api;
use crate::query::TimeRange;
use crate::store::StoreError;
use crate::team::TeamId;
use crate::timefmt;

/// Default data directory, as the server's.
pub const DEFAULT_DATA_DIR: &str = "data";

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
    /// The data directory or the database cannot be read.
    #[error(
        "{0} (give the server's data directory with --data-dir, its database with --store URL, or --server URL)"
    )]
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
                crate::logging::eprint_line(&format!("error: {e}"));
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
                "error: a command is required: teams, show, summary, best, export, migrate or archive (see --help)"
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
    if let Some(path) = &args.ca_cert {
        crate::client::trust_only_ca_file(path).map_err(|e| HistoryError::Usage(e.to_string()))?;
    }
    // Arguments are checked before the data is touched.
    let open = || {
        Source::open(
            &data_dir,
            args.server.as_deref(),
            args.token.as_deref(),
            args.store.as_deref(),
        )
    };
    match &args.command {
        Command::Teams => {
            let source = open()?;
            commands::teams::run(&source, args.json, out)
        }
        Command::Show(a) => {
            let (id, range) = (parse_team(&a.team)?, parse_range(&a.range)?);
            let source = open()?;
            let contest = ContestRules::find(args.config.as_deref(), &source)?;
            commands::show::run(&source, &id, &range, a, (&contest, args.json), out)
        }
        Command::Summary(a) => {
            let (id, range) = (parse_team(&a.team)?, parse_range(&a.range)?);
            let source = open()?;
            commands::summary::run(&source, &id, &range, a, args.json, out)
        }
        Command::Best(a) => {
            let source = open()?;
            let contest = ContestRules::find(args.config.as_deref(), &source)?;
            commands::best::run(&source, a, &contest, args.json, out)
        }
        Command::Export(a) => {
            let range = parse_range(&a.range)?;
            let ids = a
                .teams
                .iter()
                .map(|t| parse_team(t))
                .collect::<Result<Vec<_>, _>>()?;
            let source = open()?;
            commands::export::run(&source, &ids, &range, a, args.json, out)
        }
        Command::Migrate(a) => commands::migrate::run(a, out),
        Command::Archive(a) => {
            let source = open()?;
            let local_dir = (args.server.is_none() && args.store.is_none()).then_some(&*data_dir);
            commands::archive::run(
                &source,
                local_dir,
                args.config.as_deref(),
                a,
                args.json,
                out,
            )
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
fn known_team(source: &Source, id: &TeamId) -> Result<api::Summary, HistoryError> {
    let info = source.summary(id)?;
    if info.total_reports == 0 {
        return Err(HistoryError::NothingFound(format!(
            "unknown team {id}: it has no reports (see the `teams` command)"
        )));
    }
    Ok(info)
}

// ---------------------------------------------------------------- output helpers

pub(crate) fn write_json(out: &mut impl Write, value: &impl Serialize) -> Result<(), HistoryError> {
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
}
