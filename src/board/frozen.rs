//! The public board during a freeze: each team as it stood at the freeze.
//!
//! A team that reports after the freeze keeps, beside its live state, a copy of its
//! state from before ([`Public::Frozen`]), or is left out of the public board if it
//! first reported after the freeze ([`Public::Absent`]). Public lists, the snapshot
//! and the messages show that copy; the admin (and a team, for itself) see the live
//! state. Which reader sees what is decided by [`Visibility`], kept here under the
//! board's lock. A reveal step or the thaw drops the copy and publishes the live
//! state; a restart (or a reload that moves the freeze) rebuilds the copies from the
//! stored history ([`frozen_entry`]).

use chrono::{DateTime, FixedOffset};

use super::{LiveBoard, TeamState};
use crate::board::encoded::Encoded;
use crate::contest::visibility::{Reader, Visibility, before};
use crate::metrics::Metrics;
use crate::query::{BestRecords, TeamRecords, TimeRange};
use crate::store::{ReadStore, StoreError, TeamEntry};
use crate::team::TeamId;

/// What the public sees of a team that reported after the freeze.
#[derive(Debug, Clone)]
pub enum Public {
    /// The team as it stood at the freeze.
    Frozen(Box<TeamState>),
    /// Nothing: its first report came after the freeze.
    Absent,
}

impl TeamState {
    /// The state the public is shown (`None`: not shown at all).
    pub(super) fn public_view(&self) -> Option<&TeamState> {
        match &self.public {
            None => Some(self),
            Some(Public::Frozen(state)) => Some(state),
            Some(Public::Absent) => None,
        }
    }

    /// The state `reader` is shown.
    pub(super) fn view_for(&self, reader: &Reader, visibility: &Visibility) -> Option<&TeamState> {
        match visibility.cutoff(reader, &self.latest.team_id) {
            None if !matches!(reader, Reader::Public) => Some(self),
            _ => self.public_view(),
        }
    }

    /// Keeps the state as it is now for the public, before a hidden report changes it.
    pub(super) fn hold_for_public(&mut self) {
        if self.public.is_none() {
            let copy = self.clone();
            self.public = Some(Public::Frozen(Box::new(copy)));
        }
    }
}

/// The public's "now" for a team's activity: never past its cutoff, so that during
/// the freeze no card turns inactive or leaves the board (as it stood at the freeze).
pub(super) fn public_now(
    visibility: &Visibility,
    id: &TeamId,
    now: DateTime<FixedOffset>,
) -> DateTime<FixedOffset> {
    visibility
        .public_cutoff(id)
        .map_or(now, |cutoff| now.min(cutoff))
}

/// A team as it stood before `cutoff`, from the stored history (`None`: it had not
/// reported yet). Its run's best records are its best records of all (the store's
/// headlines do not carry runs).
pub fn frozen_entry(
    store: &dyn ReadStore,
    id: &TeamId,
    cutoff: DateTime<FixedOffset>,
) -> Result<Option<TeamEntry>, StoreError> {
    let range = TimeRange {
        since: None,
        until: Some(before(cutoff)),
    };
    let (total, page) = store.page(id, &range, 0, 1)?;
    let Some(latest) = page.into_iter().find_map(Result::ok) else {
        return Ok(None);
    };
    let headlines = store.headlines(id, &range)?;
    let mut best = BestRecords::default();
    for (timestamp, headline) in &headlines {
        best.update(headline.qps, headline.avg_latency, timestamp);
    }
    let metrics = Metrics::of_stored(&latest.stats).0;
    let records = TeamRecords {
        reports: total,
        first_report: headlines.first().map(|(t, _)| t.clone()),
        last_report: Some(latest.timestamp.clone()),
        latest: headlines.last().map(|(_, h)| *h).unwrap_or_default(),
        best: best.clone(),
        run: latest.run,
        run_reports: total,
        run_best: best,
    };
    Ok(Some(TeamEntry {
        latest: std::sync::Arc::new(latest),
        metrics,
        records,
    }))
}

impl LiveBoard {
    /// What the public sees now (the one decision every read path asks).
    pub fn visibility(&self) -> Visibility {
        self.visibility.lock().expect("board lock poisoned").clone()
    }

    /// Puts a new public view in force: teams no longer held (revealed, thawed) are
    /// published live; with a new freeze, teams that reported after it get their
    /// copy from `store`. `note` is the snapshot's `freeze` object, also published
    /// as a `freeze` message.
    pub fn set_visibility(&self, new: Visibility, store: &dyn ReadStore, note: serde_json::Value) {
        let now = self.now();
        let mut teams = self.teams.lock().expect("board lock poisoned");
        let mut visibility = self.visibility.lock().expect("board lock poisoned");
        let moved = visibility.freeze() != new.freeze();
        for (id, state) in teams.iter_mut() {
            let was_shown = state.public_view().is_some();
            let had_copy = state.public.is_some();
            let cutoff = new.public_cutoff(id);
            if moved || cutoff.is_none() {
                state.public = None;
            }
            if let Some(cutoff) = cutoff
                && state.latest.at >= cutoff
                && state.public.is_none()
            {
                state.public = Some(match frozen_entry(store, id, cutoff) {
                    Ok(Some(entry)) => Public::Frozen(Box::new(copy_of(entry, state))),
                    Ok(None) => Public::Absent,
                    Err(e) => {
                        log::warn!("team {id} is left off the frozen board: {e}");
                        Public::Absent
                    }
                });
            }
            if state.hidden || !(had_copy || state.public.is_some()) {
                continue;
            }
            match state.public_view() {
                Some(shown) => self.publish_update(shown, public_now(&new, id, now)),
                None if was_shown => self.publish_removed(id),
                None => {}
            }
        }
        *visibility = new;
        *self.freeze_note.lock().expect("board lock poisoned") = note.clone();
        let message = serde_json::json!({"type": "freeze", "freeze": note});
        self.hub.publish(None, message.to_string().into());
    }

    /// Every known team as `reader` sees it, as `/api/teams` lists them.
    pub fn teams_json_for(&self, reader: &Reader) -> Encoded {
        let now = self.now();
        let teams = self.teams.lock().expect("board lock poisoned");
        let visibility = self.visibility.lock().expect("board lock poisoned");
        Encoded::team_list(teams.values().filter(|t| !t.hidden).filter_map(|t| {
            let shown = t.view_for(reader, &visibility)?;
            let at = match visibility.cutoff(reader, &t.latest.team_id) {
                None => now,
                Some(_) => public_now(&visibility, &t.latest.team_id, now),
            };
            Some(shown.shown(at, &self.timing))
        }))
    }

    /// One team's entry as `reader` sees it, or `None` (never reported, hidden, or
    /// first reported after the freeze).
    pub fn team_json_for(&self, id: &TeamId, reader: &Reader) -> Option<Encoded> {
        let now = self.now();
        let teams = self.teams.lock().expect("board lock poisoned");
        let visibility = self.visibility.lock().expect("board lock poisoned");
        let state = teams.get(id).filter(|t| !t.hidden)?;
        let shown = state.view_for(reader, &visibility)?;
        let at = match visibility.cutoff(reader, id) {
            None => now,
            Some(_) => public_now(&visibility, id, now),
        };
        let (team, activity) = shown.shown(at, &self.timing);
        let mut text = Encoded::new();
        text.push_team(team, activity);
        Some(text)
    }

    /// The `freeze` object of the snapshot.
    pub(super) fn freeze_note(&self) -> String {
        self.freeze_note
            .lock()
            .expect("board lock poisoned")
            .to_string()
    }
}

/// The frozen copy of a team from its stored entry, with the board's name and flags.
fn copy_of(entry: TeamEntry, live: &TeamState) -> TeamState {
    let mut copy = TeamState::from(entry);
    copy.display_name = live.display_name.clone();
    copy.hidden = live.hidden;
    copy.published = live.published;
    copy.encode();
    copy
}
