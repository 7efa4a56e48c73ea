//! Plausibility warnings on PostgreSQL: a report is judged against its team's newest
//! stored report, as on the file store. The writer judges under the team's row lock,
//! so the newest report is exactly the one before it (another instance's included),
//! and it keeps each team's newest report's fields in memory, keyed by its seq: the
//! stats are read back from the database only when another instance (or an
//! organiser's action) changed the team's newest report since.

use std::borrow::Cow;
use std::collections::HashMap;

use postgres::Statement;
use serde_json::Value;

use crate::report::Report;

/// Teams whose newest report the cache keeps at most.
const MAX_TEAMS: usize = 10_000;

/// Reads the stats of given `(team, seq)`s.
pub const READ_NEWEST: &str = "
    SELECT r.team_id, r.stats::text FROM reports r
    JOIN unnest($1::text[], $2::int8[]) AS k(team_id, seq)
      ON r.team_id = k.team_id AND r.seq = k.seq";

/// What the writer knows of a team's newest report while it numbers a batch.
// One per team of a batch, for the batch's length: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Default)]
pub enum Newest<'a> {
    /// Neither in the cache nor read yet.
    #[default]
    Unread,
    /// Its fields; `None`: the team has no report, or its newest does not pass
    /// today's schema (as the file store: nothing to judge against).
    Fields(Option<Cow<'a, Report>>),
    /// A report of this batch stored without fields to judge (a migrated one).
    Stats(&'a Value),
}

impl Newest<'_> {
    /// The fields to judge the next report against.
    pub fn fields(&self) -> Option<Cow<'_, Report>> {
        match self {
            Newest::Unread => None,
            Newest::Fields(fields) => fields.as_deref().map(Cow::Borrowed),
            Newest::Stats(stats) => Report::fields_of(stats).ok().map(Cow::Owned),
        }
    }
}

/// Each team's newest report's seq and fields, as this writer last committed them.
#[derive(Default)]
pub struct NewestCache {
    teams: HashMap<String, (i64, Report)>,
}

impl NewestCache {
    /// Takes the fields of `team`'s report `seq` when that is the one the cache holds
    /// (they come back with [`NewestCache::committed`]).
    pub fn take(&mut self, team: &str, seq: i64) -> Option<Newest<'static>> {
        match self.teams.remove(team) {
            Some((held, fields)) if held == seq => Some(Newest::Fields(Some(Cow::Owned(fields)))),
            _ => None,
        }
    }

    /// After a commit: `team`'s newest report is now `seq`.
    pub fn committed(&mut self, team: &str, seq: i64, newest: Newest<'_>) {
        match newest {
            Newest::Fields(Some(fields)) => {
                if self.teams.len() >= MAX_TEAMS
                    && !self.teams.contains_key(team)
                    && let Some(other) = self.teams.keys().next().cloned()
                {
                    self.teams.remove(&other);
                }
                self.teams
                    .insert(team.to_string(), (seq, fields.into_owned()));
            }
            _ => {
                self.teams.remove(team);
            }
        }
    }
}

/// Reads the newest reports `wanted` (team, seq) in the transaction; fields by team.
pub fn read(
    tx: &mut postgres::Transaction<'_>,
    statement: &Statement,
    wanted: &[(&str, i64)],
) -> Result<HashMap<String, Option<Report>>, postgres::Error> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let (teams, seqs): (Vec<&str>, Vec<i64>) = wanted.iter().copied().unzip();
    let rows = tx.query(statement, &[&teams, &seqs])?;
    Ok(rows
        .iter()
        .map(|row| {
            let stats: Option<Value> = serde_json::from_str(row.get(1)).ok();
            let fields = stats.and_then(|stats| Report::fields_of(&stats).ok());
            (row.get::<_, String>(0), fields)
        })
        .collect())
}
