//! The organiser's actions in the database, as the file store does them in its data
//! directory: the trash (a table with the same columns as `reports`; a report moves
//! there and back whole, with its seq), the hidden teams and given names
//! (`presentation`), and the audit log (`audit`). Each change is one transaction
//! under the team's row lock (the writer takes the same lock), renumbers the team's
//! runs and rebuilds its records ([`super::runs::recompute`]), and is
//! announced with `NOTIFY` so that every other instance's board follows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use postgres::Transaction;
use serde_json::Value;

use super::changes::{Change, announce};
use super::{PgError, PgReader, PgStore, runs};
use crate::report::{Report, plausibility};
use crate::store::{StoreError, TrashError, TrashedReport, check_name};
use crate::team::TeamId;

/// Every column of `reports` (and of `trash`, which has them all, plus when).
const COLUMNS: &str = "team_id, seq, team_name, file_name, timestamp, at, received_at, qps, \
     avg_latency, p99_latency, data_loss_rate, warnings, stats, source, run, total_elapsed, \
     total_sent";

/// Hidden teams and the names an organiser gave, as the database keeps them.
pub type SavedPresentation = (BTreeSet<String>, BTreeMap<String, String>);

impl PgStore {
    /// Moves one report of a team to the trash.
    pub fn trash_report(&self, id: &TeamId, file_name: &str) -> Result<(), TrashError> {
        check_name(file_name)?;
        self.change_team(id, |tx| {
            let moved = tx.query(
                &format!(
                    "WITH moved AS (DELETE FROM reports WHERE team_id = $1 AND file_name = $2 \
                     RETURNING {COLUMNS}) INSERT INTO trash ({COLUMNS}) SELECT {COLUMNS} FROM moved \
                     RETURNING seq"
                ),
                &[&id.as_str(), &file_name],
            )?;
            let Some(seq) = moved.first().map(|r| r.get::<_, i64>(0)) else {
                return Ok(None);
            };
            // The next report was judged against the trashed one.
            rejudge_after(tx, id.as_str(), seq, false)?;
            Ok(Some(1))
        })?
        .map(|_| ())
        .ok_or_else(|| no_such(id, file_name, "in its history"))
    }

    /// Moves every report of a team to the trash (a reset); returns how many.
    pub fn trash_team(&self, id: &TeamId) -> Result<usize, TrashError> {
        let moved = self.change_team(id, |tx| {
            let moved = tx.execute(
                &format!(
                    "WITH moved AS (DELETE FROM reports WHERE team_id = $1 RETURNING {COLUMNS}) \
                     INSERT INTO trash ({COLUMNS}) SELECT {COLUMNS} FROM moved"
                ),
                &[&id.as_str()],
            )?;
            Ok(Some(moved as usize))
        })?;
        Ok(moved.unwrap_or(0))
    }

    /// Moves a report back from the trash into the team's history (with its seq, so
    /// in its place among the others).
    pub fn restore_report(&self, id: &TeamId, file_name: &str) -> Result<(), TrashError> {
        check_name(file_name)?;
        let restored = self.change_team(id, |tx| {
            let moved = tx.query(
                &format!(
                    "WITH moved AS (DELETE FROM trash WHERE team_id = $1 AND file_name = $2 \
                     RETURNING {COLUMNS}) INSERT INTO reports ({COLUMNS}) SELECT {COLUMNS} FROM moved \
                     RETURNING seq"
                ),
                &[&id.as_str(), &file_name],
            )?;
            let Some(seq) = moved.first().map(|r| r.get::<_, i64>(0)) else {
                return Ok(None);
            };
            // The restored report and the next one are judged against their new previous.
            rejudge_after(tx, id.as_str(), seq, true)?;
            Ok(Some(1))
        });
        match restored {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(no_such(id, file_name, "in the trash")),
            Err(TrashError::Store(StoreError::Postgres(PgError::Query { reason, .. })))
                if reason.contains("duplicate key") =>
            {
                Err(TrashError::AlreadyThere(
                    PathBuf::from(id.as_str()).join(file_name),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `change` in a transaction holding the team's row lock, then renumbers the
    /// team, announces the change and commits. `None` from `change`: nothing to do
    /// (rolled back).
    fn change_team(
        &self,
        id: &TeamId,
        change: impl Fn(&mut Transaction<'_>) -> Result<Option<usize>, postgres::Error>,
    ) -> Result<Option<usize>, TrashError> {
        let instance = self.feed.instance();
        let done = self.with_conn(|client, target| {
            let fail = |e| PgError::from_driver(target, e);
            let mut tx = client.transaction().map_err(fail)?;
            let locked = tx
                .query_opt(
                    "SELECT 1 FROM teams WHERE team_id = $1 FOR UPDATE",
                    &[&id.as_str()],
                )
                .map_err(fail)?;
            if locked.is_none() {
                return Ok(None);
            }
            let Some(done) = change(&mut tx).map_err(fail)? else {
                return Ok(None);
            };
            runs::recompute(&mut tx, id.as_str()).map_err(fail)?;
            announce(&mut tx, instance, &Change::Team(id.clone())).map_err(fail)?;
            tx.commit().map_err(fail)?;
            Ok(Some(done))
        });
        done.map_err(|e| TrashError::Store(StoreError::Postgres(e)))
    }

    /// Keeps a team's hidden flag and given name (`None`: the reported one) and
    /// announces the change.
    pub fn save_presentation(
        &self,
        id: &TeamId,
        hidden: bool,
        name: Option<&str>,
    ) -> Result<(), PgError> {
        let instance = self.feed.instance();
        self.with_conn(|client, target| {
            let fail = |e| PgError::from_driver(target, e);
            let mut tx = client.transaction().map_err(fail)?;
            if hidden || name.is_some() {
                tx.execute(
                    "INSERT INTO presentation (team_id, hidden, name) VALUES ($1, $2, $3) \
                     ON CONFLICT (team_id) DO UPDATE SET hidden = $2, name = $3",
                    &[&id.as_str(), &hidden, &name],
                )
            } else {
                tx.execute(
                    "DELETE FROM presentation WHERE team_id = $1",
                    &[&id.as_str()],
                )
            }
            .map_err(fail)?;
            announce(&mut tx, instance, &Change::Presentation).map_err(fail)?;
            tx.commit().map_err(fail)
        })
    }

    /// Appends an entry to the audit log; `shown` (the entry without its address) is
    /// announced to the viewers of every other instance.
    pub fn audit(&self, entry: &Value, shown: &Value) -> Result<(), PgError> {
        let instance = self.feed.instance();
        let text = entry.to_string();
        self.with_conn(|client, target| {
            let fail = |e| PgError::from_driver(target, e);
            let mut tx = client.transaction().map_err(fail)?;
            tx.execute(
                "INSERT INTO audit (entry) VALUES ($1::text::json)",
                &[&text],
            )
            .map_err(fail)?;
            announce(&mut tx, instance, &Change::AdminAction(shown.clone())).map_err(fail)?;
            tx.commit().map_err(fail)
        })
    }
}

impl PgReader {
    /// Every report in the trash, by team and file name; `bytes` is the size of its
    /// file in the original's layout (what an export to a directory writes).
    pub fn trash_list(&self) -> Result<Vec<TrashedReport>, PgError> {
        self.with_conn(|client, target| {
            let rows = client
                .query(
                    "SELECT team_id, team_name, timestamp, source::text, \
                     octet_length(stats::text), file_name FROM trash ORDER BY team_id, seq",
                    &[],
                )
                .map_err(|e| PgError::from_driver(target, e))?;
            Ok(rows.iter().filter_map(trashed_from_row).collect())
        })
    }

    /// The hidden teams and given names kept in the database.
    pub fn presentation(&self) -> Result<SavedPresentation, PgError> {
        self.with_conn(read_presentation)
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<Value>, PgError> {
        self.with_conn(|client, target| {
            let rows = client
                .query(
                    "SELECT entry::text FROM audit ORDER BY id DESC LIMIT $1",
                    &[&(limit as i64)],
                )
                .map_err(|e| PgError::from_driver(target, e))?;
            Ok(rows
                .iter()
                .filter_map(|r| serde_json::from_str(r.get(0)).ok())
                .collect())
        })
    }
}

fn trashed_from_row(row: &postgres::Row) -> Option<TrashedReport> {
    let id = TeamId::parse(row.get(0)).ok()?;
    let source: Option<Value> = row
        .get::<_, Option<&str>>(3)
        .and_then(|s| serde_json::from_str(s).ok());
    let stats_len = row.get::<_, i32>(4).max(0) as u64;
    // The file's bytes around the stats, as an export to a directory writes them.
    let wrapper = crate::store::report_contents(&id, row.get(1), row.get(2), source.as_ref(), b"");
    Some(TrashedReport {
        team_id: id.to_string(),
        file_name: row.get(5),
        bytes: wrapper.len() as u64 + stats_len,
    })
}

/// The `presentation` table read whole.
pub(super) fn read_presentation(
    client: &mut postgres::Client,
    target: &str,
) -> Result<SavedPresentation, PgError> {
    let rows = client
        .query("SELECT team_id, hidden, name FROM presentation", &[])
        .map_err(|e| PgError::from_driver(target, e))?;
    let mut hidden = BTreeSet::new();
    let mut renamed = BTreeMap::new();
    for row in rows {
        let id: String = row.get(0);
        if row.get(1) {
            hidden.insert(id.clone());
        }
        if let Some(name) = row.get::<_, Option<String>>(2) {
            renamed.insert(id, name);
        }
    }
    Ok((hidden, renamed))
}

/// Judges the plausibility of the reports after seq `seq` (and of `seq` itself when
/// `including`) again, each against the report now just before it: the first one
/// after it, which was judged against another previous report.
fn rejudge_after(
    tx: &mut Transaction<'_>,
    team: &str,
    seq: i64,
    including: bool,
) -> Result<(), postgres::Error> {
    let first = if including { seq } else { seq + 1 };
    let previous = tx.query_opt(
        "SELECT stats::text FROM reports WHERE team_id = $1 AND seq < $2 \
         ORDER BY seq DESC LIMIT 1",
        &[&team, &first],
    )?;
    let mut previous = previous.and_then(|r| fields(r.get(0)));
    let limit: i64 = if including { 2 } else { 1 };
    let next = tx.query(
        "SELECT seq, stats::text FROM reports WHERE team_id = $1 AND seq >= $2 \
         ORDER BY seq LIMIT $3",
        &[&team, &first, &limit],
    )?;
    for row in next {
        let Some(report) = fields(row.get(1)) else {
            previous = None;
            continue;
        };
        let warnings = plausibility::check(&report, previous.as_ref());
        let text = serde_json::to_string(&warnings).expect("warnings serialize");
        tx.execute(
            "UPDATE reports SET warnings = $3::text::jsonb WHERE team_id = $1 AND seq = $2",
            &[&team, &row.get::<_, i64>(0), &text],
        )?;
        previous = Some(report);
    }
    Ok(())
}

fn fields(stats: &str) -> Option<Report> {
    let value: Value = serde_json::from_str(stats).ok()?;
    Report::fields_of(&value).ok()
}

fn no_such(id: &TeamId, file: &str, place: &'static str) -> TrashError {
    TrashError::NoSuchReport {
        team: id.to_string(),
        file: file.to_string(),
        place,
    }
}
