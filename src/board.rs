//! The live board: every known team's latest numbers, best records and activity,
//! and the events that keep the dashboards in step (published through the [`Hub`]).
//!
//! A team is *active* while its last report is younger than `inactive_after`, and
//! *on the board* (shown as a card) while it is younger than `evict_after`; its
//! history stays on disk and it comes back with its next report. Every known team
//! stays listed by `/api/teams`, with `is_active` and `on_board`.

mod contest;
pub mod encoded;
pub mod frozen;
mod standings;

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use crate::alerts::{Change, FiringAlert, TeamActivity};
use crate::api::{self, WsMessage};
use crate::contest::ranking::Standing;
use crate::contest::standings::{Ranked, Rules};
use crate::contest::visibility::{Reader, Visibility};
use crate::hub::{Hub, SubscribeError, Subscription};
use crate::metrics::Metrics;
use crate::query::BestRecords;
use crate::store::{ReadStore, StoreError, StoredReport, TeamEntry};
use crate::team::TeamId;
use encoded::{Encoded, EncodedTeam};
use frozen::{Public, public_now};

pub(crate) mod presentation;
pub use presentation::Presentation;

/// When teams turn inactive and leave the board.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// No report for this long: inactive. The original's default: 300 s.
    pub inactive_after: Duration,
    /// No report for this long: off the board (history stays). Default 600 s.
    pub evict_after: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            inactive_after: Duration::from_secs(300),
            evict_after: Duration::from_secs(600),
        }
    }
}

/// One team as the board knows it.
#[derive(Debug, Clone)]
pub struct TeamState {
    pub latest: Arc<StoredReport>,
    pub metrics: Metrics,
    pub best: BestRecords,
    /// Best records within the latest report's run.
    pub run_best: BestRecords,
    pub report_count: usize,
    /// Alerts firing for the team.
    pub alerts: Vec<FiringAlert>,
    /// What was last published about the team: (is_active, on_board).
    published: (bool, bool),
    /// The entry as `/api/teams` shows it, serialised once per report.
    encoded: EncodedTeam,
    /// The name the board shows when not the one of its latest report: an
    /// organiser's rename, or the contest file's name.
    display_name: Option<String>,
    /// Hidden by an organiser: left out of every public list and message.
    hidden: bool,
    /// The team's reports that count, under the ranking rule in force.
    standing: Standing,
    /// Its place under that rule (`None` without a `[ranking]`).
    ranked: Option<Ranked>,
    /// During a freeze, what the public sees instead of this state (see [`frozen`]).
    public: Option<Public>,
}

impl From<TeamEntry> for TeamState {
    fn from(entry: TeamEntry) -> TeamState {
        let records = entry.records;
        TeamState::new(
            entry.latest,
            entry.metrics,
            (records.best, records.run_best),
            records.reports,
            None,
            false,
        )
    }
}

impl TeamState {
    /// A team's state, its entry serialised.
    fn new(
        latest: Arc<StoredReport>,
        metrics: Metrics,
        (best, run_best): (BestRecords, BestRecords),
        report_count: usize,
        display_name: Option<String>,
        hidden: bool,
    ) -> TeamState {
        let mut state = TeamState {
            latest,
            metrics,
            best,
            run_best,
            report_count,
            alerts: Vec::new(),
            published: (true, true),
            encoded: EncodedTeam::placeholder(),
            display_name,
            hidden,
            standing: Standing::default(),
            ranked: None,
            public: None,
        };
        state.encode();
        state
    }

    /// Serialises the entry again (after a report, a rename or a refresh changed it).
    fn encode(&mut self) {
        let now = self.latest.at;
        self.encoded = EncodedTeam::encode(&self.to_api(now, &Timing::default()));
    }

    /// The `team_update` message of the team (the shape of WsMessage::TeamUpdate,
    /// around the entry's shared bytes).
    fn update_message(&self, now: DateTime<FixedOffset>, timing: &Timing) -> String {
        let mut message = Encoded::new();
        message.push_text("{\"type\":\"team_update\",\"team\":");
        let (team, activity) = self.shown(now, timing);
        message.push_team(team, activity);
        message.push_text("}");
        String::from_utf8(message.to_vec()).expect("JSON is UTF-8")
    }

    /// The entry as `/api/teams` shows it, with the activity flags of `now`.
    fn shown(&self, now: DateTime<FixedOffset>, timing: &Timing) -> (&EncodedTeam, (bool, bool)) {
        (&self.encoded, self.activity(now, timing))
    }

    fn activity(&self, now: DateTime<FixedOffset>, timing: &Timing) -> (bool, bool) {
        let age = (now - self.latest.at).to_std().unwrap_or(Duration::ZERO);
        (age < timing.inactive_after, age < timing.evict_after)
    }

    /// The team as `/api/teams` and the WebSocket messages show it.
    pub fn to_api(&self, now: DateTime<FixedOffset>, timing: &Timing) -> api::Team<'_> {
        let (is_active, on_board) = self.activity(now, timing);
        let latest = &self.latest;
        api::Team {
            team_id: Cow::Borrowed(latest.team_id.as_str()),
            team_name: Cow::Borrowed(self.display_name.as_deref().unwrap_or(&latest.team_name)),
            last_update: Cow::Borrowed(&latest.timestamp),
            is_active,
            on_board,
            qps: self.metrics.qps,
            avg_latency: self.metrics.avg_latency,
            p99_latency: self.metrics.p99_latency,
            data_loss_rate: self.metrics.data_loss_rate,
            metrics: self.metrics.to_json(),
            stats: Cow::Borrowed(&latest.stats),
            report_count: self.report_count,
            best: api::Best::from(&self.best),
            run: latest.run,
            run_best: api::Best::from(&self.run_best),
            warnings: Cow::Borrowed(&latest.warnings),
            alerts: Cow::Borrowed(&self.alerts),
            ranking: self.ranked.clone(),
        }
    }

    /// [`TeamState::to_api`] as a JSON value (the admin page's list).
    fn to_json(&self, now: DateTime<FixedOffset>, timing: &Timing) -> serde_json::Value {
        serde_json::to_value(self.to_api(now, timing)).expect("teams serialize")
    }
}

/// The board's state plus the hub that carries its events.
pub struct LiveBoard {
    teams: Mutex<BTreeMap<TeamId, TeamState>>,
    /// The newest alert changes, newest first; only locked under `teams`.
    recent_alerts: Mutex<VecDeque<Change>>,
    /// Hidden teams and names (taken after `teams` when both are needed).
    presentation: Mutex<Presentation>,
    /// The last `snapshot` message and the hub position it stands for: while nothing
    /// was published since, every new viewer shares it instead of a copy of its own.
    snapshot: Mutex<Option<(u64, Arc<Encoded>)>>,
    timing: Timing,
    /// Most team cards the page shows (`--max-teams`).
    pub max_teams: usize,
    hub: Arc<Hub>,
    /// Who sees which reports (a freeze, the reveal); only locked under `teams`.
    visibility: Mutex<Visibility>,
    /// The snapshot's `freeze` object.
    freeze_note: Mutex<serde_json::Value>,
    /// False while the store (a database) is unreachable: viewers see a notice.
    storage_available: AtomicBool,
    /// The store's clock minus ours, in ms: activity is judged by the store's time,
    /// so that several instances sharing a database agree.
    clock_offset_ms: AtomicI64,
    /// The snapshot's `"contest":…,"ranking":…` members (a `ContestInfo` or null, a
    /// `RuleDescription` or null).
    contest: Mutex<Arc<str>>,
    /// The ranking rule and schedule in force (`None`: the original's order); only
    /// locked under `teams`.
    rules: Mutex<Option<Rules>>,
}

impl LiveBoard {
    /// Builds the board from what the store holds: latest reports and best records.
    pub fn from_store(
        store: &dyn ReadStore,
        timing: Timing,
        max_teams: usize,
        hub: Arc<Hub>,
    ) -> Result<LiveBoard, StoreError> {
        let now = crate::timefmt::now().fixed_offset();
        let mut teams = BTreeMap::new();
        for entry in store.teams()? {
            let mut state = TeamState::from(entry);
            state.published = state.activity(now, &timing);
            teams.insert(state.latest.team_id.clone(), state);
        }
        Ok(LiveBoard {
            teams: Mutex::new(teams),
            recent_alerts: Mutex::new(VecDeque::new()),
            presentation: Mutex::default(),
            snapshot: Mutex::new(None),
            timing,
            max_teams,
            hub,
            visibility: Mutex::default(),
            freeze_note: Mutex::new(serde_json::json!({})),
            storage_available: AtomicBool::new(true),
            clock_offset_ms: AtomicI64::new(0),
            contest: Mutex::new(Arc::from("\"contest\":null,\"ranking\":null")),
            rules: Mutex::new(None),
        })
    }

    /// Each team's report count, the point from which a store's feed continues.
    pub fn report_counts(&self) -> Vec<(TeamId, u64)> {
        let teams = self.teams.lock().expect("board lock poisoned");
        teams
            .iter()
            .map(|(id, t)| (id.clone(), t.report_count as u64))
            .collect()
    }

    /// Now, by the store's clock.
    fn now(&self) -> DateTime<FixedOffset> {
        let offset = chrono::TimeDelta::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed));
        crate::timefmt::now().fixed_offset() + offset
    }

    /// Sets how far the store's clock is ahead of ours.
    pub fn set_clock_offset(&self, offset: chrono::TimeDelta) {
        self.clock_offset_ms
            .store(offset.num_milliseconds(), Ordering::Relaxed);
    }

    /// Applies a stored report and publishes a `team_update` to every viewer; true
    /// when it is the team's latest report.
    ///
    /// Reports of one team may be applied out of order (they are stored under the
    /// team's lock, applied under the board's): the latest report stays the one whose
    /// file name sorts last, since names are handed out in arrival order.
    pub fn apply(&self, stored: Arc<StoredReport>, metrics: Metrics) -> bool {
        let now = stored.at;
        let mut teams = self.teams.lock().expect("board lock poisoned");
        // A report after the freeze changes the live state only: the public keeps
        // the team as it stood (or does not see it, when it is new).
        let held = self
            .visibility
            .lock()
            .expect("board lock poisoned")
            .hides(&stored.team_id, stored.at);
        let state = match teams.entry(stored.team_id.clone()) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                let presentation = self.presentation.lock().expect("board lock poisoned");
                let mut state = TeamState::new(
                    Arc::clone(&stored),
                    metrics.clone(),
                    (BestRecords::default(), BestRecords::default()),
                    0,
                    presentation.name_of(&stored.team_id),
                    presentation.is_hidden(&stored.team_id),
                );
                state.public = held.then_some(Public::Absent);
                slot.insert(state)
            }
            std::collections::btree_map::Entry::Occupied(slot) => {
                let state = slot.into_mut();
                if held {
                    state.hold_for_public();
                }
                state
            }
        };
        let (qps, latency, at) = (metrics.qps, metrics.avg_latency, &stored.timestamp);
        state.best.update(qps, latency, at);
        if stored.run > state.latest.run {
            state.run_best = BestRecords::default();
        }
        if stored.run >= state.latest.run {
            state.run_best.update(qps, latency, at);
        }
        state.report_count += 1;
        if !held {
            state.published = (true, true);
        }
        if let Some(rules) = self.rules.lock().expect("rules lock poisoned").as_ref() {
            rules.add(&mut state.standing, &(&metrics).into(), stored.at);
        }
        let latest = arrival_order(&stored) > arrival_order(&state.latest);
        let id = stored.team_id.clone();
        if latest {
            state.latest = stored;
            state.metrics = metrics;
        }
        let count = state.report_count;
        state.encode();
        // Published under the lock, so viewers get updates in the order they were
        // applied; keyed by team, so a viewer that is behind gets only the newest.
        self.publish_with_places(&mut teams, &id, now);
        latest || count == 1
    }

    /// Shows alert changes: each team's firing alerts become `firing`'s, and an
    /// `alert` message per change goes to every viewer (never coalesced).
    pub fn show_alerts(&self, changes: &[Change], firing: &[FiringAlert]) {
        self.show_alerts_as(changes, firing, false);
    }

    /// [`LiveBoard::show_alerts`]; when `held` (during a freeze) the changes reach
    /// the live state only: the public board, its alert list and viewers see none.
    pub fn show_alerts_as(&self, changes: &[Change], firing: &[FiringAlert], held: bool) {
        let mut teams = self.teams.lock().expect("board lock poisoned");
        for state in teams.values_mut() {
            let id = state.latest.team_id.as_str();
            let alerts: Vec<FiringAlert> =
                firing.iter().filter(|a| a.team_id == id).cloned().collect();
            if alerts != state.alerts {
                if held {
                    state.hold_for_public();
                }
                // The shared entry carries the alerts: serialised again when they change.
                state.alerts = alerts;
                state.encode();
            }
        }
        if held {
            return;
        }
        let mut recent = self.recent_alerts.lock().expect("alerts lock poisoned");
        for change in changes {
            recent.push_front(change.clone());
            recent.truncate(api::RECENT_ALERTS);
            let team_alerts = firing
                .iter()
                .filter(|a| a.team_id == change.team_id)
                .cloned()
                .collect();
            let message = WsMessage::Alert {
                change: change.clone(),
                team_alerts,
            };
            self.hub.publish(None, message.to_text().into());
        }
    }

    /// The teams on the board with their last report time, for the `silent` rules.
    pub fn activities(&self) -> Vec<TeamActivity> {
        let now = crate::timefmt::now().fixed_offset();
        let teams = self.teams.lock().expect("board lock poisoned");
        teams
            .values()
            .filter(|t| t.activity(now, &self.timing).1)
            .map(|t| TeamActivity {
                id: t.latest.team_id.clone(),
                name: t.latest.team_name.clone(),
                last_report: t.latest.at,
            })
            .collect()
    }

    /// Replaces a team's state whole (a store's feed does so after a long gap) and
    /// publishes a `team_update`.
    pub fn replace_team(&self, entry: TeamEntry) {
        let now = self.now();
        let mut teams = self.teams.lock().expect("board lock poisoned");
        let mut state = TeamState::from(entry);
        state.published = (true, true);
        let id = state.latest.team_id.clone();
        let presentation = self.presentation.lock().expect("board lock poisoned");
        state.display_name = presentation.name_of(&id);
        state.hidden = presentation.is_hidden(&id);
        drop(presentation);
        if let Some(old) = teams.get(&id) {
            state.alerts = old.alerts.clone();
            state.standing = old.standing.clone();
            state.public = old.public.clone();
        }
        state.ranked = teams.get(&id).and_then(|old| old.ranked.clone());
        state.encode();
        teams.insert(id.clone(), state);
        self.publish_with_places(&mut teams, &id, now);
    }

    /// Tells viewers that the store went away (they keep the last board and show a
    /// notice) or came back; publishes a `storage` message when that changes.
    pub fn set_storage_available(&self, available: bool) {
        let _teams = self.teams.lock().expect("board lock poisoned");
        if self.storage_available.swap(available, Ordering::SeqCst) != available {
            let message = WsMessage::Storage { available };
            self.hub.publish(None, message.to_text().into());
        }
    }

    /// False while the store is unreachable.
    pub fn storage_available(&self) -> bool {
        self.storage_available.load(Ordering::SeqCst)
    }

    /// Every known team, as `/api/teams` lists them (by id) to the public: a JSON
    /// array made of the teams' shared entries (a few pointers per team are copied
    /// under the lock). See [`LiveBoard::teams_json_for`].
    pub fn teams_json(&self) -> Encoded {
        self.teams_json_for(&Reader::Public)
    }

    /// One team's entry as the public sees it, or `None` when it never reported (or
    /// is hidden).
    pub fn team_json(&self, id: &TeamId) -> Option<Encoded> {
        self.team_json_for(id, &Reader::Public)
    }

    /// Number of teams the board knows (hidden ones too).
    pub fn team_count(&self) -> usize {
        self.teams.lock().expect("board lock poisoned").len()
    }

    /// The team's display name, if it ever reported (and is not hidden).
    pub fn team_name(&self, id: &TeamId) -> Option<String> {
        let teams = self.teams.lock().expect("board lock poisoned");
        let shown = teams.get(id).filter(|t| !t.hidden)?.public_view()?;
        Some(shown).map(|t| {
            t.display_name
                .clone()
                .unwrap_or_else(|| t.latest.team_name.clone())
        })
    }

    /// The `snapshot` message and a subscription that continues right after it:
    /// taken under one lock, so a viewer misses no update and sees none twice.
    pub fn subscribe(&self) -> Result<(Arc<Encoded>, Subscription), SubscribeError> {
        let now = self.now();
        let teams = self.teams.lock().expect("board lock poisoned");
        let subscription = self.hub.subscribe()?;
        // Every change of the board is published under this lock, so an unchanged hub
        // position means an unchanged board.
        let mut cached = self.snapshot.lock().expect("snapshot lock poisoned");
        if let Some((position, snapshot)) = cached.as_ref()
            && *position == subscription.cursor()
        {
            return Ok((Arc::clone(snapshot), subscription));
        }
        // The shape of WsMessage::Snapshot, around the teams' shared entries.
        let mut snapshot = Encoded::new();
        snapshot.push_text("{\"type\":\"snapshot\",\"teams\":");
        let visibility = self.visibility.lock().expect("board lock poisoned");
        snapshot.append(&Encoded::team_list(
            teams.values().filter(|t| !t.hidden).filter_map(|t| {
                let at = public_now(&visibility, &t.latest.team_id, now);
                Some(t.public_view()?.shown(at, &self.timing))
            }),
        ));
        drop(visibility);
        snapshot.push_text(&format!(",\"freeze\":{}", self.freeze_note()));
        snapshot.push_text(&format!(
            ",\"max_teams\":{},\"inactive_after_secs\":{},\"evict_after_secs\":{},\"storage_available\":{}",
            self.max_teams,
            self.timing.inactive_after.as_secs(),
            self.timing.evict_after.as_secs(),
            self.storage_available()
        ));
        let recent = self.recent_alerts.lock().expect("alerts lock poisoned");
        let alerts: Vec<&Change> = recent.iter().collect();
        snapshot.push_text(&format!(
            ",\"alerts\":{},{}}}",
            serde_json::to_string(&alerts).expect("alerts serialize"),
            self.contest_json()
        ));
        drop(recent);
        let snapshot = Arc::new(snapshot);
        *cached = Some((subscription.cursor(), Arc::clone(&snapshot)));
        Ok((snapshot, subscription))
    }

    /// Publishes a `team_status` for each team whose activity changed since the last
    /// call (turned inactive, or left the board). Called about once a second.
    pub fn tick(&self) {
        let now = self.now();
        let mut teams = self.teams.lock().expect("board lock poisoned");
        let visibility = self.visibility.lock().expect("board lock poisoned");
        for state in teams.values_mut() {
            // The public's view: during the freeze, as at the freeze.
            let at = public_now(&visibility, &state.latest.team_id, now);
            let Some(activity) = state
                .public_view()
                .map(|shown| shown.activity(at, &self.timing))
            else {
                continue;
            };
            if activity != state.published {
                state.published = activity;
                if state.hidden {
                    continue;
                }
                let message = WsMessage::TeamStatus {
                    team_id: Cow::Borrowed(state.latest.team_id.as_str()),
                    is_active: activity.0,
                    on_board: activity.1,
                };
                self.hub.publish(None, message.to_text().into());
            }
        }
    }

    /// The hub carrying this board's events.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

/// Where a stored report stands among its team's reports (its file name's order).
fn arrival_order(stored: &StoredReport) -> Option<crate::timefmt::FileOrder> {
    crate::timefmt::parse_file_name(&stored.file_name)
}

#[cfg(test)]
pub(crate) mod tests;
