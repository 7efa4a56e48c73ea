//! `--max-teams-known` on a shared database: a report of a new team is refused
//! ([`PgError::TooManyTeams`], 403) once the database holds the limit of teams, by
//! every instance alike. A batch with a team this writer has not seen takes a
//! transaction-scoped advisory lock before counting the teams, so two instances
//! admitting new teams at once count one after the other; a batch of known teams
//! (nearly all of them) costs nothing more.

use std::collections::HashSet;

use super::PgError;
use super::writer::NewReport;

/// The advisory lock key of team admissions (`benchboard` on a phone keypad).
const ADMISSION_LOCK: i64 = 2_362_262_723;

/// Which teams a writer may store reports of.
pub(super) struct Admission {
    /// Most teams in the database; `usize::MAX`: no limit.
    pub max_teams: usize,
    /// Teams known to be in the database (they never leave it).
    known: HashSet<String>,
}

impl Admission {
    pub fn new(max_teams: usize) -> Admission {
        Admission {
            max_teams,
            known: HashSet::new(),
        }
    }

    /// For each report of `batch`, whether it may be stored. Teams it admits are
    /// remembered by [`Admission::committed`] once their transaction commits.
    pub fn check(
        &self,
        tx: &mut postgres::Transaction<'_>,
        batch: &[&NewReport],
    ) -> Result<Vec<bool>, postgres::Error> {
        let unknown: Vec<&str> = batch
            .iter()
            .map(|r| r.team_id.as_str())
            .filter(|id| !self.known.contains(*id))
            .collect();
        if self.max_teams == usize::MAX || unknown.is_empty() {
            return Ok(vec![true; batch.len()]);
        }
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ADMISSION_LOCK])?;
        // A new statement, so a new snapshot: it sees teams committed while we waited.
        let row = tx.query_one(
            "SELECT (SELECT count(*) FROM teams),
                    (SELECT coalesce(array_agg(team_id), '{}') FROM teams WHERE team_id = ANY($1))",
            &[&unknown],
        )?;
        let count: i64 = row.get(0);
        let present: Vec<String> = row.get(1);
        let mut room = self.max_teams.saturating_sub(count as usize);
        let mut admitted: HashSet<&str> = present.iter().map(String::as_str).collect();
        admitted.extend(self.known.iter().map(String::as_str));
        Ok(batch
            .iter()
            .map(|report| {
                let id = report.team_id.as_str();
                if admitted.contains(id) {
                    return true;
                }
                if room == 0 {
                    return false;
                }
                room -= 1;
                admitted.insert(id);
                true
            })
            .collect())
    }

    /// Remembers the teams of a committed batch as present.
    pub fn committed<'a>(&mut self, teams: impl IntoIterator<Item = &'a str>) {
        self.known.extend(teams.into_iter().map(str::to_string));
    }

    /// The refusal of a report of a new team.
    pub fn refusal(&self) -> PgError {
        PgError::TooManyTeams {
            limit: self.max_teams,
        }
    }
}
