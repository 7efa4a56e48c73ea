//! The schema, as versioned migrations embedded in the binary. [`apply`] runs the
//! ones a database lacks, in order, in one transaction that first takes an advisory
//! lock: a second instance starting at the same moment waits for the lock, then finds
//! nothing left to do. A database with a newer schema than this binary knows is
//! refused rather than used.

use postgres::{Client, Transaction};

use super::PgError;

/// One schema step.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
    /// What the binary computes right after the SQL, in the same transaction.
    pub then: Option<AfterSql>,
}

/// A step of a migration computed by the binary (in the migration's transaction).
pub type AfterSql = fn(&mut Transaction<'_>) -> Result<(), postgres::Error>;

/// Every migration, oldest first; a new schema change is a new entry (never an edit).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "reports",
        sql: include_str!("migrations/0001_reports.sql"),
        then: None,
    },
    Migration {
        version: 2,
        name: "source",
        sql: include_str!("migrations/0002_source.sql"),
        then: None,
    },
    Migration {
        version: 3,
        name: "runs, trash, presentation, audit, alerts",
        sql: include_str!("migrations/0003_admin_runs.sql"),
        then: Some(number_every_team),
    },
    Migration {
        version: 4,
        name: "contest state",
        sql: include_str!("migrations/0004_contest_state.sql"),
        then: None,
    },
];

/// Key of the advisory lock held while migrating ("BBSCHEMA" in ASCII).
pub const LOCK_KEY: i64 = 0x4242_5343_4845_4d41;

/// The schema version this binary writes.
pub fn current_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the database's schema up to [`current_version`]; returns the versions applied.
pub fn apply(client: &mut Client, target: &str) -> Result<Vec<i32>, PgError> {
    let fail = |e| PgError::from_driver(target, e);
    let mut tx = client.transaction().map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .map_err(fail)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS benchboard_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .map_err(fail)?;
    let found: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM benchboard_migrations",
            &[],
        )
        .map_err(fail)?
        .get(0);
    if found > current_version() {
        return Err(PgError::SchemaTooNew {
            target: target.to_string(),
            found,
            known: current_version(),
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.batch_execute(migration.sql).map_err(fail)?;
        if let Some(then) = migration.then {
            then(&mut tx).map_err(fail)?;
        }
        tx.execute(
            "INSERT INTO benchboard_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .map_err(fail)?;
        applied.push(migration.version);
    }
    tx.commit().map_err(fail)?;
    Ok(applied)
}

/// Numbers the runs of every team's reports and fills in its run records (schema 3).
fn number_every_team(tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
    let teams: Vec<String> = tx
        .query("SELECT team_id FROM teams ORDER BY team_id", &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for team in teams {
        super::runs::recompute(tx, &team)?;
    }
    Ok(())
}

/// Checks, changing nothing, that the database holds a BenchBoard schema this binary
/// can read (for `benchboard-history`).
pub fn check(client: &mut Client, target: &str) -> Result<(), PgError> {
    let fail = |e| PgError::from_driver(target, e);
    let table: Option<String> = client
        .query_one("SELECT to_regclass('benchboard_migrations')::text", &[])
        .map_err(fail)?
        .get(0);
    if table.is_none() {
        return Err(PgError::Refused {
            target: target.to_string(),
            reason: "no BenchBoard schema in this database".into(),
            hint: "; start benchboard-serve --store with it once (it creates the schema), \
                   or copy a data directory in with benchboard-history migrate",
        });
    }
    let found: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM benchboard_migrations",
            &[],
        )
        .map_err(fail)?
        .get(0);
    if found > current_version() {
        return Err(PgError::SchemaTooNew {
            target: target.to_string(),
            found,
            known: current_version(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_by_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i32 + 1, "{}", migration.name);
            assert!(!migration.sql.trim().is_empty());
        }
    }
}
