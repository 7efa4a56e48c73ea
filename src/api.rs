//! The JSON contract of the HTTP API and the WebSocket (openapi.yaml), as serde
//! structs: the server writes them, `benchboard-history --server` reads them back.
//!
//! Field order is part of the contract (the original's clients compare bytes in
//! tests; serde_json keeps the order of the struct). Borrowed fields (`Cow`) let the
//! server write a stored report's stats without copying them first; read back, they
//! are owned.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alerts::{Change, DeliveryStatus, FiringAlert, Severity};
use crate::contest::live::ContestInfo;
use crate::contest::ranking::RuleDescription;
use crate::contest::standings::Ranked;
use crate::report::plausibility::Warning;

/// Largest `limit` of a history page (`GET /api/teams/{id}/history`).
pub const MAX_PAGE: usize = 1000;
/// Largest `points` of a history series.
pub const MAX_SERIES_POINTS: usize = 5000;

/// One team as `/api/teams`, `/api/teams/{id}` and the WebSocket messages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team<'a> {
    pub team_id: Cow<'a, str>,
    pub team_name: Cow<'a, str>,
    /// Timestamp of the latest report, as stored.
    pub last_update: Cow<'a, str>,
    pub is_active: bool,
    pub on_board: bool,
    /// Completed QPS of the latest report.
    pub qps: f64,
    /// Average latency of the latest report, in ms.
    pub avg_latency: f64,
    /// P99 latency of the latest report, in ms.
    pub p99_latency: f64,
    /// Failure rate of the latest report, in %.
    pub data_loss_rate: f64,
    /// The latest report's metrics object ([`crate::metrics::Metrics::to_json`]).
    pub metrics: Value,
    /// The latest report as the team sent it.
    pub stats: Cow<'a, Value>,
    pub report_count: usize,
    #[serde(flatten)]
    pub best: Best,
    /// The team's current run (from 1): a drop in `totalElapsed` or `totalSent`
    /// starts a new one.
    #[serde(default)]
    pub run: u32,
    /// Best records within the current run.
    #[serde(default)]
    pub run_best: Best,
    /// Plausibility warnings of the latest report.
    #[serde(default)]
    pub warnings: Cow<'a, [Warning]>,
    /// Alerts firing for the team now.
    #[serde(default)]
    pub alerts: Cow<'a, [FiringAlert]>,
    /// `rank`, `score`, `qualified` and `disqualified_for` under the contest file's
    /// `[ranking]` rule; left out without one (the original's order: latest QPS).
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<Ranked>,
}

/// A team's best records, as the API and `benchboard-history teams` show them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Best {
    /// Highest completed QPS.
    pub best_qps: Option<f64>,
    pub best_qps_time: Option<String>,
    /// Lowest positive average latency, in ms.
    pub best_latency: Option<f64>,
    pub best_latency_time: Option<String>,
}

/// One stored report as the history API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry<'a> {
    pub team_id: Cow<'a, str>,
    pub team_name: Cow<'a, str>,
    /// The timestamp as stored (RFC 3339, or the original's naive local time).
    pub timestamp: Cow<'a, str>,
    /// The report as the team sent it.
    pub stats: Cow<'a, Value>,
    /// Its metrics object; a reader recomputes them from `stats` instead.
    #[serde(skip_deserializing)]
    pub metrics: Value,
    /// The team's run (from 1) the report belongs to: a drop in `totalElapsed` or
    /// `totalSent` starts a new one. 0 from a server that does not know runs.
    #[serde(default)]
    pub run: u32,
    /// The report's plausibility warnings (usually none).
    #[serde(default)]
    pub warnings: Cow<'a, [Warning]>,
    /// True for a report that arrived after the end of the contest (`[contest] end`):
    /// stored, not ranked. Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_end: bool,
}

/// One page of `GET /api/teams/{id}/history`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage<'a> {
    pub team_id: Cow<'a, str>,
    pub history: Vec<HistoryEntry<'a>>,
    /// Reports the team has in all.
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub has_more: bool,
}

/// `GET /api/teams/{id}/history/summary`: read from the index alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub team_id: String,
    pub total_reports: usize,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
    /// The team's directory relative to the data directory's parent (`data/team1`), as
    /// the original showed it; never the server's absolute path.
    pub data_directory: String,
    /// The 5 newest report file names, newest first.
    pub recent_files: Vec<String>,
}

/// `GET /api/teams/{id}/history/series`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub team_id: String,
    /// Reports the team has in all.
    pub total: usize,
    /// Points in `series`.
    pub points: usize,
    pub series: Vec<SeriesPoint>,
    /// Where each run in the range begins (its first report), oldest first.
    #[serde(default)]
    pub run_starts: Vec<RunStart>,
}

/// The first report of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunStart {
    pub run: u32,
    /// Its time, in ms since the Unix epoch.
    pub t: i64,
}

/// One point of a downsampled history: the reports of one stretch folded together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The run of the stretch's last report.
    #[serde(default)]
    pub run: u32,
}

/// A message of the `/ws` push, tagged by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WsMessage<'a> {
    /// The whole board, sent first on every connection.
    Snapshot {
        teams: Vec<Team<'a>>,
        /// Most team cards the page shows (`--max-teams`).
        max_teams: usize,
        inactive_after_secs: u64,
        evict_after_secs: u64,
        /// False while the store (a database) is unreachable: the board is the last
        /// one known, and the page says so.
        #[serde(default = "available")]
        storage_available: bool,
        /// The newest alert changes, newest first (at most [`RECENT_ALERTS`]).
        #[serde(default)]
        alerts: Vec<Change>,
        /// The contest (phase, times, state); null without `[contest]`.
        #[serde(default)]
        contest: Option<ContestInfo>,
        /// The `[ranking]` rule; null without one.
        #[serde(default)]
        ranking: Option<RuleDescription>,
        /// The freeze: `{frozen, since, reveal}` (see `crate::contest::visibility`).
        #[serde(default)]
        freeze: Value,
    },
    /// A team reported.
    TeamUpdate { team: Box<Team<'a>> },
    /// A team turned inactive or left the board (or came back).
    TeamStatus {
        team_id: Cow<'a, str>,
        is_active: bool,
        on_board: bool,
    },
    /// The store (a database) went away or came back; reports wait meanwhile.
    Storage { available: bool },
    /// A team left the public board: hidden by an organiser, or every report of it
    /// moved to the trash.
    TeamRemoved { team_id: Cow<'a, str> },
    /// An organiser's action: its audit entry without the client address.
    AdminAction { entry: Value },
    /// An alert changed state (pending, firing, resolved, back to ok).
    Alert {
        change: Change,
        /// The alerts firing for the change's team after it.
        team_alerts: Vec<FiringAlert>,
    },
    /// The contest changed phase (or a reload changed its schedule), as it happened.
    Contest {
        contest: Option<ContestInfo>,
        ranking: Option<RuleDescription>,
        /// The server's time, ms since the Unix epoch.
        now: i64,
    },
}

/// Alert changes the snapshot carries for the board's alert list.
pub const RECENT_ALERTS: usize = 50;

/// One rule as `GET /api/alerts` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleInfo {
    pub name: String,
    /// The condition, e.g. `p99_latency > 200`.
    pub when: String,
    /// How long it must hold before it fires, in seconds.
    pub for_secs: f64,
    /// `["*"]` or the team ids.
    pub teams: Vec<String>,
    pub severity: Severity,
}

/// `GET /api/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alerts {
    pub rules: Vec<RuleInfo>,
    /// Firing now, oldest first.
    pub firing: Vec<FiringAlert>,
    /// Holding, not yet for the rule's `for`.
    pub pending: Vec<FiringAlert>,
    /// The last changes, newest first (at most 500).
    pub changes: Vec<Change>,
    /// The last delivery status of each `[[notify]]` destination.
    pub deliveries: Vec<DeliveryStatus>,
}

fn available() -> bool {
    true
}

impl WsMessage<'_> {
    /// The message as sent in one text frame.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("API messages serialize")
    }
}

/// `GET /api/replay`: the downsampled timeline of every team, for the replay page and
/// the archive. Frame `k` is the time `from_ms + k * step_ms`; each team has at most
/// one point per frame (the last report up to that frame's time) with the numbers the
/// board showed then, and the ranking is given from each frame on where it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// First frame, in ms since the Unix epoch.
    pub from_ms: i64,
    /// Last frame, in ms since the Unix epoch.
    pub to_ms: i64,
    /// Time between two frames, in ms.
    pub step_ms: i64,
    /// Frames from `from_ms` to `to_ms` (0 when nothing was ever reported).
    pub frames: usize,
    /// The timeline stops here (ms): reports from this time on are left out (public
    /// readers during a freeze, until the reveal has finished); `null`: nothing is.
    pub cutoff_ms: Option<i64>,
    /// The contest's schedule (ms), when the contest file has `[contest]`.
    pub contest: Option<ReplayContest>,
    /// A team with no report for this long (ms) was shown inactive.
    pub inactive_after_ms: i64,
    /// The ranking rule the standings follow.
    pub rule: crate::contest::ranking::RuleDescription,
    /// The names of a point's entries, in order ([`REPLAY_FIELDS`]).
    pub fields: Vec<String>,
    /// Teams with a report up to `to_ms`, by id.
    pub teams: Vec<ReplayTeam>,
    /// The ranking (team ids, first place first) from each frame on where it changed.
    pub orders: Vec<ReplayOrder>,
    /// Every change of a team's place, for the marks on the timeline.
    pub changes: Vec<RankChange>,
}

/// The contest's schedule in a [`Replay`], in ms since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReplayContest {
    pub start_ms: i64,
    pub end_ms: i64,
    pub freeze_ms: Option<i64>,
}

/// One team's points in a [`Replay`], oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayTeam {
    pub team_id: String,
    pub team_name: String,
    pub points: Vec<ReplayPoint>,
}

/// One point of a team: `[t, qps, avg_latency, p99_latency, data_loss_rate,
/// high_priority_latency, verify_error_rate, best_qps, best_latency, reports, score,
/// qualified]` (see [`REPLAY_FIELDS`]); `t` is the report's time in ms, the bests
/// are those of the team's reports up to it (null before any), `reports` how many
/// it had sent by then, `score` its standing value then (null without one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayPoint(
    pub i64,
    pub f64,
    pub f64,
    pub f64,
    pub f64,
    pub f64,
    pub Option<f64>,
    pub Option<f64>,
    pub Option<f64>,
    pub usize,
    pub Option<f64>,
    pub bool,
);

/// The names of a [`ReplayPoint`]'s entries.
pub const REPLAY_FIELDS: [&str; 12] = [
    "t",
    "qps",
    "avg_latency",
    "p99_latency",
    "data_loss_rate",
    "high_priority_latency",
    "verify_error_rate",
    "best_qps",
    "best_latency",
    "reports",
    "score",
    "qualified",
];

/// The ranking (team ids, first place first) from frame time `t` (ms) on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayOrder {
    pub t: i64,
    pub order: Vec<String>,
}

/// A team moved from place `from` (null: it had not reported yet) to place `to` at
/// frame time `t` (ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankChange {
    pub t: i64,
    pub team_id: String,
    pub from: Option<usize>,
    pub to: usize,
}
