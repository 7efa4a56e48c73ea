//! The live board: every known team's latest numbers, best records and activity,
//! and the events that keep the dashboards in step (published through the [`Hub`]).
//!
//! A team is *active* while its last report is younger than `inactive_after`, and
//! *on the board* (shown as a card) while it is younger than `evict_after`; its
//! history stays on disk and it comes back with its next report. Every known team
//! stays listed by `/api/teams`, with `is_active` and `on_board`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::{Value, json};

use crate::hub::{Hub, SubscribeError, Subscription};
use crate::metrics::Metrics;
use crate::report::Report;
use crate::store::{IndexEntry, Store, StoredReport};
use crate::team::TeamId;

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

/// A best record and when it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub value: f64,
    pub timestamp: String,
}

/// Best records of a team across its whole history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BestRecords {
    /// Highest completed QPS.
    pub qps: Option<Record>,
    /// Lowest positive average latency, in ms.
    pub latency: Option<Record>,
}

impl BestRecords {
    /// The best records of a history (index entries, oldest first).
    pub fn from_entries(entries: &[IndexEntry]) -> BestRecords {
        let mut best = BestRecords::default();
        for e in entries {
            best.update(e.headline.qps, e.headline.avg_latency, &e.timestamp);
        }
        best
    }

    /// Takes one more report into account; ties keep the earlier record.
    pub fn update(&mut self, qps: f64, avg_latency_ms: f64, timestamp: &str) {
        if self.qps.as_ref().is_none_or(|best| qps > best.value) {
            self.qps = Some(Record {
                value: qps,
                timestamp: timestamp.to_string(),
            });
        }
        if avg_latency_ms > 0.0
            && self
                .latency
                .as_ref()
                .is_none_or(|best| avg_latency_ms < best.value)
        {
            self.latency = Some(Record {
                value: avg_latency_ms,
                timestamp: timestamp.to_string(),
            });
        }
    }
}

/// One team as the board knows it.
#[derive(Debug, Clone)]
pub struct TeamState {
    pub latest: Arc<StoredReport>,
    pub metrics: Metrics,
    pub best: BestRecords,
    pub report_count: usize,
    /// What was last published about the team: (is_active, on_board).
    published: (bool, bool),
}

impl TeamState {
    fn activity(&self, now: DateTime<FixedOffset>, timing: &Timing) -> (bool, bool) {
        let age = (now - self.latest.at).to_std().unwrap_or(Duration::ZERO);
        (age < timing.inactive_after, age < timing.evict_after)
    }

    /// The team as `/api/teams` and the WebSocket messages show it.
    pub fn to_json(&self, now: DateTime<FixedOffset>, timing: &Timing) -> Value {
        let (is_active, on_board) = self.activity(now, timing);
        let latest = &self.latest;
        let record =
            |r: &Option<Record>| r.as_ref().map(|r| (r.value, r.timestamp.clone())).unzip();
        let (best_qps, best_qps_time) = record(&self.best.qps);
        let (best_latency, best_latency_time) = record(&self.best.latency);
        json!({
            "team_id": latest.team_id.as_str(),
            "team_name": latest.team_name,
            "last_update": latest.timestamp,
            "is_active": is_active,
            "on_board": on_board,
            "qps": self.metrics.qps,
            "avg_latency": self.metrics.avg_latency,
            "p99_latency": self.metrics.p99_latency,
            "data_loss_rate": self.metrics.data_loss_rate,
            "metrics": self.metrics.to_json(),
            "stats": latest.stats,
            "report_count": self.report_count,
            "best_qps": best_qps,
            "best_qps_time": best_qps_time,
            "best_latency": best_latency,
            "best_latency_time": best_latency_time,
        })
    }
}

/// The board's state plus the hub that carries its events.
pub struct LiveBoard {
    teams: Mutex<BTreeMap<TeamId, TeamState>>,
    /// The last `snapshot` message and the hub position it stands for: while nothing
    /// was published since, every new viewer shares it instead of a copy of its own.
    snapshot: Mutex<Option<(u64, Arc<str>)>>,
    timing: Timing,
    /// Most team cards the page shows (`--max-teams`).
    pub max_teams: usize,
    hub: Arc<Hub>,
}

impl LiveBoard {
    /// Builds the board from what the store holds: latest reports and best records.
    pub fn from_store(store: &Store, timing: Timing, max_teams: usize, hub: Arc<Hub>) -> LiveBoard {
        let now = crate::timefmt::now().fixed_offset();
        let mut teams = BTreeMap::new();
        for id in store.team_ids() {
            let Some(latest) = store.latest(&id) else {
                continue;
            };
            // A latest report the original accepted but we would refuse still shows.
            let metrics = Report::from_value(latest.stats.clone())
                .map(|report| Metrics::of(&report))
                .unwrap_or_default();
            let (best, report_count) = store.with_entries(&id, |entries| {
                (BestRecords::from_entries(entries), entries.len())
            });
            let mut state = TeamState {
                latest,
                metrics,
                best,
                report_count,
                published: (false, false),
            };
            state.published = state.activity(now, &timing);
            teams.insert(id, state);
        }
        LiveBoard {
            teams: Mutex::new(teams),
            snapshot: Mutex::new(None),
            timing,
            max_teams,
            hub,
        }
    }

    /// Applies a stored report and publishes a `team_update` to every viewer.
    ///
    /// Reports of one team may be applied out of order (they are stored under the
    /// team's lock, applied under the board's): the latest report stays the one whose
    /// file name sorts last, since names are handed out in arrival order.
    pub fn apply(&self, stored: Arc<StoredReport>, metrics: Metrics) {
        let now = stored.at;
        let mut teams = self.teams.lock().expect("board lock poisoned");
        let state = match teams.entry(stored.team_id.clone()) {
            std::collections::btree_map::Entry::Vacant(slot) => slot.insert(TeamState {
                latest: Arc::clone(&stored),
                metrics: metrics.clone(),
                best: BestRecords::default(),
                report_count: 0,
                published: (true, true),
            }),
            std::collections::btree_map::Entry::Occupied(slot) => slot.into_mut(),
        };
        state
            .best
            .update(metrics.qps, metrics.avg_latency, &stored.timestamp);
        state.report_count += 1;
        state.published = (true, true);
        if arrival_order(&stored) > arrival_order(&state.latest) {
            state.latest = stored;
            state.metrics = metrics;
        }
        let message = json!({"type": "team_update", "team": state.to_json(now, &self.timing)});
        // Published under the lock, so viewers get updates in the order they were
        // applied; keyed by team, so a viewer that is behind gets only the newest.
        self.hub.publish(
            Some(state.latest.team_id.as_str()),
            message.to_string().into(),
        );
    }

    /// Every known team, as `/api/teams` lists them (by id).
    pub fn teams_json(&self) -> Vec<Value> {
        let now = crate::timefmt::now().fixed_offset();
        let teams = self.teams.lock().expect("board lock poisoned");
        teams
            .values()
            .map(|t| t.to_json(now, &self.timing))
            .collect()
    }

    /// One team, or `None` when it never reported.
    pub fn team_json(&self, id: &TeamId) -> Option<Value> {
        let now = crate::timefmt::now().fixed_offset();
        let teams = self.teams.lock().expect("board lock poisoned");
        teams.get(id).map(|t| t.to_json(now, &self.timing))
    }

    /// Number of teams the board knows.
    pub fn team_count(&self) -> usize {
        self.teams.lock().expect("board lock poisoned").len()
    }

    /// The team's display name, if it ever reported.
    pub fn team_name(&self, id: &TeamId) -> Option<String> {
        let teams = self.teams.lock().expect("board lock poisoned");
        teams.get(id).map(|t| t.latest.team_name.clone())
    }

    /// The `snapshot` message and a subscription that continues right after it:
    /// taken under one lock, so a viewer misses no update and sees none twice.
    pub fn subscribe(&self) -> Result<(Arc<str>, Subscription), SubscribeError> {
        let now = crate::timefmt::now().fixed_offset();
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
        let list: Vec<Value> = teams
            .values()
            .map(|t| t.to_json(now, &self.timing))
            .collect();
        let snapshot = json!({
            "type": "snapshot",
            "teams": list,
            "max_teams": self.max_teams,
            "inactive_after_secs": self.timing.inactive_after.as_secs(),
            "evict_after_secs": self.timing.evict_after.as_secs(),
        });
        let snapshot: Arc<str> = snapshot.to_string().into();
        *cached = Some((subscription.cursor(), Arc::clone(&snapshot)));
        Ok((snapshot, subscription))
    }

    /// Publishes a `team_status` for each team whose activity changed since the last
    /// call (turned inactive, or left the board). Called about once a second.
    pub fn tick(&self) {
        let now = crate::timefmt::now().fixed_offset();
        let mut teams = self.teams.lock().expect("board lock poisoned");
        for state in teams.values_mut() {
            let activity = state.activity(now, &self.timing);
            if activity != state.published {
                state.published = activity;
                let message = json!({
                    "type": "team_status",
                    "team_id": state.latest.team_id.as_str(),
                    "is_active": activity.0,
                    "on_board": activity.1,
                });
                self.hub.publish(None, message.to_string().into());
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

/// One point of a downsampled history: the reports of one stretch of the history
/// folded together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Time of the stretch's last report, in ms since the Unix epoch.
    pub t: i64,
    /// Time of the stretch's first report, in ms since the Unix epoch.
    pub t_first: i64,
    /// Reports folded into this point.
    pub count: usize,
    /// Mean completed QPS of the stretch.
    pub qps: f64,
    /// Lowest completed QPS of the stretch.
    pub qps_min: f64,
    /// Highest completed QPS of the stretch.
    pub qps_max: f64,
    /// Mean average latency of the stretch, in ms.
    pub avg_latency: f64,
    /// Highest P99 latency of the stretch, in ms (a spike must stay visible).
    pub p99_latency: f64,
    /// Highest failure rate of the stretch, in %.
    pub data_loss_rate: f64,
}

/// Folds a history (oldest first) into at most `points` points of consecutive,
/// equally many reports; a history no longer than `points` gives one point per report.
pub fn downsample(entries: &[IndexEntry], points: usize) -> Vec<SeriesPoint> {
    let points = points.max(1).min(entries.len());
    (0..points)
        .map(|i| {
            let start = i * entries.len() / points;
            let end = (i + 1) * entries.len() / points;
            fold_stretch(&entries[start..end])
        })
        .collect()
}

fn fold_stretch(stretch: &[IndexEntry]) -> SeriesPoint {
    let count = stretch.len();
    let heads = stretch.iter().map(|e| &e.headline);
    let mean = |value: fn(&crate::store::Headline) -> f64| {
        stretch.iter().map(|e| value(&e.headline)).sum::<f64>() / count as f64
    };
    SeriesPoint {
        t: stretch.last().map_or(0, |e| e.at.timestamp_millis()),
        t_first: stretch.first().map_or(0, |e| e.at.timestamp_millis()),
        count,
        qps: mean(|h| h.qps),
        qps_min: heads.clone().map(|h| h.qps).fold(f64::INFINITY, f64::min),
        qps_max: heads.clone().map(|h| h.qps).fold(0.0, f64::max),
        avg_latency: mean(|h| h.avg_latency),
        p99_latency: heads.clone().map(|h| h.p99_latency).fold(0.0, f64::max),
        data_loss_rate: heads.map(|h| h.data_loss_rate).fold(0.0, f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_records_keep_first_on_ties_and_ignore_zero_latency() {
        let mut best = BestRecords::default();
        best.update(10.0, 0.0, "t1");
        best.update(10.0, 5.0, "t2");
        best.update(9.0, 5.0, "t3");
        best.update(11.0, 4.0, "t4");
        assert_eq!(best.qps.as_ref().unwrap().timestamp, "t4");
        assert_eq!(best.latency.as_ref().unwrap().value, 4.0);
        let mut best = BestRecords::default();
        best.update(10.0, 5.0, "a");
        best.update(10.0, 5.0, "b");
        assert_eq!(best.qps.unwrap().timestamp, "a");
        assert_eq!(best.latency.unwrap().timestamp, "a");
    }

    fn entry(second: i64, qps: f64, p99: f64) -> IndexEntry {
        let at = chrono::DateTime::from_timestamp(second, 0)
            .unwrap()
            .fixed_offset();
        IndexEntry {
            file_name: format!("{second}.json").into(),
            timestamp: at.to_rfc3339().into(),
            at,
            headline: crate::store::Headline {
                qps,
                avg_latency: qps / 10.0,
                p99_latency: p99,
                data_loss_rate: 0.0,
            },
        }
    }

    /// A store on a temporary directory and a board over it.
    fn board_on_a_fresh_store() -> (tempfile::TempDir, Store, LiveBoard) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            crate::store::OpenMode::ReadWrite { fsync: false },
        )
        .unwrap();
        let board = LiveBoard::from_store(&store, Timing::default(), 6, Hub::new(16, 4));
        (dir, store, board)
    }

    /// Stores a report of `team` with the given `totalSent` and completed QPS.
    fn store_report(store: &Store, team: &str, sent: u64) -> (Arc<StoredReport>, Metrics) {
        let body = format!(
            r#"{{"totalElapsed":1,"totalSent":{sent},"totalOps":1,"totalErrors":0,"totalSaveDelayErrors":0,"pending":0,"operations":{{"sensorData":{{"operations":1,"errors":0}}}},"performanceMetrics":{{"avgSentQPS":1,"avgCompletedQPS":{sent},"errorRate":0}},"latencyAnalysis":{{"sensorData":{{"avg":1,"min":1,"max":1,"buckets":[1]}}}}}}"#
        );
        let report = Report::parse(body.as_bytes()).unwrap();
        let metrics = Metrics::of(&report);
        let id = TeamId::parse(team).unwrap();
        let stored = store
            .append(&id, "x", body.as_bytes(), report.value, &metrics)
            .unwrap();
        (stored, metrics)
    }

    #[test]
    fn a_viewer_behind_gets_only_the_newest_update_of_each_team() {
        let (_dir, store, board) = board_on_a_fresh_store();
        let (_, subscription) = board.subscribe().unwrap();
        for team in ["team-7", "team-8", "team-7"] {
            let (stored, metrics) = store_report(&store, team, 1);
            board.apply(stored, metrics);
        }
        let (batch, _) = board.hub().batch_after(subscription.cursor()).unwrap();
        let updates: Vec<(String, u64)> = batch
            .iter()
            .map(|m| {
                let v: Value = serde_json::from_str(m).unwrap();
                let team = &v["team"];
                (
                    team["team_id"].as_str().unwrap().to_string(),
                    team["report_count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            updates,
            [("team-8".to_string(), 1), ("team-7".to_string(), 2)]
        );
    }

    #[test]
    fn viewers_joining_between_two_updates_share_one_snapshot() {
        let (_dir, store, board) = board_on_a_fresh_store();
        let (first, _a) = board.subscribe().unwrap();
        let (second, _b) = board.subscribe().unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        let (stored, metrics) = store_report(&store, "t", 5);
        board.apply(stored, metrics);
        let (third, _c) = board.subscribe().unwrap();
        assert!(!Arc::ptr_eq(&first, &third));
        assert!(third.contains("\"totalSent\":5"));
    }

    #[test]
    fn reports_applied_out_of_order_leave_the_newest_as_latest() {
        let (_dir, store, board) = board_on_a_fresh_store();
        let stored: Vec<_> = [100, 200]
            .iter()
            .map(|&sent| store_report(&store, "t", sent))
            .collect();
        // The second report is applied first, as a race between two workers may do.
        for (report, metrics) in stored.into_iter().rev() {
            board.apply(report, metrics);
        }
        let team = board.team_json(&TeamId::parse("t").unwrap()).unwrap();
        assert_eq!(team["stats"]["totalSent"], 200);
        assert_eq!(team["qps"], 200.0);
        assert_eq!(team["report_count"], 2);
        assert_eq!(team["best_qps"], 200.0);
    }

    #[test]
    fn downsample_folds_stretches_and_keeps_spikes() {
        let entries: Vec<IndexEntry> = (0..10)
            .map(|i| entry(i, i as f64, if i == 3 { 900.0 } else { 10.0 }))
            .collect();
        let series = downsample(&entries, 5);
        assert_eq!(series.len(), 5);
        assert_eq!(series.iter().map(|p| p.count).sum::<usize>(), 10);
        assert_eq!(series[1].qps, 2.5);
        assert_eq!((series[1].qps_min, series[1].qps_max), (2.0, 3.0));
        assert_eq!(series[1].p99_latency, 900.0);
        assert_eq!((series[4].t_first, series[4].t), (8000, 9000));
    }

    #[test]
    fn downsample_keeps_short_histories_whole() {
        let entries: Vec<IndexEntry> = (0..3).map(|i| entry(i, 1.0, 1.0)).collect();
        assert_eq!(downsample(&entries, 500).len(), 3);
        assert!(downsample(&[], 500).is_empty());
    }
}
