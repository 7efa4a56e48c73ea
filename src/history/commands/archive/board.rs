//! The standings page (`index.html`) and the replay (`replay.html`).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use super::failed;
use crate::api::{self, ReplayContest};
use crate::archive::inline::{self, DATA_CLOSE, DATA_OPEN};
use crate::archive::pages::{self, Template};
use crate::archive::site::Site;
use crate::contest::live::{ContestInfo, TeamName};
use crate::contest::ranking::{RuleDescription, Standing};
use crate::contest::replay::{self, History, Plan, Window};
use crate::contest::standings::{self, Rules};
use crate::history::HistoryError;
use crate::history::source::Source;
use crate::team::TeamId;

/// A team without a report for this long shows inactive in the replay, as on a
/// server with the default `--inactive-after`.
const INACTIVE_AFTER_MS: i64 = 300_000;

/// What the standings and the replay are made of.
pub(super) struct Contest<'a> {
    pub site: &'a Site,
    pub source: &'a Source,
    /// The ranking rule and the schedule the standings follow.
    pub rules: &'a Rules,
    pub max_teams: usize,
    /// The newest report of all (ms): the archive's "now".
    pub now_ms: i64,
    pub teams: &'a [api::Team<'static>],
}

/// The data of the standings page: the board's snapshot (the WebSocket's first
/// message) with each team's rank, and each card's sparkline.
#[derive(Serialize)]
struct BoardData<'a> {
    kind: &'static str,
    root: &'static str,
    now_ms: i64,
    snapshot: Snapshot<'a>,
    sparks: BTreeMap<String, api::Series>,
}

/// The fields of the `snapshot` message the board reads.
#[derive(Serialize)]
struct Snapshot<'a> {
    r#type: &'static str,
    teams: Vec<api::Team<'a>>,
    max_teams: usize,
    storage_available: bool,
    alerts: [(); 0],
    /// The contest as it stands when the archive is made (ended, after the end).
    contest: Option<ContestInfo>,
    ranking: RuleDescription,
}

/// The data of the replay page: the `/api/replay` timeline.
#[derive(Serialize)]
struct ReplayData {
    kind: &'static str,
    root: &'static str,
    now_ms: i64,
    replay: Value,
}

impl Contest<'_> {
    /// Writes `index.html`: the board with every team in the order of `standings`.
    pub fn write_board(
        &self,
        standings: &[(TeamId, Standing)],
        sparks: BTreeMap<String, api::Series>,
    ) -> Result<(), HistoryError> {
        let mut ranked = Vec::with_capacity(standings.len());
        for (id, place) in standings::ranked(&self.rules.rule, standings) {
            if let Some(team) = self.teams.iter().find(|t| t.team_id == id.as_str()) {
                ranked.push(api::Team {
                    ranking: Some(place),
                    ..team.clone()
                });
            }
        }
        let names = self.teams.iter().map(|t| TeamName {
            team_id: t.team_id.to_string(),
            team_name: t.team_name.to_string(),
        });
        let now = chrono::Utc::now().fixed_offset();
        let contest = self
            .rules
            .schedule
            .as_ref()
            .map(|s| ContestInfo::at(s, now, None, names.collect()));
        let data = BoardData {
            kind: "board",
            root: "",
            now_ms: self.now_ms,
            snapshot: Snapshot {
                r#type: "snapshot",
                teams: ranked,
                max_teams: self.max_teams,
                storage_available: true,
                alerts: [],
                contest,
                ranking: self.rules.rule.describe(),
            },
            sparks,
        };
        self.write_page("index.html", &pages::board(self.max_teams), &data)
    }

    /// Writes `replay.html`: the timeline `/api/replay` gives, of the same reports as
    /// the pages and under the same rule as the standings.
    pub fn write_replay(&self, histories: &[History]) -> Result<(), HistoryError> {
        let replay = serde_json::to_value(self.replay(histories)?).expect("replays serialize");
        let data = ReplayData {
            kind: "replay",
            root: "",
            now_ms: self.now_ms,
            replay,
        };
        self.write_page("replay.html", &pages::replay(self.max_teams), &data)
    }

    fn replay(&self, histories: &[History]) -> Result<api::Replay, HistoryError> {
        let contest = self.rules.schedule.map(|s| ReplayContest {
            start_ms: s.start.timestamp_millis(),
            end_ms: s.end.timestamp_millis(),
            freeze_ms: s.freeze.map(|f| f.timestamp_millis()),
        });
        // The contest's times, else the first to the last report, as /api/replay.
        let (from_ms, to_ms) = match contest {
            Some(c) => (c.start_ms, c.end_ms),
            None => histories
                .iter()
                .flat_map(|h| h.reports.iter().map(|(at, _)| *at))
                .fold((i64::MAX, i64::MIN), |(lo, hi), at| {
                    (lo.min(at), hi.max(at))
                }),
        };
        // No report at all (every one skipped): an empty timeline.
        let (from_ms, to_ms) = if from_ms > to_ms {
            (0, 0)
        } else {
            (from_ms, to_ms)
        };
        let window = Window::new(from_ms, to_ms, None)
            .map_err(|e| HistoryError::Usage(format!("cannot replay this contest: {e}")))?;
        let plan = Plan {
            rule: &self.rules.rule,
            window,
            contest,
            cutoff_ms: None,
            inactive_after_ms: INACTIVE_AFTER_MS,
        };
        Ok(replay::build(&plan, histories))
    }

    /// Writes the page `name`: `template` around `data` inlined.
    fn write_page(
        &self,
        name: &str,
        template: &Template,
        data: &impl Serialize,
    ) -> Result<(), HistoryError> {
        let mut page = self.site.file(name)?;
        let written = page
            .write_all(template.head.as_bytes())
            .and_then(|()| page.write_all(DATA_OPEN.as_bytes()))
            .and_then(|()| inline::write_json(&mut page, data))
            .and_then(|()| page.write_all(DATA_CLOSE.as_bytes()))
            .and_then(|()| page.write_all(b"\n"))
            .and_then(|()| page.write_all(template.tail.as_bytes()))
            .and_then(|()| page.flush());
        written.map_err(failed(self.site, name))
    }
}
