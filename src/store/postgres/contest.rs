//! The contest state in the database (the file store's `.benchboard-contest.json`):
//! one row of `contest_state` holding the reveal and the alerts held at the freeze
//! as JSON, with a `version` counting the saves. Each change is made in one
//! transaction on the row locked `FOR UPDATE`, applied to the state as committed
//! (not to this instance's copy), and announced (`!contest`), so the other instances
//! read it and show the same step; two instances stepping an `auto` reveal at once
//! take turns on the row, and the second finds the step no longer due.

use super::changes::{Change, announce};
use super::{PgError, PgReader, PgStore};
use crate::contest::state::{SavedContest, VERSION};

/// The contest state of one database.
#[derive(Clone)]
pub struct PgContest {
    reader: PgReader,
    instance: u64,
}

impl PgStore {
    /// The contest state kept in this store's database.
    pub fn contest_table(&self) -> PgContest {
        PgContest {
            reader: self.reader.clone(),
            instance: self.feed.instance(),
        }
    }
}

impl PgContest {
    /// The saved state and its version (the default state, version 0, when none).
    pub fn load(&self) -> Result<(i64, SavedContest), PgError> {
        self.reader.with_conn(read)
    }

    /// Applies `change` to the committed state under the row's lock; when it says
    /// it changed something (`true`), saves and announces it. The state as it now
    /// stands and its version.
    pub fn update(
        &self,
        change: &dyn Fn(&mut SavedContest) -> bool,
    ) -> Result<(i64, SavedContest), PgError> {
        self.reader.with_conn(|client, target| {
            let fail = |e| PgError::from_driver(target, e);
            let mut tx = client.transaction().map_err(fail)?;
            tx.execute(
                "INSERT INTO contest_state (state) VALUES ($1::text::json) ON CONFLICT DO NOTHING",
                &[&to_text(&SavedContest::default())],
            )
            .map_err(fail)?;
            let row = tx
                .query_one(
                    "SELECT version, state::text FROM contest_state FOR UPDATE",
                    &[],
                )
                .map_err(fail)?;
            let (mut version, mut state) = parse(row.get(0), row.get(1));
            if !change(&mut state) {
                return Ok((version, state));
            }
            version += 1;
            tx.execute(
                "UPDATE contest_state SET version = $1, state = $2::text::json",
                &[&version, &to_text(&state)],
            )
            .map_err(fail)?;
            announce(&mut tx, self.instance, &Change::Contest).map_err(fail)?;
            tx.commit().map_err(fail)?;
            Ok((version, state))
        })
    }
}

/// The saved state and its version, read on `client`.
pub(super) fn read(
    client: &mut postgres::Client,
    target: &str,
) -> Result<(i64, SavedContest), PgError> {
    let row = client
        .query_opt("SELECT version, state::text FROM contest_state", &[])
        .map_err(|e| PgError::from_driver(target, e))?;
    Ok(row.map_or((0, SavedContest::default()), |row| {
        parse(row.get(0), row.get(1))
    }))
}

fn parse(version: i64, text: &str) -> (i64, SavedContest) {
    match serde_json::from_str::<SavedContest>(text) {
        Ok(state) if state.version == VERSION => (version, state),
        _ => {
            log::warn!("the contest state in the database is unreadable; the reveal starts afresh");
            (version, SavedContest::default())
        }
    }
}

fn to_text(state: &SavedContest) -> String {
    let state = SavedContest {
        version: VERSION,
        ..state.clone()
    };
    serde_json::to_string(&state).expect("the contest state is plain data")
}
