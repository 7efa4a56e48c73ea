//! The ranking on the board: each team's standing under the rule in force, its place
//! among the others, and the teams whose place a report or a reload changed.

use std::collections::BTreeMap;

use super::{LiveBoard, TeamState};
use crate::contest::ranking::Standing;
use crate::contest::standings::{Rules, ranked};
use crate::query::TimeRange;
use crate::store::{ReadStore, StoreError};
use crate::team::TeamId;

impl LiveBoard {
    /// Puts a ranking rule (and the schedule whose `[start, end)` counts) in force,
    /// every team's standing rebuilt from the store; `None`: the original's order,
    /// without `rank`, `score` or `qualified`. Every team's entry is published again.
    ///
    /// The store is read before the board is locked: a report applied meanwhile may
    /// be left out until the next report of its team is applied.
    pub fn set_rules(&self, store: &dyn ReadStore, rules: Option<Rules>) -> Result<(), StoreError> {
        let ids: Vec<TeamId> = {
            let teams = self.teams.lock().expect("board lock poisoned");
            teams.keys().cloned().collect()
        };
        let mut standings = BTreeMap::new();
        if let Some(rules) = &rules {
            for id in ids {
                let reports = store.headlines(&id, &TimeRange::default())?;
                standings.insert(id, rules.standing_of(&reports));
            }
        }
        let now = self.now();
        let mut teams = self.teams.lock().expect("board lock poisoned");
        *self.rules.lock().expect("rules lock poisoned") = rules;
        for (id, state) in teams.iter_mut() {
            state.standing = standings.remove(id).unwrap_or_default();
        }
        self.rerank(&mut teams);
        for state in teams.values_mut() {
            state.encode();
        }
        // During a freeze the public copies are ranked by their own standings, from
        // the reports before the freeze.
        let visibility = self.visibility.lock().expect("board lock poisoned").clone();
        self.rebuild_public(&mut teams, &visibility, store, true);
        let ids: Vec<TeamId> = teams.keys().cloned().collect();
        for id in &ids {
            let state = &teams[id];
            if let Some(view) = state.public_view().filter(|_| !state.hidden) {
                self.publish_update(view, super::frozen::public_now(&visibility, id, now));
            }
        }
        Ok(())
    }

    /// Ranks again after `id` changed, then publishes a `team_update` of `id` (unless
    /// it is hidden) and of every team whose place changed.
    pub(super) fn publish_with_places(
        &self,
        teams: &mut BTreeMap<TeamId, TeamState>,
        id: &TeamId,
        now: chrono::DateTime<chrono::FixedOffset>,
    ) {
        let mut changed = self.rerank(teams);
        changed.retain(|other| other != id);
        if !teams[id].hidden {
            changed.insert(0, id.clone());
        }
        // During a freeze: the public entries (a report after it changes none).
        self.publish_public(teams, &changed, now);
    }

    /// Places every shown team under the rule in force; the teams whose place
    /// changed are encoded again and returned (to be published).
    pub(super) fn rerank(&self, teams: &mut BTreeMap<TeamId, TeamState>) -> Vec<TeamId> {
        let rules = self.rules.lock().expect("rules lock poisoned");
        let mut changed = Vec::new();
        let Some(rules) = rules.as_ref() else {
            for (id, state) in teams.iter_mut() {
                if state.ranked.take().is_some() {
                    state.encode();
                    changed.push(id.clone());
                }
            }
            return changed;
        };
        let standings: Vec<(TeamId, Standing)> = teams
            .iter()
            .filter(|(_, t)| !t.hidden)
            .map(|(id, t)| (id.clone(), t.standing.clone()))
            .collect();
        let mut places: BTreeMap<TeamId, _> = ranked(&rules.rule, &standings).into_iter().collect();
        for (id, state) in teams.iter_mut() {
            let place = places.remove(id);
            if place != state.ranked {
                state.ranked = place;
                state.encode();
                if !state.hidden {
                    changed.push(id.clone());
                }
            }
        }
        changed
    }
}
