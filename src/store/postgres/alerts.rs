//! The alert state in the database (the file store's `.benchboard-alerts.json`):
//! `alert_state` has one row per (team, rule) that is not ok, `alert_changes` the
//! newest changes. Each save is one transaction that also announces every change
//! (`!alert`), so the other instances take it up and show it to their viewers.

use serde_json::json;

use super::changes::{Change as Announcement, announce};
use super::{PgError, PgReader, PgStore};
use crate::alerts::engine::{Change, MAX_CHANGES};
use crate::alerts::persist::{
    AlertFile, AlertTable, AlertUpdate, PersistError, SavedAlert, VERSION,
};

/// Longest `NOTIFY` payload PostgreSQL takes is 8000 bytes; a change announced
/// beyond that is kept but not announced (the others see it at their next start).
const MAX_PAYLOAD: usize = 7900;

/// The alert state of one database, for the alert engine.
pub struct PgAlerts {
    reader: PgReader,
    instance: u64,
}

impl PgStore {
    /// The alert state kept in this store's database.
    pub fn alert_table(&self) -> PgAlerts {
        PgAlerts {
            reader: self.reader.clone(),
            instance: self.feed.instance(),
        }
    }
}

fn failed(e: PgError) -> PersistError {
    PersistError::Database(e.to_string())
}

impl AlertTable for PgAlerts {
    fn load(&self) -> Result<AlertFile, PersistError> {
        self.reader
            .with_conn(|client, target| {
                let fail = |e| PgError::from_driver(target, e);
                let alerts = client
                    .query(
                        "SELECT alert::text FROM alert_state ORDER BY team_id, rule",
                        &[],
                    )
                    .map_err(fail)?
                    .iter()
                    .filter_map(|r| serde_json::from_str::<SavedAlert>(r.get(0)).ok())
                    .collect();
                let mut changes: Vec<Change> = client
                    .query(
                        "SELECT change::text FROM alert_changes ORDER BY id DESC LIMIT $1",
                        &[&(MAX_CHANGES as i64)],
                    )
                    .map_err(fail)?
                    .iter()
                    .filter_map(|r| serde_json::from_str(r.get(0)).ok())
                    .collect();
                changes.reverse();
                Ok(AlertFile {
                    version: VERSION,
                    alerts,
                    changes,
                })
            })
            .map_err(failed)
    }

    fn save(&self, updates: &[AlertUpdate], changes: &[Change]) -> Result<(), PersistError> {
        self.reader
            .with_conn(|client, target| {
                let fail = |e| PgError::from_driver(target, e);
                let mut tx = client.transaction().map_err(fail)?;
                for (rule, team, alert) in updates {
                    match alert {
                        Some(alert) => tx.execute(
                            "INSERT INTO alert_state (team_id, rule, alert) \
                             VALUES ($1, $2, $3::text::json) \
                             ON CONFLICT (team_id, rule) DO UPDATE SET alert = EXCLUDED.alert",
                            &[team, rule, &json!(alert).to_string()],
                        ),
                        None => tx.execute(
                            "DELETE FROM alert_state WHERE team_id = $1 AND rule = $2",
                            &[team, rule],
                        ),
                    }
                    .map_err(fail)?;
                }
                for change in changes {
                    tx.execute(
                        "INSERT INTO alert_changes (change) VALUES ($1::text::json)",
                        &[&json!(change).to_string()],
                    )
                    .map_err(fail)?;
                    let alert = updates
                        .iter()
                        .find(|(rule, team, _)| *rule == change.rule && *team == change.team_id)
                        .and_then(|(.., alert)| alert.clone());
                    let message = json!({"change": change, "alert": alert});
                    if message.to_string().len() <= MAX_PAYLOAD {
                        announce(&mut tx, self.instance, &Announcement::Alert(message))
                            .map_err(fail)?;
                    }
                }
                tx.execute(
                    "DELETE FROM alert_changes \
                     WHERE id <= (SELECT max(id) FROM alert_changes) - $1",
                    &[&(MAX_CHANGES as i64)],
                )
                .map_err(fail)?;
                tx.commit().map_err(fail)
            })
            .map_err(failed)
    }
}
