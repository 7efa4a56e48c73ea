//! The organiser's actions behind `/api/admin/`: hide or show a team, rename it,
//! move a report to the trash and back, reset a team or every team. Each action
//! changes the store and the board together (the board publishes the change to
//! every viewer at once), is appended to the audit log (what, which team and
//! report, when, from which address) and is pushed to viewers as an `admin_action`
//! message (without the address).
//!
//! On the file store the audit log is `data/.audit.log` and the hidden teams and
//! names are kept in `data/.board.json` so that they survive a restart (both start
//! with a dot, so no tool takes them for a team). On PostgreSQL both are tables,
//! the trash too, and every change is announced to the other instances, whose
//! boards and viewers follow (src/store/postgres/admin.rs).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Value, json};

use crate::board::{LiveBoard, Presentation};
use crate::store::postgres::PgStore;
use crate::store::{StoreError, TrashError, TrashedReport, WritableStore, WriteStore};
use crate::team::{self, MAX_TEAM_NAME_CHARS, TeamId};

/// The audit log's name inside the data directory.
pub const AUDIT_FILE: &str = ".audit.log";
/// Hidden teams and names, inside the data directory.
pub const PRESENTATION_FILE: &str = ".board.json";
/// What `POST /api/admin/reset-all` needs in its `confirm` field.
pub const RESET_ALL_CONFIRMATION: &str = "reset all teams";
/// Most audit entries one request returns.
pub const MAX_AUDIT_ENTRIES: usize = 1000;
/// How much of the audit log's end is read for a listing.
const AUDIT_TAIL_BYTES: u64 = 1024 * 1024;

/// One organiser action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Hide(TeamId),
    Show(TeamId),
    /// A new board name; `None` goes back to the contest file's or the reported one.
    Rename(TeamId, Option<String>),
    Trash(TeamId, String),
    Restore(TeamId, String),
    /// Every report of the team to the trash.
    ResetTeam(TeamId),
    /// Every report of every team to the trash.
    ResetAll,
    /// The contest file was read again (done by the server; audited here).
    Reload,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Hide(_) => "hide",
            Action::Show(_) => "show",
            Action::Rename(..) => "rename",
            Action::Trash(..) => "trash",
            Action::Restore(..) => "restore",
            Action::ResetTeam(_) => "reset",
            Action::ResetAll => "reset-all",
            Action::Reload => "reload",
        }
    }

    fn team(&self) -> Option<&TeamId> {
        match self {
            Action::Hide(id)
            | Action::Show(id)
            | Action::Rename(id, _)
            | Action::Trash(id, _)
            | Action::Restore(id, _)
            | Action::ResetTeam(id) => Some(id),
            Action::ResetAll | Action::Reload => None,
        }
    }

    fn file(&self) -> Option<&str> {
        match self {
            Action::Trash(_, file) | Action::Restore(_, file) => Some(file),
            _ => None,
        }
    }
}

/// Why an action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request itself is wrong (a bad name, no confirmation).
    #[error("{0}")]
    BadRequest(String),
    /// The report or team is not there.
    #[error("{0}")]
    NotFound(String),
    /// The trash refused or failed.
    #[error("{0}")]
    Trash(TrashError),
    /// A file of the data directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The store failed (a database that went away: 503).
    #[error("{0}")]
    Store(StoreError),
}

impl From<TrashError> for AdminError {
    fn from(error: TrashError) -> AdminError {
        match error {
            TrashError::BadName(_) => AdminError::BadRequest(error.to_string()),
            TrashError::NoSuchReport { .. } => AdminError::NotFound(error.to_string()),
            TrashError::Store(e) => AdminError::Store(e),
            other => AdminError::Trash(other),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> AdminError {
        AdminError::Store(error)
    }
}

impl From<crate::store::postgres::PgError> for AdminError {
    fn from(error: crate::store::postgres::PgError) -> AdminError {
        AdminError::Store(StoreError::Postgres(error))
    }
}

/// Where an action's changes are kept: the data directory or the database.
#[derive(Clone, Copy)]
enum Keeper<'a> {
    Files(&'a WritableStore),
    Database(&'a PgStore),
}

impl<'a> Keeper<'a> {
    fn of(store: &'a dyn WriteStore) -> Keeper<'a> {
        match (store.files(), store.postgres()) {
            (Some(files), _) => Keeper::Files(files),
            (None, Some(db)) => Keeper::Database(db),
            (None, None) => unreachable!("a server's store is a data directory or a database"),
        }
    }

    fn trash_report(self, id: &TeamId, file: &str) -> Result<(), TrashError> {
        match self {
            Keeper::Files(store) => store.trash_report(id, file),
            Keeper::Database(db) => db.trash_report(id, file),
        }
    }

    fn restore_report(self, id: &TeamId, file: &str) -> Result<(), TrashError> {
        match self {
            Keeper::Files(store) => store.restore_report(id, file),
            Keeper::Database(db) => db.restore_report(id, file),
        }
    }

    fn trash_team(self, id: &TeamId) -> Result<usize, TrashError> {
        match self {
            Keeper::Files(store) => store.trash_team(id),
            Keeper::Database(db) => db.trash_team(id),
        }
    }

    fn team_ids(self) -> Result<Vec<TeamId>, StoreError> {
        match self {
            Keeper::Files(store) => Ok(store.team_ids()),
            Keeper::Database(db) => Ok(db.seqs()?.into_iter().map(|(id, _)| id).collect()),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// When, RFC 3339 with the local offset.
    pub at: String,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// What the action did (a new name, how many reports moved).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
    /// The client address the request came from.
    pub from: String,
}

/// The organiser's actions on one store (its audit log, saved presentation, trash).
pub struct Admin {
    /// The data directory; `None` with a store that has none (PostgreSQL).
    root: Option<PathBuf>,
    /// Serialises actions: two organisers clicking at once get one order.
    lock: Mutex<()>,
}

impl Admin {
    /// Reads the saved hidden teams and names into the board.
    pub fn open(store: &dyn WriteStore, board: &LiveBoard) -> Result<Admin, String> {
        let admin = Admin {
            root: store.files().map(|files| files.root().to_path_buf()),
            lock: Mutex::new(()),
        };
        if let Some(db) = store.postgres() {
            let (hidden, renamed) = db.presentation().map_err(|e| e.to_string())?;
            board.set_saved_presentation(hidden, renamed);
            return Ok(admin);
        }
        let Some(root) = &admin.root else {
            return Ok(admin);
        };
        let path = root.join(PRESENTATION_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                let saved: Presentation = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}; fix or remove it", path.display()))?;
                board.set_saved_presentation(saved.hidden, saved.renamed);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
        Ok(admin)
    }

    /// Carries out an action, audits it and pushes it to viewers; returns its detail.
    pub fn perform(
        &self,
        store: &dyn WriteStore,
        board: &LiveBoard,
        action: Action,
        from: &str,
    ) -> Result<Value, AdminError> {
        let _one_at_a_time = self.lock.lock().expect("admin lock poisoned");
        let keeper = Keeper::of(store);
        let detail = match &action {
            Action::Hide(id) | Action::Show(id) => {
                let hide = matches!(action, Action::Hide(_));
                self.change_presentation(keeper, board, id, |p| {
                    if hide {
                        p.hidden.insert(id.to_string());
                    } else {
                        p.hidden.remove(id.as_str());
                    }
                })?;
                Value::Null
            }
            Action::Rename(id, name) => rename(self, keeper, board, id, name.as_deref())?,
            Action::Trash(id, file) => {
                keeper.trash_report(id, file)?;
                board.refresh_team(store, id);
                Value::Null
            }
            Action::Restore(id, file) => {
                keeper.restore_report(id, file)?;
                board.refresh_team(store, id);
                Value::Null
            }
            Action::ResetTeam(id) => json!({"reports": reset(keeper, store, board, id)?}),
            Action::ResetAll => {
                let mut moved = 0;
                for id in keeper.team_ids()? {
                    moved += reset(keeper, store, board, &id)?;
                }
                json!({"reports": moved})
            }
            Action::Reload => Value::Null,
        };
        self.audit(keeper, board, &action, detail.clone(), from)?;
        Ok(detail)
    }

    /// Every report in the trash, by team and file name.
    pub fn trash_list(&self, store: &dyn WriteStore) -> Result<Vec<TrashedReport>, AdminError> {
        Ok(match Keeper::of(store) {
            Keeper::Files(files) => files.trash_list()?,
            Keeper::Database(db) => db.trash_list()?,
        })
    }

    /// The newest audit entries, newest first.
    pub fn audit_entries(
        &self,
        store: &dyn WriteStore,
        limit: usize,
    ) -> Result<Vec<Value>, AdminError> {
        let limit = limit.min(MAX_AUDIT_ENTRIES);
        let root = match Keeper::of(store) {
            Keeper::Database(db) => return Ok(db.audit_entries(limit)?),
            Keeper::Files(_) => self.root()?,
        };
        let path = root.join(AUDIT_FILE);
        let mut file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(write_error(&path, e)),
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(AUDIT_TAIL_BYTES);
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_to_end(&mut tail))
            .map_err(|e| write_error(&path, e))?;
        let text = String::from_utf8_lossy(&tail);
        let mut lines: Vec<&str> = text.lines().collect();
        if start > 0 && !lines.is_empty() {
            lines.remove(0); // cut in the middle
        }
        Ok(lines
            .iter()
            .rev()
            .filter_map(|line| serde_json::from_str(line).ok())
            .take(limit)
            .collect())
    }

    /// The data directory of the file store.
    fn root(&self) -> Result<&Path, AdminError> {
        Ok(self
            .root
            .as_deref()
            .expect("a file store's admin has its data directory"))
    }

    /// Changes team `id`'s presentation, keeps it (a file, or the database, which
    /// tells other instances) and puts it in force.
    fn change_presentation(
        &self,
        keeper: Keeper<'_>,
        board: &LiveBoard,
        id: &TeamId,
        change: impl FnOnce(&mut Presentation),
    ) -> Result<(), AdminError> {
        let mut presentation = board.presentation();
        change(&mut presentation);
        if let Keeper::Database(db) = keeper {
            let name = presentation.renamed.get(id.as_str()).map(String::as_str);
            db.save_presentation(id, presentation.is_hidden(id), name)?;
            board.set_presentation(presentation);
            return Ok(());
        }
        let saved = json!({"hidden": presentation.hidden, "renamed": presentation.renamed});
        let root = self.root()?;
        let path = root.join(PRESENTATION_FILE);
        let tmp = root.join(format!("{PRESENTATION_FILE}.tmp"));
        fs::write(&tmp, format!("{saved:#}\n"))
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| write_error(&path, e))?;
        board.set_presentation(presentation);
        Ok(())
    }

    fn audit(
        &self,
        keeper: Keeper<'_>,
        board: &LiveBoard,
        action: &Action,
        detail: Value,
        from: &str,
    ) -> Result<(), AdminError> {
        let entry = AuditEntry {
            at: crate::timefmt::now().to_rfc3339(),
            action: action.name(),
            team_id: action.team().map(|id| id.to_string()),
            file: action.file().map(str::to_string),
            detail,
            from: from.to_string(),
        };
        let mut pushed = serde_json::to_value(&entry).expect("audit entries serialize");
        pushed
            .as_object_mut()
            .expect("an entry is an object")
            .remove("from");
        if let Keeper::Database(db) = keeper {
            let whole = serde_json::to_value(&entry).expect("audit entries serialize");
            db.audit(&whole, &pushed)?;
        } else {
            let mut line = serde_json::to_vec(&entry).expect("audit entries serialize");
            line.push(b'\n');
            let path = self.root()?.join(AUDIT_FILE);
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut file| file.write_all(&line))
                .map_err(|e| write_error(&path, e))?;
        }
        let message = crate::api::WsMessage::AdminAction { entry: pushed };
        board.hub().publish(None, message.to_text().into());
        Ok(())
    }
}

fn rename(
    admin: &Admin,
    keeper: Keeper<'_>,
    board: &LiveBoard,
    id: &TeamId,
    name: Option<&str>,
) -> Result<Value, AdminError> {
    let name = match name {
        None => None,
        Some(name) => team::check_team_name(name).map_err(|_| {
            AdminError::BadRequest(format!(
                "name must be at most {MAX_TEAM_NAME_CHARS} characters, without control characters"
            ))
        })?,
    };
    admin.change_presentation(keeper, board, id, |p| match &name {
        Some(name) => {
            p.renamed.insert(id.to_string(), name.clone());
        }
        None => {
            p.renamed.remove(id.as_str());
        }
    })?;
    Ok(json!({ "name": name }))
}

fn reset(
    keeper: Keeper<'_>,
    store: &dyn WriteStore,
    board: &LiveBoard,
    id: &TeamId,
) -> Result<usize, AdminError> {
    let moved = keeper.trash_team(id);
    board.refresh_team(store, id);
    Ok(moved?)
}

fn write_error(path: &Path, source: io::Error) -> AdminError {
    AdminError::Write {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests;
