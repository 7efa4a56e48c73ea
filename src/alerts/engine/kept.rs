//! Keeping an engine's state beyond the process: the state file of a data
//! directory, or a store's tables (PostgreSQL), whose other instances announce
//! their changes to be taken up here ([`AlertEngine::adopt`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{AlertEngine, Change, Clock, Entry, Inner, MAX_CHANGES, Phase, Rule};
use crate::alerts::persist::{
    self, AlertFile, AlertTable, AlertUpdate, Announced, PersistError, SavedAlert,
};
use crate::team::TeamId;
use crate::timefmt::format_timestamp;

/// Where the state is kept beyond the process.
pub(super) enum Kept {
    Nowhere,
    File(PathBuf),
    Table(Arc<dyn AlertTable>),
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::Nowhere => f.write_str("nowhere"),
            Kept::File(path) => write!(f, "{}", path.display()),
            Kept::Table(_) => f.write_str("the database"),
        }
    }
}

impl AlertEngine {
    /// An engine whose state is kept in a store's tables (shared by the instances
    /// of one database); the state kept there is taken up, for the rules that exist.
    pub fn in_table(
        rules: Vec<Rule>,
        clock: Arc<dyn Clock>,
        table: Arc<dyn AlertTable>,
    ) -> Result<AlertEngine, PersistError> {
        let inner = restore(&rules, table.load()?);
        Ok(AlertEngine {
            rules,
            clock,
            kept: Kept::Table(table),
            inner: Mutex::new(inner),
        })
    }

    /// Takes up a change another instance made (announced by the store): the state
    /// it left and the change in the history. `None` for a rule this engine lacks.
    pub fn adopt(&self, announced: Announced) -> Option<Change> {
        let index = self
            .rules
            .iter()
            .position(|r| r.name == announced.change.rule)?;
        let team = TeamId::parse(&announced.change.team_id).ok()?;
        let mut inner = self.lock();
        match announced.alert.as_ref().and_then(entry_of) {
            Some(entry) => {
                inner.entries.insert((index, team), entry);
            }
            None => {
                if let Some(entry) = inner.entries.get_mut(&(index, team)) {
                    entry.phase = Phase::Ok;
                    entry.holding_since = None;
                }
            }
        }
        if inner.changes.len() == MAX_CHANGES {
            inner.changes.pop_front();
        }
        inner.changes.push_back(announced.change.clone());
        Some(announced.change)
    }

    /// Writes the state file (or the state's rows) when something changed since the
    /// last write. A file is written atomically (a temporary file renamed over the
    /// old one); rows are written for the (rule, team) that changed.
    pub fn save_if_changed(&self) -> Result<(), PersistError> {
        let table = match &self.kept {
            Kept::Nowhere => return Ok(()),
            Kept::File(path) => {
                let file = {
                    let mut inner = self.lock();
                    if !inner.dirty {
                        return Ok(());
                    }
                    inner.dirty = false;
                    self.to_file(&inner)
                };
                return persist::save(path, &file).inspect_err(|_| self.lock().dirty = true);
            }
            Kept::Table(table) => table,
        };
        let (keys, updates, changes) = {
            let mut inner = self.lock();
            if inner.unsaved.is_empty() {
                return Ok(());
            }
            let keys = std::mem::take(&mut inner.unsaved);
            let changes: Vec<Change> = inner.unsaved_changes.drain(..).collect();
            let updates: Vec<AlertUpdate> = keys
                .iter()
                .map(|key| {
                    let alert = inner
                        .entries
                        .get(key)
                        .filter(|e| e.phase != Phase::Ok)
                        .map(|e| self.saved(key, e));
                    (self.rules[key.0].name.clone(), key.1.to_string(), alert)
                })
                .collect();
            (keys, updates, changes)
        };
        table.save(&updates, &changes).inspect_err(|_| {
            // Tried again at the next save, before anything newer.
            let mut inner = self.lock();
            inner.unsaved.extend(keys);
            for change in changes.into_iter().rev() {
                inner.unsaved_changes.push_front(change);
            }
            inner.unsaved_changes.truncate(MAX_CHANGES);
        })
    }

    fn saved(&self, (index, team): &(usize, TeamId), e: &Entry) -> SavedAlert {
        SavedAlert {
            rule: self.rules[*index].name.clone(),
            team_id: team.to_string(),
            team_name: e.team_name.clone(),
            phase: e.phase,
            since: format_timestamp(&e.since),
            holding_since: e.holding_since.map(|at| format_timestamp(&at)),
            value: e.value,
        }
    }

    fn to_file(&self, inner: &Inner) -> AlertFile {
        let alerts = inner
            .entries
            .iter()
            .filter(|(_, e)| e.phase != Phase::Ok)
            .map(|(key, e)| self.saved(key, e))
            .collect();
        AlertFile {
            version: persist::VERSION,
            alerts,
            changes: inner.changes.iter().cloned().collect(),
        }
    }
}

/// The saved state of the rules that still exist (matched by name).
pub(super) fn restore(rules: &[Rule], saved: AlertFile) -> Inner {
    let mut inner = Inner::default();
    for alert in saved.alerts {
        let Some(index) = rules.iter().position(|r| r.name == alert.rule) else {
            continue;
        };
        let (Ok(team), Some(entry)) = (TeamId::parse(&alert.team_id), entry_of(&alert)) else {
            continue;
        };
        inner.entries.insert((index, team), entry);
    }
    let skip = saved.changes.len().saturating_sub(MAX_CHANGES);
    inner.changes = saved.changes.into_iter().skip(skip).collect();
    inner
}

/// The engine's entry of a saved alert; `None` when its time cannot be read.
fn entry_of(alert: &SavedAlert) -> Option<Entry> {
    let since = crate::timefmt::parse_timestamp(&alert.since)?;
    let holding_since = alert
        .holding_since
        .as_deref()
        .and_then(crate::timefmt::parse_timestamp);
    Some(Entry {
        phase: alert.phase,
        since,
        holding_since,
        value: alert.value,
        team_name: alert.team_name.clone(),
    })
}
