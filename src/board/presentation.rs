//! How the board shows teams beyond their reports: the teams an organiser hid, the
//! names an organiser gave, and the names of the contest file; and recomputing a
//! team after reports went to the trash or came back.
//!
//! Every change is published at once: a `team_removed` message when a team leaves
//! the public board (hidden, or no report left), a `team_update` otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{BestRecords, LiveBoard, TeamState};
use crate::api::WsMessage;
use crate::store::{ReadStore, TeamEntry};
use crate::team::TeamId;

/// Hidden teams and names: what the admin API changes (saved by the caller), and the
/// contest file's names (read from the file at each start and reload).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presentation {
    /// Teams left out of the public board, its lists and its messages.
    #[serde(default)]
    pub hidden: BTreeSet<String>,
    /// Names an organiser gave, by team id; they win over the contest file's.
    #[serde(default)]
    pub renamed: BTreeMap<String, String>,
    /// Names of the contest file's `[[team]]` entries, by team id.
    #[serde(skip)]
    pub file_names: BTreeMap<String, String>,
}

impl Presentation {
    /// The name the board shows instead of the latest report's, if any.
    pub fn name_of(&self, id: &TeamId) -> Option<String> {
        self.renamed
            .get(id.as_str())
            .or_else(|| self.file_names.get(id.as_str()))
            .cloned()
    }

    /// True when an organiser hid the team.
    pub fn is_hidden(&self, id: &TeamId) -> bool {
        self.hidden.contains(id.as_str())
    }
}

impl LiveBoard {
    /// The hidden teams and names in force.
    pub fn presentation(&self) -> Presentation {
        self.presentation
            .lock()
            .expect("board lock poisoned")
            .clone()
    }

    /// Puts new hidden teams and names in force, publishing each team they change.
    pub fn set_presentation(&self, new: Presentation) {
        let mut teams = self.teams.lock().expect("board lock poisoned");
        let mut presentation = self.presentation.lock().expect("board lock poisoned");
        *presentation = new;
        let now = crate::timefmt::now().fixed_offset();
        for (id, state) in teams.iter_mut() {
            let name = presentation.name_of(id);
            let hidden = presentation.is_hidden(id);
            if state.display_name == name && state.hidden == hidden {
                continue;
            }
            let was_hidden = state.hidden;
            state.display_name = name.clone();
            state.hidden = hidden;
            state.encode();
            if let Some(super::Public::Frozen(copy)) = &mut state.public {
                copy.display_name = name;
                copy.hidden = hidden;
                copy.encode();
            }
            let Some(shown) = state.public_view() else {
                continue;
            };
            match (was_hidden, hidden) {
                (true, true) => {}
                (false, true) => self.publish_removed(id),
                (_, false) => self.publish_update(shown, now),
            }
        }
    }

    /// Recomputes a team from the store (latest report, best records, count), e.g.
    /// after reports went to the trash or came back, and publishes the change.
    pub fn refresh_team(&self, store: &dyn ReadStore, id: &TeamId) {
        match store.team(id) {
            Ok(entry) => self.refresh_entry(Some(store), id, entry),
            Err(e) => log::warn!("{e}; the board shows team {id} as it was"),
        }
    }

    /// Puts a team's state as a store has it now (`None`: no report left outside
    /// the trash) on the board and publishes the change. During a freeze the public
    /// copy is made again from `store`; without one (a change another instance
    /// announced) the public copy stays as it was.
    pub fn refresh_entry(
        &self,
        store: Option<&dyn ReadStore>,
        id: &TeamId,
        entry: Option<TeamEntry>,
    ) {
        let mut teams = self.teams.lock().expect("board lock poisoned");
        let Some(entry) = entry else {
            if teams.remove(id).is_some_and(|state| !state.hidden) {
                self.publish_removed(id);
            }
            return;
        };
        let latest = entry.latest;
        let records = entry.records;
        let now = crate::timefmt::now().fixed_offset();
        let presentation = self.presentation.lock().expect("board lock poisoned");
        let state = teams.entry(id.clone()).or_insert_with(|| {
            TeamState::new(
                Arc::clone(&latest),
                entry.metrics.clone(),
                (BestRecords::default(), BestRecords::default()),
                0,
                presentation.name_of(id),
                presentation.is_hidden(id),
            )
        });
        drop(presentation);
        state.latest = latest;
        state.metrics = entry.metrics;
        state.best = records.best;
        state.run_best = records.run_best;
        state.report_count = records.reports;
        state.published = state.activity(now, &self.timing);
        state.encode();
        // During a freeze the public keeps the team as it stood (from the store).
        let visibility = self.visibility.lock().expect("board lock poisoned");
        let held = visibility
            .public_cutoff(id)
            .filter(|cutoff| state.latest.at >= *cutoff);
        if let (Some(cutoff), Some(store)) = (held, store) {
            let rules = self.rules.lock().expect("rules lock poisoned").clone();
            state.public = Some(super::frozen::copy_from_store(
                store,
                id,
                cutoff,
                state,
                rules.as_ref(),
            ));
            if let Some(shown) = state.public_view().filter(|_| !state.hidden) {
                self.publish_update(shown, now);
            }
        }
        drop(visibility);
        if held.is_none() {
            self.publish_public(&mut teams, std::slice::from_ref(id), now);
        }
    }

    /// Puts hidden teams and given names kept by the store in force (the contest
    /// file's names stay).
    pub fn set_saved_presentation(
        &self,
        hidden: BTreeSet<String>,
        renamed: BTreeMap<String, String>,
    ) {
        let mut presentation = self.presentation();
        presentation.hidden = hidden;
        presentation.renamed = renamed;
        self.set_presentation(presentation);
    }

    /// Every team the board knows, hidden ones too, with `hidden` and the name of
    /// its latest report (`reported_name`): the admin page's list.
    pub fn admin_teams_json(&self) -> Vec<Value> {
        let now = crate::timefmt::now().fixed_offset();
        let teams = self.teams.lock().expect("board lock poisoned");
        teams
            .values()
            .map(|t| {
                let mut team = t.to_json(now, &self.timing);
                team["hidden"] = json!(t.hidden);
                team["reported_name"] = json!(t.latest.team_name);
                team
            })
            .collect()
    }

    pub(super) fn publish_update(
        &self,
        state: &TeamState,
        now: chrono::DateTime<chrono::FixedOffset>,
    ) {
        let message = state.update_message(now, &self.timing);
        self.hub
            .publish(Some(state.latest.team_id.as_str()), message.into());
    }

    pub(super) fn publish_removed(&self, id: &TeamId) {
        let message = WsMessage::TeamRemoved {
            team_id: std::borrow::Cow::Borrowed(id.as_str()),
        };
        self.hub
            .publish(Some(id.as_str()), message.to_text().into());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{board_on_a_fresh_store, store_report};
    use super::*;

    fn team(id: &str) -> TeamId {
        TeamId::parse(id).unwrap()
    }

    /// The messages published since the subscription's cursor, which moves past them.
    pub(crate) fn messages(
        board: &LiveBoard,
        subscription: &mut crate::hub::Subscription,
    ) -> Vec<Value> {
        let (batch, next) = board.hub().batch_after(subscription.cursor()).unwrap();
        subscription.advance_to(next);
        batch
            .iter()
            .map(|m| serde_json::from_str(m).unwrap())
            .collect()
    }

    #[test]
    fn a_hidden_team_leaves_every_public_view_and_comes_back_when_shown() {
        let (_dir, store, board) = board_on_a_fresh_store();
        let (stored, metrics) = store_report(&store, "t1", 5);
        board.apply(stored, metrics);
        let (_, mut viewer) = board.subscribe().unwrap();
        let hide = Presentation {
            hidden: ["t1".to_string()].into(),
            ..Presentation::default()
        };
        board.set_presentation(hide);
        assert_eq!(messages(&board, &mut viewer)[0]["type"], "team_removed");
        assert!(board.teams_json().to_json().as_array().unwrap().is_empty());
        assert!(board.team_json(&team("t1")).is_none());
        assert!(board.team_name(&team("t1")).is_none());
        assert!(
            !String::from_utf8(board.subscribe().unwrap().0.to_vec())
                .unwrap()
                .contains("t1")
        );
        assert_eq!(board.admin_teams_json()[0]["hidden"], true);
        // Reports of a hidden team are kept but not pushed.
        let (stored, metrics) = store_report(&store, "t1", 6);
        board.apply(stored, metrics);
        assert!(messages(&board, &mut viewer).is_empty());
        board.set_presentation(Presentation::default());
        let shown = messages(&board, &mut viewer);
        assert_eq!(shown[0]["type"], "team_update");
        assert_eq!(shown[0]["team"]["report_count"], 2);
        assert_eq!(board.teams_json().to_json().as_array().unwrap().len(), 1);
    }

    #[test]
    fn names_come_from_a_rename_then_the_contest_file_then_the_report() {
        let (_dir, store, board) = board_on_a_fresh_store();
        let (stored, metrics) = store_report(&store, "t1", 5);
        board.apply(stored, metrics);
        assert_eq!(board.team_name(&team("t1")).unwrap(), "x");
        let mut presentation = Presentation::default();
        presentation
            .file_names
            .insert("t1".into(), "第一小组".into());
        board.set_presentation(presentation.clone());
        assert_eq!(board.team_name(&team("t1")).unwrap(), "第一小组");
        presentation.renamed.insert("t1".into(), "Renamed".into());
        board.set_presentation(presentation);
        assert_eq!(board.teams_json().to_json()[0]["team_name"], "Renamed");
        // A team's first report after a rename shows the new name at once.
        let (stored, metrics) = store_report(&store, "t2", 1);
        let mut presentation = board.presentation();
        presentation.renamed.insert("t2".into(), "Second".into());
        board.set_presentation(presentation);
        board.apply(stored, metrics);
        assert_eq!(board.team_name(&team("t2")).unwrap(), "Second");
    }

    #[test]
    fn a_team_replaced_by_the_store_feed_keeps_its_name_and_stays_hidden() {
        use crate::store::ReadStore;
        let (_dir, store, board) = board_on_a_fresh_store();
        let (stored, metrics) = store_report(&store, "t1", 5);
        board.apply(stored, metrics);
        let mut presentation = Presentation::default();
        presentation
            .file_names
            .insert("t1".into(), "第一小组".into());
        board.set_presentation(presentation.clone());
        // PostgreSQL's feed replaces a team whole after a gap (FeedEvent::Team).
        let entry = ReadStore::team(&store, &team("t1")).unwrap().unwrap();
        board.replace_team(entry.clone());
        assert_eq!(board.team_name(&team("t1")).unwrap(), "第一小组");
        presentation.hidden.insert("t1".into());
        board.set_presentation(presentation);
        let (_, mut viewer) = board.subscribe().unwrap();
        board.replace_team(entry);
        assert!(messages(&board, &mut viewer).is_empty());
        assert!(board.teams_json().to_json().as_array().unwrap().is_empty());
    }

    #[test]
    fn refresh_recomputes_best_records_and_removes_an_emptied_team() {
        let (_dir, store, board) = board_on_a_fresh_store();
        for sent in [100, 900, 300] {
            let (stored, metrics) = store_report(&store, "t1", sent);
            board.apply(stored, metrics);
        }
        assert_eq!(
            board.team_json(&team("t1")).unwrap().to_json()["best_qps"],
            900.0
        );
        let best = store.entries(&team("t1"))[1].file_name.to_string();
        store.trash_report(&team("t1"), &best).unwrap();
        let (_, mut viewer) = board.subscribe().unwrap();
        board.refresh_team(&store, &team("t1"));
        let update = &messages(&board, &mut viewer)[0];
        assert_eq!(update["team"]["best_qps"], 300.0);
        assert_eq!(update["team"]["report_count"], 2);
        store.trash_team(&team("t1")).unwrap();
        board.refresh_team(&store, &team("t1"));
        assert_eq!(messages(&board, &mut viewer)[0]["type"], "team_removed");
        assert!(board.teams_json().to_json().as_array().unwrap().is_empty());
        store.restore_report(&team("t1"), &best).unwrap();
        board.refresh_team(&store, &team("t1"));
        assert_eq!(
            board.team_json(&team("t1")).unwrap().to_json()["best_qps"],
            900.0
        );
    }
}
