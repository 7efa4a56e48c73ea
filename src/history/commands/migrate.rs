//! `migrate --from DIR --to URL`: copies a data directory (ours or the original
//! tool's) into a PostgreSQL store, then checks the copy.
//!
//! Each report keeps its file name, timestamp and stats byte for byte; reports go in
//! team by team, oldest first, [`BATCH`] per commit. A report whose file name the
//! team already has in the database is skipped, so a migration stopped half-way
//! (Ctrl-C, a lost connection) is finished by running it again, and running it twice
//! copies nothing twice. At the end every team's report count and best records in
//! the database must equal the directory's.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};

use super::export::Progress;
use crate::history::HistoryError;
use crate::history::cli::MigrateArgs;
use crate::metrics::Metrics;
use crate::store::postgres::{Arrival, NewReport, PgStore};
use crate::store::{RawReport, ReadStore, Store, StoreError, TeamEntry};
use crate::team::TeamId;

/// Reports per commit.
const BATCH: usize = 500;

/// What a migration did.
#[derive(Debug, Default, PartialEq)]
struct Copied {
    teams: usize,
    copied: usize,
    already_there: usize,
    skipped: usize,
}

/// Runs the command: copy, verify, say what was done.
pub fn run(args: &MigrateArgs, out: &mut impl Write) -> Result<(), HistoryError> {
    let source = Store::open(&args.from)?;
    for warning in source.warnings() {
        eprintln!("{warning}");
    }
    let target = PgStore::open(&args.to).map_err(StoreError::from)?;
    let teams = source.team_ids();
    let total: usize = teams.iter().map(|id| source.report_count(id)).sum();
    let mut progress = Progress::new(total as u64, std::io::stderr().is_terminal());
    let mut copied = Copied::default();
    for id in &teams {
        copy_team(&source, &target, id, &mut copied, &mut progress)?;
    }
    progress.finish();
    verify(&source, &target)?;
    writeln!(
        out,
        "copied {} reports of {} teams from {} to {} ({} already there, {} unreadable skipped); \
         verified: every team's report count and best records match",
        copied.copied,
        copied.teams,
        args.from.display(),
        target.target(),
        copied.already_there,
        copied.skipped
    )
    .map_err(HistoryError::Stdout)
}

fn copy_team(
    source: &Store,
    target: &PgStore,
    id: &TeamId,
    copied: &mut Copied,
    progress: &mut Progress,
) -> Result<(), HistoryError> {
    let present: HashSet<String> = target
        .file_names(id)
        .map_err(StoreError::from)?
        .into_iter()
        .collect();
    let (reports, _) = source.raw_reports(std::slice::from_ref(id))?;
    let mut batch = Vec::with_capacity(BATCH);
    for report in reports {
        progress.tick();
        match report {
            Ok(report) if present.contains(&report.file_name) => copied.already_there += 1,
            Ok(report) => batch.push(new_report(report)),
            Err(e) => {
                eprintln!("warning: skipping {e}");
                copied.skipped += 1;
            }
        }
        if batch.len() == BATCH {
            store_batch(target, &mut batch, copied)?;
        }
    }
    store_batch(target, &mut batch, copied)?;
    copied.teams += 1;
    Ok(())
}

fn store_batch(
    target: &PgStore,
    batch: &mut Vec<NewReport>,
    copied: &mut Copied,
) -> Result<(), HistoryError> {
    for result in target.append_all(std::mem::take(batch)) {
        result.map_err(StoreError::from)?;
        copied.copied += 1;
    }
    Ok(())
}

fn new_report(report: RawReport) -> NewReport {
    // Reports the original accepted but today's schema refuses get zero metrics, as
    // the file store lists them.
    let stats: serde_json::Value =
        serde_json::from_str(&report.stats).expect("raw stats are the JSON they were read as");
    let metrics = Metrics::of_stored(&stats).0;
    NewReport {
        source: report.source,
        team_id: report.team_id,
        team_name: report.team_name,
        body: report.stats,
        stats,
        metrics,
        warnings: report.warnings,
        fields: None,
        arrival: Some(Arrival {
            timestamp: report.timestamp,
            at: report.at,
            file_name: report.file_name,
        }),
    }
}

/// Every team of the directory must have, in the database, as many reports and the
/// same best records (values and times).
fn verify(source: &Store, target: &PgStore) -> Result<(), HistoryError> {
    let mut differences = Vec::new();
    for id in source.team_ids() {
        let theirs: Option<TeamEntry> = ReadStore::team(&**target, &id)?;
        let ours = ReadStore::team(source, &id)?;
        let (Some(theirs), Some(ours)) = (theirs, ours) else {
            differences.push(format!("{id}: missing in the database"));
            continue;
        };
        if theirs.records.reports != ours.records.reports {
            differences.push(format!(
                "{id}: {} reports in the directory, {} in the database",
                ours.records.reports, theirs.records.reports
            ));
        }
        if theirs.records.best != ours.records.best {
            differences.push(format!(
                "{id}: best records differ: directory {:?}, database {:?}",
                ours.records.best, theirs.records.best
            ));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(HistoryError::Usage(format!(
        "the copy does not match the directory (was the database used by a server meanwhile?): {}",
        differences.join("; ")
    )))
}
