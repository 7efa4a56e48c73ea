//! Where the freeze's and the reveal's state is kept: the data directory's
//! `.benchboard-contest.json`, or PostgreSQL's `contest_state` row shared by every
//! instance (changed under the row's lock, announced, taken up by the others' tick).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use super::error::ApiError;
use crate::contest::reveal::Reveal;
use crate::contest::state::{self as saved_state, SavedContest};
use crate::store::StoreError;
use crate::store::postgres::PgContest;

/// Where the contest state is kept.
enum Kept {
    /// `<data-dir>/.benchboard-contest.json`.
    File(PathBuf),
    /// PostgreSQL's `contest_state` row, shared by every instance.
    Db(Box<PgContest>),
}

/// A contest state another instance saved (and its version), until the tick takes
/// it up.
pub type Incoming = Arc<Mutex<Option<(i64, SavedContest)>>>;

/// The freeze's and the reveal's state on the server.
pub struct Freeze {
    kept: Kept,
    saved: Mutex<SavedContest>,
    /// With PostgreSQL: the version of `saved` in the database.
    version: AtomicI64,
    /// With PostgreSQL: what the listener heard of other instances.
    incoming: Incoming,
    /// `[contest] notify_during_freeze` (default true).
    pub(super) notify: bool,
    /// Whether the board was last shown frozen (the banner).
    pub(super) shown_frozen: AtomicBool,
}

impl Freeze {
    /// Takes up the saved reveal of `data_dir`, or of the database `db`.
    pub fn open(
        data_dir: Option<&Path>,
        db: Option<(PgContest, Incoming)>,
        notify: bool,
    ) -> std::io::Result<Freeze> {
        let (kept, version, saved, incoming) = match (db, data_dir) {
            (Some((db, incoming)), _) => {
                let (version, saved) = db.load().map_err(std::io::Error::other)?;
                (Kept::Db(Box::new(db)), version, saved, incoming)
            }
            (None, Some(dir)) => {
                let path = saved_state::path_in(dir);
                let saved = saved_state::load(&path)?;
                (Kept::File(path), 0, saved, Incoming::default())
            }
            (None, None) => return Err(std::io::Error::other("no place for the contest state")),
        };
        Ok(Freeze {
            kept,
            saved: Mutex::new(saved),
            version: AtomicI64::new(version),
            incoming,
            notify,
            shown_frozen: AtomicBool::new(false),
        })
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, SavedContest> {
        self.saved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` to the saved state and keeps it; `change` says whether it
    /// changed anything. With PostgreSQL it is applied to the committed state under
    /// its row's lock (another instance may have moved it on) and announced.
    pub(super) fn update(
        &self,
        change: &dyn Fn(&mut SavedContest) -> bool,
    ) -> Result<(), ApiError> {
        let mut saved = self.lock();
        match &self.kept {
            Kept::Db(db) => {
                let (version, state) = db
                    .update(change)
                    .map_err(|e| ApiError::Storage(StoreError::Postgres(e)))?;
                self.version.store(version, Ordering::SeqCst);
                *saved = state;
            }
            Kept::File(path) => {
                if change(&mut saved)
                    && let Err(e) = saved_state::save(path, &saved)
                {
                    log::error!("cannot write the contest state {}: {e}", path.display());
                }
            }
        }
        Ok(())
    }

    /// Takes up what another instance saved, when newer than ours: true if it
    /// differs from what is shown.
    pub(super) fn adopt_incoming(&self) -> bool {
        let Some((version, state)) = self
            .incoming
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return false;
        };
        let mut saved = self.lock();
        if version <= self.version.load(Ordering::SeqCst) {
            return false;
        }
        self.version.store(version, Ordering::SeqCst);
        let changed = *saved != state;
        *saved = state;
        changed
    }
}

/// Keeps an announced contest state for the tick, unless an even newer one waits.
pub fn offer_incoming(incoming: &Incoming, version: i64, state: SavedContest) {
    let mut waiting = incoming.lock().unwrap_or_else(|e| e.into_inner());
    if waiting.as_ref().is_none_or(|(v, _)| *v < version) {
        *waiting = Some((version, state));
    }
}

/// Once every step is shown the held alerts are dropped (the public sees them).
pub(super) fn thaw_if_finished(saved: &mut SavedContest) {
    if saved.reveal.as_ref().is_some_and(Reveal::finished) {
        saved.held_alerts = None;
    }
}
