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

use std::collections::BTreeMap;

use super::{LiveBoard, TeamState};
use crate::board::encoded::Encoded;
use crate::contest::ranking::Standing;
use crate::contest::standings::{Ranked, Rules, ranked};
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
            self.public = Some(Public::Frozen(Box::new(self.public_clone())));
        }
    }

    /// A copy of the state without its own public copy.
    pub(super) fn public_clone(&self) -> TeamState {
        let mut copy = self.clone();
        copy.public = None;
        copy
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

    /// Puts a new public view in force (at the start, at the freeze, at each reveal
    /// step, at the thaw, at a reload) and publishes every team's public entry and a
    /// `freeze` message with `note` (the snapshot's `freeze` object). With a freeze,
    /// a team that reported after it gets its copy from `store`.
    pub fn set_visibility(&self, new: Visibility, store: &dyn ReadStore, note: serde_json::Value) {
        let now = self.now();
        let mut teams = self.teams.lock().expect("board lock poisoned");
        let mut visibility = self.visibility.lock().expect("board lock poisoned");
        let moved = visibility.freeze() != new.freeze();
        *visibility = new;
        let was_shown: Vec<TeamId> = teams
            .iter()
            .filter(|(_, t)| t.public_view().is_some())
            .map(|(id, _)| id.clone())
            .collect();
        self.rebuild_public(&mut teams, &visibility, store, moved);
        for (id, state) in teams.iter().filter(|(_, t)| !t.hidden) {
            match state.public_view() {
                Some(shown) => self.publish_update(shown, public_now(&visibility, id, now)),
                None if was_shown.contains(id) => self.publish_removed(id),
                None => {}
            }
        }
        *self.freeze_note.lock().expect("board lock poisoned") = note.clone();
        let message = serde_json::json!({"type": "freeze", "freeze": note});
        self.hub.publish(None, message.to_string().into());
    }

    /// Brings every public copy in line with `visibility`: none without a freeze; a
    /// team that reported after its cutoff keeps its copy (rebuilt from `store` when
    /// `rebuild`, or when it has none); the others are shown as they are. Then the
    /// public views are ranked among themselves.
    pub(super) fn rebuild_public(
        &self,
        teams: &mut BTreeMap<TeamId, TeamState>,
        visibility: &Visibility,
        store: &dyn ReadStore,
        rebuild: bool,
    ) {
        let rules = self.rules.lock().expect("rules lock poisoned").clone();
        for (id, state) in teams.iter_mut() {
            if visibility.freeze().is_none() {
                state.public = None;
                continue;
            }
            match visibility.public_cutoff(id) {
                Some(cutoff) if state.latest.at >= cutoff => {
                    if rebuild || state.public.is_none() {
                        state.public =
                            Some(copy_from_store(store, id, cutoff, state, rules.as_ref()));
                    }
                }
                _ => state.public = Some(Public::Frozen(Box::new(state.public_clone()))),
            }
        }
        self.rerank_public(teams, visibility);
    }

    /// After the live state of `touched` changed (its report, a new place): updates
    /// their public copies where the public may see them, ranks the public views
    /// among themselves and publishes every public entry that changed (all of
    /// `touched` without a freeze). Under the board's lock.
    pub(super) fn publish_public(
        &self,
        teams: &mut BTreeMap<TeamId, TeamState>,
        touched: &[TeamId],
        now: DateTime<FixedOffset>,
    ) {
        let visibility = self.visibility.lock().expect("board lock poisoned");
        let mut shown: Vec<TeamId> = Vec::new();
        for id in touched {
            let Some(state) = teams.get_mut(id) else {
                continue;
            };
            if visibility.freeze().is_none() {
                shown.push(id.clone());
            } else if visibility
                .public_cutoff(id)
                .is_none_or(|cutoff| state.latest.at < cutoff)
            {
                state.public = Some(Public::Frozen(Box::new(state.public_clone())));
                shown.push(id.clone());
            }
        }
        for id in self.rerank_public(teams, &visibility) {
            if !shown.contains(&id) {
                shown.push(id);
            }
        }
        for id in &shown {
            let state = &teams[id];
            if let Some(view) = state.public_view().filter(|_| !state.hidden) {
                self.publish_update(view, public_now(&visibility, id, now));
            }
        }
    }

    /// Ranks the public copies among the public views (during a freeze); the teams
    /// whose public place changed.
    fn rerank_public(
        &self,
        teams: &mut BTreeMap<TeamId, TeamState>,
        visibility: &Visibility,
    ) -> Vec<TeamId> {
        if visibility.freeze().is_none() {
            return Vec::new();
        }
        let rules = self.rules.lock().expect("rules lock poisoned");
        let standings: Vec<(TeamId, Standing)> = teams
            .iter()
            .filter(|(_, t)| !t.hidden)
            .filter_map(|(id, t)| Some((id.clone(), t.public_view()?.standing.clone())))
            .collect();
        let mut places: BTreeMap<TeamId, Ranked> = match rules.as_ref() {
            Some(rules) => ranked(&rules.rule, &standings).into_iter().collect(),
            None => BTreeMap::new(),
        };
        let mut changed = Vec::new();
        for (id, state) in teams.iter_mut() {
            let hidden = state.hidden;
            let Some(Public::Frozen(copy)) = &mut state.public else {
                continue;
            };
            let place = places.remove(id);
            if place != copy.ranked {
                copy.ranked = place;
                copy.encode();
                if !hidden {
                    changed.push(id.clone());
                }
            }
        }
        changed
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

/// The public copy of a team that reported after `cutoff`: as it stood before,
/// from the store (its standing too), with the board's name and flags; absent when
/// it had not reported yet.
pub(super) fn copy_from_store(
    store: &dyn ReadStore,
    id: &TeamId,
    cutoff: DateTime<FixedOffset>,
    live: &TeamState,
    rules: Option<&Rules>,
) -> Public {
    let entry = match frozen_entry(store, id, cutoff) {
        Ok(Some(entry)) => entry,
        Ok(None) => return Public::Absent,
        Err(e) => {
            log::warn!("team {id} is left off the frozen board: {e}");
            return Public::Absent;
        }
    };
    let mut copy = TeamState::from(entry);
    copy.display_name = live.display_name.clone();
    copy.hidden = live.hidden;
    copy.published = live.published;
    copy.alerts = Vec::new();
    if let Some(rules) = rules {
        let range = TimeRange {
            since: None,
            until: Some(before(cutoff)),
        };
        copy.standing = rules.standing_of(&store.headlines(id, &range).unwrap_or_default());
    }
    copy.encode();
    Public::Frozen(Box::new(copy))
}
